// SPDX-License-Identifier: MIT
// The machine efikexec loads for: its physical memory ranges, the firmware's runtime regions,
// and where its ACPI and SMBIOS tables live. Read from the running system (sysfs, and the
// legacy BIOS areas when it did not boot through EFI) or from a description file (JSON, format
// in docs/cli.md) for dry runs and tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "efi_shim/memory.hpp"
#include "kexec/common/host_error.hpp"
#include "kexec/crash/crash_facts.hpp"
#include "kexec/machine/firmware_runtime.hpp"

namespace efikexec::kexec {

enum class RangeKind {
  kRam,
  kReserved,
  kAcpiReclaim,
  kAcpiNvs,
  kUnusable,
  kPersistent,
  kMmio,
  kRuntimeCode,  // firmware runtime regions, kept as they are
  kRuntimeData,
};

struct MachineRange {
  std::uint64_t start;
  std::uint64_t end;  // exclusive
  RangeKind kind;
  std::uint64_t attribute;  // EFI attribute bits; 0 means the usual ones for the kind
  // A firmware runtime region's virtual address (from the runtime map); 0: none.
  std::uint64_t virtual_start = 0;
};

// A firmware table the image may read before ExitBootServices, copied so the child can map it
// read-only at its physical address.
struct TableCopy {
  std::uint64_t address;
  std::vector<std::uint8_t> bytes;
};

// A UEFI variable of the machine (efivarfs), offered read-only to the image.
struct FirmwareVariable {
  std::u16string name;
  EFI_GUID guid;
  std::uint32_t attributes;
  std::vector<std::uint8_t> data;
};

struct Machine {
  std::string source;  // "sysfs", or the description file
  bool efi_booted = false;
  std::vector<MachineRange> ranges;  // sorted, disjoint
  std::optional<std::uint64_t> acpi20_rsdp;
  std::optional<std::uint64_t> acpi10_rsdp;
  std::optional<std::uint64_t> smbios;
  std::optional<std::uint64_t> smbios3;
  std::vector<TableCopy> tables;
  std::vector<FirmwareVariable> variables;
  // The firmware's runtime services as the running kernel left them (EFI machines whose kernel
  // exposes its runtime map); when absent, `firmware_runtime_unavailable` says why, and the next
  // kernel runs without EFI runtime services.
  std::optional<FirmwareRuntime> firmware_runtime;
  std::string firmware_runtime_unavailable;
  // The crashkernel= reservation and what a crash kernel's core headers need: from a description
  // file ("crash"); the running system's are read only for a crash load (crash/crash_dump.hpp).
  std::optional<CrashFacts> crash;

  std::uint64_t ram_bytes() const;
  std::uint64_t top_of_ram() const;
  // Highest address anything of the machine occupies (RAM, tables, ranges).
  std::uint64_t top_of_address_space() const;
  // The machine as the EFI memory map's starting point (page-granular; partial pages of RAM are
  // left out, partial pages of anything else widened).
  std::vector<efi::MemoryRange> efi_ranges() const;
};

// Whether the machine's variables say Secure Boot is on (SecureBoot = 1 under the global GUID).
bool secure_boot_enabled(const Machine& machine);

// Reads the running system. Failures are Stage::kMachine, saying what was missing.
HostResult<Machine> discover_machine();
HostResult<Machine> load_machine_description(const std::string& path);
HostResult<Machine> machine_from_json(const nlohmann::json& description);
nlohmann::json machine_to_json(const Machine& machine);

// `--machine SPEC`: empty for this machine, "q35" or "q35:MIB" for a described QEMU guest, else
// a description file.
HostResult<Machine> resolve_machine(const std::string& spec);

// The machine used by tests and dry runs when none is given: a q35 guest with `ram_mib` MiB.
Machine described_q35_machine(std::uint64_t ram_mib);

const char* range_kind_name(RangeKind kind);

// The text of a small kernel file (procfs, sysfs), without its trailing newlines and spaces.
bool read_kernel_text(const std::filesystem::path& path, std::string& out);

// A number of a machine description: a JSON unsigned integer, or a decimal, 0x-hex or octal
// string (no sign).
bool parse_description_number(const nlohmann::json& value, std::uint64_t& out);

}  // namespace efikexec::kexec
