// SPDX-License-Identifier: MIT
// What the child gives up before the first instruction of the image runs (docs/threat-model.md):
// every file descriptor but the run's own, new mount/PID/IPC/network namespaces, root (an
// unprivileged uid, or a user namespace), the right to gain privileges, and, last, every system
// call but the few the shim makes while the image runs (a seccomp filter). A refused call raises
// SIGSYS, which the run's fault handler turns into one line naming the call and where it came from.
#pragma once

#include "kexec/common/host_error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace efikexec::kexec {

// The steps that may be skipped where the machine does not allow them (a container without
// namespaces, say); the run goes on and its report names them. The filter is not among them: a
// run that cannot be filtered does not start.
enum class ConfinementStep : std::uint32_t {
  kMountNamespace,
  kPidNamespace,
  kIpcNamespace,
  kNetworkNamespace,
  kUnprivilegedUser,
  kCallerCheck,  // refusing every call made from the image's memory (needs PIE host code)
  kCount,
};
const char* confinement_step_name(ConfinementStep step);

struct ConfinementRequest {
  int memory_fd = -1;            // the run's memory file: on-demand arenas map it
  bool keep_stderr = true;       // the console echo (and a sanitizer's reports) write there
  std::uint64_t image_top = 0;   // the image's code runs only below this address
};

// What confine() did: a bit per skipped step and the errno that made it skip.
struct ConfinementResult {
  std::uint32_t skipped = 0;
  std::uint8_t skipped_errno[static_cast<std::size_t>(ConfinementStep::kCount)] = {};
};

// Child only, after the run's environment is built and before the image starts. False (with
// `error`) when the filter itself could not be installed.
HostResult<ConfinementResult> confine(const ConfinementRequest& request);

// The skipped steps in words ("network namespace (EPERM)"), for the parent's report.
std::vector<std::string> skipped_confinement_steps(std::uint32_t skipped,
                                                   const std::uint8_t* skipped_errno);

// "openat", or "system call 1234" for a number the table does not know.
std::string system_call_name(long number);

}  // namespace efikexec::kexec
