// SPDX-License-Identifier: MIT
// For a test's child process that must run without root's privileges: root gives way to nobody
// (65534, as the run's confinement does); anyone else already lacks them.
#pragma once

#include <grp.h>
#include <unistd.h>

namespace efikexec::testing {

// False if root could not give up its groups, group or user.
inline bool drop_root_to_nobody() {
  constexpr uid_t kNobody = 65534;
  return geteuid() != 0 || (setgroups(0, nullptr) == 0 &&
                            setresgid(kNobody, kNobody, kNobody) == 0 &&
                            setresuid(kNobody, kNobody, kNobody) == 0);
}

}  // namespace efikexec::testing
