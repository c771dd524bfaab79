// SPDX-License-Identifier: MIT
// The running kernel's lockdown mode (security/lockdown/lockdown.c): under "integrity" or
// "confidentiality" kexec_load(2) is refused and only kexec_file_load(2) of an image the kernel
// trusts is accepted. Read from securityfs; a kernel without the lockdown LSM has no such file
// and is not locked down.
#pragma once

#include <string>
#include <string_view>

#include "kexec/common/host_error.hpp"

namespace efikexec::kexec {

// kUnknown: securityfs is not mounted (an empty /sys/kernel/security), so the kernel's mode
// cannot be read.
enum class LockdownMode : std::uint8_t { kNone, kIntegrity, kConfidentiality, kUnknown };
const char* lockdown_mode_name(LockdownMode mode);

// The file, relative to the root of the file system it is read from.
inline constexpr std::string_view kLockdownFile = "sys/kernel/security/lockdown";

// The bracketed word of the file's one line ("none [integrity] confidentiality"); a line with
// no known bracketed mode is Stage::kMachine.
HostResult<LockdownMode> parse_lockdown(std::string_view text, const std::string& path);

// Reads `root`/sys/kernel/security/lockdown (`root` "" or "/" is this system; tests give a
// directory of their own). No file: kNone. A file that cannot be read or parsed: Stage::kMachine.
HostResult<LockdownMode> read_lockdown(const std::string& root = {});

}  // namespace efikexec::kexec
