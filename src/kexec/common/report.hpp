// SPDX-License-Identifier: MIT
// How the command line reports: exit statuses and one-line errors.
#pragma once

#include <cstdint>
#include <string>

#include <efikexec/error.hpp>

namespace efikexec::kexec {

// Exit statuses shared by every command (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;   // evaluated and refused, or the run failed
inline constexpr int kExitBadInput = 2;  // malformed input, unreadable file, bad arguments

// "WHERE: message (rule code, offset 0x1f)" — one line naming the broken rule and the place.
std::string format_error(const std::string& where, const Error& error);

std::string hex_u64(std::uint64_t value);

}  // namespace efikexec::kexec
