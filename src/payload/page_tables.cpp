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
constexpr std::uint64_t k2M = 1ull << 21;
constexpr std::uint64_t k1G = 1ull << 30;
// With 4-level paging an identity map reaches 2^47 - 1 (the lower canonical half).
constexpr std::uint64_t kLimit4Level = 1ull << 47;
constexpr std::uint64_t kLimit5Level = 1ull << 56;
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

Result<void> PageTableBuilder::map_page(std::uint64_t address, std::uint64_t page_size,
                                        std::uint64_t flags) {
  PageTable* table = root_;
  if (five_level_) {
    auto pml4 = table_at(table, (address >> 48) & 511);
    if (!pml4) return std::unexpected(pml4.error());
    table = *pml4;
  }
  auto pdpt = table_at(table, (address >> 39) & 511);
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
