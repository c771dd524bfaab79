// SPDX-License-Identifier: MIT
// The page tables and the IDT the trampoline loads after kexec: identity mappings over all RAM
// and the low 4 GiB (where the MMIO the early kernel touches lives), with 2 MiB pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace efikexec::arch {

struct PhysicalRange {
  std::uint64_t start;
  std::uint64_t end;  // exclusive
};

struct TableRoots {
  std::uint64_t pml4;
  std::uint64_t pml5;  // entry 0 points at the PML4: the same mappings under 5-level paging
};

// The identity map covers [0, identity_map_top(highest)) : everything up to `highest`, and at
// least 4 GiB, rounded up to 1 GiB.
std::uint64_t identity_map_top(std::uint64_t highest);
// Pages the tables for a map of [0, top) need.
std::uint64_t identity_table_pages(std::uint64_t top);
// Writes the tables into `pages` (identity_table_pages(top) pages that will live at physical
// `base`). 2 MiB pages holding any RAM are write-back; the others uncached (PCD|PWT).
TableRoots build_identity_tables(std::span<std::byte> pages, std::uint64_t base,
                                 std::uint64_t top, std::span<const PhysicalRange> ram);

// Fills `idt` with 64-bit interrupt gates (Intel SDM vol. 3 §6.14.1) to `handler` in `selector`.
void write_idt_gates(std::span<std::byte> idt, std::uint64_t handler, std::uint16_t selector);

}  // namespace efikexec::arch
