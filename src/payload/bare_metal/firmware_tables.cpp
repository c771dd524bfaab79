// SPDX-License-Identifier: MIT
#include "payload/bare_metal/firmware_tables.hpp"

#include <cstring>

#include "efi_shim/guids.hpp"
#include "pe_loader/byte_view.hpp"
#include "uki/linux_setup_data.hpp"

namespace efikexec::payload {

namespace {

constexpr std::uint64_t kSystemTableSignature = 0x5453595320494249;  // "IBI SYST"
constexpr std::size_t kSystemTableSize = 120;                         // x64 EFI_SYSTEM_TABLE
constexpr std::size_t kRuntimeServicesOffset = 88;
constexpr std::size_t kTableCountOffset = 104;
constexpr std::size_t kTablesOffset = 112;
constexpr std::size_t kConfigurationEntrySize = 24;  // EFI_GUID, then the table's address
constexpr std::size_t kRsdpSize = 20;                // ACPI 1.0 part
constexpr std::size_t kRsdpExtendedMax = 64;

std::uint64_t u64_at(const std::byte* bytes, std::size_t offset) {
  std::uint64_t value;
  std::memcpy(&value, bytes + offset, sizeof value);
  return value;
}

std::uint32_t u32_at(const std::byte* bytes, std::size_t offset) {
  std::uint32_t value;
  std::memcpy(&value, bytes + offset, sizeof value);
  return value;
}

bool sums_to_zero(std::span<const std::byte> bytes) {
  std::uint8_t sum = 0;
  for (std::byte b : bytes) sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(b));
  return sum == 0;
}

enum class Check { kValid, kInvalid, kUnreadable };

// An RSDP: "RSD PTR ", the checksum over its first 20 bytes, and for revision >= 2 the extended
// checksum over its length. `revision` is set when it could be read.
Check check_rsdp(PhysicalReader& reader, std::uint64_t address, std::uint8_t& revision) {
  std::byte bytes[kRsdpExtendedMax];
  if (!reader.read(address, {bytes, kRsdpSize})) return Check::kUnreadable;
  if (std::memcmp(bytes, "RSD PTR ", 8) != 0 || !sums_to_zero({bytes, kRsdpSize}))
    return Check::kInvalid;
  revision = static_cast<std::uint8_t>(bytes[15]);
  if (revision < 2) return Check::kValid;
  if (!reader.read(address, {bytes, 36})) return Check::kInvalid;
  const std::uint32_t length = u32_at(bytes, 20);
  if (length < 36 || length > kRsdpExtendedMax || !reader.read(address, {bytes, length}) ||
      !sums_to_zero({bytes, length}))
    return Check::kInvalid;
  return Check::kValid;
}

Check check_anchor(PhysicalReader& reader, std::uint64_t address, const char* anchor,
                   std::size_t length) {
  std::byte bytes[8];
  if (!reader.read(address, {bytes, length})) return Check::kUnreadable;
  return std::memcmp(bytes, anchor, length) == 0 ? Check::kValid : Check::kInvalid;
}

void take_rsdp(PhysicalReader& reader, std::uint64_t address, FirmwareTables& tables) {
  if (address == 0) return;
  std::uint8_t revision = 2;
  switch (check_rsdp(reader, address, revision)) {
    case Check::kInvalid: return;
    case Check::kUnreadable:
    case Check::kValid:
      if (revision >= 2) {
        if (tables.acpi20 == 0) tables.acpi20 = address;
      } else if (tables.acpi10 == 0) {
        tables.acpi10 = address;
      }
  }
}

void take_smbios(PhysicalReader& reader, std::uint64_t address, bool version3,
                 FirmwareTables& tables) {
  std::uint64_t& slot = version3 ? tables.smbios3 : tables.smbios;
  if (address == 0 || slot != 0) return;
  if (check_anchor(reader, address, version3 ? "_SM3_" : "_SM_", version3 ? 5 : 4) !=
      Check::kInvalid)
    slot = address;
}

}  // namespace

bool IdentityReader::readable(std::uint64_t address, std::uint64_t size) const {
  auto end = checked_add(address, size);
  if (!end) return false;
  std::uint64_t cursor = address;
  while (cursor < *end) {
    const efi::MemoryRange* holding = nullptr;
    for (const efi::MemoryRange& range : map_.ranges)
      if (cursor >= range.start && cursor < range.end()) holding = &range;
    if (holding == nullptr) return false;
    switch (holding->type) {
      case EfiConventionalMemory:
      case EfiLoaderCode:
      case EfiLoaderData:
      case EfiBootServicesCode:
      case EfiBootServicesData:
      case EfiRuntimeServicesCode:
      case EfiRuntimeServicesData:
      case EfiACPIReclaimMemory:
      case EfiACPIMemoryNVS: break;
      default: return false;
    }
    cursor = holding->end();
  }
  return true;
}

bool IdentityReader::read(std::uint64_t address, std::span<std::byte> out) {
  if (!readable(address, out.size())) return false;
  std::memcpy(out.data(), reinterpret_cast<const void*>(address), out.size());
  return true;
}

FirmwareTables find_firmware_tables(const BareMetalMachine& machine, PhysicalReader& reader) {
  FirmwareTables tables;
  // What the loading kernel said first: it found the RSDP itself.
  take_rsdp(reader, machine.acpi_rsdp, tables);

  // SETUP_EFI (struct efi_setup_data: fw_vendor, unused, tables, smbios, reserved[8]).
  std::uint64_t configuration = 0;
  std::uint64_t setup_smbios = 0;
  std::uint64_t node = machine.setup_data;
  for (std::size_t step = 0; node != 0 && step < kMaxSetupData; ++step) {
    std::byte header[16];
    if (!reader.read(node, header)) break;
    const std::uint32_t type = u32_at(header, 8);
    const std::uint32_t length = u32_at(header, 12);
    std::byte efi_setup[32];
    if (type == uki::kSetupEfi && length >= sizeof efi_setup && checked_add(node, 16) &&
        reader.read(node + 16, efi_setup)) {
      tables.setup_efi = true;
      tables.fw_vendor = u64_at(efi_setup, 0);
      configuration = u64_at(efi_setup, 16);
      setup_smbios = u64_at(efi_setup, 24);
    }
    node = u64_at(header, 0);
  }

  // The real system table: how many configuration tables there are; where, when SETUP_EFI did
  // not say (before SetVirtualAddressMap() the table's own pointer is physical).
  std::byte system_table[kSystemTableSize];
  if (machine.efi_system_table != 0 && reader.read(machine.efi_system_table, system_table) &&
      u64_at(system_table, 0) == kSystemTableSignature) {
    tables.runtime_services = u64_at(system_table, kRuntimeServicesOffset);
    std::uint64_t count = u64_at(system_table, kTableCountOffset);
    if (count > kMaxConfigurationTables) count = kMaxConfigurationTables;
    if (configuration == 0) configuration = u64_at(system_table, kTablesOffset);
    for (std::uint64_t i = 0; i < count && configuration != 0; ++i) {
      std::byte entry[kConfigurationEntrySize];
      auto at = checked_add(configuration, i * kConfigurationEntrySize);
      if (!at || !reader.read(*at, entry)) break;
      EFI_GUID guid;
      std::memcpy(&guid, entry, sizeof guid);
      const std::uint64_t address = u64_at(entry, 16);
      if (efi::guid_equal(guid, efi::guids::kAcpi20Table) ||
          efi::guid_equal(guid, efi::guids::kAcpi10Table))
        take_rsdp(reader, address, tables);
      else if (efi::guid_equal(guid, efi::guids::kSmbios3Table))
        take_smbios(reader, address, true, tables);
      else if (efi::guid_equal(guid, efi::guids::kSmbiosTable))
        take_smbios(reader, address, false, tables);
    }
  }
  take_smbios(reader, setup_smbios, false, tables);
  return tables;
}

std::size_t configuration_tables(const FirmwareTables& tables,
                                 std::span<efi::ConfigurationTableEntry, 4> out) {
  std::size_t count = 0;
  if (tables.acpi20 != 0) out[count++] = {efi::guids::kAcpi20Table, tables.acpi20};
  if (tables.acpi10 != 0) out[count++] = {efi::guids::kAcpi10Table, tables.acpi10};
  if (tables.smbios != 0) out[count++] = {efi::guids::kSmbiosTable, tables.smbios};
  if (tables.smbios3 != 0) out[count++] = {efi::guids::kSmbios3Table, tables.smbios3};
  return count;
}

}  // namespace efikexec::payload
