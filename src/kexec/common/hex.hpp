// SPDX-License-Identifier: MIT
// Addresses and sizes as reports and errors print them.
#pragma once

#include <cstdint>
#include <string>

namespace efikexec::kexec {

// "0x1f": lower-case, no padding.
std::string hex_u64(std::uint64_t value);

}  // namespace efikexec::kexec
