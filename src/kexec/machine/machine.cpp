// SPDX-License-Identifier: MIT
#include <nlohmann/json.hpp>

#include "kexec/machine/machine.hpp"

#include "kexec/crash/crash_dump.hpp"

#include "efi_shim/guids.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kexec/common/hex.hpp"

namespace efikexec::kexec {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uint64_t kPage = efi::kPageSize;

struct KindInfo {
  RangeKind kind;
  const char* name;
  std::uint32_t efi_type;
  std::uint64_t attribute;
  int priority;  // where ranges overlap, the higher priority describes the page
};

constexpr KindInfo kKinds[] = {
    {RangeKind::kRam, "ram", EfiConventionalMemory, efi::kRamAttributes, 0},
    {RangeKind::kReserved, "reserved", EfiReservedMemoryType, 0, 1},
    {RangeKind::kUnusable, "unusable", EfiUnusableMemory, 0, 2},
    {RangeKind::kPersistent, "persistent", 14, efi::kRamAttributes, 3},
    {RangeKind::kMmio, "mmio", EfiMemoryMappedIO, EFI_MEMORY_UC, 4},
    {RangeKind::kAcpiReclaim, "acpi-reclaim", EfiACPIReclaimMemory, efi::kRamAttributes, 5},
    {RangeKind::kAcpiNvs, "acpi-nvs", EfiACPIMemoryNVS, efi::kRamAttributes, 6},
    {RangeKind::kRuntimeCode, "runtime-code", EfiRuntimeServicesCode,
     efi::kRamAttributes | EFI_MEMORY_RUNTIME, 7},
    {RangeKind::kRuntimeData, "runtime-data", EfiRuntimeServicesData,
     efi::kRamAttributes | EFI_MEMORY_RUNTIME, 8},
};

const KindInfo& info(RangeKind kind) {
  for (const KindInfo& k : kKinds)
    if (k.kind == kind) return k;
  return kKinds[1];
}

std::optional<RangeKind> kind_from_name(const std::string& name) {
  for (const KindInfo& k : kKinds)
    if (name == k.name) return k.kind;
  return std::nullopt;
}

std::optional<RangeKind> kind_from_efi_type(std::uint64_t type) {
  switch (type) {
    case EfiRuntimeServicesCode: return RangeKind::kRuntimeCode;
    case EfiRuntimeServicesData: return RangeKind::kRuntimeData;
    case EfiMemoryMappedIO:
    case EfiMemoryMappedIOPortSpace: return RangeKind::kMmio;
    case EfiACPIMemoryNVS: return RangeKind::kAcpiNvs;
    case EfiACPIReclaimMemory: return RangeKind::kAcpiReclaim;
    case EfiReservedMemoryType: return RangeKind::kReserved;
    default: return std::nullopt;
  }
}

// /sys/firmware/memmap type strings (drivers/firmware/memmap.c, arch/x86 e820 names).
RangeKind kind_from_e820_name(const std::string& name) {
  if (name == "System RAM") return RangeKind::kRam;
  if (name == "ACPI Tables") return RangeKind::kAcpiReclaim;
  if (name == "ACPI Non-volatile Storage") return RangeKind::kAcpiNvs;
  if (name == "Unusable memory") return RangeKind::kUnusable;
  if (name.rfind("Persistent Memory", 0) == 0) return RangeKind::kPersistent;
  return RangeKind::kReserved;
}


bool read_number(const fs::path& path, std::uint64_t& value) {
  std::string text;
  if (!read_kernel_text(path, text) || text.empty()) return false;
  char* end = nullptr;
  value = std::strtoull(text.c_str(), &end, 0);
  return end != text.c_str();
}

bool read_bytes(const fs::path& path, std::vector<std::uint8_t>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

std::string hex_string(std::uint64_t value) { return hex_u64(value); }


// Scans physical memory [start, end) through /dev/mem for a 16-byte aligned signature.
std::optional<std::uint64_t> scan_dev_mem(std::uint64_t start, std::uint64_t end,
                                          const char* signature) {
  int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::vector<char> buffer(end - start);
  ssize_t got = pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(start));
  close(fd);
  if (got <= 0) return std::nullopt;
  const std::size_t length = std::strlen(signature);
  for (std::size_t offset = 0; offset + length <= static_cast<std::size_t>(got); offset += 16)
    if (std::memcmp(buffer.data() + offset, signature, length) == 0) return start + offset;
  return std::nullopt;
}

void discover_legacy_tables(Machine& machine) {
  // ACPI 6.5 §5.2.5.1: the RSDP is in the BIOS read-only area on machines without EFI.
  if (auto rsdp = scan_dev_mem(0xe0000, 0x100000, "RSD PTR ")) {
    int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
    std::uint8_t revision = 0;
    if (fd >= 0) {
      if (pread(fd, &revision, 1, static_cast<off_t>(*rsdp + 15)) != 1) revision = 0;
      close(fd);
    }
    if (revision >= 2) machine.acpi20_rsdp = *rsdp;
    machine.acpi10_rsdp = *rsdp;
  }
  if (auto sm3 = scan_dev_mem(0xf0000, 0x100000, "_SM3_")) machine.smbios3 = *sm3;
  if (auto sm = scan_dev_mem(0xf0000, 0x100000, "_SM_")) machine.smbios = *sm;
}

// Copies of the SMBIOS entry point and structure table, placed where the tables really are:
// systemd-stub reads SMBIOS before ExitBootServices.
void copy_smbios_tables(Machine& machine) {
  std::vector<std::uint8_t> entry, table;
  if (!read_bytes("/sys/firmware/dmi/tables/smbios_entry_point", entry) ||
      !read_bytes("/sys/firmware/dmi/tables/DMI", table) || entry.size() < 0x18)
    return;
  std::uint64_t table_address = 0;
  std::optional<std::uint64_t> entry_address;
  if (std::memcmp(entry.data(), "_SM3_", 5) == 0) {
    std::memcpy(&table_address, entry.data() + 0x10, 8);
    entry_address = machine.smbios3;
  } else if (std::memcmp(entry.data(), "_SM_", 4) == 0 && entry.size() >= 0x1c) {
    std::uint32_t address32 = 0;
    std::memcpy(&address32, entry.data() + 0x18, 4);
    table_address = address32;
    entry_address = machine.smbios;
  }
  if (!entry_address || table_address == 0) return;
  machine.tables.push_back({*entry_address, std::move(entry)});
  machine.tables.push_back({table_address, std::move(table)});
}

bool parse_guid(const std::string& text, EFI_GUID& guid) {
  unsigned int d1, d2, d3, b[8];
  if (std::sscanf(text.c_str(), "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &d1, &d2, &d3, &b[0],
                  &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7]) != 11)
    return false;
  guid.Data1 = d1;
  guid.Data2 = static_cast<UINT16>(d2);
  guid.Data3 = static_cast<UINT16>(d3);
  for (int i = 0; i < 8; ++i) guid.Data4[i] = static_cast<UINT8>(b[i]);
  return true;
}

// efivarfs files are NAME-GUID, holding the 32-bit attributes and then the data.
void read_efivarfs(Machine& machine) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/firmware/efi/efivars", ec)) {
    const std::string file = entry.path().filename().string();
    if (file.size() < 38 || file[file.size() - 37] != '-') continue;
    FirmwareVariable variable;
    if (!parse_guid(file.substr(file.size() - 36), variable.guid)) continue;
    std::vector<std::uint8_t> bytes;
    if (!read_bytes(entry.path(), bytes) || bytes.size() < 4) continue;
    std::memcpy(&variable.attributes, bytes.data(), 4);
    variable.data.assign(bytes.begin() + 4, bytes.end());
    const std::string name = file.substr(0, file.size() - 37);
    variable.name.assign(name.begin(), name.end());
    machine.variables.push_back(std::move(variable));
  }
}

}  // namespace

const char* range_kind_name(RangeKind kind) { return info(kind).name; }

bool read_kernel_text(const std::filesystem::path& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return true;
}

bool parse_description_number(const json& value, std::uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<std::uint64_t>();
    return true;
  }
  if (!value.is_string()) return false;
  const std::string text = value.get<std::string>();
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(text.c_str(), &end, 0);
  return errno == 0 && *end == '\0';
}

std::uint64_t Machine::ram_bytes() const {
  std::uint64_t total = 0;
  for (const MachineRange& r : ranges)
    if (r.kind == RangeKind::kRam) total += r.end - r.start;
  return total;
}

std::uint64_t Machine::top_of_ram() const {
  std::uint64_t top = 0;
  for (const MachineRange& r : ranges)
    if (r.kind == RangeKind::kRam) top = std::max(top, r.end);
  return top;
}

std::uint64_t Machine::top_of_address_space() const {
  std::uint64_t top = 0;
  for (const MachineRange& r : ranges) top = std::max(top, r.end);
  for (const TableCopy& t : tables) top = std::max(top, t.address + t.bytes.size());
  return top;
}

std::vector<efi::MemoryRange> Machine::efi_ranges() const {
  struct Painted {
    std::uint64_t start, end;
    const MachineRange* range;
  };
  auto virtual_of = [](const MachineRange& range, std::uint64_t address) -> std::uint64_t {
    return range.virtual_start == 0 ? 0 : range.virtual_start + (address - range.start);
  };
  std::vector<std::uint64_t> bounds;
  std::vector<Painted> pieces;
  for (const MachineRange& r : ranges) {
    // RAM shrinks to whole pages; everything else grows to them, so RAM never claims a page
    // that firmware or a device also uses.
    std::uint64_t start = r.kind == RangeKind::kRam ? (r.start + kPage - 1) & ~(kPage - 1)
                                                   : r.start & ~(kPage - 1);
    std::uint64_t end = r.kind == RangeKind::kRam ? r.end & ~(kPage - 1)
                                                 : (r.end + kPage - 1) & ~(kPage - 1);
    if (end <= start) continue;
    pieces.push_back({start, end, &r});
    bounds.push_back(start);
    bounds.push_back(end);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::vector<efi::MemoryRange> out;
  for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
    const MachineRange* best = nullptr;
    for (const Painted& p : pieces)
      if (p.start <= bounds[i] && p.end >= bounds[i + 1] &&
          (best == nullptr || info(p.range->kind).priority > info(best->kind).priority))
        best = p.range;
    if (best == nullptr) continue;
    const KindInfo& k = info(best->kind);
    const std::uint64_t attribute = best->attribute != 0 ? best->attribute : k.attribute;
    const std::uint64_t pages = (bounds[i + 1] - bounds[i]) / kPage;
    const std::uint64_t virtual_start = virtual_of(*best, bounds[i]);
    if (!out.empty() && out.back().type == k.efi_type && out.back().attribute == attribute &&
        out.back().end() == bounds[i] &&
        (out.back().virtual_start == 0) == (virtual_start == 0) &&
        (virtual_start == 0 ||
         out.back().virtual_start + efi::pages_to_bytes(out.back().pages) == virtual_start)) {
      out.back().pages += pages;
      continue;
    }
    out.push_back({bounds[i], pages, k.efi_type, attribute, false, virtual_start});
  }
  return out;
}

HostResult<Machine> discover_machine() {
  Machine machine;
  machine.source = "sysfs";
  const fs::path memmap = "/sys/firmware/memmap";
  std::error_code ec;
  if (!fs::is_directory(memmap, ec))
    return host_fail(Stage::kMachine,
                     "cannot describe this machine: /sys/firmware/memmap is missing (pass "
                     "--machine FILE)");
  for (const auto& entry : fs::directory_iterator(memmap, ec)) {
    std::uint64_t start = 0, end = 0;
    std::string type;
    if (!read_number(entry.path() / "start", start) || !read_number(entry.path() / "end", end) ||
        !read_kernel_text(entry.path() / "type", type))
      continue;
    machine.ranges.push_back({start, end + 1, kind_from_e820_name(type), 0});
  }
  const fs::path efi = "/sys/firmware/efi";
  machine.efi_booted = fs::is_directory(efi, ec);
  if (machine.efi_booted) {
    // The firmware's runtime regions, as the firmware's map gave them, at the virtual addresses
    // the running kernel gave them.
    auto runtime = read_firmware_runtime(efi.string());
    if (!runtime) return std::unexpected(std::move(runtime.error()));
    if (runtime->runtime) {
      for (const RuntimeRegion& region : runtime->runtime->regions)
        machine.ranges.push_back({region.physical, region.end(),
                                  kind_from_efi_type(region.type).value_or(RangeKind::kReserved),
                                  region.attribute, region.virtual_address});
      machine.firmware_runtime = std::move(runtime->runtime);
    } else {
      machine.firmware_runtime_unavailable = std::move(runtime->unavailable);
    }
    std::string systab;
    if (read_kernel_text(efi / "systab", systab)) {
      std::istringstream lines(systab);
      std::string line;
      while (std::getline(lines, line)) {
        const auto equals = line.find('=');
        if (equals == std::string::npos) continue;
        const std::string key = line.substr(0, equals);
        const std::uint64_t value = std::strtoull(line.c_str() + equals + 1, nullptr, 0);
        if (key == "ACPI20") machine.acpi20_rsdp = value;
        else if (key == "ACPI") machine.acpi10_rsdp = value;
        else if (key == "SMBIOS") machine.smbios = value;
        else if (key == "SMBIOS3") machine.smbios3 = value;
      }
    }
    read_efivarfs(machine);
  } else {
    discover_legacy_tables(machine);
  }
  copy_smbios_tables(machine);
  std::sort(machine.ranges.begin(), machine.ranges.end(),
            [](const MachineRange& a, const MachineRange& b) { return a.start < b.start; });
  if (machine.ram_bytes() == 0)
    return host_fail(Stage::kMachine,
                     "cannot describe this machine: /sys/firmware/memmap lists no RAM");
  return machine;
}

HostResult<Machine> machine_from_json(const json& description) {
  Machine machine;
  if (!description.is_object() || !description.contains("memory") ||
      !description["memory"].is_array())
    return host_fail(Stage::kMachine,
                     "machine description: needs an object with a \"memory\" array");
  machine.source = description.value("source", std::string("description"));
  machine.efi_booted = description.value("efi", true);
  for (const json& range : description["memory"]) {
    std::uint64_t start = 0, end = 0, attribute = 0;
    if (!range.is_object() || !range.contains("start") || !range.contains("end") ||
        !parse_description_number(range["start"], start) || !parse_description_number(range["end"], end) ||
        end <= start || !range.contains("type") || !range["type"].is_string())
      return host_fail(Stage::kMachine,
                       "machine description: each memory range needs start < end and a type");
    auto kind = kind_from_name(range["type"].get<std::string>());
    if (!kind)
      return host_fail(Stage::kMachine, "machine description: unknown memory type '" +
                                            range["type"].get<std::string>() + "'");
    if (range.contains("attribute") && !parse_description_number(range["attribute"], attribute))
      return host_fail(Stage::kMachine, "machine description: bad attribute");
    std::uint64_t virtual_start = 0;
    if (range.contains("virtual") &&
        (!parse_description_number(range["virtual"], virtual_start) || virtual_start % kPage != 0))
      return host_fail(Stage::kMachine, "machine description: bad virtual address");
    machine.ranges.push_back({start, end, *kind, attribute, virtual_start});
  }
  std::sort(machine.ranges.begin(), machine.ranges.end(),
            [](const MachineRange& a, const MachineRange& b) { return a.start < b.start; });
  for (const char* key : {"acpi20", "acpi10", "smbios", "smbios3"}) {
    if (!description.contains(key) || description[key].is_null()) continue;
    std::uint64_t address = 0;
    if (!parse_description_number(description[key], address))
      return host_fail(Stage::kMachine, std::string("machine description: bad address for ") + key);
    std::optional<std::uint64_t>& slot =
        std::strcmp(key, "acpi20") == 0   ? machine.acpi20_rsdp
        : std::strcmp(key, "acpi10") == 0 ? machine.acpi10_rsdp
        : std::strcmp(key, "smbios") == 0 ? machine.smbios
                                          : machine.smbios3;
    slot = address;
  }
  if (description.contains("crash")) {
    auto crash = crash_facts_from_json(description["crash"]);
    if (!crash) return std::unexpected(std::move(crash.error()));
    machine.crash = std::move(*crash);
  }
  if (machine.ram_bytes() == 0)
    return host_fail(Stage::kMachine, "machine description: no RAM");
  return machine;
}

HostResult<Machine> load_machine_description(const std::string& path) {
  std::string text;
  if (!read_kernel_text(path, text))
    return host_fail(Stage::kMachine, "cannot read the machine description", path);
  json description = json::parse(text, nullptr, false);
  if (description.is_discarded())
    return host_fail(Stage::kMachine, "the machine description is not valid JSON", path);
  auto machine = machine_from_json(description);
  if (!machine) {
    machine.error().path = path;
    return machine;
  }
  machine->source = path;
  return machine;
}

json machine_to_json(const Machine& machine) {
  json memory = json::array();
  for (const MachineRange& r : machine.ranges) {
    json range = {{"start", hex_string(r.start)}, {"end", hex_string(r.end)},
                  {"type", range_kind_name(r.kind)}};
    if (r.attribute != 0) range["attribute"] = hex_string(r.attribute);
    if (r.virtual_start != 0) range["virtual"] = hex_string(r.virtual_start);
    memory.push_back(range);
  }
  json out = {{"source", machine.source}, {"efi", machine.efi_booted}, {"memory", memory}};
  auto address = [](const std::optional<std::uint64_t>& a) {
    return a ? json(hex_string(*a)) : json(nullptr);
  };
  out["acpi20"] = address(machine.acpi20_rsdp);
  out["acpi10"] = address(machine.acpi10_rsdp);
  out["smbios"] = address(machine.smbios);
  out["smbios3"] = address(machine.smbios3);
  if (machine.firmware_runtime) {
    const FirmwareRuntime& runtime = *machine.firmware_runtime;
    out["firmware_runtime"] = {{"runtime_services", hex_string(runtime.runtime_services)},
                               {"fw_vendor", hex_string(runtime.fw_vendor)},
                               {"config_table", hex_string(runtime.config_table)},
                               {"regions", runtime.regions.size()}};
  } else if (!machine.firmware_runtime_unavailable.empty()) {
    out["firmware_runtime_unavailable"] = machine.firmware_runtime_unavailable;
  }
  if (machine.crash) out["crash"] = crash_facts_to_json(*machine.crash);
  return out;
}

HostResult<Machine> resolve_machine(const std::string& spec) {
  if (spec.empty()) return discover_machine();
  // q35-secureboot: the same guest with keys enrolled and Secure Boot on.
  const bool secure = spec == "q35-secureboot" || spec.rfind("q35-secureboot:", 0) == 0;
  const std::size_t name = secure ? 14 : 3;
  if (secure || spec == "q35" || spec.rfind("q35:", 0) == 0) {
    std::uint64_t mib = 1024;
    if (spec.size() > name) {
      char* end = nullptr;
      mib = std::strtoull(spec.c_str() + name + 1, &end, 10);
      if (*end != '\0' || mib < 128 || mib > (1u << 22))
        return host_fail(Stage::kMachine,
                         "--machine q35:MIB wants a RAM size in MiB (at least 128)");
    }
    Machine machine = described_q35_machine(mib);
    if (secure) {
      machine.source += ", Secure Boot on";
      for (FirmwareVariable& variable : machine.variables) {
        if (variable.name == u"SecureBoot") variable.data = {1};
        if (variable.name == u"SetupMode") variable.data = {0};
      }
    }
    return machine;
  }
  return load_machine_description(spec);
}

Machine described_q35_machine(std::uint64_t ram_mib) {
  // The layout OVMF gives a q35 guest: low RAM below the legacy hole, RAM up to 2 GiB with the
  // firmware's ACPI tables, NVS and runtime regions at its top, the PCIe ECAM window, the flash,
  // and the rest of RAM above 4 GiB.
  constexpr std::uint64_t kMiB = 1 << 20;
  const std::uint64_t low = std::min<std::uint64_t>(ram_mib, 2048) * kMiB;
  Machine m;
  m.source = "described q35 (" + std::to_string(ram_mib) + " MiB)";
  m.efi_booted = true;
  m.ranges = {
      {0, 0xa0000, RangeKind::kRam, 0},
      {0x100000, 0x800000, RangeKind::kRam, 0},
      {0x800000, 0x808000, RangeKind::kAcpiNvs, 0},
      {0x808000, 0x810000, RangeKind::kRam, 0},
      {0x810000, 0x900000, RangeKind::kAcpiNvs, 0},
      {0x900000, low - 0x900000, RangeKind::kRam, 0},
      {low - 0x900000, low - 0x800000, RangeKind::kRuntimeData, 0},
      {low - 0x800000, low - 0x700000, RangeKind::kRuntimeCode, 0},
      {low - 0x700000, low - 0x6e0000, RangeKind::kAcpiReclaim, 0},
      {low - 0x6e0000, low - 0x600000, RangeKind::kAcpiNvs, 0},
      {low - 0x600000, low, RangeKind::kRam, 0},
      {0xb0000000, 0xc0000000, RangeKind::kReserved, 0},
      {0xffc00000, 0x100000000, RangeKind::kMmio, EFI_MEMORY_UC | EFI_MEMORY_RUNTIME},
  };
  if (ram_mib > 2048)
    m.ranges.push_back({0x100000000, 0x100000000 + (ram_mib - 2048) * kMiB, RangeKind::kRam, 0});
  m.acpi20_rsdp = low - 0x700000 + 0x14;
  m.acpi10_rsdp = low - 0x700000;
  // The variables OVMF without enrolled keys answers (see the reference traces).
  constexpr EFI_GUID kGlobal = efi::guids::kGlobalVariable;
  constexpr std::uint32_t kBootAndRuntime = EFI_VARIABLE_BOOTSERVICE_ACCESS |
                                            EFI_VARIABLE_RUNTIME_ACCESS;
  m.variables = {{u"SecureBoot", kGlobal, kBootAndRuntime, {0}},
                 {u"SetupMode", kGlobal, kBootAndRuntime, {1}},
                 {u"Lang", kGlobal, kBootAndRuntime | EFI_VARIABLE_NON_VOLATILE,
                  {'e', 'n', 'g', 0}}};
  return m;
}

bool secure_boot_enabled(const Machine& machine) {
  for (const FirmwareVariable& variable : machine.variables)
    if (variable.name == u"SecureBoot" &&
        efi::guid_equal(variable.guid, efi::guids::kGlobalVariable))
      return variable.data.size() == 1 && variable.data[0] == 1;
  return false;
}

}  // namespace efikexec::kexec
