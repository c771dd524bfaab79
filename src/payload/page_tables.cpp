// SPDX-License-Identifier: MIT
#include "page_tables.hpp"

namespace efikexec::payload {

namespace {
constexpr std::uint64_t kPresent = 1 << 0;
constexpr std::uint64_t kWritable = 1 << 1;
constexpr std::uint64_t kWriteThrough = 1 << 3;
constexpr std::uint64_t kCacheDisable = 1 << 4;
constexpr std::uint64_t kLargePage = 1 << 7;
constexpr std::uint64_t kAddressMask = 0x000ffffffffff000;
constexpr std::uint64_t k4K = 1ull << 12;
constexpr std::uint64_t k2M = 1ull << 21;
constexpr std::uint64_t k1G = 1ull << 30;
// With 4-level paging an identity map reaches 2^47 - 1 (the lower canonical half).
constexpr std::uint64_t kLimit4Level = 1ull << 47;
constexpr std::uint64_t kLimit5Level = 1ull << 56;
constexpr std::uint64_t kPhysicalLimit = 1ull << 52;  // what a page table entry can address

// True when a large page `entry` of `page_size` maps `virtual_address` to `physical`.
bool maps_to(std::uint64_t entry, std::uint64_t page_size, std::uint64_t virtual_address,
             std::uint64_t physical) {
  return (entry & kAddressMask & ~(page_size - 1)) + (virtual_address & (page_size - 1)) ==
         physical;
}
}  // namespace

PageTableBuilder::PageTableBuilder(std::span<PageTable> pool, bool five_level, bool gigabyte_pages)
    : pool_(pool), five_level_(five_level), gigabyte_pages_(gigabyte_pages) {
  if (!pool_.empty()) {
    root_ = &pool_[0];
    used_ = 1;
    for (auto& entry : root_->entries) entry = 0;
  }
}

Result<PageTable*> PageTableBuilder::table_at(PageTable* parent, unsigned index) {
  std::uint64_t& entry = parent->entries[index];
  if (entry & kPresent) {
    if (entry & kLargePage)
      return fail(ErrorCode::kBadState, "page tables: a large page is already there");
    return reinterpret_cast<PageTable*>(entry & kAddressMask);
  }
  if (used_ >= pool_.size()) return fail(ErrorCode::kNoMemory, "page tables: the pool ran out");
  PageTable* table = &pool_[used_++];
  for (auto& e : table->entries) e = 0;
  // Identity mapped: the table's address is its physical address.
  entry = (reinterpret_cast<std::uint64_t>(table) & kAddressMask) | kPresent | kWritable;
  return table;
}

Result<PageTable*> PageTableBuilder::pdpt_of(std::uint64_t address) {
  PageTable* table = root_;
  if (five_level_) {
    auto pml4 = table_at(table, (address >> 48) & 511);
    if (!pml4) return std::unexpected(pml4.error());
    table = *pml4;
  }
  return table_at(table, (address >> 39) & 511);
}

Result<void> PageTableBuilder::map_page(std::uint64_t address, std::uint64_t page_size,
                                        std::uint64_t flags) {
  auto pdpt = pdpt_of(address);
  if (!pdpt) return std::unexpected(pdpt.error());
  std::uint64_t& pdpte = (*pdpt)->entries[(address >> 30) & 511];
  if (page_size == k1G) {
    if (!(pdpte & kPresent)) pdpte = address | flags | kLargePage;
    return {};
  }
  if ((pdpte & kPresent) && (pdpte & kLargePage)) return {};  // inside a mapped GiB
  auto pd = table_at(*pdpt, (address >> 30) & 511);
  if (!pd) return std::unexpected(pd.error());
  std::uint64_t& pde = (*pd)->entries[(address >> 21) & 511];
  // A 2 MiB page shared by two ranges keeps the first one's caching; RAM comes first.
  if (!(pde & kPresent)) pde = address | flags | kLargePage;
  return {};
}

std::uint64_t PageTableBuilder::limit() const { return five_level_ ? kLimit5Level : kLimit4Level; }

Result<void> PageTableBuilder::map_identity(std::uint64_t address, std::uint64_t size, bool cached) {
  if (!root_) return fail(ErrorCode::kNoMemory, "page tables: no pool");
  const std::uint64_t limit = this->limit();
  if (size == 0 || address >= limit || size > limit - address)
    return fail(ErrorCode::kOutOfRange, "page tables: a range past the addressable space", address);
  const std::uint64_t flags = kPresent | kWritable | (cached ? 0 : kCacheDisable | kWriteThrough);
  std::uint64_t at = address & ~(k2M - 1);
  const std::uint64_t end = (address + size + k2M - 1) & ~(k2M - 1);
  while (at < end) {
    if (gigabyte_pages_ && (at & (k1G - 1)) == 0 && end - at >= k1G) {
      if (auto mapped = map_page(at, k1G, flags); !mapped) return mapped;
      at += k1G;
    } else {
      if (auto mapped = map_page(at, k2M, flags); !mapped) return mapped;
      at += k2M;
    }
  }
  return {};
}

Result<void> PageTableBuilder::map_translated(std::uint64_t virtual_address,
                                              std::uint64_t physical, std::uint64_t page_size,
                                              std::uint64_t flags) {
  auto pdpt = pdpt_of(virtual_address);
  if (!pdpt) return std::unexpected(pdpt.error());
  const std::uint64_t pdpte = (*pdpt)->entries[(virtual_address >> 30) & 511];
  if ((pdpte & kPresent) && (pdpte & kLargePage)) {
    if (maps_to(pdpte, k1G, virtual_address, physical)) return {};
    return fail(ErrorCode::kOverlap, "page tables: a runtime page is mapped elsewhere",
                virtual_address);
  }
  auto pd = table_at(*pdpt, (virtual_address >> 30) & 511);
  if (!pd) return std::unexpected(pd.error());
  std::uint64_t& pde = (*pd)->entries[(virtual_address >> 21) & 511];
  if ((pde & kPresent) && (pde & kLargePage)) {
    if (maps_to(pde, k2M, virtual_address, physical)) return {};
    return fail(ErrorCode::kOverlap, "page tables: a runtime page is mapped elsewhere",
                virtual_address);
  }
  if (page_size == k2M) {
    if (!(pde & kPresent)) {
      pde = physical | flags | kLargePage;
      return {};
    }
    // 4 KiB pages are already there: check or add each of them.
    for (std::uint64_t at = 0; at < k2M; at += k4K)
      if (auto mapped = map_translated(virtual_address + at, physical + at, k4K, flags); !mapped)
        return mapped;
    return {};
  }
  auto pt = table_at(*pd, (virtual_address >> 21) & 511);
  if (!pt) return std::unexpected(pt.error());
  std::uint64_t& pte = (*pt)->entries[(virtual_address >> 12) & 511];
  if (pte & kPresent) {
    if ((pte & kAddressMask) == physical) return {};
    return fail(ErrorCode::kOverlap, "page tables: a runtime page is mapped elsewhere",
                virtual_address);
  }
  pte = physical | flags;  // bit 7 of a 4 KiB entry is PAT, left 0
  return {};
}

Result<void> PageTableBuilder::map_range(std::uint64_t virtual_address, std::uint64_t physical,
                                         std::uint64_t size, bool cached) {
  if (!root_) return fail(ErrorCode::kNoMemory, "page tables: no pool");
  if ((virtual_address | physical | size) & (k4K - 1))
    return fail(ErrorCode::kBadAlignment, "page tables: a mapping is not 4 KiB aligned",
                virtual_address);
  if (size == 0 || size - 1 > ~virtual_address || physical >= kPhysicalLimit ||
      size > kPhysicalLimit - physical)
    return fail(ErrorCode::kOutOfRange, "page tables: a mapping past the addressable space",
                virtual_address);
  // Canonical: the whole range in the lower half (below the limit) or the upper half.
  const std::uint64_t last = virtual_address + (size - 1);
  const std::uint64_t limit = this->limit();
  const bool lower = last < limit;
  const bool upper = virtual_address >= ~std::uint64_t{0} - (limit - 1);
  if (!lower && !upper)
    return fail(ErrorCode::kOutOfRange, "page tables: a virtual range is not canonical",
                virtual_address);
  const std::uint64_t flags = kPresent | kWritable | (cached ? 0 : kCacheDisable | kWriteThrough);
  std::uint64_t at = 0;
  while (at < size) {
    const std::uint64_t v = virtual_address + at;
    const std::uint64_t p = physical + at;
    const bool large = ((v | p) & (k2M - 1)) == 0 && size - at >= k2M;
    if (auto mapped = map_translated(v, p, large ? k2M : k4K, flags); !mapped) return mapped;
    at += large ? k2M : k4K;
  }
  return {};
}

Result<void> map_runtime(PageTableBuilder& builder, std::span<const EfiMemoryDescriptor> runtime) {
  for (const EfiMemoryDescriptor& d : runtime) {
    // Linux gives every region of its runtime map a virtual address; one without is not
    // reachable by the runtime services and needs no mapping.
    if (d.pages == 0 || d.virtual_start == 0) continue;
    if (d.pages > (kPhysicalLimit >> 12))
      return fail(ErrorCode::kOutOfRange, "an EFI runtime region is too large",
                  d.physical_start);
    const std::uint64_t size = d.pages << 12;
    const bool cached = d.attribute & kEfiMemoryWriteBack;
    if (auto mapped = builder.map_range(d.virtual_start, d.physical_start, size, cached); !mapped)
      return mapped;
    if (auto mapped = builder.map_range(d.physical_start, d.physical_start, size, cached); !mapped)
      return mapped;
  }
  return {};
}

Result<std::size_t> map_e820(PageTableBuilder& builder, std::span<const E820Entry> e820) {
  // Cached ranges first, so that a 2 MiB page shared with a hole is write-back.
  std::size_t left_out = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const E820Entry& entry : e820) {
      const bool cached =
          entry.type == kE820Ram || entry.type == kE820Acpi || entry.type == kE820Nvs;
      if (cached != (pass == 0)) continue;
      if (entry.address >= builder.limit()) {
        left_out += cached ? 0 : 1;
        continue;
      }
      const std::uint64_t room = builder.limit() - entry.address;
      const std::uint64_t size = entry.size < room ? entry.size : room;
      if (auto mapped = builder.map_identity(entry.address, size, cached); !mapped) {
        if (cached) return std::unexpected(mapped.error());
        ++left_out;
      }
    }
  }
  return left_out;
}

}  // namespace efikexec::payload
