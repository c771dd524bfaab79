// SPDX-License-Identifier: MIT
// The firmware's runtime services handed to the next kernel: a SETUP_EFI entry first in
// boot_params' setup_data chain and the system table pointing at the firmware's runtime table,
// written into a run's memory; nothing written when the run's own structures are not where the
// run's map says they may be.
#include <gtest/gtest.h>

#include <cstring>

#include "efi_shim/crc32.hpp"
#include "efi_shim/efi_types.hpp"
#include "kexec/handoff/efi_setup.hpp"

namespace efikexec::kexec {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kBootParams = 0x200000;
constexpr std::uint64_t kSystab = 0x300000;
constexpr std::uint64_t kTables = 0x300100;
constexpr std::uint64_t kSetupPage = 0x400000;
constexpr std::uint64_t kRuntimeVirtual = 0xfffffffeffa00018;

std::uint64_t u64(const IdentityMemory& memory, std::uint64_t address) {
  std::uint64_t value = 0;
  EXPECT_TRUE(memory.read(address, std::as_writable_bytes(std::span(&value, 1))));
  return value;
}

void put64(IdentityMemory& memory, std::uint64_t address, std::uint64_t value) {
  ASSERT_TRUE(memory.write(address, std::as_bytes(std::span(&value, 1))));
}

class HandOver : public ::testing::Test {
 protected:
  void SetUp() override {
    machine.efi_booted = true;
    machine.smbios = 0x7fb00000;
    FirmwareRuntime runtime;
    runtime.regions = {{0x7f9f0000, 0xfffffffeffa00000, 0x10, EfiRuntimeServicesData, 0}};
    runtime.runtime_services = kRuntimeVirtual;
    runtime.fw_vendor = 0x7f9f0100;
    runtime.config_table = 0x7f9f0200;
    machine.firmware_runtime = runtime;

    auto memory = std::make_unique<IdentityMemory>();
    ASSERT_TRUE(memory->create(16 * kMiB));
    run.memory = std::move(memory);
    run.final_map = {{kBootParams, 1, EfiLoaderData, 0, true},
                     {kSystab, 1, EfiRuntimeServicesData, 0, true},
                     {kSetupPage, 1, EfiLoaderData, 0, true}};
    run.system_table = kSystab;
    run.boot_params = BootParamsFacts{};
    run.boot_params->address = kBootParams;
    // The shim's system table: signature, two configuration tables, the shim's runtime table.
    EFI_SYSTEM_TABLE systab{};
    systab.Hdr.Signature = EFI_SYSTEM_TABLE_SIGNATURE;
    systab.Hdr.HeaderSize = sizeof systab;
    systab.RuntimeServices = reinterpret_cast<EFI_RUNTIME_SERVICES*>(0x300800);
    systab.NumberOfTableEntries = 2;
    systab.ConfigurationTable = reinterpret_cast<EFI_CONFIGURATION_TABLE*>(kTables);
    ASSERT_TRUE(run.memory->write(kSystab, std::as_bytes(std::span(&systab, 1))));
    put64(*run.memory, kBootParams + kBootParamsSetupData, 0x250000);  // the stub's own entry
  }

  Machine machine;
  RunOutcome run;
};

TEST_F(HandOver, LinksSetupEfiAndPointsTheSystemTableAtTheFirmware) {
  auto handover = hand_over_runtime_services(machine, run, kSetupPage);
  ASSERT_TRUE(handover) << handover.error().message();
  EXPECT_TRUE(handover->firmware) << handover->description;
  EXPECT_NE(handover->description.find("firmware's EFI runtime services"), std::string::npos);
  EXPECT_EQ(handover->config_tables, kTables);
  EXPECT_EQ(handover->config_table_count, 2u);
  // First in the chain, the stub's entry after it.
  EXPECT_EQ(u64(*run.memory, kBootParams + kBootParamsSetupData), kSetupPage);
  EXPECT_EQ(u64(*run.memory, kSetupPage), 0x250000u);
  EXPECT_EQ(u64(*run.memory, kSetupPage + 8), 4u | (std::uint64_t{96} << 32));
  EXPECT_EQ(u64(*run.memory, kSetupPage + 16), 0x7f9f0100u);       // fw_vendor
  EXPECT_EQ(u64(*run.memory, kSetupPage + 24), kRuntimeVirtual);   // runtime
  EXPECT_EQ(u64(*run.memory, kSetupPage + 32), kTables);           // the shim's tables
  EXPECT_EQ(u64(*run.memory, kSetupPage + 40), 0x7fb00000u);       // smbios
  // The system table names the firmware's runtime table, with its CRC renewed.
  EFI_SYSTEM_TABLE systab{};
  ASSERT_TRUE(run.memory->read(kSystab, std::as_writable_bytes(std::span(&systab, 1))));
  EXPECT_EQ(reinterpret_cast<std::uint64_t>(systab.RuntimeServices), kRuntimeVirtual);
  const std::uint32_t crc = systab.Hdr.CRC32;
  systab.Hdr.CRC32 = 0;
  EXPECT_EQ(crc, efi::crc32(std::as_bytes(std::span(&systab, 1))));
}

TEST_F(HandOver, WithoutFirmwareRuntimeNothingIsWritten) {
  machine.firmware_runtime.reset();
  machine.firmware_runtime_unavailable = "/sys/firmware/efi/runtime-map is missing";
  auto handover = hand_over_runtime_services(machine, run, kSetupPage);
  ASSERT_TRUE(handover);
  EXPECT_FALSE(handover->firmware);
  EXPECT_NE(handover->description.find("without EFI runtime services"), std::string::npos);
  EXPECT_NE(handover->description.find("runtime-map is missing"), std::string::npos);
  EXPECT_EQ(u64(*run.memory, kBootParams + kBootParamsSetupData), 0x250000u);
  EXPECT_EQ(u64(*run.memory, kSetupPage), 0u);

  machine.efi_booted = false;
  handover = hand_over_runtime_services(machine, run, kSetupPage);
  ASSERT_TRUE(handover);
  EXPECT_NE(handover->description.find("did not boot through EFI"), std::string::npos);
}

TEST_F(HandOver, HostileRunStructuresAreRefused) {
  // No boot_params found: not a Linux kernel's run.
  run.boot_params.reset();
  auto handover = hand_over_runtime_services(machine, run, kSetupPage);
  ASSERT_TRUE(handover);
  EXPECT_FALSE(handover->firmware);
  EXPECT_NE(handover->description.find("boot_params"), std::string::npos);
  SetUp();
  // A system table outside the run's allocations.
  run.system_table = 0x500000;
  handover = hand_over_runtime_services(machine, run, kSetupPage);
  ASSERT_TRUE(handover);
  EXPECT_FALSE(handover->firmware);
  SetUp();
  // Configuration tables the image moved outside the run's memory, or too many of them.
  put64(*run.memory, kSystab + 0x70, 0x900000);
  handover = hand_over_runtime_services(machine, run, kSetupPage);
  ASSERT_TRUE(handover);
  EXPECT_FALSE(handover->firmware);
  EXPECT_NE(handover->description.find("configuration tables"), std::string::npos);
  SetUp();
  put64(*run.memory, kSystab + 0x68, 1u << 20);
  EXPECT_FALSE(hand_over_runtime_services(machine, run, kSetupPage)->firmware);
  SetUp();
  // An overwritten signature.
  put64(*run.memory, kSystab, 0);
  EXPECT_FALSE(hand_over_runtime_services(machine, run, kSetupPage)->firmware);
  // In every refusal boot_params was left alone.
  EXPECT_EQ(u64(*run.memory, kBootParams + kBootParamsSetupData), 0x250000u);
}

}  // namespace
}  // namespace efikexec::kexec
