// SPDX-License-Identifier: MIT
#include "kexec/common/report.hpp"

#include <cstdio>

namespace efikexec::kexec {

std::string hex_u64(std::uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

std::string format_error(const std::string& where, const Error& error) {
  std::string line = where + ": " + error.message + " (" + error_code_name(error.code);
  if (error.has_offset()) line += ", offset " + hex_u64(error.offset);
  return line + ")";
}

}  // namespace efikexec::kexec
