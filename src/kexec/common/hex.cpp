// SPDX-License-Identifier: MIT
#include "kexec/common/hex.hpp"

#include <cstdio>

namespace efikexec::kexec {

std::string hex_u64(std::uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

}  // namespace efikexec::kexec
