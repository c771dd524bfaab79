// SPDX-License-Identifier: MIT
#include "kexec/machine/identity_memory.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include "efi_shim/efi_types.hpp"

namespace efikexec::kexec {

namespace {

std::uint64_t lowest_mappable_address() {
  std::ifstream in("/proc/sys/vm/mmap_min_addr");
  std::uint64_t value = 65536;
  in >> value;
  return (value + efi::kPageSize - 1) & ~(efi::kPageSize - 1);
}

// An unnamed file on a tmpfs of its own that keeps in 2 MiB pages what lies within the file's
// size (huge=within_size), whatever the host's default for memfds (shmem_enabled, "never" on most
// distributions). The image decompresses its kernel into this memory: in 4 KiB pages every page
// it writes costs a fault and a walk that firmware's identity map spends on 2 MiB, measured as a
// tenth of the image's time (docs/performance.md). The mount is attached nowhere; the file's
// descriptor alone keeps it, as a memfd's does. -1 where the kernel or the caller's privileges
// refuse a mount (unprivileged runs, containers): the caller falls back to a memfd.
int open_huge_page_file() {
  const int context = static_cast<int>(syscall(__NR_fsopen, "tmpfs", FSOPEN_CLOEXEC));
  if (context < 0) return -1;
  int file = -1;
  // size=0: no limit of its own, as the memfd's internal mount has none.
  if (syscall(__NR_fsconfig, context, FSCONFIG_SET_STRING, "huge", "within_size", 0) == 0 &&
      syscall(__NR_fsconfig, context, FSCONFIG_SET_STRING, "size", "0", 0) == 0 &&
      syscall(__NR_fsconfig, context, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0) {
    const int mount = static_cast<int>(
        syscall(__NR_fsmount, context, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    if (mount >= 0) {
      file = openat(mount, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      close(mount);
    }
  }
  close(context);
  return file;
}

}  // namespace

IdentityMemory::~IdentityMemory() {
  if (fd_ >= 0) close(fd_);
}

HostStatus IdentityMemory::create(std::uint64_t top) {
  fd_ = open_huge_page_file();
  if (fd_ < 0) fd_ = memfd_create("efikexec-physical", MFD_CLOEXEC);
  if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(top)) != 0)
    return host_fail_errno(Stage::kRun, "cannot create the physical memory file", {});
  top_ = top;
  return {};
}

HostStatus IdentityMemory::reserve(
    std::span<const std::pair<std::uint64_t, std::uint64_t>> ranges) {
  floor_ = lowest_mappable_address();
  for (auto [start, end] : ranges) {
    // Whole pages only: RAM shrinks to them, as the memory map does.
    start = (std::max(start, floor_) + efi::kPageSize - 1) & ~(efi::kPageSize - 1);
    end &= ~(efi::kPageSize - 1);
    if (end <= start) continue;
    void* at = mmap(reinterpret_cast<void*>(start), end - start, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (at == MAP_FAILED || at != reinterpret_cast<void*>(start))
      return host_fail(Stage::kRun,
                       "cannot reserve the machine's RAM at its physical addresses (" +
                           std::string(std::strerror(errno)) +
                           "): part of the loader is mapped there; efikexec must be built as PIE");
    reserved_.emplace_back(start, end);
  }
  return {};
}

Result<void> IdentityMemory::back(std::uint64_t address, std::uint64_t size) {
  bool inside = false;
  for (auto [start, end] : reserved_)
    inside = inside || (address >= start && address <= end && size <= end - address);
  if (!inside)
    return fail(ErrorCode::kOutOfRange, "physical range outside the machine's reserved RAM",
                address);
  // Replaces the reservation (ours) with the memfd's pages for these addresses.
  void* at = mmap(reinterpret_cast<void*>(address), size, PROT_READ | PROT_WRITE | PROT_EXEC,
                  MAP_SHARED | MAP_FIXED, fd_, static_cast<off_t>(address));
  if (at == MAP_FAILED) return fail(ErrorCode::kNoMemory, "cannot map physical memory", address);
  return {};
}

HostStatus IdentityMemory::place_read_only(std::uint64_t address,
                                           std::span<const std::uint8_t> bytes) {
  const std::uint64_t start = address & ~(efi::kPageSize - 1);
  const std::uint64_t end = (address + bytes.size() + efi::kPageSize - 1) & ~(efi::kPageSize - 1);
  if (start < floor_ || end > top_)
    return host_fail(Stage::kRun, "firmware table outside the identity-mapped range");
  // Tables sit outside RAM, where nothing was reserved: the copy must not replace a mapping.
  void* reserved = mmap(reinterpret_cast<void*>(start), end - start, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (reserved == MAP_FAILED && errno != EEXIST)
    return host_fail_errno(Stage::kRun, "cannot reserve a firmware table's address", {});
  if (pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(address)) !=
      static_cast<ssize_t>(bytes.size()))
    return host_fail_errno(Stage::kRun, "cannot copy a firmware table", {});
  void* at = mmap(reinterpret_cast<void*>(start), end - start, PROT_READ, MAP_SHARED | MAP_FIXED,
                  fd_, static_cast<off_t>(start));
  if (at == MAP_FAILED)
    return host_fail_errno(Stage::kRun, "cannot map a firmware table", {});
  return {};
}

bool IdentityMemory::read(std::uint64_t address, std::span<std::byte> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = pread(fd_, out.data() + done, out.size() - done,
                      static_cast<off_t>(address + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool IdentityMemory::write(std::uint64_t address, std::span<const std::byte> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = pwrite(fd_, bytes.data() + done, bytes.size() - done,
                       static_cast<off_t>(address + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::uint64_t IdentityMemory::end_of_data(std::uint64_t start, std::uint64_t end) const {
  // Holes in the file were never written: SEEK_DATA and SEEK_HOLE find the written extents
  // without reading. Then only the end is read, back to the last byte that is not zero (the
  // stubs' buffers end in data, so that is usually the last page), not every page of a range
  // that holds the whole kernel.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
  for (std::uint64_t cursor = start; cursor < end;) {
    const off_t data = lseek(fd_, static_cast<off_t>(cursor), SEEK_DATA);
    if (data < 0 || static_cast<std::uint64_t>(data) >= end) break;
    const off_t hole = lseek(fd_, data, SEEK_HOLE);
    const std::uint64_t extent_end = hole < 0 ? end : std::min<std::uint64_t>(hole, end);
    extents.emplace_back(static_cast<std::uint64_t>(data), extent_end);
    cursor = extent_end;
  }
  std::vector<std::byte> page(efi::kPageSize);
  for (auto extent = extents.rbegin(); extent != extents.rend(); ++extent) {
    const std::uint64_t first = extent->first & ~(efi::kPageSize - 1);
    for (std::uint64_t at = (extent->second - 1) & ~(efi::kPageSize - 1);; at -= efi::kPageSize) {
      const std::uint64_t length = std::min<std::uint64_t>(efi::kPageSize, end - at);
      // A page that cannot be read counts as data: the plan carries it rather than drop it.
      if (!read(at, {page.data(), length})) return std::max(start, at + length);
      for (std::uint64_t i = length; i-- > 0;)
        if (page[i] != std::byte{0}) return std::max(start, at + i + 1);
      if (at == first) break;
    }
  }
  return start;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> IdentityMemory::zero_runs(
    std::uint64_t start, std::uint64_t end, std::uint64_t minimum) const {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  if (start >= end || start % efi::kPageSize != 0 || end % efi::kPageSize != 0) return runs;
  // Reading a hole through a shared mapping would allocate it: only written pages are read.
  void* mapped = mmap(nullptr, end - start, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(start));
  if (mapped == MAP_FAILED) return runs;
  const auto* base = static_cast<const std::uint64_t*>(mapped);
  auto page_is_zero = [&](std::uint64_t address) {
    const std::uint64_t* word = base + (address - start) / sizeof(std::uint64_t);
    for (std::size_t i = 0; i < efi::kPageSize / sizeof(std::uint64_t); ++i)
      if (word[i] != 0) return false;
    return true;
  };
  // What was read leaves this process again every 2 MiB (the bytes stay in the file): the scan
  // adds no more than that to the loader's resident memory.
  constexpr std::uint64_t kWindow = 2ULL << 20;
  std::uint64_t released = start;
  auto release_before = [&](std::uint64_t address) {
    if (address - released < kWindow) return;
    madvise(static_cast<std::byte*>(mapped) + (released - start), address - released,
            MADV_DONTNEED);
    released = address;
  };
  std::uint64_t run_start = start;
  auto end_run_at = [&](std::uint64_t address) {
    if (address - run_start >= minimum) runs.emplace_back(run_start, address);
  };
  for (std::uint64_t cursor = start; cursor < end;) {
    const off_t data = lseek(fd_, static_cast<off_t>(cursor), SEEK_DATA);
    const std::uint64_t data_start =
        data < 0 ? end : std::min<std::uint64_t>(static_cast<std::uint64_t>(data), end);
    const std::uint64_t aligned_start = data_start & ~(efi::kPageSize - 1);
    if (aligned_start >= end) break;
    const off_t hole = lseek(fd_, static_cast<off_t>(aligned_start), SEEK_HOLE);
    const std::uint64_t data_end =
        hole < 0 ? end
                 : std::min<std::uint64_t>(
                       (static_cast<std::uint64_t>(hole) + efi::kPageSize - 1) &
                           ~(efi::kPageSize - 1),
                       end);
    for (std::uint64_t page = std::max(aligned_start, cursor); page < data_end;
         page += efi::kPageSize) {
      release_before(page);
      if (page_is_zero(page)) continue;
      end_run_at(page);
      run_start = page + efi::kPageSize;
    }
    cursor = std::max(data_end, cursor + efi::kPageSize);
  }
  end_run_at(end);
  munmap(mapped, end - start);
  return runs;
}

}  // namespace efikexec::kexec
