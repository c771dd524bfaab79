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

bool forbidden(std::string& error) {
  if (std::getenv("EFIKEXEC_FORBID_KEXEC") == nullptr) return false;
  error = "kexec system calls are forbidden here (EFIKEXEC_FORBID_KEXEC is set)";
  return true;
}

std::string describe(const char* call) {
  std::string text = std::string(call) + " failed: " + std::strerror(errno);
  if (errno == EPERM) text += " (needs root, and kexec not disabled by kernel.kexec_load_disabled)";
  if (errno == EBUSY) text += " (a kexec image is being loaded or executed)";
  return text;
}

class LinuxKexecSyscalls final : public KexecSyscalls {
 public:
  bool load(std::uint64_t entry, std::span<const KexecSegment> segments,
            std::string& error) override {
    if (forbidden(error)) return false;
    std::vector<kexec_segment> list;
    for (const KexecSegment& s : segments)
      list.push_back({s.buffer, s.buffer_size, reinterpret_cast<const void*>(s.destination),
                      static_cast<std::size_t>(s.memory_size)});
    if (syscall(SYS_kexec_load, entry, list.size(), list.data(), KEXEC_ARCH_X86_64) != 0) {
      error = describe("kexec_load");
      return false;
    }
    return true;
  }

  bool unload(std::string& error) override {
    if (forbidden(error)) return false;
    if (syscall(SYS_kexec_load, 0, 0, nullptr, KEXEC_ARCH_X86_64) != 0) {
      error = describe("kexec_load (unload)");
      return false;
    }
    return true;
  }

  bool loaded() override {
    std::ifstream in("/sys/kernel/kexec_loaded");
    int value = 0;
    return (in >> value) && value == 1;
  }

  bool execute(std::string& error) override {
    if (forbidden(error)) return false;
    if (!loaded()) {
      error = "no kexec image is loaded (run 'efikexec load' first)";
      return false;
    }
    sync();
    syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, nullptr);
    error = describe("reboot(LINUX_REBOOT_CMD_KEXEC)");
    return false;
  }
};

}  // namespace

std::unique_ptr<KexecSyscalls> linux_kexec_syscalls() {
  return std::make_unique<LinuxKexecSyscalls>();
}

}  // namespace efikexec::kexec
