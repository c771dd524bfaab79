// SPDX-License-Identifier: MIT
#include "kexec/file_bytes.hpp"

#include <fcntl.h>
#include <sys/mman.h>
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
  void* memory = mmap(nullptr, bytes.mapped_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    error = describe(path, "cannot allocate memory for");
    close(fd);
    return false;
  }
  bytes.data_ = memory;
  std::size_t done = 0;
  while (done < bytes.size_) {
    ssize_t n = ::read(fd, static_cast<char*>(memory) + done, bytes.size_ - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n == 0 ? path + ": file shrank while being read" : describe(path, "cannot read");
      close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  close(fd);
  mprotect(memory, bytes.mapped_, PROT_READ);
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
