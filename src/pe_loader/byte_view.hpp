// SPDX-License-Identifier: MIT
// Bounds-checked access to untrusted bytes. Every read checks `offset + size <= length` without
// overflowing and copies the bytes out (memcpy), so no structure is ever cast over a buffer and
// unaligned or aliased input is harmless. On-disk fields are little-endian byte arrays.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include <efikexec/error.hpp>

namespace efikexec {

// A little-endian unsigned field of an on-disk structure, stored as bytes: alignment 1, so
// format structs match the specification's layout exactly and never imply aligned access.
template <class T>
struct LittleEndian {
  static_assert(std::is_unsigned_v<T>);
  std::array<std::uint8_t, sizeof(T)> bytes;

  constexpr T get() const {
    T value = 0;
    for (std::size_t i = sizeof(T); i-- > 0;) value = static_cast<T>((value << 8) | bytes[i]);
    return value;
  }
  constexpr operator T() const { return get(); }
};
using Le16 = LittleEndian<std::uint16_t>;
using Le32 = LittleEndian<std::uint32_t>;
using Le64 = LittleEndian<std::uint64_t>;
static_assert(sizeof(Le64) == 8 && alignof(Le64) == 1);

constexpr std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

constexpr std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t product;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// True when [offset, offset+size) lies inside [0, length); written so nothing can overflow.
constexpr bool range_fits(std::uint64_t offset, std::uint64_t size, std::uint64_t length) {
  return offset <= length && size <= length - offset;
}

constexpr bool is_power_of_two(std::uint64_t value) {
  return value != 0 && (value & (value - 1)) == 0;
}

// Rounds up to a power-of-two alignment; nullopt on overflow.
constexpr std::optional<std::uint64_t> align_up(std::uint64_t value, std::uint64_t alignment) {
  auto bumped = checked_add(value, alignment - 1);
  if (!bumped) return std::nullopt;
  return *bumped & ~(alignment - 1);
}

// string_view::substr without its exception: the core never links libstdc++'s throw helpers.
// `position` past the end gives an empty view; `count` is clamped to what is there.
constexpr std::string_view slice(std::string_view text, std::size_t position,
                                 std::size_t count = std::string_view::npos) {
  if (position >= text.size()) return {};
  const std::size_t left = text.size() - position;
  return {text.data() + position, count < left ? count : left};
}

class ByteView {
 public:
  constexpr ByteView() = default;
  constexpr ByteView(const std::byte* data, std::size_t size) : data_(data), size_(size) {}
  constexpr explicit ByteView(std::span<const std::byte> bytes)
      : data_(bytes.data()), size_(bytes.size()) {}

  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr const std::byte* data() const { return data_; }
  constexpr std::span<const std::byte> span() const { return {data_, size_}; }
  std::string_view chars() const { return {reinterpret_cast<const char*>(data_), size_}; }

  constexpr bool contains(std::uint64_t offset, std::uint64_t size) const {
    return range_fits(offset, size, size_);
  }

  // Copies a trivially copyable T from `offset`; `what` names the structure for the error.
  template <class T>
  Result<T> read(std::uint64_t offset, const char* what) const {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!contains(offset, sizeof(T))) return fail(ErrorCode::kTruncated, what, offset);
    T value;
    std::memcpy(&value, data_ + offset, sizeof(T));
    return value;
  }

  Result<ByteView> subview(std::uint64_t offset, std::uint64_t size, const char* what) const {
    if (!contains(offset, size)) return fail(ErrorCode::kOutOfRange, what, offset);
    return ByteView(data_ + offset, static_cast<std::size_t>(size));
  }

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace efikexec
