// SPDX-License-Identifier: MIT
// The payload's own page tables: an identity map of every e820 range (RAM, ACPI and NVS
// write-back; reserved and other types uncached, PCD | PWT), rounded out to 2 MiB pages (1 GiB
// pages where the CPU has them and a whole aligned GiB is covered), 4- or 5-level as CR4.LA57
// says (it cannot change while paging is on). Tables come from a fixed pool.
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
  // The top-level table: PML5 when five_level, else PML4.
  const PageTable* root() const { return root_; }
  std::size_t tables_used() const { return used_; }
  // The end of what an identity map can reach: 2^47 with 4 levels, 2^56 with 5.
  std::uint64_t limit() const;

 private:
  Result<PageTable*> table_at(PageTable* parent, unsigned index);
  Result<void> map_page(std::uint64_t address, std::uint64_t page_size, std::uint64_t flags);

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

}  // namespace efikexec::payload
