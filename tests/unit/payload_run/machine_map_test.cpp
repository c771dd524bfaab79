// SPDX-License-Identifier: MIT
// The bare-metal machine map: e820 as the loading kernel passed it (any order, overlaps, partial
// pages, zero sizes, wrapping sizes), the payload's own memory carved out, the firmware's runtime
// regions kept with their virtual addresses, and the low 1 MiB as firmware reports it.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "payload/bare_metal/machine_map.hpp"
#include "payload/bare_metal/run_uki_with.hpp"

namespace efikexec::payload {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

struct Built {
  std::unique_ptr<MachineMap> map = std::make_unique<MachineMap>();
  Result<void> result;
};

Built build(std::vector<E820Range> e820, std::vector<E820Range> in_use = {},
            std::vector<EfiRuntimeDescriptor> runtime = {}) {
  Built built;
  const BareMetalMachine machine{e820, in_use, runtime, 0, 0, 0};
  built.result = build_machine_map(machine, *built.map);
  return built;
}

// The map's type at `address`, or -1 for a hole.
long type_at(const MachineMap& map, std::uint64_t address) {
  for (const efi::MemoryRange& range : map.ranges)
    if (address >= range.start && address < range.end()) return range.type;
  return -1;
}

void expect_sorted_disjoint_aligned(const MachineMap& map) {
  for (std::size_t i = 0; i < map.ranges.size(); ++i) {
    EXPECT_EQ(map.ranges[i].start % efi::kPageSize, 0u);
    EXPECT_GT(map.ranges[i].pages, 0u);
    if (i > 0) {
      EXPECT_LE(map.ranges[i - 1].end(), map.ranges[i].start) << i;
    }
  }
}

// A q35 guest as its kernel's e820 describes it after an EFI boot, with the runtime regions
// reserved in e820 and listed in efi_info's map.
std::vector<E820Range> q35_e820() {
  return {{0, 0x9f000, 1},
          {0x9f000, 0x1000, 2},
          {0xf0000, 0x10000, 2},
          {0x100000, 0x700000, 1},
          {0x800000, 0x8000, 4},
          {0x808000, 0x8000, 1},
          {0x810000, 0xf0000, 4},
          {0x900000, kGiB - 0x900000 - 0x900000, 1},
          {kGiB - 0x900000, 0x200000, 2},
          {kGiB - 0x700000, 0x20000, 3},
          {kGiB - 0x6e0000, 0xe0000, 4},
          {kGiB - 0x600000, 0x600000, 1},
          {0xb0000000, 0x10000000, 2},
          {0x100000000, kGiB, 1}};
}

std::vector<EfiRuntimeDescriptor> q35_runtime() {
  return {{EfiRuntimeServicesData, kGiB - 0x900000, 0xfffffffeee000000, 0x100,
           EFI_MEMORY_WB | EFI_MEMORY_RUNTIME},
          {EfiRuntimeServicesCode, kGiB - 0x800000, 0xfffffffeef000000, 0x100,
           EFI_MEMORY_WB | EFI_MEMORY_RUNTIME},
          {EfiMemoryMappedIO, 0xffc00000, 0xfffffffeff000000, 0x400,
           EFI_MEMORY_UC | EFI_MEMORY_RUNTIME}};
}

TEST(MachineMap, E820TypesBecomeTheirEfiTypes) {
  Built b = build(q35_e820());
  ASSERT_TRUE(b.result) << b.result.error().message;
  const MachineMap& map = *b.map;
  expect_sorted_disjoint_aligned(map);
  EXPECT_EQ(type_at(map, 0x200000), EfiConventionalMemory);
  EXPECT_EQ(type_at(map, 0x800000), EfiACPIMemoryNVS);
  EXPECT_EQ(type_at(map, 0x808000), EfiConventionalMemory);
  EXPECT_EQ(type_at(map, kGiB - 0x700000), EfiACPIReclaimMemory);
  EXPECT_EQ(type_at(map, 0xb0000000), EfiReservedMemoryType);
  EXPECT_EQ(type_at(map, 0xc0000000), -1) << "a hole stays a hole";
  EXPECT_EQ(type_at(map, kGiB - 0x900000), EfiReservedMemoryType)
      << "without a runtime map, e820's word stands";
  for (const efi::MemoryRange& range : map.ranges) {
    if (range.type == EfiConventionalMemory) {
      EXPECT_EQ(range.attribute, efi::kRamAttributes);
    }
  }
}

TEST(MachineMap, RamAboveFourGiBIsConventional) {
  Built b = build(q35_e820());
  ASSERT_TRUE(b.result);
  EXPECT_EQ(type_at(*b.map, 0x100000000), EfiConventionalMemory);
  EXPECT_EQ(type_at(*b.map, 0x100000000 + kGiB - 1), EfiConventionalMemory);
  EXPECT_EQ(type_at(*b.map, 0x100000000 + kGiB), -1);
  // And far above, where 5-level machines have it.
  Built high = build({{std::uint64_t{1} << 47, 64 * kMiB, 1}});
  ASSERT_TRUE(high.result);
  EXPECT_EQ(type_at(*high.map, std::uint64_t{1} << 47), EfiConventionalMemory);
}

TEST(MachineMap, TheLegacyAreaIsNeverRamButLowRamStays) {
  // A kernel that (wrongly) says all of the first MiB is RAM.
  Built b = build({{0, 2 * kMiB, 1}});
  ASSERT_TRUE(b.result);
  EXPECT_EQ(type_at(*b.map, 0), EfiConventionalMemory) << "the next kernel's trampoline lives here";
  EXPECT_EQ(type_at(*b.map, 0x9f000), EfiConventionalMemory);
  EXPECT_EQ(type_at(*b.map, 0xa0000), EfiReservedMemoryType);
  EXPECT_EQ(type_at(*b.map, 0xfffff), EfiReservedMemoryType);
  EXPECT_EQ(type_at(*b.map, 0x100000), EfiConventionalMemory);
}

TEST(MachineMap, InUseRamBecomesLoaderDataAndIsNeverHandedOut) {
  Built b = build(q35_e820(),
                  {{0x1000000, 0x180000, 0},          // the payload
                   {0x20000000 + 0x123, 0x1000, 0},   // boot_params, not page aligned
                   {0x110000000, 0x4000000, 0},       // the bundle, above 4 GiB
                   {0xb0001000, 0x1000, 0}});         // not RAM: ignored
  ASSERT_TRUE(b.result) << b.result.error().message;
  const MachineMap& map = *b.map;
  expect_sorted_disjoint_aligned(map);
  EXPECT_EQ(type_at(map, 0x1000000), EfiLoaderData);
  EXPECT_EQ(type_at(map, 0x117ffff), EfiLoaderData);
  EXPECT_EQ(type_at(map, 0x1180000), EfiConventionalMemory);
  EXPECT_EQ(type_at(map, 0x20000000), EfiLoaderData) << "widened to whole pages";
  EXPECT_EQ(type_at(map, 0x20001fff), EfiLoaderData);
  EXPECT_EQ(type_at(map, 0x20002000), EfiConventionalMemory);
  EXPECT_EQ(type_at(map, 0x110000000), EfiLoaderData);
  EXPECT_EQ(type_at(map, 0x114000000), EfiConventionalMemory);
  EXPECT_EQ(type_at(map, 0xb0001000), EfiReservedMemoryType);

  // The shim's allocator never hands any of it out.
  struct NoBacking final : efi::PhysicalMemory {
    Result<void> back(std::uint64_t, std::uint64_t) override { return {}; }
    std::byte* pointer(std::uint64_t a) override { return reinterpret_cast<std::byte*>(a); }
    std::uint64_t address_of(const void* p) override { return reinterpret_cast<std::uint64_t>(p); }
  } memory;
  auto manager = std::make_unique<efi::MemoryManager>();
  ASSERT_TRUE(manager->init(map.ranges.span(), memory));
  EFI_PHYSICAL_ADDRESS address = 0x1000000;
  EXPECT_EQ(manager->allocate_pages(AllocateAddress, EfiLoaderCode, 1, &address), EFI_NOT_FOUND);
  address = 0x110000000 + 0x10000;
  EXPECT_EQ(manager->allocate_pages(AllocateAddress, EfiLoaderCode, 1, &address), EFI_NOT_FOUND);
}

TEST(MachineMap, RuntimeRegionsKeepTheirTypesAndVirtualAddresses) {
  Built b = build(q35_e820(), {}, q35_runtime());
  ASSERT_TRUE(b.result) << b.result.error().message;
  const MachineMap& map = *b.map;
  expect_sorted_disjoint_aligned(map);
  bool saw_data = false, saw_code = false, saw_mmio = false;
  for (std::size_t i = 0; i < map.ranges.size(); ++i) {
    const efi::MemoryRange& range = map.ranges[i];
    if (range.start == kGiB - 0x900000) {
      saw_data = true;
      EXPECT_EQ(range.type, EfiRuntimeServicesData);
      EXPECT_EQ(range.pages, 0x100u);
      EXPECT_EQ(map.ranges[i].virtual_start, 0xfffffffeee000000u);
      EXPECT_NE(range.attribute & EFI_MEMORY_RUNTIME, 0u);
    }
    if (range.start == kGiB - 0x800000) {
      saw_code = true;
      EXPECT_EQ(range.type, EfiRuntimeServicesCode);
      EXPECT_EQ(map.ranges[i].virtual_start, 0xfffffffeef000000u);
    }
    if (range.start == 0xffc00000) {
      saw_mmio = true;
      EXPECT_EQ(range.type, EfiMemoryMappedIO) << "not in e820, still in the map";
      EXPECT_EQ(range.attribute, EFI_MEMORY_UC | EFI_MEMORY_RUNTIME);
      EXPECT_EQ(map.ranges[i].virtual_start, 0xfffffffeff000000u);
    }
    if ((range.attribute & EFI_MEMORY_RUNTIME) == 0) {
      EXPECT_EQ(map.ranges[i].virtual_start, 0u);
    }
  }
  EXPECT_TRUE(saw_data && saw_code && saw_mmio);
}

TEST(MachineMap, ARuntimeRegionSplitByE820IsWholeAgain) {
  // e820 has a boundary inside the runtime region; the pieces join again because their virtual
  // addresses continue.
  Built b = build({{0x100000, 0x100000, 1}, {0x200000, 0x1000, 2}, {0x201000, 0x1000, 4}},
                  {}, {{EfiRuntimeServicesData, 0x200000, 0x7000000000, 2, EFI_MEMORY_RUNTIME}});
  ASSERT_TRUE(b.result);
  ASSERT_EQ(b.map->ranges.size(), 2u);
  EXPECT_EQ(b.map->ranges[1].pages, 2u);
  // Two adjacent descriptors whose virtual addresses do not continue stay two.
  Built split = build({{0x100000, 0x100000, 1}}, {},
                      {{EfiRuntimeServicesData, 0x300000, 0x7000000000, 1, EFI_MEMORY_RUNTIME},
                       {EfiRuntimeServicesData, 0x301000, 0x7000100000, 1, EFI_MEMORY_RUNTIME}});
  ASSERT_TRUE(split.result);
  EXPECT_EQ(split.map->ranges.size(), 3u);
}

TEST(MachineMap, OverlapsUnsortedAndZeroSizedEntriesAreResolved) {
  Built b = build({{0x4000000, 0, 1},                 // zero size: nothing
                   {0x100000, 0x3f00000, 1},          // RAM 1 MiB..64 MiB
                   {0x2000000, 0x100000, 2},          // reserved inside the RAM: reserved wins
                   {0x3000000, 0x100000, 3},          // ACPI inside the RAM
                   {0x3000000, 0x80000, 4},           // NVS over the ACPI: NVS wins
                   {0x0, 0x9fc00, 1}});               // unsorted
  ASSERT_TRUE(b.result);
  const MachineMap& map = *b.map;
  expect_sorted_disjoint_aligned(map);
  EXPECT_EQ(type_at(map, 0x2000000), EfiReservedMemoryType);
  EXPECT_EQ(type_at(map, 0x2100000), EfiConventionalMemory);
  EXPECT_EQ(type_at(map, 0x3000000), EfiACPIMemoryNVS);
  EXPECT_EQ(type_at(map, 0x3080000), EfiACPIReclaimMemory);
  EXPECT_EQ(type_at(map, 0x9f000), -1) << "the partial page of RAM is left out";
  EXPECT_EQ(type_at(map, 0x9e000), EfiConventionalMemory);
  EXPECT_EQ(type_at(map, 0x4000000), -1);
}

TEST(MachineMap, PartialPagesShrinkRamAndWidenTheRest) {
  Built b = build({{0x100800, 0x10000, 1}, {0x200800, 0x100, 2}});
  ASSERT_TRUE(b.result);
  const MachineMap& map = *b.map;
  ASSERT_EQ(map.ranges.size(), 2u);
  EXPECT_EQ(map.ranges[0].start, 0x101000u);
  EXPECT_EQ(map.ranges[0].end(), 0x110000u);
  EXPECT_EQ(map.ranges[1].start, 0x200000u);
  EXPECT_EQ(map.ranges[1].end(), 0x201000u);
}

TEST(MachineMap, MalformedEntriesAreClippedOrRefusedByName) {
  // Sizes that wrap are clipped at the physical limit; addresses beyond it are not memory.
  Built wrap = build({{0x100000, ~std::uint64_t{0}, 1}, {kPhysicalLimit + 0x1000, 0x1000, 1}});
  ASSERT_TRUE(wrap.result);
  ASSERT_FALSE(wrap.map->ranges.empty());
  EXPECT_EQ(wrap.map->ranges.back().end(), kPhysicalLimit);

  auto refused = [](std::vector<EfiRuntimeDescriptor> runtime, ErrorCode code) {
    Built b = build({{0x100000, 64 * kMiB, 1}}, {{0x1000000, 0x1000, 0}}, std::move(runtime));
    ASSERT_FALSE(b.result);
    EXPECT_EQ(b.result.error().code, code) << b.result.error().message;
  };
  refused({{EfiRuntimeServicesData, 0x2000800, 0, 1, EFI_MEMORY_RUNTIME}}, ErrorCode::kBadAlignment);
  refused({{EfiRuntimeServicesData, 0x2000000, 0, 0, EFI_MEMORY_RUNTIME}}, ErrorCode::kMalformed);
  refused({{EfiRuntimeServicesData, 0x2000000, 0, ~std::uint64_t{0} / 2, EFI_MEMORY_RUNTIME}},
          ErrorCode::kOverflow);
  refused({{EfiRuntimeServicesData, 0x2000000, 0, 2, EFI_MEMORY_RUNTIME},
           {EfiRuntimeServicesCode, 0x2001000, 0, 1, EFI_MEMORY_RUNTIME}},
          ErrorCode::kOverlap);
  refused({{EfiRuntimeServicesCode, 0x1000000, 0, 1, EFI_MEMORY_RUNTIME}}, ErrorCode::kOverlap);

  Built wrapping_in_use = build({{0x100000, kMiB, 1}}, {{~std::uint64_t{0} - 4, 0x100, 0}});
  ASSERT_FALSE(wrapping_in_use.result);
  EXPECT_EQ(wrapping_in_use.result.error().code, ErrorCode::kOverflow);
}

TEST(MachineMap, TooManyEntriesAreRefusedNotTruncated) {
  std::vector<E820Range> many;
  for (std::uint64_t i = 0; i < MachineMap::kMaxE820 + 1; ++i)
    many.push_back({0x100000 + i * 0x2000, 0x1000, 1});
  Built b = build(many);
  ASSERT_FALSE(b.result);
  EXPECT_EQ(b.result.error().code, ErrorCode::kNoMemory);
  // Within the input limits, but more ranges than the shim keeps room for: alternating types,
  // and pages of the RAM entries in use.
  std::vector<E820Range> alternating;
  std::vector<E820Range> in_use;
  for (std::uint64_t i = 0; i < MachineMap::kMaxE820; ++i) {
    const std::uint64_t address = 0x100000 + i * 0x2000;
    alternating.push_back({address, 0x2000, i % 2 == 0 ? 1u : 2u});
    if (i % 2 == 0 && in_use.size() < MachineMap::kMaxInUse) in_use.push_back({address, 0x1000, 0});
  }
  Built full = build(alternating, in_use);
  ASSERT_FALSE(full.result);
  EXPECT_EQ(full.result.error().code, ErrorCode::kNoMemory);
  EXPECT_TRUE(build(alternating).result) << "exactly at the limit";
}

TEST(MachineMap, TheShimsOwnPagesComeFromConventionalMemoryBelowFourGiB) {
  Built b = build(q35_e820(), {{kGiB - 0x200000, 0x100000, 0}});
  ASSERT_TRUE(b.result);
  MachineMap& map = *b.map;
  const std::size_t before = map.ranges.size();
  auto taken = set_aside(map, 300);
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_GE(*taken, efi::MemoryManager::kLowestAllocation);
  EXPECT_LT(*taken + 300 * efi::kPageSize, std::uint64_t{1} << 32);
  EXPECT_EQ(type_at(map, *taken), EfiBootServicesData);
  EXPECT_EQ(type_at(map, *taken + 299 * efi::kPageSize), EfiBootServicesData);
  EXPECT_GE(map.ranges.size(), before);
  expect_sorted_disjoint_aligned(map);
  // Nothing the payload uses was taken.
  EXPECT_EQ(type_at(map, kGiB - 0x200000), EfiLoaderData);
  EXPECT_LE(*taken + 300 * efi::kPageSize, kGiB - 0x200000) << "below the pages in use";
  // Too much: refused.
  EXPECT_FALSE(set_aside(map, std::uint64_t{1} << 40));
}

// Linux marks regions it must keep across kexec runtime itself (efi_mem_reserve(): the ESRT, the
// memory attributes table, the TPM log) without changing their type; the first kernel's runtime
// map under OVMF has such boot-services data. They stay what they are, runtime and reserved.
// A runtime entry of conventional memory is no firmware memory: e820 decides, as for any RAM.
TEST(MachineMap, ConventionalMemoryMarkedRuntimeIsLeftToE820) {
  Built b = build({{0x100000, 64 * kMiB, 1}}, {},
                  {{EfiConventionalMemory, 0x2000000, 0xfffffffeee000000, 1, EFI_MEMORY_RUNTIME}});
  ASSERT_TRUE(b.result) << b.result.error().message;
  EXPECT_EQ(type_at(*b.map, 0x2000000), EfiConventionalMemory);
  for (const efi::MemoryRange& range : b.map->ranges) {
    EXPECT_EQ(range.attribute & EFI_MEMORY_RUNTIME, 0u);
    EXPECT_EQ(range.virtual_start, 0u);
  }
}

TEST(MachineMap, RegionsLinuxKeptAcrossKexecStayRuntime) {
  Built b = build({{0x100000, 64 * kMiB, 1}}, {},
                  {{EfiBootServicesData, 0x2000000, 0xfffffffeee000000, 2, EFI_MEMORY_RUNTIME},
                   {EfiACPIReclaimMemory, 0x2002000, 0xfffffffeee002000, 1, EFI_MEMORY_RUNTIME}});
  ASSERT_TRUE(b.result) << b.result.error().message;
  EXPECT_EQ(type_at(*b.map, 0x2000000), EfiBootServicesData);
  EXPECT_EQ(type_at(*b.map, 0x2002000), EfiACPIReclaimMemory);
  for (const efi::MemoryRange& range : b.map->ranges)
    if (range.start == 0x2000000) {
      EXPECT_NE(range.attribute & EFI_MEMORY_RUNTIME, 0u);
      EXPECT_EQ(range.virtual_start, 0xfffffffeee000000u);
    }
}

}  // namespace
}  // namespace efikexec::payload
