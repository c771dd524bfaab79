// SPDX-License-Identifier: MIT
// Whole-file input. The bytes are copied once into a sealed memory file (by the kernel with
// sendfile(2), or read(2) where the file system cannot splice, as efivarfs cannot; or in chunks
// through a buffer shown to a SnapshotObserver), or, for bytes only this process reads, into
// private anonymous memory (read by a second thread while the observer works): what is verified
// is exactly what is later parsed and run, and a file changed on disk afterwards cannot change
// them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kexec/common/host_error.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::kexec {

// Sees the snapshot while it is taken, so work on the bytes (hashing them) can be done while they
// are still in the cache, or while the rest is still being read. copied() is called on the
// calling thread once per part, in file order from offset 0, with the whole snapshot (`size`
// bytes, of which only [0, offset + chunk.size()) are filled yet) and `chunk`: the bytes just
// written into the snapshot at `offset`, exactly as written. A byte past the filled part reads
// as zero in the first call; in later calls another thread may be writing it, so it must not be
// read. Nothing writes to the snapshot afterwards; it is read-only or sealed once the last part
// is in.
class SnapshotObserver {
 public:
  virtual void copied(ByteView snapshot, std::size_t offset, ByteView chunk) = 0;

 protected:
  ~SnapshotObserver() = default;
};

// Where the bytes are kept. kSealed: a sealed memory file, which can be handed to another process
// (the child that runs the image, the kernel's kexec_file_load) with the guarantee that nobody can
// change it. kPrivate: this process's anonymous memory, read-only once filled, for bytes that are
// only ever read here (`verify`): one copy from the page cache, no memory file to write through.
enum class Snapshot { kSealed, kPrivate };

class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(FileBytes&& other) noexcept;
  FileBytes& operator=(FileBytes&& other) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  // A read failure is Stage::kRead, naming the path.
  // With an observer, the file is copied in chunks through a small buffer, each shown to the
  // observer right after it is written (a regular file only; efivarfs is read without one).
  static HostResult<FileBytes> read(const std::string& path,
                                    SnapshotObserver* observer = nullptr,
                                    Snapshot kind = Snapshot::kSealed);

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
