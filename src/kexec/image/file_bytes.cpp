// SPDX-License-Identifier: MIT
#include "kexec/image/file_bytes.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace efikexec::kexec {

namespace {

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa{}, sb{};
  if (stat(a.c_str(), &sa) != 0 || stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

FileBytes::FileBytes(FileBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

FileBytes& FileBytes::operator=(FileBytes&& other) noexcept {
  if (this != &other) {
    this->~FileBytes();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

FileBytes::~FileBytes() {
  if (data_ != nullptr) munmap(data_, mapped_);
}

namespace {

// sendfile(2) errors that mean "this file system cannot splice" rather than an I/O error:
// efivarfs and most of /proc have no splice_read (EINVAL); other file systems say ENOSYS or
// EOPNOTSUPP.
bool cannot_splice(int error) {
  return error == EINVAL || error == ENOSYS || error == EOPNOTSUPP;
}

std::unexpected<HostError> size_changed(const std::string& path, std::size_t size,
                                        const std::string& read) {
  return host_fail(Stage::kRead,
                   "changed size while being read (" + std::to_string(size) +
                       " bytes when opened, " + read + " read)",
                   path);
}

// The copy for a file system that cannot splice: read(2) straight into the memory file, mapped
// writable only while it is filled (sealing against writes needs that mapping gone). efivarfs
// fetches the whole variable on every read and hands out the part at the file offset, so one
// read with a buffer of the whole size gets one consistent copy; a file that turns out shorter
// or longer than fstat said is refused, never padded or cut.
HostStatus read_copy(int fd, int copy, std::size_t size, const std::string& path) {
  if (ftruncate(copy, static_cast<off_t>(size)) != 0)
    return host_fail_errno(Stage::kRead, "cannot size the memory file for it", path);
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, copy, 0);
  if (map == MAP_FAILED)
    return host_fail_errno(Stage::kRead, "cannot map the memory file for it", path);
  auto* to = static_cast<char*>(map);
  std::size_t done = 0;
  HostStatus status;
  while (status && done < size) {
    ssize_t n = ::read(fd, to + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = n < 0 ? host_fail_errno(Stage::kRead, "cannot read", path)
                     : size_changed(path, size, "only " + std::to_string(done));
    } else {
      done += static_cast<std::size_t>(n);
    }
  }
  while (status) {  // end of file must follow
    char extra;
    ssize_t n = ::read(fd, &extra, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 0)
      status = n < 0 ? host_fail_errno(Stage::kRead, "cannot read", path)
                     : size_changed(path, size, "more");
    break;
  }
  munmap(map, size);
  return status;
}

// The snapshot: the kernel copies the file into a memory file (no page of ours is zeroed or
// faulted for it), which is then sealed, so the bytes verified are the bytes run whatever
// happens to the file on disk afterwards. A file system that cannot splice (efivarfs, where the
// machine's db, dbx and SbatLevelRT live) is copied with read(2) instead, sealed the same way.
HostResult<int> sealed_copy(int fd, std::size_t size, const std::string& path) {
  int copy = memfd_create("efikexec-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0) return host_fail_errno(Stage::kRead, "cannot create a memory file for it", path);
  off_t offset = 0;
  while (static_cast<std::size_t>(offset) < size) {
    ssize_t n = sendfile(copy, fd, &offset, size - static_cast<std::size_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && offset == 0 && cannot_splice(errno)) {
      if (auto copied = read_copy(fd, copy, size, path); !copied) {
        close(copy);
        return std::unexpected(std::move(copied.error()));
      }
      break;
    }
    if (n <= 0) {
      auto failure = n == 0 ? host_fail(Stage::kRead, "file shrank while being read", path)
                            : host_fail_errno(Stage::kRead, "cannot read", path);
      close(copy);
      return failure;
    }
  }
  if (fcntl(copy, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    auto failure = host_fail_errno(Stage::kRead, "cannot seal the copy", path);
    close(copy);
    return failure;
  }
  return copy;
}

}  // namespace

HostResult<FileBytes> FileBytes::read(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return host_fail_errno(Stage::kRead, "cannot open", path);
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    auto failure = S_ISREG(st.st_mode) ? host_fail_errno(Stage::kRead, "cannot stat", path)
                                       : host_fail(Stage::kRead, "not a regular file", path);
    close(fd);
    return failure;
  }
  FileBytes bytes;
  bytes.size_ = static_cast<std::size_t>(st.st_size);
  bytes.mapped_ = bytes.size_ == 0 ? 1 : bytes.size_;
  if (bytes.size_ == 0) {
    bytes.data_ = mmap(nullptr, bytes.mapped_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else {
    auto copy = sealed_copy(fd, bytes.size_, path);
    if (!copy) {
      close(fd);
      return std::unexpected(std::move(copy.error()));
    }
    bytes.data_ = mmap(nullptr, bytes.mapped_, PROT_READ, MAP_SHARED | MAP_POPULATE, *copy, 0);
    close(*copy);
  }
  close(fd);
  if (bytes.data_ == MAP_FAILED) {
    bytes.data_ = nullptr;
    return host_fail_errno(Stage::kRead, "cannot map the copy", path);
  }
  return bytes;
}

HostStatus write_file_atomically(const std::string& path, ByteView bytes,
                                 const std::string& protect) {
  if (!protect.empty() && same_file(path, protect))
    return host_fail(Stage::kWrite, "refusing to overwrite the input file", path);
  std::string temporary = path + ".efikexec-tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return host_fail_errno(Stage::kWrite, "cannot create", temporary);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, reinterpret_cast<const char*>(bytes.data()) + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto failure = host_fail_errno(Stage::kWrite, "cannot write", temporary);
      close(fd);
      unlink(temporary.c_str());
      return failure;
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(temporary.c_str(), path.c_str()) != 0) {
    auto failure = host_fail_errno(Stage::kWrite, "cannot write", path);
    unlink(temporary.c_str());
    return failure;
  }
  return {};
}

}  // namespace efikexec::kexec
