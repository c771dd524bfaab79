// SPDX-License-Identifier: MIT
// What a stage's failure means to a caller, said once: the C API's status for a host error, and
// the command line's exit statuses (docs/cli.md), which efikexec_status_exit_code() derives from
// a status. The CLI reports errors through these too.
#pragma once

#include <efikexec.h>

#include "kexec/common/host_error.hpp"

namespace efikexec::kexec {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;   // evaluated and refused, or the run failed
inline constexpr int kExitBadInput = 2;  // malformed input, unreadable file, bad arguments

efikexec_status status_for(const HostError& error);

}  // namespace efikexec::kexec
