// SPDX-License-Identifier: MIT
// Decimal text of an unsigned number without allocation or a C library: the core, the shim and
// the freestanding payload all print numbers this one way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace efikexec {

class Decimal {
 public:
  explicit constexpr Decimal(std::uint64_t value) {
    do {
      digits_[--start_] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
  }
  constexpr std::string_view view() const { return {digits_ + start_, kMaxDigits - start_}; }

 private:
  static constexpr std::size_t kMaxDigits = 20;  // 2^64 - 1 has 20 digits
  char digits_[kMaxDigits]{};
  std::size_t start_ = kMaxDigits;
};

}  // namespace efikexec
