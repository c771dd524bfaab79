// SPDX-License-Identifier: MIT
// SBAT, shim's Secure Boot Advanced Targeting (shim SBAT.md): a `.sbat` section is CSV text, one
// row per component, `component,generation,vendor,package,version,url`; a revocation level
// (the SbatLevel / SbatLevelRT variables, or a file) is `sbat,1,YYYYMMDDNN` followed by
// `component,generation` rows. An image is revoked when one of its components has a generation
// below the level's generation for that component. Nothing here allocates: rows are written to
// a span the caller provides, as views into the caller's text.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "byte_view.hpp"

namespace efikexec::pe {

// More rows than any real image or level has; callers size their spans with it.
inline constexpr std::size_t kMaxSbatEntries = 128;

struct SbatEntry {
  std::string_view component;
  std::uint32_t generation;
  std::string_view vendor;
  std::string_view package;
  std::string_view version;
  std::string_view url;      // the rest of the row (may itself contain commas)
  std::uint64_t offset;      // of the row, inside the parsed text
};

struct SbatLevelEntry {
  std::string_view component;
  std::uint32_t generation;
  std::uint64_t offset;
};

struct SbatLevel {
  std::string_view datestamp;            // third field of the `sbat,1,...` row, may be empty
  std::span<SbatLevelEntry> entries;     // including the leading `sbat` row
};

// Parses a `.sbat` section. The text ends at the first NUL (sections are NUL-padded); a
// non-NUL byte after it, a row with fewer than six fields, an empty component, a generation that
// is not a decimal number, or a last row without its newline are refused. Blank rows are
// skipped. An all-NUL section yields no rows.
Result<std::span<SbatEntry>> parse_sbat_section(ByteView section, std::span<SbatEntry> out);

// Parses a revocation level. Same text rules, except that rows need two fields and the final
// newline may be missing (files written by hand); the first row must be the `sbat` row.
Result<SbatLevel> parse_sbat_level(ByteView text, std::span<SbatLevelEntry> out);

struct SbatViolation {
  const SbatEntry* entry;        // the image's row
  const SbatLevelEntry* level;   // the level row it falls below
};

// The first image row whose generation is below the level's row of the same component
// (shim's verify_sbat_section); nullopt when the image meets the level.
std::optional<SbatViolation> find_sbat_violation(std::span<const SbatEntry> image,
                                                 std::span<const SbatLevelEntry> level);

}  // namespace efikexec::pe
