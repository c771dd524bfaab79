// SPDX-License-Identifier: MIT
// The payload's mappings of the firmware's runtime regions (src/payload/page_tables.hpp:
// map_range, map_runtime): at the first kernel's virtual addresses and 1:1, 4 KiB pages where
// the addresses are not 2 MiB aligned, caching from EFI_MEMORY_WB, never over another mapping.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "payload/page_tables.hpp"

namespace efikexec::payload {
namespace {

constexpr std::uint64_t kMask = 0x000ffffffffff000;
constexpr std::uint64_t kCacheBits = (1 << 3) | (1 << 4);  // PWT | PCD

struct Translation {
  std::uint64_t physical;
  std::uint64_t page_size;
  std::uint64_t entry;
};

// Walks the tables the way the CPU does.
std::optional<Translation> walk(const PageTable* root, bool five_level, std::uint64_t va) {
  const PageTable* table = root;
  auto next = [](std::uint64_t entry) { return reinterpret_cast<const PageTable*>(entry & kMask); };
  if (five_level) {
    const std::uint64_t e = table->entries[(va >> 48) & 511];
    if (!(e & 1)) return std::nullopt;
    table = next(e);
  }
  std::uint64_t e = table->entries[(va >> 39) & 511];
  if (!(e & 1)) return std::nullopt;
  e = next(e)->entries[(va >> 30) & 511];
  if (!(e & 1)) return std::nullopt;
  if (e & 0x80) return Translation{(e & kMask & ~((1ull << 30) - 1)) + (va & ((1ull << 30) - 1)), 1ull << 30, e};
  e = next(e)->entries[(va >> 21) & 511];
  if (!(e & 1)) return std::nullopt;
  if (e & 0x80) return Translation{(e & kMask & ~((1ull << 21) - 1)) + (va & ((1ull << 21) - 1)), 1ull << 21, e};
  e = next(e)->entries[(va >> 12) & 511];
  if (!(e & 1)) return std::nullopt;
  return Translation{(e & kMask) + (va & 0xfff), 1ull << 12, e};
}

TEST(RuntimeMapping, UnalignedRegionsGet4KiBPagesAtTheirVirtualAddresses) {
  auto pool = std::make_unique<PageTable[]>(16);
  PageTableBuilder builder({pool.get(), 16}, false, false);
  // As Linux lays them out: VA == PA modulo 2 MiB, but two regions share one 2 MiB VA frame.
  ASSERT_TRUE(builder.map_range(0xfffffffeffe03000, 0x7e803000, 0x3000, true));
  ASSERT_TRUE(builder.map_range(0xfffffffeffe10000, 0x7fa10000, 0x1000, false));
  auto a = walk(builder.root(), false, 0xfffffffeffe04123);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->physical, 0x7e804123u);
  EXPECT_EQ(a->page_size, 4096u);
  EXPECT_EQ(a->entry & kCacheBits, 0u);
  auto b = walk(builder.root(), false, 0xfffffffeffe10008);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->physical, 0x7fa10008u);
  EXPECT_EQ(b->entry & kCacheBits, kCacheBits);  // uncached: MMIO
  EXPECT_FALSE(walk(builder.root(), false, 0xfffffffeffe06000));  // not mapped
  EXPECT_FALSE(walk(builder.root(), false, 0xfffffffeffe02000));
}

TEST(RuntimeMapping, AlignedRangesUse2MiBPages) {
  auto pool = std::make_unique<PageTable[]>(16);
  PageTableBuilder builder({pool.get(), 16}, false, false);
  // 4 MiB of flash, 2 MiB aligned on both sides, plus a 4 KiB tail.
  ASSERT_TRUE(builder.map_range(0xfffffffeffc00000, 0xffc00000, 0x401000, false));
  auto first = walk(builder.root(), false, 0xfffffffeffc00010);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->page_size, 2u << 20);
  EXPECT_EQ(first->physical, 0xffc00010u);
  auto tail = walk(builder.root(), false, 0xffffffff00000010);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->page_size, 4096u);
  EXPECT_EQ(tail->physical, 0x100000010u);
}

TEST(RuntimeMapping, NeverOverwritesAnotherMapping) {
  auto pool = std::make_unique<PageTable[]>(16);
  PageTableBuilder builder({pool.get(), 16}, false, false);
  ASSERT_TRUE(builder.map_identity(0, 64u << 20, true));
  const std::size_t used = builder.tables_used();
  // 1:1 inside the identity map's large pages: nothing changes, no table is used.
  ASSERT_TRUE(builder.map_range(0x3e00000 + 0x5000, 0x3e00000 + 0x5000, 0x2000, false));
  EXPECT_EQ(builder.tables_used(), used);
  // Another physical address for an identity-mapped page: refused.
  auto clash = builder.map_range(0x200000, 0x7f000000, 0x1000, true);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::kOverlap);
  // The same 4 KiB page twice: fine; elsewhere: refused.
  ASSERT_TRUE(builder.map_range(0xfffffffeee001000, 0x7f001000, 0x1000, true));
  EXPECT_TRUE(builder.map_range(0xfffffffeee001000, 0x7f001000, 0x1000, true));
  auto again = builder.map_range(0xfffffffeee001000, 0x7f002000, 0x1000, true);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kOverlap);
  // A 2 MiB mapping over a frame that has 4 KiB pages checks or adds each of them.
  EXPECT_TRUE(builder.map_range(0xfffffffeee000000, 0x7f000000, 2u << 20, true));
  EXPECT_EQ(walk(builder.root(), false, 0xfffffffeee1ff000)->physical, 0x7f1ff000u);
  auto over = builder.map_range(0xfffffffeee000000, 0x7f000000 + (2u << 20), 2u << 20, true);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kOverlap);
}

TEST(RuntimeMapping, RefusesWhatCannotBeMapped) {
  auto pool = std::make_unique<PageTable[]>(16);
  PageTableBuilder four({pool.get(), 16}, false, false);
  EXPECT_EQ(four.map_range(0xfffffffeee000800, 0x7f000000, 0x1000, true).error().code,
            ErrorCode::kBadAlignment);
  EXPECT_EQ(four.map_range(0xfffffffeee000000, 0x7f000000, 0x1800, true).error().code,
            ErrorCode::kBadAlignment);
  EXPECT_EQ(four.map_range(0xfffffffeee000000, 0x7f000000, 0, true).error().code,
            ErrorCode::kOutOfRange);
  // Not canonical with 4 levels; canonical with 5.
  EXPECT_EQ(four.map_range(0x0000800000000000, 0x7f000000, 0x1000, true).error().code,
            ErrorCode::kOutOfRange);
  EXPECT_EQ(four.map_range(0xff00000000000000, 0x7f000000, 0x1000, true).error().code,
            ErrorCode::kOutOfRange);
  // Across the top of the address space, or the lower half's end.
  EXPECT_EQ(four.map_range(0xfffffffffffff000, 0x7f000000, 0x2000, true).error().code,
            ErrorCode::kOutOfRange);
  EXPECT_EQ(four.map_range(0x00007ffffffff000, 0x7f000000, 0x2000, true).error().code,
            ErrorCode::kOutOfRange);
  EXPECT_EQ(four.map_range(0xfffffffeee000000, 1ull << 52, 0x1000, true).error().code,
            ErrorCode::kOutOfRange);
  auto more = std::make_unique<PageTable[]>(16);
  PageTableBuilder five({more.get(), 16}, true, false);
  ASSERT_TRUE(five.map_range(0x0000800000000000, 0x7f000000, 0x1000, true));
  ASSERT_TRUE(five.map_range(0xff00000000000000, 0x7f001000, 0x1000, true));
  EXPECT_EQ(walk(five.root(), true, 0xff00000000000010)->physical, 0x7f001010u);
  EXPECT_EQ(walk(five.root(), true, 0x0000800000000010)->physical, 0x7f000010u);
  // The pool runs out: an error, not a partial success.
  auto tiny = std::make_unique<PageTable[]>(3);
  PageTableBuilder small({tiny.get(), 3}, false, false);
  EXPECT_EQ(small.map_range(0xfffffffeee000000, 0x7f000000, 0x1000, true).error().code,
            ErrorCode::kNoMemory);
}

TEST(RuntimeMapping, MapsTheRuntimeMapVirtuallyAnd1To1) {
  auto pool = std::make_unique<PageTable[]>(32);
  PageTableBuilder builder({pool.get(), 32}, false, false);
  const EfiMemoryDescriptor map[] = {
      {5, 0x7fb00000, 0xfffffffeffb00000, 0x40, kEfiMemoryWriteBack | (1ull << 63)},
      {6, 0x7fb43000, 0xfffffffeffb43000, 0x2, kEfiMemoryWriteBack | (1ull << 63)},
      {11, 0xffc00000, 0xfffffffeff000000, 0x400, 1ull << 63},  // MMIO: uncached
      {4, 0x7e000000, 0, 0x10, kEfiMemoryWriteBack},            // no virtual address: left
  };
  ASSERT_TRUE(map_runtime(builder, map));
  auto code = walk(builder.root(), false, 0xfffffffeffb01234);
  ASSERT_TRUE(code);
  EXPECT_EQ(code->physical, 0x7fb01234u);
  EXPECT_EQ(code->entry & kCacheBits, 0u);
  EXPECT_EQ(walk(builder.root(), false, 0x7fb43ff8)->physical, 0x7fb43ff8u);  // 1:1
  auto flash = walk(builder.root(), false, 0xfffffffeff200010);
  ASSERT_TRUE(flash);
  EXPECT_EQ(flash->physical, 0xffe00010u);
  EXPECT_EQ(flash->entry & kCacheBits, kCacheBits);
  EXPECT_FALSE(walk(builder.root(), false, 0x7e000000));
  EXPECT_FALSE(walk(builder.root(), false, 0xfffffffeffb45000));

  const EfiMemoryDescriptor unaligned[] = {{6, 0x7fb43800, 0xfffffffeffb43800, 1, 0}};
  EXPECT_EQ(map_runtime(builder, unaligned).error().code, ErrorCode::kBadAlignment);
  const EfiMemoryDescriptor clash[] = {{6, 0x7fc00000, 0xfffffffeffb00000, 1, 0}};
  EXPECT_EQ(map_runtime(builder, clash).error().code, ErrorCode::kOverlap);
  const EfiMemoryDescriptor huge[] = {{6, 0x1000, 0xfffffffeffb00000, 1ull << 41, 0}};
  EXPECT_EQ(map_runtime(builder, huge).error().code, ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace efikexec::payload
