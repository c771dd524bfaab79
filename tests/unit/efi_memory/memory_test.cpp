// SPDX-License-Identifier: MIT
// The page allocator, pool allocator and memory map against a described machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <sys/mman.h>

#include <vector>

#include "efi_shim/memory.hpp"

namespace efikexec::efi {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;

// RAM at [0, 64 MiB) backed by one host mapping; records what was backed.
class FakeMemory final : public PhysicalMemory {
 public:
  static constexpr std::uint64_t kSize = 64 * kMiB;
  FakeMemory() {
    base_ = static_cast<std::byte*>(
        mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
             -1, 0));
  }
  ~FakeMemory() { munmap(base_, kSize); }
  Result<void> back(std::uint64_t address, std::uint64_t size) override {
    if (address + size > kSize) return fail(ErrorCode::kOutOfRange, "outside fake RAM");
    backed.push_back({address, size});
    return {};
  }
  std::byte* pointer(std::uint64_t address) override { return base_ + address; }
  std::uint64_t address_of(const void* p) override {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base_);
  }

  std::vector<std::pair<std::uint64_t, std::uint64_t>> backed;

 private:
  std::byte* base_;
};

// A small PC: low RAM, the legacy hole, RAM to 48 MiB, an ACPI range, RAM to 64 MiB.
std::vector<MemoryRange> machine() {
  return {{0, 0x9f, EfiConventionalMemory, kRamAttributes, false},
          {0x9f000, 0x61, EfiReservedMemoryType, 0, false},
          {0x100000, (48 * kMiB - 0x100000) / kPageSize, EfiConventionalMemory, kRamAttributes,
           false},
          {48 * kMiB, 16, EfiACPIReclaimMemory, kRamAttributes, false},
          {48 * kMiB + 0x10000, (16 * kMiB - 0x10000) / kPageSize, EfiConventionalMemory,
           kRamAttributes, false}};
}

class MemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ranges = machine();
    ASSERT_TRUE(manager.init(ranges, memory).has_value());
  }
  std::vector<EFI_MEMORY_DESCRIPTOR> map(UINTN* key = nullptr) {
    UINTN size = 0, descriptor_size = 0, map_key = 0;
    UINT32 version = 0;
    EXPECT_EQ(manager.get_memory_map(&size, nullptr, &map_key, &descriptor_size, &version),
              EFI_BUFFER_TOO_SMALL);
    EXPECT_EQ(descriptor_size, kDescriptorSize);
    std::vector<std::byte> buffer(size);
    EXPECT_EQ(manager.get_memory_map(&size, reinterpret_cast<EFI_MEMORY_DESCRIPTOR*>(buffer.data()),
                                     &map_key, &descriptor_size, &version),
              EFI_SUCCESS);
    EXPECT_EQ(version, 1u);
    if (key) *key = map_key;
    std::vector<EFI_MEMORY_DESCRIPTOR> out(size / descriptor_size);
    for (std::size_t i = 0; i < out.size(); ++i)
      std::memcpy(&out[i], buffer.data() + i * descriptor_size, sizeof(EFI_MEMORY_DESCRIPTOR));
    return out;
  }
  const EFI_MEMORY_DESCRIPTOR* descriptor_at(const std::vector<EFI_MEMORY_DESCRIPTOR>& m,
                                             std::uint64_t address) {
    for (const auto& d : m)
      if (address >= d.PhysicalStart && address < d.PhysicalStart + d.NumberOfPages * kPageSize)
        return &d;
    return nullptr;
  }

  FakeMemory memory;
  MemoryManager manager;
};

TEST_F(MemoryTest, ReportsTheMachineMap) {
  auto m = map();
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[1].Type, static_cast<UINT32>(EfiReservedMemoryType));
  EXPECT_EQ(m[3].Type, static_cast<UINT32>(EfiACPIReclaimMemory));
  EXPECT_EQ(m[2].Attribute, kRamAttributes);
}

TEST_F(MemoryTest, AnyPagesComeTopDownBelowTheCeilingAndAreBacked) {
  EFI_PHYSICAL_ADDRESS address = 0;
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 4, &address), EFI_SUCCESS);
  EXPECT_EQ(address, 64 * kMiB - 4 * kPageSize);
  ASSERT_EQ(memory.backed.size(), 1u);
  EXPECT_EQ(memory.backed[0].first, address);
  auto m = map();
  const auto* d = descriptor_at(m, address);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->Type, static_cast<UINT32>(EfiLoaderData));
  EXPECT_EQ(d->NumberOfPages, 4u);
}

TEST_F(MemoryTest, ListsEachAllocationApartThoughTheMapMergesThem) {
  EFI_PHYSICAL_ADDRESS first = 0, second = 0;
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 4, &first), EFI_SUCCESS);
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 8, &second), EFI_SUCCESS);
  ASSERT_EQ(second + 8 * kPageSize, first) << "neighbours, one range in the map";
  EXPECT_EQ(descriptor_at(map(), first)->NumberOfPages, 12u);
  auto listed = [&] {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (const auto& allocation : manager.allocations()) out.emplace_back(allocation.start, allocation.pages);
    std::ranges::sort(out);
    return out;
  };
  using Pairs = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
  EXPECT_EQ(listed(), (Pairs{{second, 8}, {first, 4}}));
  // Freeing the middle of one leaves its two ends; freeing across both trims both.
  ASSERT_EQ(manager.free_pages(second + 2 * kPageSize, 3), EFI_SUCCESS);
  EXPECT_EQ(listed(), (Pairs{{second, 2}, {second + 5 * kPageSize, 3}, {first, 4}}));
  ASSERT_EQ(manager.free_pages(second + 7 * kPageSize, 2), EFI_SUCCESS);
  EXPECT_EQ(listed(), (Pairs{{second, 2}, {second + 5 * kPageSize, 2}, {first + kPageSize, 3}}));
  ASSERT_EQ(manager.free_pages(first + kPageSize, 3), EFI_SUCCESS);
  ASSERT_EQ(manager.free_pages(second, 2), EFI_SUCCESS);
  ASSERT_EQ(manager.free_pages(second + 5 * kPageSize, 2), EFI_SUCCESS);
  EXPECT_TRUE(manager.allocations().empty());
  EXPECT_TRUE(manager.allocations_complete());
}

TEST_F(MemoryTest, SaysSoWhenTheListOfAllocationsOverflowed) {
  EFI_PHYSICAL_ADDRESS address = 0;
  for (std::size_t i = 0; i < MemoryManager::kMaxAllocations; ++i)
    ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 1, &address), EFI_SUCCESS);
  EXPECT_TRUE(manager.allocations_complete());
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 1, &address), EFI_SUCCESS)
      << "the allocation itself does not fail";
  EXPECT_FALSE(manager.allocations_complete());
  ASSERT_EQ(manager.free_pages(address, 1), EFI_SUCCESS);
  EXPECT_FALSE(manager.allocations_complete()) << "for good";
}

TEST_F(MemoryTest, MaxAddressStaysBelowTheLimit) {
  EFI_PHYSICAL_ADDRESS address = 16 * kMiB - 1;
  ASSERT_EQ(manager.allocate_pages(AllocateMaxAddress, EfiLoaderData, 2, &address), EFI_SUCCESS);
  EXPECT_EQ(address, 16 * kMiB - 2 * kPageSize);
  address = 0x1000;  // below the lowest allocatable address
  EXPECT_EQ(manager.allocate_pages(AllocateMaxAddress, EfiLoaderData, 1, &address),
            EFI_OUT_OF_RESOURCES);
}

TEST_F(MemoryTest, AddressAllocationsSucceedOnceAndOnlyOnFreeRam) {
  EFI_PHYSICAL_ADDRESS address = 20 * kMiB;
  ASSERT_EQ(manager.allocate_pages(AllocateAddress, EfiLoaderCode, 256, &address), EFI_SUCCESS);
  EXPECT_EQ(address, 20 * kMiB);
  address = 20 * kMiB + kPageSize;
  EXPECT_EQ(manager.allocate_pages(AllocateAddress, EfiLoaderCode, 1, &address), EFI_NOT_FOUND);
  address = 48 * kMiB;  // ACPI
  EXPECT_EQ(manager.allocate_pages(AllocateAddress, EfiLoaderCode, 1, &address), EFI_NOT_FOUND);
  address = 0x9f000;  // reserved
  EXPECT_EQ(manager.allocate_pages(AllocateAddress, EfiLoaderCode, 1, &address), EFI_NOT_FOUND);
  address = 48 * kMiB - kPageSize;  // straddles RAM and ACPI
  EXPECT_EQ(manager.allocate_pages(AllocateAddress, EfiLoaderCode, 2, &address), EFI_NOT_FOUND);
  address = 30 * kMiB + 1;
  EXPECT_EQ(manager.allocate_pages(AllocateAddress, EfiLoaderCode, 1, &address), EFI_NOT_FOUND);
}

TEST_F(MemoryTest, RejectsInvalidTypesAndArguments) {
  EFI_PHYSICAL_ADDRESS address = 0;
  EXPECT_EQ(manager.allocate_pages(AllocateAnyPages, EfiConventionalMemory, 1, &address),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.allocate_pages(AllocateAnyPages, static_cast<EFI_MEMORY_TYPE>(0x100), 1,
                                   &address),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 1, nullptr),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.allocate_pages(MaxAllocateType, EfiLoaderData, 1, &address),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, ~UINTN{0}, &address),
            EFI_OUT_OF_RESOURCES);
  EXPECT_EQ(manager.allocate_pages(AllocateAnyPages, static_cast<EFI_MEMORY_TYPE>(0x80000001), 1,
                                   &address),
            EFI_SUCCESS);  // OS-defined types are allowed
}

TEST_F(MemoryTest, RunsOutOfMemoryCleanly) {
  EFI_PHYSICAL_ADDRESS address = 0;
  EXPECT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 64 * kMiB / kPageSize,
                                   &address),
            EFI_OUT_OF_RESOURCES);
}

TEST_F(MemoryTest, FreesOnlyWhatWasAllocated) {
  EFI_PHYSICAL_ADDRESS address = 0;
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiBootServicesData, 8, &address),
            EFI_SUCCESS);
  EXPECT_EQ(manager.free_pages(address + 1, 1), EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.free_pages(address - kPageSize, 2), EFI_NOT_FOUND);
  EXPECT_EQ(manager.free_pages(48 * kMiB, 1), EFI_NOT_FOUND);  // the machine's ACPI range
  EXPECT_EQ(manager.free_pages(address, 0), EFI_NOT_FOUND);
  EXPECT_EQ(manager.free_pages(address + 2 * kPageSize, 2), EFI_SUCCESS);  // part of it
  EXPECT_EQ(manager.free_pages(address + 2 * kPageSize, 2), EFI_NOT_FOUND);
  EXPECT_EQ(manager.free_pages(address, 2), EFI_SUCCESS);
  EXPECT_EQ(manager.free_pages(address + 4 * kPageSize, 4), EFI_SUCCESS);
  auto m = map();
  EXPECT_EQ(m.size(), 5u) << "freed pages merge back into conventional memory";
}

TEST_F(MemoryTest, MapKeyChangesWithTheMapOnly) {
  UINTN key1 = 0, key2 = 0, key3 = 0;
  map(&key1);
  map(&key2);
  EXPECT_EQ(key1, key2);
  EFI_PHYSICAL_ADDRESS address = 0;
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 1, &address), EFI_SUCCESS);
  map(&key3);
  EXPECT_NE(key2, key3);
  EXPECT_EQ(manager.map_key(), key3);
}

TEST_F(MemoryTest, GetMemoryMapArgumentRules) {
  UINTN size = 0;
  EXPECT_EQ(manager.get_memory_map(nullptr, nullptr, nullptr, nullptr, nullptr),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.get_memory_map(&size, nullptr, nullptr, nullptr, nullptr),
            EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(size, 5 * kDescriptorSize);
  EXPECT_EQ(manager.get_memory_map(&size, nullptr, nullptr, nullptr, nullptr),
            EFI_INVALID_PARAMETER);
}

TEST_F(MemoryTest, RuntimeAllocationsCarryTheRuntimeAttribute) {
  EFI_PHYSICAL_ADDRESS address = 0;
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiRuntimeServicesData, 1, &address),
            EFI_SUCCESS);
  auto m = map();
  EXPECT_EQ(descriptor_at(m, address)->Attribute, kRamAttributes | EFI_MEMORY_RUNTIME);
  ASSERT_EQ(manager.free_pages(address, 1), EFI_SUCCESS);
  m = map();
  EXPECT_EQ(descriptor_at(m, address)->Attribute, kRamAttributes);
}

TEST_F(MemoryTest, PoolAllocationsAreAlignedTypedAndReusable) {
  void* a = nullptr;
  void* b = nullptr;
  void* c = nullptr;
  ASSERT_EQ(manager.allocate_pool(EfiLoaderData, 100, &a), EFI_SUCCESS);
  ASSERT_EQ(manager.allocate_pool(EfiLoaderData, 1, &b), EFI_SUCCESS);
  ASSERT_EQ(manager.allocate_pool(EfiACPIReclaimMemory, 0x1b58, &c), EFI_SUCCESS);
  EXPECT_EQ(memory.address_of(a) % 16, 0u);
  EXPECT_EQ(memory.address_of(b) % 16, 0u);
  std::memset(a, 0xab, 100);
  std::memset(b, 0xcd, 1);
  auto m = map();
  EXPECT_EQ(descriptor_at(m, memory.address_of(a))->Type, static_cast<UINT32>(EfiLoaderData));
  EXPECT_EQ(descriptor_at(m, memory.address_of(c))->Type,
            static_cast<UINT32>(EfiACPIReclaimMemory));
  EXPECT_EQ(manager.free_pool(a), EFI_SUCCESS);
  EXPECT_EQ(manager.free_pool(a), EFI_INVALID_PARAMETER) << "double free";
  void* again = nullptr;
  ASSERT_EQ(manager.allocate_pool(EfiLoaderData, 64, &again), EFI_SUCCESS);
  EXPECT_EQ(again, a) << "first fit reuses the freed block";
  EXPECT_EQ(manager.free_pool(b), EFI_SUCCESS);
  EXPECT_EQ(manager.free_pool(again), EFI_SUCCESS);
  EXPECT_EQ(manager.free_pool(c), EFI_SUCCESS);
}

TEST_F(MemoryTest, FreePoolRefusesForeignPointers) {
  void* a = nullptr;
  ASSERT_EQ(manager.allocate_pool(EfiLoaderData, 100, &a), EFI_SUCCESS);
  int local = 0;
  EXPECT_EQ(manager.free_pool(nullptr), EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.free_pool(&local), EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.free_pool(static_cast<char*>(a) + 16), EFI_INVALID_PARAMETER);
  EXPECT_EQ(manager.free_pool(a), EFI_SUCCESS);
}

TEST_F(MemoryTest, LargePoolAllocationsGetTheirOwnPages) {
  void* big = nullptr;
  ASSERT_EQ(manager.allocate_pool(EfiBootServicesData, 1 << 20, &big), EFI_SUCCESS);
  std::memset(big, 1, 1 << 20);
  auto before = map().size();
  EXPECT_EQ(manager.free_pool(big), EFI_SUCCESS);
  EXPECT_LT(map().size(), before);
  EXPECT_EQ(manager.free_pool(big), EFI_INVALID_PARAMETER);
}

TEST_F(MemoryTest, ManySmallPoolAllocationsSpanChunks) {
  std::vector<void*> blocks;
  for (int i = 0; i < 2000; ++i) {
    void* p = nullptr;
    ASSERT_EQ(manager.allocate_pool(EfiLoaderData, 200 + i % 50, &p), EFI_SUCCESS);
    std::memset(p, i & 0xff, 200);
    blocks.push_back(p);
  }
  for (std::size_t i = 0; i < blocks.size(); i += 2) EXPECT_EQ(manager.free_pool(blocks[i]), EFI_SUCCESS);
  for (std::size_t i = 1; i < blocks.size(); i += 2) EXPECT_EQ(manager.free_pool(blocks[i]), EFI_SUCCESS);
}

TEST(MemoryInit, RejectsOverlappingOrUnalignedMachines) {
  FakeMemory memory;
  MemoryManager manager;
  std::vector<MemoryRange> overlapping = {{0x100000, 16, EfiConventionalMemory, 0, false},
                                          {0x108000, 16, EfiReservedMemoryType, 0, false}};
  EXPECT_FALSE(manager.init(overlapping, memory).has_value());
  std::vector<MemoryRange> unaligned = {{0x100010, 16, EfiConventionalMemory, 0, false}};
  EXPECT_FALSE(manager.init(unaligned, memory).has_value());
}

}  // namespace
}  // namespace efikexec::efi

namespace efikexec::efi {
namespace {

// A machine whose map came with the firmware's runtime regions at a previous kernel's virtual
// addresses (after kexec): GetMemoryMap() reports those as VirtualStart, and the physical address
// for every other range, so that a kernel mapping each descriptor at its VirtualStart maps the
// rest one to one. Runtime regions with a virtual break are not merged.
TEST(MemoryVirtual, ReportsTheFirmwaresVirtualAddresses) {
  FakeMemory memory;
  MemoryManager manager;
  const std::vector<MemoryRange> ranges = {
      {0x100000, (32 * kMiB - 0x100000) / kPageSize, EfiConventionalMemory, kRamAttributes, false},
      {32 * kMiB, 16, EfiRuntimeServicesData, kRamAttributes | EFI_MEMORY_RUNTIME, false,
       0xfffffffeffa00000},
      {32 * kMiB + 0x10000, 16, EfiRuntimeServicesData, kRamAttributes | EFI_MEMORY_RUNTIME,
       false, 0xfffffffeff800000},
      {32 * kMiB + 0x20000, (16 * kMiB - 0x20000) / kPageSize, EfiConventionalMemory,
       kRamAttributes, false}};
  ASSERT_TRUE(manager.init(ranges, memory).has_value());
  EFI_PHYSICAL_ADDRESS address = 0;
  ASSERT_EQ(manager.allocate_pages(AllocateAnyPages, EfiLoaderData, 2, &address), EFI_SUCCESS);
  UINTN size = 0, descriptor_size = 0, key = 0;
  UINT32 version = 0;
  ASSERT_EQ(manager.get_memory_map(&size, nullptr, &key, &descriptor_size, &version),
            EFI_BUFFER_TOO_SMALL);
  std::vector<std::byte> buffer(size);
  ASSERT_EQ(manager.get_memory_map(&size, reinterpret_cast<EFI_MEMORY_DESCRIPTOR*>(buffer.data()),
                                   &key, &descriptor_size, &version),
            EFI_SUCCESS);
  int runtime = 0;
  for (std::size_t at = 0; at < size; at += descriptor_size) {
    EFI_MEMORY_DESCRIPTOR d{};
    std::memcpy(&d, buffer.data() + at, sizeof d);
    if (d.PhysicalStart == 32 * kMiB) {
      EXPECT_EQ(d.VirtualStart, 0xfffffffeffa00000u);
      EXPECT_EQ(d.NumberOfPages, 16u);
      ++runtime;
    } else if (d.PhysicalStart == 32 * kMiB + 0x10000) {
      EXPECT_EQ(d.VirtualStart, 0xfffffffeff800000u);
      ++runtime;
    } else {
      EXPECT_EQ(d.VirtualStart, d.PhysicalStart) << std::hex << d.PhysicalStart;
    }
  }
  EXPECT_EQ(runtime, 2);
}

TEST(MemoryVirtual, WithoutVirtualAddressesVirtualStartStaysZero) {
  FakeMemory memory;
  MemoryManager manager;
  const std::vector<MemoryRange> ranges = {
      {0x100000, (32 * kMiB - 0x100000) / kPageSize, EfiConventionalMemory, kRamAttributes, false}};
  ASSERT_TRUE(manager.init(ranges, memory).has_value());
  UINTN size = 0, descriptor_size = 0, key = 0;
  UINT32 version = 0;
  ASSERT_EQ(manager.get_memory_map(&size, nullptr, &key, &descriptor_size, &version),
            EFI_BUFFER_TOO_SMALL);
  std::vector<std::byte> buffer(size);
  ASSERT_EQ(manager.get_memory_map(&size, reinterpret_cast<EFI_MEMORY_DESCRIPTOR*>(buffer.data()),
                                   &key, &descriptor_size, &version),
            EFI_SUCCESS);
  EFI_MEMORY_DESCRIPTOR d{};
  std::memcpy(&d, buffer.data(), sizeof d);
  EXPECT_EQ(d.VirtualStart, 0u);
}

}  // namespace
}  // namespace efikexec::efi
