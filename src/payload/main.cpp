// SPDX-License-Identifier: MIT
// The payload's C++ entry (docs/payload.md). entry.S has relocated the image, given it a stack,
// a GDT, an IDT and SSE; this reads boot_params, builds and loads the payload's own page tables,
// cuts the bundle the protocol command line describes, verifies the UKI against the trust
// anchors the build chose (built in, the firmware's db/dbx/SbatLevelRT read through its runtime
// services, or both: firmware_trust.hpp), and hands the verified UKI to the bare-metal run. A refused
// UKI, a protocol error or a failed run prints the reason on COM1 and resets the machine.
#include <cstddef>
#include <cstdint>

#include "payload/boot_params.hpp"
#include "payload/esp_archive.hpp"
#include "payload/firmware_trust.hpp"
#include "payload/machine.hpp"
#include "payload/page_tables.hpp"
#include "payload/protocol.hpp"
#include "pe_loader/pe_image.hpp"
#include "pe_loader/sbat.hpp"
#include "verifier/bearssl_crypto.hpp"
#include "verifier/verify.hpp"

extern "C" {
[[noreturn]] void payload_main(std::uint64_t boot_params, std::uint64_t image_base,
                               std::uint64_t image_end);
[[noreturn]] void payload_exception(const std::uint64_t* frame, std::uint64_t cr2);
void payload_load_cr3(std::uint64_t root);
// The trust anchors built into the payload (link-payload.sh): EFI_SIGNATURE_LISTs for db and
// dbx, shim's SbatLevel text (empty: no level).
extern const std::byte payload_trust_db[], payload_trust_db_end[];
extern const std::byte payload_trust_dbx[], payload_trust_dbx_end[];
extern const std::byte payload_trust_sbat_level[], payload_trust_sbat_level_end[];
// Where the anchors come from (link-payload.sh --trust): a TrustSource value.
extern const std::uint8_t payload_trust_source;
}

namespace efikexec::payload {
namespace {

// 128 tables: 2 MiB pages for about 120 GiB, any amount with 1 GiB pages.
constexpr std::size_t kPageTablePool = 128;
constexpr std::size_t kMaxRuntimeDescriptors = 256;
constexpr std::size_t kMaxEfiMapDescriptors = 4096;
constexpr std::uint64_t kEfiMemoryRuntime = std::uint64_t{1} << 63;  // EFI_MEMORY_RUNTIME
constexpr std::size_t kMaxInUse = 16 + 64;
constexpr std::size_t kMaxSetupData = 64;

PageTable g_page_tables[kPageTablePool];
E820Range g_e820[kMaxE820Entries];
E820Range g_in_use[kMaxInUse];
EfiRuntimeDescriptor g_runtime[kMaxRuntimeDescriptors];
EfiMemoryDescriptor g_efi_map[kMaxRuntimeDescriptors];
// The composed trust anchors (firmware_trust.hpp): the built-in lists followed by the firmware's;
// a firmware variable that does not fit is an error.
constexpr std::size_t kDbLimit = 128 * 1024;
constexpr std::size_t kDbxLimit = 256 * 1024;
constexpr std::size_t kSbatLevelLimit = 4096;
std::byte g_trust_db[kDbLimit];
std::byte g_trust_dbx[kDbxLimit];
std::byte g_trust_sbat_text[kSbatLevelLimit];
constinit pe::SbatLevelEntry g_sbat_level[2 * pe::kMaxSbatEntries]{};
constinit pe::SbatLevelEntry g_builtin_sbat_level[pe::kMaxSbatEntries]{};
// The ESP's files for the stub (efikexec.esp_size=): as many as `efikexec load` takes from an
// ESP, their directories, and the UKI's own path.
constexpr std::size_t kMaxEspFiles = 256;
constexpr std::size_t kMaxVolumeNodes = 1024;
constexpr std::size_t kMaxVolumeNameChars = 64 * 1024;
uki::CpioMember g_esp_members[kMaxEspFiles];
efi::VolumeNode g_volume_nodes[kMaxVolumeNodes];
CHAR16 g_volume_names[kMaxVolumeNameChars];
CHAR16 g_uki_path[kMaxEspImagePath + 2];

ByteView physical(std::uint64_t address, std::uint64_t size) {
  return ByteView(reinterpret_cast<const std::byte*>(address), static_cast<std::size_t>(size));
}

ByteView between(const std::byte* begin, const std::byte* end) {
  return ByteView(begin, static_cast<std::size_t>(end - begin));
}

void print_error(Com1& out, const char* what, const Error& error) {
  out.write("EFIKEXEC-PAYLOAD: ");
  out.write(what);
  out.write(": ");
  out.write(error.message);
  out.write(" (");
  out.write(error_code_name(error.code));
  if (error.has_offset()) {
    out.write(" at ");
    out.hex(error.offset);
  }
  out.write(")\n");
}

// The first kernel is gone: a refusal or a fault ends in a reset, through the firmware when the
// payload found its ResetSystem().
[[noreturn]] void reset_after_saying_so(Com1& out) {
  if (firmware_reset_known()) out.line("reset through the firmware's ResetSystem()");
  out.line("resetting the machine");
  reset_machine();
}

[[noreturn]] void refuse(Com1& out, const char* what, const Error& error) {
  print_error(out, what, error);
  reset_after_saying_so(out);
}

verifier::Verdict verify_image(const pe::Image& image, const verifier::Policy& policy) {
  static verifier::BearSslCrypto crypto;
  static verifier::Workspace workspace;
  return verifier::verify_image(image, policy, crypto, workspace);
}

verifier::Verdict verify_bytes(ByteView bytes, const verifier::Policy& policy) {
  auto image = pe::Image::parse(bytes);
  if (!image) {
    verifier::Verdict verdict;
    verdict.outcome = verifier::Outcome::kMalformed;
    verdict.code = image.error().code;
    verdict.reason = image.error().message;
    verdict.offset = image.error().offset;
    return verdict;
  }
  return verify_image(*image, policy);
}

void print_verdict(Com1& out, const verifier::Verdict& verdict) {
  if (verdict.accepted()) {
    out.write("accepted\n");
    return;
  }
  out.write("refused: ");
  out.write(verifier::outcome_name(verdict.outcome));
  out.write(": ");
  out.write(verdict.reason);
  if (verdict.offset != Error::kNoOffset) {
    out.write(" at ");
    out.hex(verdict.offset);
  }
  out.write("\n");
}

// The ESP's images are verified as the UKI was, for LoadImage() to refuse under Secure Boot what
// firmware would; the rest is data the stub judges itself. Each verdict goes to COM1.
class VerifyingJudge final : public EspFileJudge {
 public:
  VerifyingJudge(Com1& out, const verifier::Policy& policy) : out_(out), policy_(policy) {}
  bool refuses(std::string_view name, ByteView data) override {
    out_.write("EFIKEXEC-PAYLOAD: esp: ");
    out_.write(name);
    out_.write(" ");
    out_.decimal(data.size());
    out_.write(" bytes: ");
    auto image = pe::Image::parse(data);
    if (!image) {
      out_.write("data\n");
      return false;
    }
    const verifier::Verdict verdict = verify_image(*image, policy_);
    print_verdict(out_, verdict);
    return !verdict.accepted();
  }

 private:
  Com1& out_;
  const verifier::Policy& policy_;
};

bool cpu_has_gigabyte_pages() {
  std::uint32_t eax = 0x80000000, ebx, ecx, edx;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
  if (eax < 0x80000001) return false;
  eax = 0x80000001;
  ecx = 0;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return edx & (1u << 26);
}

bool five_level_paging() {
  std::uint64_t cr4;
  asm volatile("mov %%cr4, %0" : "=r"(cr4));
  return cr4 & (1u << 12);
}

// The largest view from `address` that stays inside one e820 RAM range, at most `limit` bytes.
ByteView ram_view(std::span<const E820Entry> e820, std::uint64_t address, std::uint64_t limit) {
  for (const E820Entry& entry : e820) {
    if (entry.type != kE820Ram || address < entry.address || address - entry.address >= entry.size)
      continue;
    const std::uint64_t left = entry.size - (address - entry.address);
    return physical(address, left < limit ? left : limit);
  }
  return {};
}

class InUse {
 public:
  void add(std::uint64_t address, std::uint64_t size) {
    if (size == 0 || count_ >= kMaxInUse) return;
    g_in_use[count_++] = {address, size, kE820Ram};
  }
  bool full() const { return count_ >= kMaxInUse; }
  std::span<const E820Range> ranges() const { return {g_in_use, count_}; }

 private:
  std::size_t count_ = 0;
};

}  // namespace
}  // namespace efikexec::payload

using namespace efikexec;
using namespace efikexec::payload;

extern "C" void payload_exception(const std::uint64_t* frame, std::uint64_t cr2) {
  // frame: vector, error code, RIP, CS, RFLAGS, RSP, SS (entry.S).
  Com1 out;
  out.write("EFIKEXEC-PAYLOAD: exception vector=");
  out.decimal(frame[0]);
  out.write(" error=");
  out.hex(frame[1]);
  out.write(" rip=");
  out.hex(frame[2]);
  out.write(" rsp=");
  out.hex(frame[5]);
  out.write(" cr2=");
  out.hex(cr2);
  out.write("\n");
  reset_after_saying_so(out);
}

extern "C" void payload_main(std::uint64_t boot_params, std::uint64_t image_base,
                             std::uint64_t image_end) {
  Com1 out;
  out.write("EFIKEXEC-PAYLOAD: entry at ");
  out.hex(image_base);
  out.write(" boot_params=");
  out.hex(boot_params);
  out.write(" image_end=");
  out.hex(image_end);
  out.write("\n");
  const std::uint64_t tsc_ms = tsc_per_millisecond();

  // boot_params: one page at RSI (still under purgatory's identity map of RAM).
  auto facts = read_boot_params(physical(boot_params, kBootParamsSize));
  if (!facts) refuse(out, "boot_params", facts.error());
  out.write("EFIKEXEC-PAYLOAD: e820 entries=");
  out.decimal(facts->e820_count);
  out.write(" secure_boot=");
  out.decimal(facts->secure_boot);
  out.write(" ramdisk=");
  out.hex(facts->ramdisk_address);
  out.write("+");
  out.hex(facts->ramdisk_size);
  out.write("\n");
  const auto e820 = facts->e820_entries();

  // The EFI runtime map (efi_info): the firmware's runtime regions at the first kernel's virtual
  // addresses, in RAM the kernel placed it in. Only descriptors marked EFI_MEMORY_RUNTIME count:
  // a kernel entered in EFI kexec mode hands on the whole map it was booted with (Linux copies
  // efi.memmap, which only SetVirtualAddressMap()'s path trims to the runtime regions).
  std::size_t runtime_count = 0;
  if (facts->efi.memory_map != 0 && facts->efi.memory_map_size != 0) {
    const ByteView map = ram_view(e820, facts->efi.memory_map, facts->efi.memory_map_size);
    if (map.size() != facts->efi.memory_map_size)
      refuse(out, "efi_info", Error{ErrorCode::kOutOfRange, "the EFI memory map is not in RAM"});
    auto count = efi_memory_map_count(map, facts->efi.descriptor_size);
    if (!count) refuse(out, "efi_info", count.error());
    if (*count > kMaxEfiMapDescriptors)
      refuse(out, "efi_info", Error{ErrorCode::kNoMemory, "more than 4096 EFI map descriptors"});
    for (std::size_t i = 0; i < *count; ++i) {
      auto d = efi_memory_descriptor(map, facts->efi.descriptor_size, i);
      if (!d) refuse(out, "efi_info", d.error());
      if ((d->attribute & kEfiMemoryRuntime) == 0) continue;
      if (runtime_count == kMaxRuntimeDescriptors)
        refuse(out, "efi_info",
               Error{ErrorCode::kNoMemory, "more than 256 EFI runtime descriptors"});
      g_efi_map[runtime_count] = *d;
      g_runtime[runtime_count++] = {d->type, d->physical_start, d->virtual_start, d->pages,
                                    d->attribute};
    }
  }
  const std::span<const EfiMemoryDescriptor> efi_map{g_efi_map, runtime_count};
  const std::uint64_t system_table =
      facts->efi.loader_signature == kEfiLoaderSignature64 ? facts->efi.system_table : 0;
  auto source = trust_source_of(payload_trust_source);
  if (!source) refuse(out, "trust", source.error());
  const bool wants_firmware = *source != TrustSource::kBuiltin;

  // Our own page tables: every e820 range, identity mapped, and the image itself.
  PageTableBuilder tables({g_page_tables, kPageTablePool}, five_level_paging(),
                          cpu_has_gigabyte_pages());
  auto mapped_e820 = map_e820(tables, e820);
  if (!mapped_e820) refuse(out, "page tables", mapped_e820.error());
  if (auto mapped = tables.map_identity(image_base, image_end - image_base, true); !mapped)
    refuse(out, "page tables", mapped.error());
  // The firmware's runtime regions where SetVirtualAddressMap put them (for ResetSystem, and for
  // GetVariable when the anchors come from the firmware): why not, when they cannot be.
  const char* no_runtime = nullptr;
  if (system_table == 0 || efi_map.empty())
    no_runtime = "the first kernel passed no 64-bit EFI system table and runtime map";
  else if (auto mapped = map_runtime(tables, efi_map); !mapped)
    no_runtime = mapped.error().message;
  payload_load_cr3(reinterpret_cast<std::uint64_t>(tables.root()));
  if (no_runtime == nullptr) {
    if (auto reset = find_reset_system(system_table, efi_map))
      set_firmware_reset(*reset);
  }
  out.write("EFIKEXEC-PAYLOAD: page tables loaded (");
  out.decimal(tables.tables_used());
  out.write(five_level_paging() ? " tables, 5-level" : " tables, 4-level");
  if (*mapped_e820) {
    out.write("; ");
    out.decimal(*mapped_e820);
    out.write(" non-RAM e820 ranges left out or cut short");
  }
  out.write(")\n");

  // The protocol command line and the bundle, both in RAM the kernel placed them in.
  const ByteView command_line_bytes =
      ram_view(e820, facts->command_line, std::uint64_t{facts->command_line_size} + 1);
  if (facts->command_line == 0 || command_line_bytes.empty())
    refuse(out, "command line", Error{ErrorCode::kNotFound, "cmd_line_ptr is not in RAM"});
  auto command_line = command_line_text(command_line_bytes);
  if (!command_line) refuse(out, "command line", command_line.error());
  auto request = parse_protocol_command_line(*command_line);
  if (!request) refuse(out, "protocol command line", request.error());
  if (facts->ramdisk_size == 0 ||
      !inside_e820(e820, facts->ramdisk_address, facts->ramdisk_size, kE820Ram))
    refuse(out, "bundle", Error{ErrorCode::kOutOfRange, "the ramdisk is missing or not in RAM"});
  auto bundle = split_bundle(physical(facts->ramdisk_address, facts->ramdisk_size), *request);
  if (!bundle) refuse(out, "bundle", bundle.error());
  out.write("EFIKEXEC-PAYLOAD: uki size=");
  out.decimal(bundle->uki.size());
  out.write(" extra initrd size=");
  out.decimal(bundle->extra_initrd.size());
  out.write("\n");

  // The trust anchors the build chose; nothing the command line or the bundle says changes them.
  EfiGetVariable get_variable = nullptr;
  if (wants_firmware && no_runtime == nullptr) {
    auto found = find_get_variable(system_table, efi_map);
    if (found)
      get_variable = *found;
    else
      no_runtime = found.error().message;
  }
  if (wants_firmware && no_runtime != nullptr) {
    out.write("EFIKEXEC-PAYLOAD: trust: the firmware's runtime services cannot be reached: ");
    out.write(no_runtime);
    out.write("\n");
  }
  const BuiltinTrust builtin{between(payload_trust_db, payload_trust_db_end),
                             between(payload_trust_dbx, payload_trust_dbx_end),
                             between(payload_trust_sbat_level, payload_trust_sbat_level_end)};
  const TrustStorage storage{g_trust_db, g_trust_dbx, g_trust_sbat_text, g_sbat_level,
                             g_builtin_sbat_level};
  TrustReport report;
  auto composed = compose_trust(*source, builtin, get_variable, storage, report);
  if (!composed) refuse(out, "trust", composed.error());
  const verifier::Policy policy = *composed;
  out.write("EFIKEXEC-PAYLOAD: trust: ");
  out.write(trust_source_name(*source));
  out.write(": db ");
  out.decimal(report.db_entries);
  out.write(" entries, dbx ");
  out.decimal(report.dbx_entries);
  out.write(" entries, SbatLevel ");
  out.decimal(report.sbat_rows);
  out.write(" rows");
  if (report.firmware_read) {
    out.write(" (the firmware has:");
    if (report.firmware_db) out.write(" db");
    if (report.firmware_dbx) out.write(" dbx");
    if (report.firmware_sbat_level) out.write(" SbatLevelRT");
    if (!report.firmware_db && !report.firmware_dbx && !report.firmware_sbat_level)
      out.write(" none of db, dbx, SbatLevelRT");
    out.write(")");
  }
  out.write("\n");
  if (report.firmware_read && facts->secure_boot != 3)
    out.line("trust: Secure Boot is off: the firmware's variables are not authenticated");

  const std::uint64_t started = rdtsc();
  const verifier::Verdict verdict = verify_bytes(bundle->uki, policy);
  const std::uint64_t cycles = rdtsc() - started;
  out.write("EFIKEXEC-PAYLOAD: verification took ");
  if (tsc_ms) {
    out.decimal(cycles * 1000 / tsc_ms);
    out.write(" us (");
  } else {
    out.write("? us (");
  }
  out.decimal(cycles);
  out.write(" TSC cycles, ");
  out.decimal(tsc_ms);
  out.write(" per ms)\n");
  out.write("EFIKEXEC-PAYLOAD: verdict: ");
  print_verdict(out, verdict);
  if (!verdict.accepted()) reset_after_saying_so(out);
  EspVolume esp{};
  if (!bundle->esp_archive.empty()) {
    VerifyingJudge judge(out, policy);
    auto built = build_esp_volume(bundle->esp_archive, bundle->uki, request->esp_image,
                                  {g_esp_members, g_volume_nodes, g_volume_names, g_uki_path}, judge);
    if (!built) refuse(out, "ESP archive", built.error());
    esp = *built;
  }

  // What the payload occupies, for the run never to hand out.
  InUse in_use;
  in_use.add(image_base, image_end - image_base);  // code, data, .bss: stack, page tables
  in_use.add(boot_params, kBootParamsSize);
  in_use.add(facts->command_line, command_line->size() + 1);
  in_use.add(facts->ramdisk_address, facts->ramdisk_size);
  if (runtime_count != 0) in_use.add(facts->efi.memory_map, facts->efi.memory_map_size);
  std::uint64_t node = facts->setup_data;
  for (std::size_t n = 0; node != 0; ++n) {
    if (n >= kMaxSetupData || in_use.full())
      refuse(out, "setup_data", Error{ErrorCode::kNoMemory, "the setup_data chain is too long"});
    auto header = read_setup_data_header(ram_view(e820, node, kSetupDataHeaderSize));
    if (!header) refuse(out, "setup_data", header.error());
    const ByteView whole = ram_view(e820, node, kSetupDataHeaderSize + std::uint64_t{header->length});
    if (whole.size() != kSetupDataHeaderSize + std::uint64_t{header->length})
      refuse(out, "setup_data", Error{ErrorCode::kOutOfRange, "a setup_data node is not in RAM"});
    in_use.add(node, whole.size());
    node = header->next;
  }
  for (std::size_t i = 0; i < e820.size(); ++i)
    g_e820[i] = {e820[i].address, e820[i].size, e820[i].type};

  const BareMetalMachine machine{{g_e820, e820.size()},
                                 in_use.ranges(),
                                 {g_runtime, runtime_count},
                                 facts->acpi_rsdp,
                                 system_table,
                                 facts->setup_data,
                                 facts->secure_boot,
                                 firmware_reset_known() ? &reset_through_firmware : nullptr};
  const BareMetalRequest run{bundle->uki.span(),
                             bundle->extra_initrd.span(),
                             request->profile,
                             request->command_line,
                             request->replace_command_line,
                             esp.nodes,
                             esp.uki_path};
  const Error error = run_uki_on_bare_metal(machine, run, out);
  refuse(out, "bare-metal run", error);
}
