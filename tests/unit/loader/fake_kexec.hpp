// SPDX-License-Identifier: MIT
// The fake kexec layer of the loader tests: it records what each call got (the segments' first
// bytes, the whole files kexec_file_load would read) and never reaches the kernel.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kexec/load/kexec_syscalls.hpp"

namespace efikexec::kexec {

class FakeKexec final : public KexecSyscalls {
 public:
  HostStatus load(std::uint64_t entry, std::span<const KexecSegment> segments,
                  KexecSlot slot) override {
    ++loads;
    this->slot = slot;
    this->entry = entry;
    recorded.assign(segments.begin(), segments.end());
    first_bytes.clear();
    for (const KexecSegment& s : segments)
      first_bytes.push_back(s.buffer_size >= 8 ? *static_cast<const std::uint64_t*>(s.buffer) : 0);
    return {};
  }
  HostStatus unload(KexecSlot slot) override {
    ++unloads;
    this->slot = slot;
    return {};
  }
  HostStatus file_load(int kernel_fd, int initrd_fd, const std::string& command_line) override {
    ++file_loads;
    file_kernel = read_all(kernel_fd);
    file_initrd = read_all(initrd_fd);
    file_initrd_writable = (fcntl(initrd_fd, F_GETFL) & O_ACCMODE) != O_RDONLY;
    file_command_line = command_line;
    if (file_load_errno != 0) return std::unexpected(kexec_file_load_failure(file_load_errno));
    return {};
  }
  HostStatus file_unload() override {
    ++file_unloads;
    return {};
  }
  bool loaded(KexecSlot) override { return loads > 0; }
  // The whole file behind `fd`, read as the kernel reads it (from offset 0).
  static std::string read_all(int fd) {
    std::string bytes;
    char buffer[65536];
    for (off_t offset = 0;;) {
      const ssize_t n = pread(fd, buffer, sizeof buffer, offset);
      if (n <= 0) break;
      bytes.append(buffer, static_cast<std::size_t>(n));
      offset += n;
    }
    return bytes;
  }
  HostError execute() override { return {Stage::kKexec, "fake"}; }
  int loads = 0;
  KexecSlot slot = KexecSlot::kNormal;  // of the last load or unload
  std::uint64_t entry = 0;
  std::vector<KexecSegment> recorded;
  std::vector<std::uint64_t> first_bytes;
  int unloads = 0, file_loads = 0, file_unloads = 0;
  int file_load_errno = 0;  // non-zero: file_load fails as the kernel would with it
  std::string file_kernel, file_initrd, file_command_line;
  bool file_initrd_writable = false;
};

}  // namespace efikexec::kexec
