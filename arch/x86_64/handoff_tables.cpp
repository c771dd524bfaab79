// SPDX-License-Identifier: MIT
#include "handoff_tables.hpp"

#include <cstring>

namespace efikexec::arch {

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kLargePage = 2ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kPresent = 1 << 0;
constexpr std::uint64_t kWritable = 1 << 1;
constexpr std::uint64_t kWriteThrough = 1 << 3;  // PWT
constexpr std::uint64_t kCacheDisable = 1 << 4;  // PCD
constexpr std::uint64_t kLarge = 1 << 7;         // PS: a 2 MiB page in a PD entry

void put_entry(std::span<std::byte> pages, std::uint64_t index, std::uint64_t value) {
  std::memcpy(pages.data() + index * 8, &value, 8);
}

bool holds_ram(std::uint64_t start, std::uint64_t end, std::span<const PhysicalRange> ram) {
  for (const PhysicalRange& range : ram)
    if (range.start < end && start < range.end) return true;
  return false;
}

}  // namespace

std::uint64_t identity_map_top(std::uint64_t highest) {
  std::uint64_t top = highest < 4 * kGiB ? 4 * kGiB : highest;
  return (top + kGiB - 1) & ~(kGiB - 1);
}

std::uint64_t identity_table_pages(std::uint64_t top) {
  const std::uint64_t directories = top / kGiB;            // one PD per GiB
  const std::uint64_t pointer_tables = (directories + 511) / 512;  // one PDPT per 512 GiB
  return 2 + pointer_tables + directories;                  // + PML5 + PML4
}

TableRoots build_identity_tables(std::span<std::byte> pages, std::uint64_t base,
                                 std::uint64_t top, std::span<const PhysicalRange> ram) {
  std::memset(pages.data(), 0, pages.size());
  const std::uint64_t directories = top / kGiB;
  const std::uint64_t pointer_tables = (directories + 511) / 512;
  // Layout: [PML5][PML4][PDPT...][PD...]
  const std::uint64_t pml5 = base;
  const std::uint64_t pml4 = base + kPage;
  const std::uint64_t pdpt = base + 2 * kPage;
  const std::uint64_t pd = pdpt + pointer_tables * kPage;
  put_entry(pages, 0, pml4 | kPresent | kWritable);
  for (std::uint64_t i = 0; i < pointer_tables; ++i)
    put_entry(pages, 512 + i, (pdpt + i * kPage) | kPresent | kWritable);
  for (std::uint64_t i = 0; i < directories; ++i)
    put_entry(pages, 1024 + i, (pd + i * kPage) | kPresent | kWritable);
  const std::uint64_t first_pd_entry = (2 + pointer_tables) * 512;
  for (std::uint64_t address = 0; address < top; address += kLargePage) {
    std::uint64_t entry = address | kPresent | kWritable | kLarge;
    if (!holds_ram(address, address + kLargePage, ram)) entry |= kCacheDisable | kWriteThrough;
    put_entry(pages, first_pd_entry + address / kLargePage, entry);
  }
  return {pml4, pml5};
}

void write_idt_gates(std::span<std::byte> idt, std::uint64_t handler, std::uint16_t selector) {
  for (std::size_t offset = 0; offset + 16 <= idt.size(); offset += 16) {
    std::uint8_t gate[16] = {};
    gate[0] = static_cast<std::uint8_t>(handler);
    gate[1] = static_cast<std::uint8_t>(handler >> 8);
    gate[2] = static_cast<std::uint8_t>(selector);
    gate[3] = static_cast<std::uint8_t>(selector >> 8);
    gate[4] = 0;     // IST: none, the fault handler only halts
    gate[5] = 0x8e;  // present, DPL 0, 64-bit interrupt gate
    gate[6] = static_cast<std::uint8_t>(handler >> 16);
    gate[7] = static_cast<std::uint8_t>(handler >> 24);
    const std::uint32_t high = static_cast<std::uint32_t>(handler >> 32);
    std::memcpy(gate + 8, &high, 4);
    std::memcpy(idt.data() + offset, gate, sizeof gate);
  }
}

}  // namespace efikexec::arch
