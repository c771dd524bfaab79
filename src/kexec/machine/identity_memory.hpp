// SPDX-License-Identifier: MIT
// Physical memory for the image, identity mapped in the child: one sparse shared-memory file (on
// a private tmpfs in 2 MiB pages where the loader may mount one, else a memfd) whose offset X
// holds physical address X. The child reserves the whole physical range of the machine first
// (so no host mapping can ever sit on an address the image may be given) and backs pages on
// demand at virtual == physical. After the child ends, the parent reads the same bytes from the
// memfd to build kexec segments: there is exactly one copy of every byte the image wrote.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "efi_shim/host.hpp"
#include "kexec/common/host_error.hpp"

namespace efikexec::kexec {

class IdentityMemory final : public efi::PhysicalMemory {
 public:
  IdentityMemory() = default;
  IdentityMemory(const IdentityMemory&) = delete;
  IdentityMemory& operator=(const IdentityMemory&) = delete;
  ~IdentityMemory();

  // Parent, before fork: the memory file, covering physical addresses [0, top).
  HostStatus create(std::uint64_t top);

  // Child: reserves the physical ranges the image may be given (all RAM) without backing them,
  // so no host mapping can ever sit there. Only reserved pages can be backed.
  HostStatus reserve(std::span<const std::pair<std::uint64_t, std::uint64_t>> ranges);
  // Child: maps `bytes` read-only at physical `address` (copies of firmware tables).
  HostStatus place_read_only(std::uint64_t address, std::span<const std::uint8_t> bytes);

  Result<void> back(std::uint64_t address, std::uint64_t size) override;
  std::byte* pointer(std::uint64_t address) override {
    return reinterpret_cast<std::byte*>(address);
  }
  std::uint64_t address_of(const void* pointer) override {
    return reinterpret_cast<std::uint64_t>(pointer);
  }

  // Parent, after the child ended: copies physical [address, address + out.size()).
  bool read(std::uint64_t address, std::span<std::byte> out) const;
  // Parent: writes physical [address, address + bytes.size()) (the handoff's own pages).
  bool write(std::uint64_t address, std::span<const std::byte> bytes);
  // Parent: the last byte in [start, end) that is not zero, or `start` when all are zero.
  std::uint64_t end_of_data(std::uint64_t start, std::uint64_t end) const;
  // Parent: the page-aligned runs of at least `minimum` bytes in [start, end) (page-aligned)
  // that hold only zeros, in address order. Holes count without being read; written pages are
  // read through one mapping. A range that cannot be read holds no run.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> zero_runs(std::uint64_t start,
                                                                 std::uint64_t end,
                                                                 std::uint64_t minimum) const;
  int fd() const { return fd_; }
  std::uint64_t top() const { return top_; }

 private:
  int fd_ = -1;
  std::uint64_t top_ = 0;
  std::uint64_t floor_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> reserved_;
};

}  // namespace efikexec::kexec
