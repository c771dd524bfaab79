// SPDX-License-Identifier: MIT
#include "payload/bare_metal/run_uki.hpp"

#include <cstring>
#include <new>
#include <optional>

#include "efi_call_runner.hpp"
#include "efi_shim/crc32.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/shim.hpp"
#include "payload/bare_metal/bare_metal_host.hpp"
#include "payload/bare_metal/run_uki_with.hpp"
#include "pe_loader/pe_image.hpp"
#include "uki/linux_setup_data.hpp"
#include "uki/load_options.hpp"
#include "uki/uki.hpp"

extern "C" {
// arch/x86_64/runtime_stubs.S: what the runtime services table points at after the handoff.
extern const std::uint8_t efikexec_runtime_stub_start[];
extern const std::uint8_t efikexec_runtime_stub_end[];
}

namespace efikexec::payload {

namespace {

// boot_params.secure_boot (Linux's efi_secureboot_mode).
constexpr std::uint8_t kDisabled = 2;
constexpr std::uint8_t kEnabled = 3;

// The UKI's path on the shim's boot volume (systemd-stub derives NAME.extra.d and
// LoaderImageIdentifier from it).
constexpr char16_t kUkiPath[] = u"\\EFI\\Linux\\uki.efi";

Error failure(SerialConsole& serial, Error error) {
  serial.write("efikexec: cannot run the UKI: ");
  serial.write(error.message);
  if (error.has_offset()) {
    serial.write(" (at ");
    write_hex(serial, error.offset);
    serial.write(")");
  }
  serial.write("\r\n");
  return error;
}

Error failure(SerialConsole& serial, ErrorCode code, const char* message) {
  return failure(serial, Error{code, message});
}

// A failure the image reported: its EFI status is the error's offset.
Error image_failure(SerialConsole& serial, const char* message, EFI_STATUS status) {
  serial.write("efikexec: cannot run the UKI: ");
  serial.write(message);
  serial.write(" (status ");
  write_hex(serial, status);
  serial.write(")\r\n");
  return Error{ErrorCode::kImageFault, message, status};
}

// Copies an ASCII command line into UCS-2 (anything else becomes '?', as the confined run does).
void to_ucs2(std::string_view text, CHAR16* out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out[i] = c < 0x80 ? c : u'?';
  }
  out[text.size()] = 0;
}


// The firmware's runtime services for the kernel the UKI starts. SetVirtualAddressMap() was
// called by the kernel that loaded the payload and cannot be called again: the next kernel must
// enter EFI virtual mode the kexec way, told so by a SETUP_EFI entry in its boot_params, and call
// the real runtime services table (at that kernel's virtual addresses, which the shim's memory
// map carries). The entry's page is set aside before the UKI runs; at ExitBootServices() the
// Linux stub has filled its boot_params (efi_info names the shim's system table), and the entry
// is linked first in their setup_data chain and the system table pointed at the firmware's
// runtime services, as the trampoline's handoff does after a confined run.
class RuntimeHandoverEnd final : public efi::RunEndSink {
 public:
  RuntimeHandoverEnd(efi::RunEndSink& inner, SerialConsole& serial)
      : inner_(inner), serial_(serial) {}

  // Before the UKI runs: the page, when the loading kernel passed what the next one needs.
  void prepare(efi::Shim& shim, efi::PhysicalMemory& memory, const FirmwareTables& found) {
    shim_ = &shim;
    memory_ = &memory;
    if (!found.setup_efi || found.runtime_services == 0) {
      serial_.write("efikexec: the next kernel runs without EFI runtime services: the loading "
                    "kernel passed no SETUP_EFI or runtime services table\r\n");
      return;
    }
    EFI_PHYSICAL_ADDRESS page = 0;
    if (shim.memory().allocate_pages(AllocateAnyPages, EfiLoaderData, 1, &page) != EFI_SUCCESS) {
      serial_.write("efikexec: the next kernel runs without EFI runtime services: no page for "
                    "SETUP_EFI\r\n");
      return;
    }
    page_ = page;
    fw_vendor_ = found.fw_vendor;
    runtime_services_ = found.runtime_services;
    smbios_ = found.smbios;
  }

  void boot_services_exited(EFI_HANDLE image) override {
    if (page_ != 0) hand_over();
    inner_.boot_services_exited(image);
  }
  [[noreturn]] void end_run(const char* reason, EFI_STATUS status) override {
    inner_.end_run(reason, status);
    halt_forever();  // the interface does not promise that the inner sink never returns
  }

 private:
  void hand_over() {
    EFI_SYSTEM_TABLE* system_table = shim_->system_table();
    const std::uint64_t system_table_address = memory_->address_of(system_table);
    for (const efi::MemoryRange& range : shim_->memory().ranges()) {
      if (range.type != EfiLoaderData || !range.allocated) continue;
      for (std::uint64_t at = range.start; at < range.end(); at += efi::kPageSize) {
        std::byte* boot_params = memory_->pointer(at);
        if (boot_params == nullptr) break;
        if (!names_system_table(boot_params, system_table_address)) continue;
        std::uint64_t next = 0;
        std::memcpy(&next, boot_params + uki::kBootParamsSetupData, sizeof next);
        const auto entry =
            uki::efi_setup_entry(next, fw_vendor_, runtime_services_,
                                 memory_->address_of(system_table->ConfigurationTable), smbios_);
        std::memcpy(memory_->pointer(page_), entry.data(), entry.size());
        std::memcpy(boot_params + uki::kBootParamsSetupData, &page_, sizeof page_);
        system_table->RuntimeServices = reinterpret_cast<EFI_RUNTIME_SERVICES*>(runtime_services_);
        system_table->Hdr.CRC32 = 0;
        system_table->Hdr.CRC32 = efi::crc32(
            {reinterpret_cast<const std::byte*>(system_table), sizeof *system_table});
        serial_.write("efikexec: the next kernel runs with the firmware's EFI runtime services "
                      "(runtime services table ");
        write_hex(serial_, runtime_services_);
        serial_.write(", SETUP_EFI at ");
        write_hex(serial_, page_);
        serial_.write(")\r\n");
        return;
      }
    }
    serial_.write("efikexec: the next kernel runs without EFI runtime services: no Linux "
                  "boot_params name the shim's system table\r\n");
  }

  // Linux boot_params of a 64-bit EFI boot whose efi_info names `system_table`.
  static bool names_system_table(const std::byte* page, std::uint64_t system_table) {
    if (std::memcmp(page + uki::kBootParamsEfiLoaderSignature, "EL64", 4) != 0) return false;
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    std::memcpy(&low, page + uki::kBootParamsEfiSystemTable, 4);
    std::memcpy(&high, page + uki::kBootParamsEfiSystemTableHigh, 4);
    return (std::uint64_t{high} << 32 | low) == system_table;
  }

  efi::RunEndSink& inner_;
  SerialConsole& serial_;
  efi::Shim* shim_ = nullptr;
  efi::PhysicalMemory* memory_ = nullptr;
  std::uint64_t page_ = 0;
  std::uint64_t fw_vendor_ = 0;
  std::uint64_t runtime_services_ = 0;
  std::uint64_t smbios_ = 0;
};

}  // namespace

Result<void> add_secure_boot_variables(efi::VariableStore& variables, std::uint8_t secure_boot) {
  if (secure_boot != kDisabled && secure_boot != kEnabled) return {};
  constexpr UINT32 kAttributes = EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;
  static constexpr char16_t kSecureBootName[] = u"SecureBoot";
  static constexpr char16_t kSetupModeName[] = u"SetupMode";
  const std::byte enabled{secure_boot == kEnabled ? std::uint8_t{1} : std::uint8_t{0}};
  const std::byte user_mode{0};
  if (auto added = variables.load_snapshot_variable(
          {reinterpret_cast<const CHAR16*>(kSecureBootName), std::size(kSecureBootName) - 1}, efi::guids::kGlobalVariable, kAttributes,
          {&enabled, 1});
      !added)
    return added;
  return variables.load_snapshot_variable({reinterpret_cast<const CHAR16*>(kSetupModeName),
                                           std::size(kSetupModeName) - 1},
                                          efi::guids::kGlobalVariable, kAttributes, {&user_mode, 1});
}

Error run_uki_with(const BareMetalMachine& machine, const BareMetalRequest& request,
                   SerialConsole& serial, const BareMetalServices& services, MachineMap& map) {
  // What the UKI is, for its command line and profiles (the caller verified it; this only reads
  // its structure again, bounds-checked as always).
  const ByteView uki_bytes(request.uki);
  auto image = pe::Image::parse(uki_bytes);
  if (!image) return failure(serial, image.error());
  if (!image->is_x86_64())
    return failure(serial, ErrorCode::kUnsupported, "the UKI is not an x86_64 image");
  const uki::Uki uki = uki::Uki::from_image(*image);
  if (!request.extra_initrd.empty() && uki.kind() == uki::ImageKind::kUki &&
      uki.find(".initrd", request.profile) != nullptr)
    return failure(serial, ErrorCode::kInvalidArgument,
                   "the UKI carries its own initrd; an extra initrd is for EFI-stub kernels and "
                   "UKIs without one");
  uki::CommandLineRequest wanted;
  wanted.profile = request.profile;
  if (!request.command_line.empty()) {
    if (request.replace_command_line)
      wanted.command_line = request.command_line;
    else
      wanted.append = request.command_line;
  }
  auto options_length = uki::compose_load_options(uki, wanted, {});
  if (!options_length) return failure(serial, options_length.error());

  // The machine as EFI sees it, and the shim's own pages out of it.
  if (auto built = build_machine_map(machine, map); !built) return failure(serial, built.error());
  const std::uint64_t shim_bytes = (sizeof(efi::Shim) + efi::kPageSize - 1) & ~(efi::kPageSize - 1);
  auto own = set_aside(map, efi::bytes_to_pages(shim_bytes + kVariableStorageBytes));
  if (!own) return failure(serial, own.error());

  IdentityPhysicalMemory identity(map.ranges.span());
  efi::PhysicalMemory& memory = services.memory != nullptr ? *services.memory : identity;
  if (auto backed = memory.back(*own, shim_bytes + kVariableStorageBytes); !backed)
    return failure(serial, backed.error());
  IdentityReader identity_reader(map);
  PhysicalReader& reader = services.reader != nullptr ? *services.reader : identity_reader;
  const FirmwareTables found = find_firmware_tables(machine, reader);
  efi::ConfigurationTableEntry tables[4];
  const std::size_t table_count = configuration_tables(found, tables);
  if (found.acpi20 == 0 && found.acpi10 == 0)
    serial.write("efikexec: warning: no ACPI tables found for the next kernel\r\n");

  auto* shim = new (memory.pointer(*own)) efi::Shim();
  efi::ShimConfig config{};
  config.machine = map.ranges.span();
  config.runtime_stub_code = {reinterpret_cast<const std::byte*>(efikexec_runtime_stub_start),
                              static_cast<std::size_t>(efikexec_runtime_stub_end -
                                                       efikexec_runtime_stub_start)};
  config.exit_boot_services_entry = nullptr;  // the handler itself: it returns to the image
  config.firmware_tables = {tables, table_count};
  config.variable_storage = {memory.pointer(*own + shim_bytes), kVariableStorageBytes};
  config.stack_pages = kEfiStackPages;
  SerialConsoleOutput console(serial);
  std::optional<RuntimeHandoverEnd> handover;
  if (services.run_end != nullptr) handover.emplace(*services.run_end, serial);
  efi::RunEndSink* run_end = handover ? &*handover : nullptr;
  const efi::ShimHost host{&memory,        services.clock,  services.random, &console,
                           services.trace, services.runner, run_end};
  if (auto ready = shim->init(config, host); !ready) return failure(serial, ready.error());
  if (handover) handover->prepare(*shim, memory, found);
  if (auto added = add_secure_boot_variables(shim->variables(), machine.secure_boot); !added)
    return failure(serial, added.error());

  const CHAR16* uki_path = reinterpret_cast<const CHAR16*>(kUkiPath);
  if (!request.boot_volume.empty()) {
    // Under Secure Boot an image the caller refused fails LoadImage(), as with firmware.
    if (auto assigned = shim->set_boot_volume(request.boot_volume, machine.secure_boot == kEnabled);
        !assigned)
      return failure(serial, assigned.error());
    if (request.uki_path != nullptr) uki_path = request.uki_path;
  }
  EFI_HANDLE handle = nullptr;
  const char* label = uki.kind() == uki::ImageKind::kUki ? "sdstub" : nullptr;
  EFI_STATUS status = shim->load_image(uki_bytes, uki_path, label, &handle);
  if (status != EFI_SUCCESS)
    return image_failure(serial, "LoadImage() of the UKI failed", status);
  if (*options_length) {
    // In pool memory, as everything the image can see.
    const std::size_t length = **options_length;
    void* text = nullptr;
    void* wide = nullptr;
    if (shim->memory().allocate_pool(EfiBootServicesData, length + 1, &text) != EFI_SUCCESS ||
        shim->memory().allocate_pool(EfiBootServicesData, (length + 1) * sizeof(CHAR16),
                                     &wide) != EFI_SUCCESS)
      return failure(serial, ErrorCode::kNoMemory, "no memory for the command line");
    (void)uki::compose_load_options(uki, wanted, {static_cast<char*>(text), length});
    to_ucs2({static_cast<const char*>(text), length}, static_cast<CHAR16*>(wide));
    status = shim->set_load_options(handle, static_cast<const CHAR16*>(wide), length);
    (void)shim->memory().free_pool(wide);
    (void)shim->memory().free_pool(text);
    if (status != EFI_SUCCESS) return image_failure(serial, "cannot set LoadOptions", status);
  }
  if (!request.extra_initrd.empty() &&
      shim->install_initrd(ByteView(request.extra_initrd)) != EFI_SUCCESS)
    return failure(serial, ErrorCode::kNoMemory, "cannot install the initrd");

  UINTN exit_data_size = 0;
  CHAR16* exit_data = nullptr;
  status = shim->start_image(handle, &exit_data_size, &exit_data);
  return image_failure(serial,
                       shim->images().last_start_exited()
                           ? "the UKI called Exit() without starting its kernel"
                           : "the UKI returned without starting its kernel",
                       status);
}

namespace {

// Large, so not on the payload's stack; constant-initialized, so no constructor has to run.
constinit MachineMap g_map{};

}  // namespace

Error run_uki_on_bare_metal(const BareMetalMachine& machine, const BareMetalRequest& request,
                            SerialConsole& serial) {
  X86PortIo ports;
  TscCounter counter;
  const std::optional<std::uint64_t> hz = tsc_frequency(ports, counter);
  if (!hz) serial.write("efikexec: warning: the TSC frequency is unknown; timers are guesses\r\n");
  TscClock clock(ports, counter, hz.value_or(0));
  CpuRandom random;
  if (!random.has_rdrand() && !random.has_rdseed())
    serial.write("efikexec: warning: no RDRAND/RDSEED: the EFI RNG protocol fails\r\n");
  arch::EfiCallRunner runner;
  BareMetalRunEnd run_end(serial, ports, counter, clock.hz(), machine.firmware_reset);
  // The state UEFI promises an image (specification §2.3.4): MXCSR 0x1F80, x87 control 0x037F.
  const std::uint32_t mxcsr = 0x1F80;
  const std::uint16_t fcw = 0x037F;
  asm volatile("ldmxcsr %0; fldcw %1" : : "m"(mxcsr), "m"(fcw));
  BareMetalServices services;
  services.clock = &clock;
  services.random = &random;
  services.runner = &runner;
  services.run_end = &run_end;
  return run_uki_with(machine, request, serial, services, g_map);
}

}  // namespace efikexec::payload
