// SPDX-License-Identifier: MIT
// SBAT section and revocation-level parsing, and the level check between them. Invariants:
// every field is a view into the input, rows are in input order, and a reported violation
// really is a lower generation of the same component.
#include <array>
#include <cstddef>
#include <cstdint>

#include "fuzz_assert.hpp"
#include "pe_loader/sbat.hpp"

using namespace efikexec;

namespace {

bool inside(std::string_view field, ByteView input) {
  const auto* begin = reinterpret_cast<const char*>(input.data());
  return field.empty() || (field.data() >= begin && field.data() + field.size() <= begin + input.size());
}

std::array<pe::SbatEntry, pe::kMaxSbatEntries> g_rows;
std::array<pe::SbatLevelEntry, pe::kMaxSbatEntries> g_level;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView input(reinterpret_cast<const std::byte*>(data), size);
  auto rows = pe::parse_sbat_section(input, g_rows);
  if (rows) {
    std::uint64_t previous = 0;
    for (const pe::SbatEntry& row : *rows) {
      FUZZ_ASSERT(!row.component.empty() && inside(row.component, input));
      for (std::string_view field : {row.vendor, row.package, row.version, row.url})
        FUZZ_ASSERT(inside(field, input));
      FUZZ_ASSERT(row.offset < size && row.offset >= previous);
      previous = row.offset;
    }
  }
  auto level = pe::parse_sbat_level(input, g_level);
  if (level) {
    FUZZ_ASSERT(!level->entries.empty() && level->entries[0].component == "sbat");
    for (const pe::SbatLevelEntry& entry : level->entries)
      FUZZ_ASSERT(inside(entry.component, input));
  }
  if (rows && level) {
    if (auto violation = pe::find_sbat_violation(*rows, level->entries)) {
      FUZZ_ASSERT(violation->entry->component == violation->level->component);
      FUZZ_ASSERT(violation->entry->generation < violation->level->generation);
    }
  }
  return 0;
}
