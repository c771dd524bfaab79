// SPDX-License-Identifier: MIT
// Whole-file input. The bytes are copied once, by the kernel, into a sealed memory file (with
// sendfile(2), or read(2) where the file system cannot splice, as efivarfs cannot): what is
// verified is exactly what is later parsed and run, and a file changed on disk afterwards cannot
// change them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kexec/common/host_error.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::kexec {

class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(FileBytes&& other) noexcept;
  FileBytes& operator=(FileBytes&& other) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  // A read failure is Stage::kRead, naming the path.
  static HostResult<FileBytes> read(const std::string& path);

  ByteView view() const { return {static_cast<const std::byte*>(data_), size_}; }
  std::size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_ = 0;
};

// Writes `bytes` to `path` atomically (a temporary file renamed over it). Refuses to write to
// `protect` (an input file) so no command can modify what it reads. Failures are Stage::kWrite.
HostStatus write_file_atomically(const std::string& path, ByteView bytes,
                                 const std::string& protect);

}  // namespace efikexec::kexec
