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

std::string describe(const std::string& path, const char* what) {
  return path + ": " + what + ": " + std::strerror(errno);
}

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

std::string size_changed(const std::string& path, std::size_t size, const std::string& read) {
  return path + ": changed size while being read (" + std::to_string(size) +
         " bytes when opened, " + read + " read)";
}

// The copy for a file system that cannot splice: read(2) straight into the memory file, mapped
// writable only while it is filled (sealing against writes needs that mapping gone). efivarfs
// fetches the whole variable on every read and hands out the part at the file offset, so one
// read with a buffer of the whole size gets one consistent copy; a file that turns out shorter
// or longer than fstat said is refused, never padded or cut.
bool read_copy(int fd, int copy, std::size_t size, const std::string& path, std::string& error) {
  if (ftruncate(copy, static_cast<off_t>(size)) != 0) {
    error = describe(path, "cannot size the memory file for");
    return false;
  }
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, copy, 0);
  if (map == MAP_FAILED) {
    error = describe(path, "cannot map the memory file for");
    return false;
  }
  auto* to = static_cast<char*>(map);
  std::size_t done = 0;
  bool ok = true;
  while (ok && done < size) {
    ssize_t n = ::read(fd, to + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? describe(path, "cannot read")
                    : size_changed(path, size, "only " + std::to_string(done));
      ok = false;
    } else {
      done += static_cast<std::size_t>(n);
    }
  }
  while (ok) {  // end of file must follow
    char extra;
    ssize_t n = ::read(fd, &extra, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 0) {
      error = n < 0 ? describe(path, "cannot read") : size_changed(path, size, "more");
      ok = false;
    }
    break;
  }
  munmap(map, size);
  return ok;
}

// The snapshot: the kernel copies the file into a memory file (no page of ours is zeroed or
// faulted for it), which is then sealed, so the bytes verified are the bytes run whatever
// happens to the file on disk afterwards. A file system that cannot splice (efivarfs, where the
// machine's db, dbx and SbatLevelRT live) is copied with read(2) instead, sealed the same way.
int sealed_copy(int fd, std::size_t size, const std::string& path, std::string& error) {
  int copy = memfd_create("efikexec-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0) {
    error = describe(path, "cannot create a memory file for");
    return -1;
  }
  off_t offset = 0;
  while (static_cast<std::size_t>(offset) < size) {
    ssize_t n = sendfile(copy, fd, &offset, size - static_cast<std::size_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && offset == 0 && cannot_splice(errno)) {
      if (read_copy(fd, copy, size, path, error)) break;
      close(copy);
      return -1;
    }
    if (n <= 0) {
      error = n == 0 ? path + ": file shrank while being read" : describe(path, "cannot read");
      close(copy);
      return -1;
    }
  }
  if (fcntl(copy, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    error = describe(path, "cannot seal the copy of");
    close(copy);
    return -1;
  }
  return copy;
}

}  // namespace

bool FileBytes::read(const std::string& path, FileBytes& out, std::string& error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = describe(path, "cannot open");
    return false;
  }
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = S_ISREG(st.st_mode) ? describe(path, "cannot stat") : path + ": not a regular file";
    close(fd);
    return false;
  }
  FileBytes bytes;
  bytes.size_ = static_cast<std::size_t>(st.st_size);
  bytes.mapped_ = bytes.size_ == 0 ? 1 : bytes.size_;
  if (bytes.size_ == 0) {
    bytes.data_ = mmap(nullptr, bytes.mapped_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else {
    int copy = sealed_copy(fd, bytes.size_, path, error);
    if (copy < 0) {
      close(fd);
      return false;
    }
    bytes.data_ = mmap(nullptr, bytes.mapped_, PROT_READ, MAP_SHARED | MAP_POPULATE, copy, 0);
    close(copy);
  }
  close(fd);
  if (bytes.data_ == MAP_FAILED) {
    bytes.data_ = nullptr;
    error = describe(path, "cannot map the copy of");
    return false;
  }
  out = std::move(bytes);
  return true;
}

bool write_file_atomically(const std::string& path, ByteView bytes, const std::string& protect,
                           std::string& error) {
  if (!protect.empty() && same_file(path, protect)) {
    error = path + ": refusing to overwrite the input file";
    return false;
  }
  std::string temporary = path + ".efikexec-tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = describe(temporary, "cannot create");
    return false;
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, reinterpret_cast<const char*>(bytes.data()) + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = describe(temporary, "cannot write");
      close(fd);
      unlink(temporary.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(temporary.c_str(), path.c_str()) != 0) {
    error = describe(path, "cannot write");
    unlink(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace efikexec::kexec
