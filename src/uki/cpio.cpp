// SPDX-License-Identifier: MIT
// newc cpio headers: "070701" and thirteen 8-digit hex fields, the name (padded so the data
// starts on 4 bytes), the data (padded to 4 bytes).
#include "uki/cpio.hpp"

#include <cstring>
#include <optional>
#include <string_view>

namespace efikexec::uki {

namespace {

constexpr char kMagic[] = "070701";
constexpr std::size_t kHeaderSize = 110;
constexpr std::size_t kMaxName = 4096;

// Field `index` (0: c_ino ... 12: c_check) of the header at `at`, or nullopt when not hex.
std::optional<std::uint32_t> field(ByteView input, std::uint64_t at, unsigned index) {
  std::uint32_t value = 0;
  for (unsigned i = 0; i < 8; ++i) {
    const char c = static_cast<char>(input.data()[at + 6 + index * 8 + i]);
    unsigned digit;
    if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
    else return std::nullopt;
    value = (value << 4) | digit;
  }
  return value;
}

std::uint64_t align4(std::uint64_t value) { return (value + 3) & ~std::uint64_t{3}; }

// The member whose header starts at `at`, and where the next header would be.
std::optional<CpioMember> parse_member(ByteView input, std::uint64_t at, std::uint64_t& next) {
  if (!input.contains(at, kHeaderSize) ||
      std::memcmp(input.data() + at, kMagic, sizeof kMagic - 1) != 0)
    return std::nullopt;
  std::uint32_t fields[13];
  for (unsigned i = 0; i < 13; ++i) {
    auto value = field(input, at, i);
    if (!value) return std::nullopt;
    fields[i] = *value;
  }
  const std::uint32_t mode = fields[1], file_size = fields[6], name_size = fields[11];
  if (name_size == 0 || name_size > kMaxName) return std::nullopt;
  const std::uint64_t name_at = at + kHeaderSize;
  if (!input.contains(name_at, name_size) || input.data()[name_at + name_size - 1] != std::byte{0})
    return std::nullopt;
  const std::uint64_t data_at = align4(name_at + name_size);
  if (!input.contains(data_at, file_size)) return std::nullopt;
  CpioMember member;
  member.name = {reinterpret_cast<const char*>(input.data() + name_at), name_size - 1};
  if (member.name.find('\0') != std::string_view::npos) return std::nullopt;
  member.mode = mode;
  member.offset = at;
  member.size = file_size;
  member.data_offset = data_at;
  next = align4(data_at + file_size);
  return member;
}

}  // namespace

Result<std::size_t> list_cpio_members(ByteView input, std::span<CpioMember> out) {
  std::size_t count = 0;
  std::uint64_t at = 0;
  while (at + kHeaderSize <= input.size()) {
    std::uint64_t next = 0;
    const auto member = parse_member(input, at, next);
    if (!member) {
      // Not a header here: on to the next magic (a compressed archive is megabytes of it).
      const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
      const std::size_t found = text.find(std::string_view(kMagic), at + 1);
      at = found == std::string_view::npos ? input.size() : found;
      continue;
    }
    at = next;
    if (member->name == "TRAILER!!!") continue;
    if (count == out.size()) return fail(ErrorCode::kNoMemory, "more cpio members than room",
                                         member->offset);
    out[count++] = *member;
  }
  return count;
}

}  // namespace efikexec::uki
