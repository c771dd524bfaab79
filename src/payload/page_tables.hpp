// SPDX-License-Identifier: MIT
// The payload's own page tables: an identity map of every e820 range (RAM, ACPI and NVS
// write-back; reserved and other types uncached, PCD | PWT), rounded out to 2 MiB pages (1 GiB
// pages where the CPU has them and a whole aligned GiB is covered), 4- or 5-level as CR4.LA57
// says (it cannot change while paging is on); and the firmware's runtime regions at the virtual
// addresses the first kernel gave them (SetVirtualAddressMap), in 4 KiB pages where they are not
// 2 MiB aligned. Tables come from a fixed pool.
#pragma once

#include <cstdint>
#include <span>

#include "boot_params.hpp"

namespace efikexec::payload {

struct alignas(4096) PageTable {
  std::uint64_t entries[512];
};

class PageTableBuilder {
 public:
  PageTableBuilder(std::span<PageTable> pool, bool five_level, bool gigabyte_pages);
  Result<void> map_identity(std::uint64_t address, std::uint64_t size, bool cached);
  // Maps [virtual_address, + size) to [physical, + size), both 4 KiB aligned, size a multiple
  // of 4 KiB: 2 MiB pages where both addresses are 2 MiB aligned and the range covers the page,
  // 4 KiB pages elsewhere. The range must be canonical (either half) for the paging mode. A page
  // already mapped to the same physical address (by an identity map's large page too) is kept
  // as it is; one mapped elsewhere is an error (kOverlap), never overwritten.
  Result<void> map_range(std::uint64_t virtual_address, std::uint64_t physical, std::uint64_t size,
                         bool cached);
  // The top-level table: PML5 when five_level, else PML4.
  const PageTable* root() const { return root_; }
  std::size_t tables_used() const { return used_; }
  // The end of what an identity map can reach: 2^47 with 4 levels, 2^56 with 5.
  std::uint64_t limit() const;

 private:
  Result<PageTable*> table_at(PageTable* parent, unsigned index);
  // The page directory pointer table for `address` (through the PML4 under five_level).
  Result<PageTable*> pdpt_of(std::uint64_t address);
  Result<void> map_page(std::uint64_t address, std::uint64_t page_size, std::uint64_t flags);
  Result<void> map_translated(std::uint64_t virtual_address, std::uint64_t physical,
                              std::uint64_t page_size, std::uint64_t flags);

  std::span<PageTable> pool_;
  std::size_t used_ = 0;
  bool five_level_;
  bool gigabyte_pages_;
  PageTable* root_ = nullptr;
};

// Maps every e820 range, clipped to the builder's limit (a range past it is left out). RAM,
// ACPI and NVS come first and must all fit; the other ranges (reserved, MMIO) are mapped as far
// as the pool lasts: returns how many of them were left out or mapped only in part.
Result<std::size_t> map_e820(PageTableBuilder& builder, std::span<const E820Entry> e820);

// EFI_MEMORY_WB (UEFI 2.10 §7.2): the region may be cached write-back.
inline constexpr std::uint64_t kEfiMemoryWriteBack = 0x8;

// Maps every descriptor of the EFI runtime map (boot_params.efi_info) as Linux's
// kexec_enter_virtual_mode does: at its virtual address and 1:1, write-back when its attribute
// has EFI_MEMORY_WB, uncached (MMIO) otherwise. A descriptor without a virtual address (0), not
// 4 KiB aligned, or past the paging mode's reach is an error, as is one whose virtual pages are
// already mapped elsewhere.
Result<void> map_runtime(PageTableBuilder& builder, std::span<const EfiMemoryDescriptor> runtime);

}  // namespace efikexec::payload
