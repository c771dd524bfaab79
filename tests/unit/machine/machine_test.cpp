// SPDX-License-Identifier: MIT
// Machine descriptions and the EFI map they start from: RAM shrinks to whole pages, firmware
// ranges grow to them, and where ranges overlap the more specific kind describes the page.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kexec/machine/machine.hpp"

namespace efikexec::kexec {
namespace {

Machine from(const char* text) {
  auto machine = machine_from_json(nlohmann::json::parse(text));
  EXPECT_TRUE(machine) << machine.error().message();
  return machine ? std::move(*machine) : Machine{};
}

TEST(Machine, ReadsADescription) {
  Machine m = from(R"({"efi": false, "memory": [
      {"start": "0x0", "end": "0x9fc00", "type": "ram"},
      {"start": "0x9fc00", "end": "0x100000", "type": "reserved"},
      {"start": "0x100000", "end": "0x40000000", "type": "ram"}],
    "acpi10": "0xf59e0"})");
  EXPECT_FALSE(m.efi_booted);
  EXPECT_EQ(m.ram_bytes(), 0x9fc00u + 0x3ff00000u);
  EXPECT_EQ(m.top_of_ram(), 0x40000000u);
  ASSERT_TRUE(m.acpi10_rsdp.has_value());
  EXPECT_EQ(*m.acpi10_rsdp, 0xf59e0u);
  EXPECT_FALSE(m.acpi20_rsdp.has_value());
}

TEST(Machine, RejectsBadDescriptions) {
  EXPECT_FALSE(machine_from_json(nlohmann::json::parse(R"({"memory": []})")));
  auto unknown = machine_from_json(
      nlohmann::json::parse(R"({"memory": [{"start": 0, "end": 4096, "type": "ramm"}]})"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().stage, Stage::kMachine);
  EXPECT_NE(unknown.error().reason.find("unknown memory type"), std::string::npos);
  EXPECT_FALSE(machine_from_json(
      nlohmann::json::parse(R"({"memory": [{"start": 8192, "end": 4096, "type": "ram"}]})")));
}

TEST(Machine, PaintsThePageGranularEfiMap) {
  Machine m = from(R"({"memory": [
      {"start": "0x0", "end": "0x9fc00", "type": "ram"},
      {"start": "0x9fc00", "end": "0x100000", "type": "reserved"},
      {"start": "0x100000", "end": "0x3f000000", "type": "ram"},
      {"start": "0x3f000000", "end": "0x40000000", "type": "reserved"},
      {"start": "0x3f100000", "end": "0x3f200000", "type": "runtime-code",
       "attribute": "0x800000000000000f"}]})");
  const std::vector<efi::MemoryRange> map = m.efi_ranges();
  ASSERT_EQ(map.size(), 6u);
  EXPECT_EQ(map[0].start, 0u);
  EXPECT_EQ(map[0].pages, 0x9fu) << "partial RAM page dropped";
  EXPECT_EQ(map[1].start, 0x9f000u) << "reserved grows to the page";
  EXPECT_EQ(map[1].type, static_cast<std::uint32_t>(EfiReservedMemoryType));
  EXPECT_EQ(map[2].type, static_cast<std::uint32_t>(EfiConventionalMemory));
  EXPECT_EQ(map[3].end(), 0x3f100000u);
  EXPECT_EQ(map[4].type, static_cast<std::uint32_t>(EfiRuntimeServicesCode));
  EXPECT_EQ(map[4].attribute, 0x800000000000000fu);
  EXPECT_EQ(map[5].start, 0x3f200000u);
  EXPECT_EQ(map[5].type, static_cast<std::uint32_t>(EfiReservedMemoryType));
}

TEST(Machine, DescribesAQ35Guest) {
  auto small = resolve_machine("q35:2048");
  ASSERT_TRUE(small) << small.error().message();
  EXPECT_GT(small->ram_bytes(), 2000ull << 20);
  auto large = resolve_machine("q35:4096");
  ASSERT_TRUE(large);
  EXPECT_GT(large->top_of_ram(), 4ull << 30) << "RAM above 4 GiB";
  EXPECT_FALSE(large->variables.empty()) << "the variables OVMF answers with";
  EXPECT_FALSE(resolve_machine("q35:12"));
  auto missing = resolve_machine("/nonexistent/machine.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().path, "/nonexistent/machine.json");
}

}  // namespace
}  // namespace efikexec::kexec
