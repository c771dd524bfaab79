// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include "pe_loader/byte_view.hpp"

namespace efikexec::kexec {

// Lower-case hex SHA-256 of `bytes` (OpenSSL).
std::string sha256_hex(ByteView bytes);

std::string hex(ByteView bytes);

}  // namespace efikexec::kexec
