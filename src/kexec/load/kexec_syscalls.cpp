// SPDX-License-Identifier: MIT
#include "kexec/load/kexec_syscalls.hpp"

#include <linux/kexec.h>
#include <linux/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace efikexec::kexec {

namespace {

// The tests set EFIKEXEC_FORBID_KEXEC so that no test can reach the real calls.
bool forbidden() { return std::getenv("EFIKEXEC_FORBID_KEXEC") != nullptr; }

std::unexpected<HostError> forbidden_here() {
  return host_fail(Stage::kKexec,
                   "kexec system calls are forbidden here (EFIKEXEC_FORBID_KEXEC is set)");
}

std::unexpected<HostError> call_failed(const char* call) {
  std::string text = std::string(call) + " failed: " + std::strerror(errno);
  if (errno == EPERM || errno == EACCES)
    text += " (needs root, and kexec not disabled by kernel.kexec_load_disabled; a kernel in "
            "lockdown refuses kexec_load: efikexec load --handoff payload, or mount securityfs "
            "at /sys/kernel/security for efikexec to see the lockdown)";
  if (errno == EBUSY) text += " (a kexec image is being loaded or executed)";
  return host_fail(Stage::kKexec, std::move(text));
}

class LinuxKexecSyscalls final : public KexecSyscalls {
  static unsigned long flags(KexecSlot slot) {
    return KEXEC_ARCH_X86_64 | (slot == KexecSlot::kCrash ? KEXEC_ON_CRASH : 0);
  }

 public:
  HostStatus load(std::uint64_t entry, std::span<const KexecSegment> segments,
                  KexecSlot slot) override {
    if (forbidden()) return forbidden_here();
    std::vector<kexec_segment> list;
    for (const KexecSegment& s : segments)
      list.push_back({s.buffer, s.buffer_size, reinterpret_cast<const void*>(s.destination),
                      static_cast<std::size_t>(s.memory_size)});
    if (syscall(SYS_kexec_load, entry, list.size(), list.data(), flags(slot)) != 0)
      return call_failed(slot == KexecSlot::kCrash ? "kexec_load (crash kernel)" : "kexec_load");
    return {};
  }

  HostStatus unload(KexecSlot slot) override {
    if (forbidden()) return forbidden_here();
    if (syscall(SYS_kexec_load, 0, 0, nullptr, flags(slot)) != 0)
      return call_failed(slot == KexecSlot::kCrash ? "kexec_load (unload the crash kernel)"
                                                   : "kexec_load (unload)");
    return {};
  }

  HostStatus file_load(int kernel_fd, int initrd_fd, const std::string& command_line) override {
    if (forbidden()) return forbidden_here();
    // The length counts the NUL the kernel requires at its end.
    if (syscall(SYS_kexec_file_load, static_cast<long>(kernel_fd), static_cast<long>(initrd_fd),
                static_cast<unsigned long>(command_line.size() + 1), command_line.c_str(),
                0UL) != 0)
      return std::unexpected(kexec_file_load_failure(errno));
    return {};
  }

  HostStatus file_unload() override {
    if (forbidden()) return forbidden_here();
    if (syscall(SYS_kexec_file_load, -1L, -1L, 0UL, nullptr,
                static_cast<unsigned long>(KEXEC_FILE_UNLOAD)) != 0) {
      HostError error = kexec_file_load_failure(errno);
      error.reason = "kexec_file_load (unload) failed: " + std::string(std::strerror(errno));
      return std::unexpected(std::move(error));
    }
    return {};
  }

  bool loaded(KexecSlot slot) override {
    std::ifstream in(slot == KexecSlot::kCrash ? "/sys/kernel/kexec_crash_loaded"
                                               : "/sys/kernel/kexec_loaded");
    int value = 0;
    return (in >> value) && value == 1;
  }

  HostError execute() override {
    if (forbidden()) return forbidden_here().error();
    if (!loaded(KexecSlot::kNormal))
      return HostError{Stage::kKexec, "no kexec image is loaded (run 'efikexec load' first)"};
    sync();
    syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, nullptr);
    return call_failed("reboot(LINUX_REBOOT_CMD_KEXEC)").error();
  }
};

}  // namespace

HostError kexec_file_load_failure(int error) {
  std::string text = std::string("kexec_file_load failed: ") + std::strerror(error);
  switch (error) {
    case ENODATA:
      text += " (the payload is not signed: sign it with a key the kernel trusts, see "
              "docs/payload.md)";
      break;
    case ENOKEY:
    case EKEYREJECTED:
      text += " (the kernel does not trust the payload's signer: its first signature must "
              "chain to a key in the secondary keyring (built-in and MOK keys) or in the "
              "platform keyring (the firmware's db))";
      break;
    case EPERM:
    case EACCES:
      text += " (needs root (CAP_SYS_BOOT) and kexec not disabled by "
              "kernel.kexec_load_disabled; lockdown or an IMA policy refused the payload)";
      break;
    case EBUSY: text += " (a kexec image is being loaded or executed)"; break;
    case ENOEXEC:
      text += " (the kernel does not take the payload for a 64-bit bzImage it can load; a "
              "kernel running 5-level paging also wants XLF_5LEVEL)";
      break;
    case ENOMEM:
      text += " (the kernel found no room for the payload and its bundle)";
      break;
    case EINVAL:
      text += " (the kernel refused the command line, the payload or the bundle)";
      break;
    case EFBIG: text += " (the payload or the bundle is larger than 2 GiB)"; break;
    case ETXTBSY: text += " (a file handed over is still open for writing)"; break;
    case ENOSYS: text += " (this kernel was built without CONFIG_KEXEC_FILE)"; break;
    default: break;
  }
  return HostError{Stage::kKexec, std::move(text)};
}

std::unique_ptr<KexecSyscalls> linux_kexec_syscalls() {
  return std::make_unique<LinuxKexecSyscalls>();
}

}  // namespace efikexec::kexec
