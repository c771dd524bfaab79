// SPDX-License-Identifier: MIT
// The only place efikexec touches kexec: kexec_load(2), kexec_file_load(2) and
// reboot(LINUX_REBOOT_CMD_KEXEC), behind an interface so tests use a fake and dry runs use none.
// Setting EFIKEXEC_FORBID_KEXEC in the environment makes the real calls refuse (the test suite
// sets it).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "kexec/common/host_error.hpp"

namespace efikexec::kexec {

struct KexecSegment {
  const void* buffer;
  std::size_t buffer_size;
  std::uint64_t destination;
  std::uint64_t memory_size;
};

// Which image a call is about: the one `reboot(LINUX_REBOOT_CMD_KEXEC)` boots, or the crash
// kernel the kernel boots when it panics (KEXEC_ON_CRASH; its segments lie in the crashkernel=
// reservation).
enum class KexecSlot { kNormal, kCrash };

class KexecSyscalls {
 public:
  virtual ~KexecSyscalls() = default;
  // Replaces the loaded image only if the whole load succeeds (the kernel's own rule for the
  // normal image; a crash kernel's load frees the one loaded before it, so a load that reaches
  // the kernel and fails there leaves none).
  virtual HostStatus load(std::uint64_t entry, std::span<const KexecSegment> segments,
                          KexecSlot slot) = 0;
  virtual HostStatus unload(KexecSlot slot) = 0;
  // kexec_file_load(2) with flags 0: the kernel reads `kernel_fd` (a bzImage; under lockdown it
  // must carry a first PE signature the kernel trusts), `initrd_fd` as its initrd and
  // `command_line` (without its NUL; the call adds it). Replaces the loaded image only if the
  // whole load succeeds.
  virtual HostStatus file_load(int kernel_fd, int initrd_fd, const std::string& command_line) = 0;
  // kexec_file_load(KEXEC_FILE_UNLOAD): the unload a locked-down kernel accepts (it refuses
  // kexec_load altogether). Unloads whichever call loaded the image.
  virtual HostStatus file_unload() = 0;
  virtual bool loaded(KexecSlot slot) = 0;
  // Boots the loaded image; returns only on failure, with why.
  virtual HostError execute() = 0;
};

std::unique_ptr<KexecSyscalls> linux_kexec_syscalls();

// What kexec_file_load's errno `error` means, in words (Stage::kKexec): an unsigned payload,
// a signer the kernel does not trust, lockdown or IMA, a load in progress, a bad image.
HostError kexec_file_load_failure(int error);

}  // namespace efikexec::kexec
