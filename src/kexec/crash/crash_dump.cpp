// SPDX-License-Identifier: MIT
#include "kexec/crash/crash_dump.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "efi_shim/memory.hpp"
#include "kexec/common/hex.hpp"
#include "kexec/run/child_report.hpp"
#include "uki/boot_params_offsets.hpp"

namespace efikexec::kexec {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::uint64_t kPage = efi::kPageSize;
// x86_64's kernel text mapping (__START_KERNEL_map) and the direct map's base without KASLR
// (__PAGE_OFFSET_BASE_L4), which kexec-tools assumes too when /proc/kcore does not say.
constexpr std::uint64_t kStartKernelMap = 0xffffffff80000000ull;
constexpr std::uint64_t kDefaultPageOffset = 0xffff888000000000ull;
// /proc/kcore's p_paddr for mappings that are not RAM (fs/proc/kcore.c).
constexpr std::uint64_t kNoPhysicalAddress = ~std::uint64_t{0};

// "start-end : name" lines of /proc/iomem; `depth` counts the two-space indents.
struct IomemEntry {
  PhysicalSpan span;
  unsigned depth;
  std::string name;
};

std::vector<IomemEntry> parse_iomem(const std::string& text) {
  std::vector<IomemEntry> entries;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t indent = line.find_first_not_of(' ');
    const std::size_t dash = line.find('-', indent);
    const std::size_t colon = line.find(" : ", indent);
    if (indent == std::string::npos || dash == std::string::npos || colon == std::string::npos ||
        dash > colon)
      continue;
    char* end = nullptr;
    const std::uint64_t start = std::strtoull(line.c_str() + indent, &end, 16);
    if (end != line.c_str() + dash) continue;
    const std::uint64_t last = std::strtoull(line.c_str() + dash + 1, &end, 16);
    if (end != line.c_str() + colon || last < start || last == ~std::uint64_t{0}) continue;
    entries.push_back({{start, last + 1}, static_cast<unsigned>(indent / 2),
                       line.substr(colon + 3)});
  }
  return entries;
}

// "ADDRESS SIZE" in hex (/sys/kernel/vmcoreinfo).
std::optional<CrashNote> parse_vmcoreinfo(const std::string& text) {
  std::istringstream in(text);
  std::uint64_t address = 0, size = 0;
  if (!(in >> std::hex >> address >> size) || address == 0 || size == 0) return std::nullopt;
  return CrashNote{address, size};
}

// The ELF program headers at the start of /proc/kcore: the direct map's base and the kernel
// text mapping (what kexec-tools reads there too).
void read_kcore(const fs::path& path, CrashFacts& facts) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::vector<char> head(64 * 1024);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  Elf64_Ehdr header;
  if (got < sizeof header) return;
  std::memcpy(&header, head.data(), sizeof header);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phoff > got)
    return;
  const std::size_t count =
      std::min<std::size_t>(header.e_phnum, (got - header.e_phoff) / sizeof(Elf64_Phdr));
  for (std::size_t i = 0; i < count; ++i) {
    Elf64_Phdr phdr;
    std::memcpy(&phdr, head.data() + header.e_phoff + i * sizeof phdr, sizeof phdr);
    if (phdr.p_type != PT_LOAD || phdr.p_paddr == kNoPhysicalAddress) continue;
    if (phdr.p_vaddr >= kStartKernelMap) {
      if (!facts.kernel_text)
        facts.kernel_text = CrashFacts::KernelText{phdr.p_vaddr, phdr.p_paddr, phdr.p_memsz};
    } else if (!facts.page_offset && phdr.p_vaddr >= phdr.p_paddr) {
      facts.page_offset = phdr.p_vaddr - phdr.p_paddr;
    }
  }
}

// System RAM minus every reservation, split at the end of the backed-up low memory.
std::vector<PhysicalSpan> dumped_ram(const CrashFacts& facts) {
  std::vector<PhysicalSpan> pieces;
  for (const PhysicalSpan& ram : facts.system_ram) {
    std::vector<PhysicalSpan> left{ram};
    for (const PhysicalSpan& hole : facts.reservations) {
      std::vector<PhysicalSpan> next;
      for (const PhysicalSpan& piece : left) {
        if (hole.end <= piece.start || hole.start >= piece.end) {
          next.push_back(piece);
          continue;
        }
        if (piece.start < hole.start) next.push_back({piece.start, hole.start});
        if (hole.end < piece.end) next.push_back({hole.end, piece.end});
      }
      left = std::move(next);
    }
    for (const PhysicalSpan& piece : left) {
      if (piece.start < kCrashBackupSourceSize && piece.end > kCrashBackupSourceSize) {
        pieces.push_back({piece.start, kCrashBackupSourceSize});
        pieces.push_back({kCrashBackupSourceSize, piece.end});
      } else {
        pieces.push_back(piece);
      }
    }
  }
  return pieces;
}

std::size_t header_count(const CrashFacts& facts) {
  return facts.cpu_notes.size() + (facts.vmcoreinfo ? 1 : 0) + (facts.kernel_text ? 1 : 0) +
         dumped_ram(facts).size();
}

std::uint64_t headers_bytes(const CrashFacts& facts) {
  const std::uint64_t bytes = sizeof(Elf64_Ehdr) + header_count(facts) * sizeof(Elf64_Phdr);
  return (bytes + kPage - 1) & ~(kPage - 1);
}

json span_json(const PhysicalSpan& span) { return json::array({hex_u64(span.start), hex_u64(span.end)}); }

bool parse_spans(const json& value, std::vector<PhysicalSpan>& out) {
  if (!value.is_array()) return false;
  for (const json& item : value) {
    PhysicalSpan span{};
    if (!item.is_array() || item.size() != 2 || !parse_description_number(item[0], span.start) ||
        !parse_description_number(item[1], span.end) || span.end <= span.start)
      return false;
    out.push_back(span);
  }
  return true;
}

bool parse_note(const json& value, CrashNote& out) {
  return value.is_object() && value.contains("address") && value.contains("size") &&
         parse_description_number(value["address"], out.address) && parse_description_number(value["size"], out.size) &&
         out.size != 0;
}

// The highest: kexec_load takes crash segments only in crashk_res, the high reservation of
// crashkernel=X,high (which may be smaller than the low one beside it), as kexec-tools chooses.
void choose_reservation(CrashFacts& facts) {
  facts.reservation = {};
  for (const PhysicalSpan& span : facts.reservations)
    if (span.start >= facts.reservation.start) facts.reservation = span;
}

std::unexpected<HostError> description_error(const std::string& what) {
  return host_fail(Stage::kMachine, "machine description: crash: " + what);
}

}  // namespace

HostResult<CrashFacts> discover_crash_facts(const std::string& root) {
  CrashFacts facts;
  const fs::path base = root.empty() ? fs::path("/") : fs::path(root);
  std::string iomem;
  if (!read_kernel_text(base / "proc/iomem", iomem))
    return host_fail(Stage::kMachine, "cannot read /proc/iomem for the crash kernel reservation");
  const std::vector<IomemEntry> entries = parse_iomem(iomem);
  bool hidden = !entries.empty();
  for (const IomemEntry& entry : entries) {
    if (entry.span.start != 0) hidden = false;
    if (entry.depth == 0 && entry.name == "System RAM") facts.system_ram.push_back(entry.span);
    if (entry.name == "Crash kernel") facts.reservations.push_back(entry.span);
  }
  if (hidden)
    return host_fail(Stage::kMachine,
                     "/proc/iomem shows every address as 0: reading the crash kernel "
                     "reservation needs root (CAP_SYS_ADMIN)");
  if (facts.reservations.empty())
    return host_fail(Stage::kMachine,
                     "this kernel has no crash kernel reservation (no \"Crash kernel\" in "
                     "/proc/iomem): boot it with crashkernel=SIZE, e.g. crashkernel=256M");
  choose_reservation(facts);
  if (facts.system_ram.empty())
    return host_fail(Stage::kMachine, "/proc/iomem lists no System RAM");

  // Every CPU the kernel knows of has its crash_notes, online or not (kexec-tools reads them
  // all: a CPU hot-added later still saves its registers there).
  std::vector<std::pair<std::uint64_t, CrashNote>> cpus;
  std::error_code ec;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(base / "sys/devices/system/cpu", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 4 || name.size() > 12 || name.compare(0, 3, "cpu") != 0 ||
        name.find_first_not_of("0123456789", 3) != std::string::npos)
      continue;
    std::string address_text, size_text;
    if (!read_kernel_text(entry.path() / "crash_notes", address_text)) continue;
    CrashNote note{std::strtoull(address_text.c_str(), nullptr, 16), 0};
    // Kernels before 4.x have no crash_notes_size; kexec-tools then assumes a page.
    note.size = read_kernel_text(entry.path() / "crash_notes_size", size_text)
                    ? std::strtoull(size_text.c_str(), nullptr, 10)
                    : kPage;
    if (note.address == 0 || note.size == 0) continue;
    cpus.emplace_back(std::strtoull(name.c_str() + 3, nullptr, 10), note);
  }
  std::sort(cpus.begin(), cpus.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [cpu, note] : cpus) facts.cpu_notes.push_back(note);
  if (facts.cpu_notes.empty())
    return host_fail(Stage::kMachine,
                     "no CPU has crash_notes in /sys/devices/system/cpu (this kernel was built "
                     "without CONFIG_CRASH_DUMP, or sysfs is not mounted)");
  std::string vmcoreinfo;
  if (read_kernel_text(base / "sys/kernel/vmcoreinfo", vmcoreinfo))
    facts.vmcoreinfo = parse_vmcoreinfo(vmcoreinfo);
  read_kcore(base / "proc/kcore", facts);
  return facts;
}

HostResult<CrashFacts> crash_facts_from_json(const json& description) {
  CrashFacts facts;
  if (!description.is_object()) return description_error("needs an object");
  if (!description.contains("reservations") ||
      !parse_spans(description["reservations"], facts.reservations) || facts.reservations.empty())
    return description_error("\"reservations\" needs [start, end) pairs");
  if (!description.contains("system_ram") || !parse_spans(description["system_ram"], facts.system_ram))
    return description_error("\"system_ram\" needs [start, end) pairs");
  if (!description.contains("cpu_notes") || !description["cpu_notes"].is_array() ||
      description["cpu_notes"].empty())
    return description_error("\"cpu_notes\" needs an array of CPU notes");
  for (const json& item : description["cpu_notes"]) {
    CrashNote note{};
    if (!parse_note(item, note)) return description_error("a CPU note needs address and size");
    facts.cpu_notes.push_back(note);
  }
  if (description.contains("vmcoreinfo") && !description["vmcoreinfo"].is_null()) {
    CrashNote note{};
    if (!parse_note(description["vmcoreinfo"], note))
      return description_error("\"vmcoreinfo\" needs address and size");
    facts.vmcoreinfo = note;
  }
  if (description.contains("page_offset") && !description["page_offset"].is_null()) {
    std::uint64_t offset = 0;
    if (!parse_description_number(description["page_offset"], offset))
      return description_error("bad \"page_offset\"");
    facts.page_offset = offset;
  }
  if (description.contains("kernel_text") && !description["kernel_text"].is_null()) {
    const json& text = description["kernel_text"];
    CrashFacts::KernelText kernel{};
    if (!text.is_object() || !text.contains("virtual") || !text.contains("physical") ||
        !text.contains("size") || !parse_description_number(text["virtual"], kernel.virtual_address) ||
        !parse_description_number(text["physical"], kernel.physical_address) ||
        !parse_description_number(text["size"], kernel.size))
      return description_error("\"kernel_text\" needs virtual, physical and size");
    facts.kernel_text = kernel;
  }
  choose_reservation(facts);
  return facts;
}

json crash_facts_to_json(const CrashFacts& facts) {
  json reservations = json::array(), ram = json::array(), notes = json::array();
  for (const PhysicalSpan& span : facts.reservations) reservations.push_back(span_json(span));
  for (const PhysicalSpan& span : facts.system_ram) ram.push_back(span_json(span));
  auto note_json = [](const CrashNote& note) {
    return json{{"address", hex_u64(note.address)}, {"size", note.size}};
  };
  for (const CrashNote& note : facts.cpu_notes) notes.push_back(note_json(note));
  json out = {{"reservations", reservations}, {"system_ram", ram}, {"cpu_notes", notes}};
  out["vmcoreinfo"] = facts.vmcoreinfo ? note_json(*facts.vmcoreinfo) : json(nullptr);
  out["page_offset"] = facts.page_offset ? json(hex_u64(*facts.page_offset)) : json(nullptr);
  out["kernel_text"] = facts.kernel_text
                           ? json{{"virtual", hex_u64(facts.kernel_text->virtual_address)},
                                  {"physical", hex_u64(facts.kernel_text->physical_address)},
                                  {"size", facts.kernel_text->size}}
                           : json(nullptr);
  return out;
}

HostResult<CrashLayout> plan_crash_layout(const CrashFacts& facts) {
  const PhysicalSpan& reservation = facts.reservation;
  const std::uint64_t start = (reservation.start + kPage - 1) & ~(kPage - 1);
  const std::uint64_t end = reservation.end & ~(kPage - 1);
  const std::uint64_t own = headers_bytes(facts) + kCrashBackupSourceSize;
  if (end <= start || end - start <= own)
    return host_fail(Stage::kPlan, "the crash kernel reservation (" +
                                       std::to_string(reservation.size()) +
                                       " bytes) cannot even hold the core headers and the "
                                       "backup of the first 640 KiB");
  CrashLayout layout;
  layout.headers = {end - headers_bytes(facts), end};
  layout.backup = {layout.headers.start - kCrashBackupSourceSize, layout.headers.start};
  return layout;
}

HostResult<std::vector<std::byte>> build_elf_core_headers(const CrashFacts& facts,
                                                          const CrashLayout& layout) {
  std::vector<Elf64_Phdr> headers;
  auto note = [&headers](const CrashNote& at) {
    Elf64_Phdr phdr{};
    phdr.p_type = PT_NOTE;
    phdr.p_offset = phdr.p_paddr = at.address;
    phdr.p_filesz = phdr.p_memsz = at.size;
    headers.push_back(phdr);
  };
  auto load = [&headers](std::uint64_t offset, std::uint64_t physical, std::uint64_t virt,
                         std::uint64_t size) {
    Elf64_Phdr phdr{};
    phdr.p_type = PT_LOAD;
    phdr.p_flags = PF_R | PF_W | PF_X;
    phdr.p_offset = offset;
    phdr.p_paddr = physical;
    phdr.p_vaddr = virt;
    phdr.p_filesz = phdr.p_memsz = size;
    headers.push_back(phdr);
  };
  for (const CrashNote& cpu : facts.cpu_notes) note(cpu);
  if (facts.vmcoreinfo) note(*facts.vmcoreinfo);
  if (facts.kernel_text)
    load(facts.kernel_text->physical_address, facts.kernel_text->physical_address,
         facts.kernel_text->virtual_address, facts.kernel_text->size);
  const std::uint64_t page_offset = facts.page_offset.value_or(kDefaultPageOffset);
  for (const PhysicalSpan& piece : dumped_ram(facts)) {
    // The first 640 KiB are read from the backup: the crash kernel reuses them.
    const std::uint64_t offset =
        piece.end <= kCrashBackupSourceSize ? layout.backup.start + piece.start : piece.start;
    load(offset, piece.start, page_offset + piece.start, piece.size());
  }

  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_ident[EI_OSABI] = ELFOSABI_NONE;
  header.e_type = ET_CORE;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_phoff = sizeof header;
  header.e_ehsize = sizeof header;
  header.e_phentsize = sizeof(Elf64_Phdr);
  if (headers.size() >= PN_XNUM)
    return host_fail(Stage::kPlan, "this machine's memory needs more core headers than ELF holds");
  header.e_phnum = static_cast<Elf64_Half>(headers.size());

  std::vector<std::byte> bytes(headers_bytes(facts));
  if (bytes.size() != layout.headers.size() ||
      sizeof header + headers.size() * sizeof(Elf64_Phdr) > bytes.size())
    return host_fail(Stage::kPlan, "the core headers do not fit the pages planned for them");
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + sizeof header, headers.data(), headers.size() * sizeof(Elf64_Phdr));
  return bytes;
}

Machine crash_machine_view(const Machine& machine, const CrashFacts& facts,
                           const CrashLayout& layout) {
  Machine view = machine;
  view.source = machine.source + ", as a crash kernel sees it";
  view.ranges.clear();
  // RAM stays RAM only between the reservation's start and the handoff's own pages.
  const std::uint64_t keep_start = facts.reservation.start;
  const std::uint64_t keep_end = layout.backup.start;
  for (const MachineRange& range : machine.ranges) {
    if (range.kind != RangeKind::kRam) {
      view.ranges.push_back(range);
      continue;
    }
    auto add = [&](std::uint64_t start, std::uint64_t end, RangeKind kind) {
      if (start < end) view.ranges.push_back({start, end, kind, 0, 0});
    };
    add(range.start, std::min(range.end, keep_start), RangeKind::kReserved);
    const std::uint64_t ram_start = std::max(range.start, keep_start);
    const std::uint64_t ram_end = std::min(range.end, keep_end);
    if (ram_start < ram_end) view.ranges.push_back({ram_start, ram_end, RangeKind::kRam,
                                                    range.attribute, range.virtual_start});
    add(std::max(range.start, keep_end), range.end, RangeKind::kReserved);
  }
  return view;
}

std::vector<PhysicalSpan> low_ram(const Machine& machine) {
  std::vector<PhysicalSpan> low;
  for (const MachineRange& range : machine.ranges)
    if (range.kind == RangeKind::kRam && range.start < kCrashBackupSourceSize)
      low.push_back({range.start, std::min(range.end, kCrashBackupSourceSize)});
  return low;
}

namespace {

using namespace uki::boot_params_offsets;
constexpr std::uint32_t kE820Ram = 1;

std::uint32_t u32_at(std::span<const std::byte> bytes, std::size_t offset) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data() + offset, 4);
  return value;
}

// `table` with [span.start, span.end) as `type` over whatever was there, sorted and merged.
std::vector<E820Entry> overlay(const std::vector<E820Entry>& table, PhysicalSpan span,
                               std::uint32_t type) {
  std::vector<E820Entry> out;
  for (const E820Entry& entry : table) {
    const std::uint64_t end = entry.start + entry.size;
    if (end <= span.start || entry.start >= span.end) {
      out.push_back(entry);
      continue;
    }
    if (entry.start < span.start) out.push_back({entry.start, span.start - entry.start, entry.type});
    if (span.end < end) out.push_back({span.end, end - span.end, entry.type});
  }
  out.push_back({span.start, span.size(), type});
  std::sort(out.begin(), out.end(),
            [](const E820Entry& a, const E820Entry& b) { return a.start < b.start; });
  std::vector<E820Entry> merged;
  for (const E820Entry& entry : out) {
    if (!merged.empty() && merged.back().start + merged.back().size == entry.start &&
        merged.back().type == entry.type)
      merged.back().size += entry.size;
    else
      merged.push_back(entry);
  }
  return merged;
}

void put_u32(std::span<std::byte> bytes, std::size_t offset, std::uint32_t value) {
  std::memcpy(bytes.data() + offset, &value, 4);
}

// A descriptor the crash view reserved over the machine's low RAM: below 640 KiB (kexec-tools
// too gives a crash kernel [0, 640 KiB) whole) and overlapping that RAM.
bool over_low_ram(const std::vector<PhysicalSpan>& low, std::uint64_t start, std::uint64_t end) {
  if (end > kCrashBackupSourceSize) return false;
  for (const PhysicalSpan& span : low)
    if (start < span.end && span.start < end) return true;
  return false;
}

// Gives the crash kernel the machine's RAM below 640 KiB (its real-mode trampoline must live
// below 1 MiB): in the EFI memory map of `page`'s efi_info, and in its e820 table when the stub
// wrote one before ExitBootServices(). Returns the e820 entries (0: the stub writes them later).
HostResult<std::size_t> give_low_memory(const Machine& machine, std::span<std::byte> page,
                                        RunOutcome& run) {
  const std::vector<PhysicalSpan> low = low_ram(machine);
  const std::uint32_t descriptor_size = u32_at(page, kEfiMemdescSize);
  const std::uint64_t map = u32_at(page, kEfiMemmap) |
                            (std::uint64_t{u32_at(page, kEfiMemmapHi)} << 32);
  const std::uint32_t map_size = u32_at(page, kEfiMemmapSize);
  if (descriptor_size < 40 || map_size % descriptor_size != 0 || map_size == 0 ||
      !in_allocated(run.final_map, map, map_size))
    return host_fail(Stage::kPlan, "the EFI memory map in boot_params lies outside the run's "
                                   "memory");
  std::vector<std::byte> descriptors(map_size);
  if (!run.memory->read(map, descriptors))
    return host_fail(Stage::kPlan, "cannot read the EFI memory map in the run's memory");
  std::uint64_t given = 0;
  for (std::size_t at = 0; at < map_size; at += descriptor_size) {
    std::uint64_t start = 0, pages = 0;
    std::memcpy(&start, descriptors.data() + at + 8, 8);
    std::memcpy(&pages, descriptors.data() + at + 24, 8);
    if (u32_at(descriptors, at) != EfiReservedMemoryType || pages > (~std::uint64_t{0} >> 12) ||
        !over_low_ram(low, start, start + pages * kPage))
      continue;
    const std::uint32_t conventional = EfiConventionalMemory;
    std::memcpy(descriptors.data() + at, &conventional, 4);
    given += pages * kPage;
  }
  if (given == 0 && !low.empty())
    return host_fail(Stage::kPlan, "the EFI memory map does not describe the first 640 KiB on "
                                   "their own, so the crash kernel cannot get them as RAM");
  if (!run.memory->write(map, descriptors))
    return host_fail(Stage::kPlan, "cannot write the EFI memory map in the run's memory");

  const std::size_t count = static_cast<std::uint8_t>(page[kE820Entries]);
  if (count == 0) return count;
  if (count > kE820TableMax) return host_fail(Stage::kPlan, "boot_params' e820 table overflows");
  std::vector<E820Entry> table;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t at = kE820Table + i * kE820EntrySize;
    std::uint64_t start = 0, size = 0;
    std::memcpy(&start, page.data() + at, 8);
    std::memcpy(&size, page.data() + at + 8, 8);
    if (size == 0 || size > ~std::uint64_t{0} - start)
      return host_fail(Stage::kPlan, "boot_params' e820 table has a bad entry");
    table.push_back({start, size, u32_at(page, at + 16)});
  }
  for (const PhysicalSpan& span : low) table = overlay(table, span, kE820Ram);
  if (table.size() > kE820TableMax)
    return host_fail(Stage::kPlan, "the crash kernel's e820 table needs more than 128 entries");
  page[kE820Entries] = static_cast<std::byte>(table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const std::size_t at = kE820Table + i * kE820EntrySize;
    std::memcpy(page.data() + at, &table[i].start, 8);
    std::memcpy(page.data() + at + 8, &table[i].size, 8);
    put_u32(page, at + 16, table[i].type);
  }
  return table.size();
}

}  // namespace

HostResult<CrashHandoff> hand_over_crash(const Machine& machine, const CrashFacts& facts,
                                         const CrashLayout& layout,
                                         std::span<const std::byte> headers,
                                         const CrashRequest& request, RunOutcome& run) {
  if (run.memory == nullptr || !run.boot_params)
    return host_fail(Stage::kPlan, "the image left no Linux boot_params to hand a crash kernel "
                                   "its core headers (is it an EFI-stub kernel or a UKI?)");
  const std::uint64_t address = run.boot_params->address;
  std::vector<std::byte> page(kPage);
  if (!in_allocated(run.final_map, address, kPage) || !run.memory->read(address, page))
    return host_fail(Stage::kPlan, "boot_params lies outside the run's memory");

  CrashHandoff handoff;
  handoff.reservation = facts.reservation;
  handoff.elfcorehdr = layout.headers.start;
  handoff.elfcorehdr_size = headers.size();
  handoff.backup = layout.backup;

  // The command line: the kernel reads elfcorehdr= wherever it is; it goes first, as
  // kexec_file_load puts it, so that no argument of the image's can be cut off by the limit.
  std::string line = "elfcorehdr=" + hex_u64(layout.headers.start) + " " +
                     run.boot_params->command_line;
  if (request.append && !request.append->empty()) line += " " + *request.append;
  // The Linux stub does not copy cmdline_size into boot_params on every path (6.1's PE entry
  // leaves it 0): the kernel's own setup header says it.
  const std::uint64_t limit = request.command_line_limit;
  if (line.size() > std::min<std::uint64_t>(limit, request.command_line_capacity - 1))
    return host_fail(Stage::kPlan, "the crash kernel's command line would be " +
                                       std::to_string(line.size()) + " bytes, longer than the " +
                                       std::to_string(limit) + " its kernel takes");
  if (request.command_line_page == 0 ||
      !in_allocated(run.final_map, request.command_line_page, request.command_line_capacity))
    return host_fail(Stage::kPlan, "the run set aside no page for the crash kernel's command line");
  std::vector<std::byte> text(line.size() + 1);
  std::memcpy(text.data(), line.data(), line.size());
  put_u32(page, kCmdLinePtr, static_cast<std::uint32_t>(request.command_line_page));
  put_u32(page, kExtCmdLinePtr, static_cast<std::uint32_t>(request.command_line_page >> 32));
  handoff.command_line = std::move(line);

  // The first 640 KiB as RAM again. The Linux stub writes the e820 table from the EFI memory map
  // named in efi_info after ExitBootServices() returns (6.1), so the map's reserved descriptors
  // there become conventional memory; a table the stub already wrote is changed the same way.
  auto gave_low = give_low_memory(machine, page, run);
  if (!gave_low) return std::unexpected(std::move(gave_low.error()));
  handoff.e820_entries = *gave_low;

  if (!request.initrd.empty()) {
    const std::uint64_t size = request.initrd.size();
    if (request.initrd_page == 0 || !in_allocated(run.final_map, request.initrd_page, size))
      return host_fail(Stage::kPlan, "the run set aside no pages for the kdump initrd");
    if (!run.memory->write(request.initrd_page, std::span<const std::byte>(request.initrd.data(), request.initrd.size())))
      return host_fail(Stage::kPlan, "cannot write the kdump initrd into the run's memory");
    put_u32(page, kRamdiskImage, static_cast<std::uint32_t>(request.initrd_page));
    put_u32(page, kExtRamdiskImage, static_cast<std::uint32_t>(request.initrd_page >> 32));
    put_u32(page, kRamdiskSize, static_cast<std::uint32_t>(size));
    put_u32(page, kExtRamdiskSize, static_cast<std::uint32_t>(size >> 32));
    handoff.initrd = PhysicalSpan{request.initrd_page, request.initrd_page + size};
  }

  if (!run.memory->write(request.command_line_page, text) ||
      !run.memory->write(layout.headers.start, headers) || !run.memory->write(address, page))
    return host_fail(Stage::kPlan, "cannot write the crash handoff into the run's memory");
  return handoff;
}

json crash_handoff_json(const CrashHandoff& handoff) {
  return {{"reservation", span_json(handoff.reservation)},
          {"elfcorehdr", hex_u64(handoff.elfcorehdr)},
          {"elfcorehdr_size", handoff.elfcorehdr_size},
          {"backup", span_json(handoff.backup)},
          {"command_line", handoff.command_line},
          {"initrd", handoff.initrd ? span_json(*handoff.initrd) : json(nullptr)},
          {"e820_entries", handoff.e820_entries}};
}

}  // namespace efikexec::kexec
