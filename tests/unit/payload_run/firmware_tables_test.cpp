// SPDX-License-Identifier: MIT
// Finding ACPI and SMBIOS for the next kernel from boot_params, SETUP_EFI and the real system
// table, over a fake physical memory: what is readable must be what it claims to be, what is
// not readable is passed on, and nothing (loops, wild pointers, huge counts) is followed blindly.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "efi_shim/guids.hpp"
#include "payload/bare_metal/firmware_tables.hpp"
#include "uki/linux_setup_data.hpp"

namespace efikexec::payload {
namespace {

class FakeMemory final : public PhysicalReader {
 public:
  bool read(std::uint64_t address, std::span<std::byte> out) override {
    ++reads;
    for (const auto& [start, bytes] : regions) {
      if (address >= start && address - start <= bytes.size() &&
          out.size() <= bytes.size() - (address - start)) {
        std::memcpy(out.data(), bytes.data() + (address - start), out.size());
        return true;
      }
    }
    return false;
  }
  std::vector<std::uint8_t>& at(std::uint64_t address, std::size_t size) {
    auto& bytes = regions[address];
    bytes.resize(size);
    return bytes;
  }
  std::map<std::uint64_t, std::vector<std::uint8_t>> regions;
  unsigned reads = 0;
};

void put64(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint64_t value) {
  std::memcpy(bytes.data() + offset, &value, 8);
}
void put32(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint32_t value) {
  std::memcpy(bytes.data() + offset, &value, 4);
}

void fix_checksum(std::vector<std::uint8_t>& bytes, std::size_t length, std::size_t field) {
  bytes[field] = 0;
  std::uint8_t sum = 0;
  for (std::size_t i = 0; i < length; ++i) sum = static_cast<std::uint8_t>(sum + bytes[i]);
  bytes[field] = static_cast<std::uint8_t>(-sum);
}

void make_rsdp(FakeMemory& memory, std::uint64_t address, std::uint8_t revision) {
  auto& bytes = memory.at(address, 36);
  std::memcpy(bytes.data(), "RSD PTR ", 8);
  bytes[15] = revision;
  put32(bytes, 20, 36);
  fix_checksum(bytes, 20, 8);
  if (revision >= 2) fix_checksum(bytes, 36, 32);
}

void make_system_table(FakeMemory& memory, std::uint64_t address, std::uint64_t tables,
                       std::uint64_t count) {
  auto& bytes = memory.at(address, 120);
  put64(bytes, 0, 0x5453595320494249);
  put64(bytes, 104, count);
  put64(bytes, 112, tables);
}

void make_tables(FakeMemory& memory, std::uint64_t address,
                 std::vector<std::pair<EFI_GUID, std::uint64_t>> entries) {
  auto& bytes = memory.at(address, entries.size() * 24);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::memcpy(bytes.data() + i * 24, &entries[i].first, 16);
    put64(bytes, i * 24 + 16, entries[i].second);
  }
}

void make_setup_efi(FakeMemory& memory, std::uint64_t address, std::uint64_t next,
                    std::uint64_t tables, std::uint64_t smbios) {
  auto& bytes = memory.at(address, 16 + 96);
  put64(bytes, 0, next);
  put32(bytes, 8, uki::kSetupEfi);
  put32(bytes, 12, 96);
  put64(bytes, 16 + 16, tables);
  put64(bytes, 16 + 24, smbios);
}

BareMetalMachine machine(std::uint64_t rsdp, std::uint64_t systab, std::uint64_t setup) {
  return {{}, {}, {}, rsdp, systab, setup};
}

TEST(FirmwareTables, TheKernelsRsdpComesFirstAndItsRevisionChoosesTheGuid) {
  FakeMemory memory;
  make_rsdp(memory, 0x7fe14000, 2);
  FirmwareTables found = find_firmware_tables(machine(0x7fe14000, 0, 0), memory);
  EXPECT_EQ(found.acpi20, 0x7fe14000u);
  EXPECT_EQ(found.acpi10, 0u);
  make_rsdp(memory, 0xf0000, 0);
  found = find_firmware_tables(machine(0xf0000, 0, 0), memory);
  EXPECT_EQ(found.acpi10, 0xf0000u);
  EXPECT_EQ(found.acpi20, 0u);
  efi::ConfigurationTableEntry entries[4];
  ASSERT_EQ(configuration_tables(found, entries), 1u);
  EXPECT_TRUE(efi::guid_equal(entries[0].guid, efi::guids::kAcpi10Table));
}

TEST(FirmwareTables, ABrokenRsdpIsDroppedAnUnreadableOnePassedOn) {
  FakeMemory memory;
  make_rsdp(memory, 0x7fe14000, 2);
  memory.regions[0x7fe14000][30] ^= 1;  // extended checksum broken
  EXPECT_EQ(find_firmware_tables(machine(0x7fe14000, 0, 0), memory).acpi20, 0u);
  make_rsdp(memory, 0x7fe15000, 2);
  std::memcpy(memory.regions[0x7fe15000].data(), "RSD PTX ", 8);
  EXPECT_EQ(find_firmware_tables(machine(0x7fe15000, 0, 0), memory).acpi20, 0u);
  // Memory the payload does not map: the next kernel checks it.
  EXPECT_EQ(find_firmware_tables(machine(0xe0000, 0, 0), memory).acpi20, 0xe0000u);
}

TEST(FirmwareTables, SetupEfiAndTheSystemTableGiveAcpiAndSmbios) {
  FakeMemory memory;
  make_rsdp(memory, 0x7fb7e014, 2);
  auto& smbios3 = memory.at(0x7f9b0000, 32);
  std::memcpy(smbios3.data(), "_SM3_", 5);
  auto& smbios = memory.at(0x7f9c0000, 32);
  std::memcpy(smbios.data(), "_SM_", 4);
  make_tables(memory, 0x7f9e0000,
              {{efi::guids::kSmbios3Table, 0x7f9b0000},
               {efi::guids::kAcpi20Table, 0x7fb7e014},
               {efi::guids::kSmbiosTable, 0x7f9c0000}});
  // The system table's own pointer is virtual after SetVirtualAddressMap(); SETUP_EFI's is not.
  make_system_table(memory, 0x7f9f0018, 0xfffffffeee9e0000, 3);
  make_setup_efi(memory, 0x5000, 0x6000, 0x7f9e0000, 0x7f9c0000);
  auto& rng = memory.at(0x6000, 16 + 32);
  put32(rng, 8, 9);  // SETUP_RNG_SEED: skipped
  put32(rng, 12, 32);
  FirmwareTables found = find_firmware_tables(machine(0, 0x7f9f0018, 0x5000), memory);
  EXPECT_EQ(found.acpi20, 0x7fb7e014u);
  EXPECT_EQ(found.smbios3, 0x7f9b0000u);
  EXPECT_EQ(found.smbios, 0x7f9c0000u);
  efi::ConfigurationTableEntry entries[4];
  EXPECT_EQ(configuration_tables(found, entries), 3u);
}

TEST(FirmwareTables, WithoutSetupEfiTheSystemTablesPointerIsTried) {
  FakeMemory memory;
  make_rsdp(memory, 0x7fb7e014, 2);
  make_tables(memory, 0x7f9e0000, {{efi::guids::kAcpi20Table, 0x7fb7e014}});
  make_system_table(memory, 0x7f9f0018, 0x7f9e0000, 1);
  EXPECT_EQ(find_firmware_tables(machine(0, 0x7f9f0018, 0), memory).acpi20, 0x7fb7e014u);
  // A table that is not a system table is not read further.
  memory.regions[0x7f9f0018][0] ^= 1;
  EXPECT_EQ(find_firmware_tables(machine(0, 0x7f9f0018, 0), memory).acpi20, 0u);
}

TEST(FirmwareTables, HostileChainsAndCountsAreBounded) {
  FakeMemory memory;
  make_setup_efi(memory, 0x5000, 0x5000, 0, 0);  // a loop
  make_system_table(memory, 0x7f9f0018, 0x7f9e0000, ~std::uint64_t{0});
  make_tables(memory, 0x7f9e0000, std::vector<std::pair<EFI_GUID, std::uint64_t>>(
                                      kMaxConfigurationTables + 50, {efi::guids::kAcpi20Table, 0}));
  memory.reads = 0;
  FirmwareTables found = find_firmware_tables(machine(0, 0x7f9f0018, 0x5000), memory);
  EXPECT_EQ(found.acpi20, 0u);
  EXPECT_LE(memory.reads, kMaxSetupData * 2 + kMaxConfigurationTables + 4);
  // A SMBIOS anchor that is wrong is dropped.
  auto& smbios = memory.at(0x7f9c0000, 32);
  std::memcpy(smbios.data(), "_XX_", 4);
  make_setup_efi(memory, 0x5000, 0, 0, 0x7f9c0000);
  EXPECT_EQ(find_firmware_tables(machine(0, 0, 0x5000), memory).smbios, 0u);
}

TEST(FirmwareTables, TheIdentityReaderReadsOnlyMappedKindsOfMemory) {
  MachineMap map;
  (void)map.ranges.push_back({0x100000, 16, EfiConventionalMemory, 0, false});
  (void)map.ranges.push_back({0x110000, 1, EfiACPIReclaimMemory, 0, false});
  (void)map.ranges.push_back({0x111000, 1, EfiReservedMemoryType, 0, false});
  (void)map.ranges.push_back({0x200000, 1, EfiMemoryMappedIO, 0, false});
  IdentityReader reader(map);
  EXPECT_TRUE(reader.readable(0x100000, 0x11000)) << "RAM and ACPI, adjacent";
  EXPECT_FALSE(reader.readable(0x100000, 0x11001)) << "into reserved memory";
  EXPECT_FALSE(reader.readable(0x200000, 1)) << "MMIO";
  EXPECT_FALSE(reader.readable(0x300000, 1)) << "a hole";
  EXPECT_FALSE(reader.readable(~std::uint64_t{0}, 2)) << "wraps";
  std::byte byte{};
  EXPECT_FALSE(reader.read(0x300000, {&byte, 1}));
}

}  // namespace
}  // namespace efikexec::payload
