// SPDX-License-Identifier: MIT
// What the C API keeps behind its opaque handles, and the one test hook: tests swap the kexec
// system calls for a fake so that no test can reach kexec_load(2) or reboot(2). Not installed;
// nothing here is exported from the shared library.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kexec/load/kexec_syscalls.hpp"

namespace efikexec::kexec {

using KexecSyscallsFactory = std::function<std::unique_ptr<KexecSyscalls>()>;

// Contexts created from now on get their system calls from `factory`; an empty factory restores
// the real ones (linux_kexec_syscalls). For tests only.
void set_kexec_syscalls_factory_for_testing(KexecSyscallsFactory factory);

// Options created from now on, and efikexec_unload, read the lockdown mode under `root`
// (machine/lockdown.hpp) instead of this system's; "" restores this system. For tests only.
void set_system_root_for_testing(std::string root);

}  // namespace efikexec::kexec
