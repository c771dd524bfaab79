// SPDX-License-Identifier: MIT
// The firmware's runtime map as the running kernel exposes it, read from a fake
// /sys/firmware/efi: good maps become regions with their virtual addresses and the runtime
// services table's virtual address; a missing map is "unavailable"; a malformed one an error
// naming the file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "efi_shim/efi_types.hpp"
#include "kexec/machine/firmware_runtime.hpp"
#include "kexec/machine/machine.hpp"

#include <nlohmann/json.hpp>

namespace efikexec::kexec {
namespace {

namespace fs = std::filesystem;

class FakeEfiDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("efikexec-runtime-map-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void file(const std::string& name, const std::string& text) {
    fs::create_directories((root_ / name).parent_path());
    std::ofstream(root_ / name) << text;
  }
  // One runtime-map entry, as drivers/firmware/efi/runtime-map.c prints it.
  void entry(int index, std::uint64_t phys, std::uint64_t virt, std::uint64_t pages,
             std::uint32_t type, std::uint64_t attribute = 0x800000000000000full) {
    const std::string at = "runtime-map/" + std::to_string(index) + "/";
    auto hex = [](std::uint64_t v) {
      char text[32];
      std::snprintf(text, sizeof text, "0x%llx\n", static_cast<unsigned long long>(v));
      return std::string(text);
    };
    file(at + "phys_addr", hex(phys));
    file(at + "virt_addr", hex(virt));
    file(at + "num_pages", hex(pages));
    file(at + "type", hex(type));
    file(at + "attribute", hex(attribute));
  }
  // What OVMF leaves: runtime code and data, and the variable flash (runtime MMIO).
  void ovmf_like(std::uint64_t runtime = 0x7f9f0018) {
    entry(0, 0x7f9f0000, 0xfffffffeffa00000, 0x10, EfiRuntimeServicesData);
    entry(1, 0x7fa00000, 0xfffffffeff900000, 0x20, EfiRuntimeServicesCode);
    entry(2, 0xffc00000, 0xfffffffeff500000, 0x400, EfiMemoryMappedIO, 0x8000000000000001ull);
    file("runtime", "0x" + to_hex(runtime) + "\n");
    file("fw_vendor", "0x7f9f0100\n");
    file("config_table", "0x7f9f0200\n");
  }
  static std::string to_hex(std::uint64_t v) {
    char text[32];
    std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(v));
    return text;
  }
  HostResult<FirmwareRuntimeFacts> read() { return read_firmware_runtime(root_.string()); }
  void expect_error(const std::string& file_part, const std::string& words) {
    auto facts = read();
    ASSERT_FALSE(facts) << "accepted";
    EXPECT_EQ(facts.error().stage, Stage::kMachine);
    EXPECT_NE(facts.error().path.find(file_part), std::string::npos) << facts.error().path;
    EXPECT_NE(facts.error().message().find(words), std::string::npos) << facts.error().message();
  }

  fs::path root_;
};

TEST_F(FakeEfiDir, ReadsTheRegionsAndTranslatesThePhysicalRuntimeTable) {
  ovmf_like();
  auto facts = read();
  ASSERT_TRUE(facts) << facts.error().message();
  ASSERT_TRUE(facts->runtime.has_value()) << facts->unavailable;
  const FirmwareRuntime& runtime = *facts->runtime;
  ASSERT_EQ(runtime.regions.size(), 3u);
  EXPECT_EQ(runtime.regions[0].physical, 0x7f9f0000u);
  EXPECT_EQ(runtime.regions[0].virtual_address, 0xfffffffeffa00000u);
  EXPECT_EQ(runtime.regions[2].type, static_cast<std::uint32_t>(EfiMemoryMappedIO));
  EXPECT_EQ(runtime.runtime_reported, 0x7f9f0018u);
  // After a firmware boot the kernel reports the physical address: the next kernel needs the
  // virtual one of the same byte.
  EXPECT_EQ(runtime.runtime_services, 0xfffffffeffa00018u);
  EXPECT_EQ(runtime.fw_vendor, 0x7f9f0100u);
  EXPECT_EQ(runtime.config_table, 0x7f9f0200u);
}

TEST_F(FakeEfiDir, KeepsARuntimeTableThatIsAlreadyVirtual) {
  ovmf_like(0xfffffffeffa00018);  // a kernel that was itself started by kexec
  auto facts = read();
  ASSERT_TRUE(facts && facts->runtime);
  EXPECT_EQ(facts->runtime->runtime_services, 0xfffffffeffa00018u);
}

// A kernel started by efikexec got the whole memory map, and its runtime map lists all of it:
// RAM (virtual = physical, no EFI_MEMORY_RUNTIME) is not the firmware's.
TEST_F(FakeEfiDir, KeepsOnlyTheRuntimeEntries) {
  ovmf_like();
  entry(3, 0x100000, 0x100000, 0x7000, EfiConventionalMemory, 0xf);
  entry(4, 0x8000000, 0x8000000, 0x100, EfiLoaderData, 0xf);
  auto facts = read();
  ASSERT_TRUE(facts && facts->runtime);
  ASSERT_EQ(facts->runtime->regions.size(), 3u);
  EXPECT_EQ(facts->runtime->regions[0].physical, 0x7f9f0000u);
}

TEST_F(FakeEfiDir, AMissingMapIsUnavailableNotAnError) {
  file("systab", "ACPI20=0x7fb7e014\n");
  auto facts = read();
  ASSERT_TRUE(facts);
  EXPECT_FALSE(facts->runtime.has_value());
  EXPECT_NE(facts->unavailable.find("CONFIG_EFI_RUNTIME_MAP"), std::string::npos);
  EXPECT_NE(facts->unavailable.find("efi=noruntime"), std::string::npos);
}

TEST_F(FakeEfiDir, MalformedEntriesAreNamed) {
  ovmf_like();
  file("runtime-map/1/num_pages", "lots\n");
  expect_error("runtime-map/1/num_pages", "not a number");
}

TEST_F(FakeEfiDir, AMissingFileIsNamed) {
  ovmf_like();
  fs::remove(root_ / "runtime-map/0/virt_addr");
  expect_error("runtime-map/0/virt_addr", "missing");
}

TEST_F(FakeEfiDir, UnalignedAndWrappingRegionsAreRefused) {
  ovmf_like();
  file("runtime-map/0/virt_addr", "0xfffffffeffa00010\n");
  expect_error("runtime-map/0", "page aligned");
  ovmf_like();
  file("runtime-map/2/num_pages", "0x0\n");
  expect_error("runtime-map/2/num_pages", "empty or wraps");
  ovmf_like();
  file("runtime-map/2/num_pages", "0xfffffffffffff\n");
  expect_error("runtime-map/2/num_pages", "empty or wraps");
}

TEST_F(FakeEfiDir, OverlappingRegionsAreRefused) {
  ovmf_like();
  entry(3, 0x7fa10000, 0xfffffffeff000000, 1, EfiRuntimeServicesData);
  expect_error("runtime-map", "overlap");
}

TEST_F(FakeEfiDir, ARuntimeTableOutsideTheMapIsRefused) {
  ovmf_like(0x1000);
  expect_error("runtime", "lies in no region");
}

TEST_F(FakeEfiDir, NegativeOrSignedNumbersAreNotNumbers) {
  ovmf_like();
  file("fw_vendor", "-1\n");
  expect_error("fw_vendor", "not a number");
}

// The regions reach the machine's EFI map with their virtual addresses, page by page.
TEST(MachineRuntime, EfiRangesCarryTheVirtualAddresses) {
  Machine m;
  m.efi_booted = true;
  m.ranges = {{0, 0x7f9f0000, RangeKind::kRam, 0},
              {0x7f9f0000, 0x7fa00000, RangeKind::kRuntimeData, 0, 0xfffffffeffa00000},
              {0x7fa00000, 0x7fa20000, RangeKind::kRuntimeCode, 0, 0xfffffffeff900000},
              // Adjacent with the same type but a virtual break: not merged.
              {0x7fa20000, 0x7fa30000, RangeKind::kRuntimeCode, 0, 0xfffffffeff000000},
              {0x7fa30000, 0x80000000, RangeKind::kRam, 0}};
  const auto ranges = m.efi_ranges();
  ASSERT_EQ(ranges.size(), 5u);
  EXPECT_EQ(ranges[0].virtual_start, 0u);
  EXPECT_EQ(ranges[1].virtual_start, 0xfffffffeffa00000u);
  EXPECT_EQ(ranges[2].virtual_start, 0xfffffffeff900000u);
  EXPECT_EQ(ranges[2].pages, 0x20u);
  EXPECT_EQ(ranges[3].virtual_start, 0xfffffffeff000000u);
  EXPECT_EQ(ranges[4].virtual_start, 0u);
}

TEST(MachineRuntime, ADescriptionMayGiveVirtualAddresses) {
  auto m = machine_from_json(nlohmann::json::parse(R"({"memory": [
      {"start": "0x0", "end": "0x1000000", "type": "ram"},
      {"start": "0x1000000", "end": "0x1010000", "type": "runtime-code",
       "virtual": "0xfffffffeff900000"}]})"));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->ranges[1].virtual_start, 0xfffffffeff900000u);
  EXPECT_EQ(machine_to_json(*m)["memory"][1]["virtual"], "0xfffffffeff900000");
  EXPECT_FALSE(machine_from_json(nlohmann::json::parse(R"({"memory": [
      {"start": "0x0", "end": "0x1000000", "type": "ram"},
      {"start": "0x1000000", "end": "0x1010000", "type": "runtime-code",
       "virtual": "0x123"}]})")));
}

}  // namespace
}  // namespace efikexec::kexec
