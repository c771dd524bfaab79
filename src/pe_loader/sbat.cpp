// SPDX-License-Identifier: MIT
#include "sbat.hpp"

namespace efikexec::pe {

namespace {

// The text before the first NUL, after checking that only NULs follow it (BAD-INPUT: embedded
// NULs; shim stops at the first NUL and would silently ignore rows after it).
Result<std::string_view> sbat_text(ByteView bytes) {
  std::string_view all = bytes.chars();
  const std::size_t nul = all.find('\0');
  if (nul == std::string_view::npos) return all;
  for (std::size_t i = nul; i < all.size(); ++i)
    if (all[i] != '\0') return fail(ErrorCode::kMalformed, "embedded NUL in SBAT data", nul);
  return slice(all, 0, nul);
}

Result<std::uint32_t> parse_generation(std::string_view text, std::uint64_t offset) {
  if (text.empty() || text.size() > 10)
    return fail(ErrorCode::kMalformed, "SBAT generation is not a decimal number", offset);
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return fail(ErrorCode::kMalformed, "SBAT generation is not a decimal number", offset);
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 0xffffffffu)
    return fail(ErrorCode::kOverflow, "SBAT generation does not fit in 32 bits", offset);
  return static_cast<std::uint32_t>(value);
}

// Splits `row` at its first `count - 1` commas; the last field keeps the rest of the row.
// Returns the number of fields found (at most `count`).
template <std::size_t kCount>
std::size_t split_fields(std::string_view row, std::string_view (&fields)[kCount]) {
  std::size_t found = 0;
  while (found + 1 < kCount) {
    const std::size_t comma = row.find(',');
    if (comma == std::string_view::npos) break;
    fields[found++] = slice(row, 0, comma);
    row.remove_prefix(comma + 1);
  }
  fields[found++] = row;
  return found;
}

// Calls `visit(row, offset)` for every non-blank row of `text`.
template <class Visit>
Result<void> for_each_row(std::string_view text, bool require_final_newline, Visit&& visit) {
  std::uint64_t offset = 0;
  while (offset < text.size()) {
    std::string_view rest = slice(text, offset);
    const std::size_t newline = rest.find('\n');
    if (newline == std::string_view::npos && require_final_newline)
      return fail(ErrorCode::kMalformed, "SBAT row without final newline", offset);
    std::string_view row = slice(rest, 0, newline);
    if (!row.empty())
      if (auto visited = visit(row, offset); !visited) return visited;
    offset += row.size() + 1;
  }
  return {};
}

}  // namespace

Result<std::span<SbatEntry>> parse_sbat_section(ByteView section, std::span<SbatEntry> out) {
  auto text = sbat_text(section);
  if (!text) return std::unexpected(text.error());
  std::size_t count = 0;
  auto rows = for_each_row(*text, true, [&](std::string_view row,
                                            std::uint64_t offset) -> Result<void> {
    std::string_view fields[6];
    if (split_fields(row, fields) < 6)
      return fail(ErrorCode::kMalformed, "SBAT row with fewer than six fields", offset);
    if (fields[0].empty()) return fail(ErrorCode::kMalformed, "SBAT row without component", offset);
    auto generation = parse_generation(fields[1], offset);
    if (!generation) return std::unexpected(generation.error());
    if (count == out.size()) return fail(ErrorCode::kNoMemory, "too many SBAT rows", offset);
    out[count++] = {fields[0], *generation, fields[2], fields[3], fields[4], fields[5], offset};
    return {};
  });
  if (!rows) return std::unexpected(rows.error());
  return out.first(count);
}

Result<SbatLevel> parse_sbat_level(ByteView bytes, std::span<SbatLevelEntry> out) {
  auto text = sbat_text(bytes);
  if (!text) return std::unexpected(text.error());
  SbatLevel level{};
  std::size_t count = 0;
  auto rows = for_each_row(*text, false, [&](std::string_view row,
                                             std::uint64_t offset) -> Result<void> {
    std::string_view fields[3];
    const std::size_t found = split_fields(row, fields);
    if (found < 2)
      return fail(ErrorCode::kMalformed, "SBAT level row with fewer than two fields", offset);
    if (fields[0].empty())
      return fail(ErrorCode::kMalformed, "SBAT level row without component", offset);
    if (count == 0) {
      if (fields[0] != "sbat")
        return fail(ErrorCode::kMalformed, "SBAT level does not start with the sbat row", offset);
      if (found == 3) level.datestamp = fields[2];
    }
    auto generation = parse_generation(fields[1], offset);
    if (!generation) return std::unexpected(generation.error());
    if (count == out.size()) return fail(ErrorCode::kNoMemory, "too many SBAT level rows", offset);
    out[count++] = {fields[0], *generation, offset};
    return {};
  });
  if (!rows) return std::unexpected(rows.error());
  if (count == 0) return fail(ErrorCode::kMalformed, "SBAT level is empty", 0);
  level.entries = out.first(count);
  return level;
}

std::optional<SbatViolation> find_sbat_violation(std::span<const SbatEntry> image,
                                                 std::span<const SbatLevelEntry> level) {
  for (const SbatLevelEntry& required : level)
    for (const SbatEntry& entry : image)
      if (entry.component == required.component && entry.generation < required.generation)
        return SbatViolation{&entry, &required};
  return std::nullopt;
}

}  // namespace efikexec::pe
