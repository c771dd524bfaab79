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
  if (errno == EPERM) text += " (needs root, and kexec not disabled by kernel.kexec_load_disabled)";
  if (errno == EBUSY) text += " (a kexec image is being loaded or executed)";
  return host_fail(Stage::kKexec, std::move(text));
}

class LinuxKexecSyscalls final : public KexecSyscalls {
 public:
  HostStatus load(std::uint64_t entry, std::span<const KexecSegment> segments) override {
    if (forbidden()) return forbidden_here();
    std::vector<kexec_segment> list;
    for (const KexecSegment& s : segments)
      list.push_back({s.buffer, s.buffer_size, reinterpret_cast<const void*>(s.destination),
                      static_cast<std::size_t>(s.memory_size)});
    if (syscall(SYS_kexec_load, entry, list.size(), list.data(), KEXEC_ARCH_X86_64) != 0)
      return call_failed("kexec_load");
    return {};
  }

  HostStatus unload() override {
    if (forbidden()) return forbidden_here();
    if (syscall(SYS_kexec_load, 0, 0, nullptr, KEXEC_ARCH_X86_64) != 0)
      return call_failed("kexec_load (unload)");
    return {};
  }

  bool loaded() override {
    std::ifstream in("/sys/kernel/kexec_loaded");
    int value = 0;
    return (in >> value) && value == 1;
  }

  HostError execute() override {
    if (forbidden()) return forbidden_here().error();
    if (!loaded())
      return HostError{Stage::kKexec, "no kexec image is loaded (run 'efikexec load' first)"};
    sync();
    syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, nullptr);
    return call_failed("reboot(LINUX_REBOOT_CMD_KEXEC)").error();
  }
};

}  // namespace

std::unique_ptr<KexecSyscalls> linux_kexec_syscalls() {
  return std::make_unique<LinuxKexecSyscalls>();
}

}  // namespace efikexec::kexec
