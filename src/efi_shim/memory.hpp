// SPDX-License-Identifier: MIT
// Boot-services memory (UEFI 2.10 §7.2): the page allocator, the pool allocator and the memory
// map. The map *is* the machine's: it starts as the machine's own ranges (RAM as conventional
// memory, reserved/ACPI/MMIO/runtime ranges as they are) and allocations convert RAM pages to
// the type the image asked for. Every allocated page is made usable through PhysicalMemory.
#pragma once

#include <cstdint>
#include <span>

#include "efi_shim/efi_types.hpp"
#include "efi_shim/fixed_vector.hpp"
#include "efi_shim/host.hpp"

namespace efikexec::efi {

struct MemoryRange {
  std::uint64_t start;  // page aligned
  std::uint64_t pages;
  std::uint32_t type;   // EFI_MEMORY_TYPE (or an OEM/OS value)
  std::uint64_t attribute;
  bool allocated;       // made by an allocation (only those may be freed)
  // The address the firmware's runtime code runs this range at, when the machine's map gave
  // one (a previous kernel already called SetVirtualAddressMap()); 0: none.
  std::uint64_t virtual_start = 0;

  std::uint64_t end() const { return start + pages_to_bytes(pages); }
};

// Attributes real firmware gives RAM: cacheable every way (UC|WC|WT|WB).
inline constexpr std::uint64_t kRamAttributes = EFI_MEMORY_UC | EFI_MEMORY_WC | EFI_MEMORY_WT |
                                                EFI_MEMORY_WB;
// OVMF reports descriptors larger than the structure so callers must honour DescriptorSize.
inline constexpr UINTN kDescriptorSize = sizeof(EFI_MEMORY_DESCRIPTOR) + 8;
static_assert(sizeof(EFI_MEMORY_DESCRIPTOR) == 40);

const char* memory_type_name(std::uint32_t type);
bool is_runtime_type(std::uint32_t type);

class MemoryManager final : public PoolAllocator {
 public:
  static constexpr std::size_t kMaxRanges = 1024;
  static constexpr std::size_t kMaxPoolChunks = 512;
  // Nothing below this is handed out: low memory belongs to the real-mode world.
  static constexpr std::uint64_t kLowestAllocation = 0x100000;
  // AllocateAnyPages and the pool prefer memory below 4 GiB, top down, as EDK2 does.
  static constexpr std::uint64_t kPreferredCeiling = 0x100000000;

  // `machine` lists the machine's ranges (any order, page aligned, disjoint).
  Result<void> init(std::span<const MemoryRange> machine, PhysicalMemory& memory);

  EFI_STATUS allocate_pages(EFI_ALLOCATE_TYPE kind, EFI_MEMORY_TYPE type, UINTN pages,
                            EFI_PHYSICAL_ADDRESS* address);
  EFI_STATUS free_pages(EFI_PHYSICAL_ADDRESS address, UINTN pages);
  EFI_STATUS get_memory_map(UINTN* map_size, EFI_MEMORY_DESCRIPTOR* map, UINTN* map_key,
                            UINTN* descriptor_size, UINT32* descriptor_version) const;
  EFI_STATUS allocate_pool(EFI_MEMORY_TYPE type, UINTN size, void** buffer) override;
  EFI_STATUS free_pool(void* buffer) override;

  // Memory at a physical address, as the shim itself reaches it.
  std::byte* pointer(std::uint64_t address) const { return memory_->pointer(address); }

  // Changes whenever the map changes; ExitBootServices compares against it.
  UINTN map_key() const { return map_key_; }
  std::span<const MemoryRange> ranges() const { return ranges_.span(); }
  // The type of the range holding `address`, if any.
  const MemoryRange* find(std::uint64_t address) const;
  // True if [address, address + size) lies in allocated memory (what the image may touch).
  bool is_allocated(std::uint64_t address, std::uint64_t size) const;

  // Each live allocation on its own, in the order made: the map merges neighbours of one type,
  // and the handoff needs them apart (what the next kernel still reaches is decided per
  // allocation). Freed pages leave it; complete() turns false for good once more allocations
  // were live than it holds.
  struct Allocation {
    std::uint64_t start;
    std::uint64_t pages;
  };
  static constexpr std::size_t kMaxAllocations = 1024;
  std::span<const Allocation> allocations() const { return allocations_.span(); }
  bool allocations_complete() const { return allocations_complete_; }

 private:
  struct PoolChunk {
    std::uint64_t start;
    std::uint64_t pages;
    std::uint32_t type;
    bool large;  // one allocation of its own pages
  };

  bool find_free(EFI_ALLOCATE_TYPE kind, std::uint64_t pages, std::uint64_t limit,
                 std::uint64_t* address) const;
  bool find_free_below(std::uint64_t pages, std::uint64_t floor, std::uint64_t ceiling,
                       std::uint64_t* address) const;
  EFI_STATUS convert(std::uint64_t start, std::uint64_t pages, std::uint32_t type, bool allocated);
  void coalesce();
  void forget_allocations(std::uint64_t start, std::uint64_t end);
  EFI_STATUS claim(EFI_ALLOCATE_TYPE kind, std::uint32_t type, std::uint64_t pages,
                   std::uint64_t limit_or_address, std::uint64_t* address);
  const PoolChunk* chunk_of(std::uint64_t address) const;
  void* allocate_in_chunk(const PoolChunk& chunk, std::uint64_t size);

  PhysicalMemory* memory_ = nullptr;
  FixedVector<MemoryRange, kMaxRanges> ranges_;
  FixedVector<PoolChunk, kMaxPoolChunks> chunks_;
  FixedVector<Allocation, kMaxAllocations> allocations_;
  bool allocations_complete_ = true;
  UINTN map_key_ = 1;
  // Set when a machine range came with its virtual address: GetMemoryMap() then reports the
  // physical address as VirtualStart of every other range (a kernel entered after kexec maps
  // each descriptor at its VirtualStart).
  bool identity_virtual_ = false;
};

}  // namespace efikexec::efi
