// SPDX-License-Identifier: MIT
// What the C API keeps behind its opaque handles, and the one test hook: tests swap the kexec
// system calls for a fake so that no test can reach kexec_load(2) or reboot(2). Not installed;
// nothing here is exported from the shared library.
#pragma once

#include <functional>
#include <memory>

#include "kexec/load/kexec_syscalls.hpp"

namespace efikexec::kexec {

using KexecSyscallsFactory = std::function<std::unique_ptr<KexecSyscalls>()>;

// Contexts created from now on get their system calls from `factory`; an empty factory restores
// the real ones (linux_kexec_syscalls). For tests only.
void set_kexec_syscalls_factory_for_testing(KexecSyscallsFactory factory);

}  // namespace efikexec::kexec
