// SPDX-License-Identifier: MIT
#include "kexec/image/file_bytes.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

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

// After `size` bytes, end of file must follow: a file that grew while being read is refused.
HostStatus expect_end_of_file(int fd, std::size_t size, const std::string& path) {
  for (;;) {
    char extra;
    ssize_t n = ::read(fd, &extra, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return host_fail_errno(Stage::kRead, "cannot read", path);
    if (n > 0) return size_changed(path, size, "more");
    return {};
  }
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
  if (status) status = expect_end_of_file(fd, size, path);
  munmap(map, size);
  return status;
}

HostStatus seal(int copy, const std::string& path) {
  if (fcntl(copy, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
    return host_fail_errno(Stage::kRead, "cannot seal the copy", path);
  return {};
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
  if (auto sealed = seal(copy, path); !sealed) {
    close(copy);
    return std::unexpected(std::move(sealed.error()));
  }
  return copy;
}

// The copy an observer sees: read(2) into a buffer small enough to stay in the cache, pwrite(2)
// of it into the memory file, then the observer gets the chunk while it is still cached (hashing
// it costs no second trip through memory, and the bytes it sees are the ones written). The
// memory file is mapped read-only while it is filled, so the observer can parse the headers from
// the snapshot itself. A file that turns out shorter or longer than fstat said is refused, never
// padded or cut.
HostStatus observed_copy(int fd, int copy, ByteView snapshot, const std::string& path,
                         SnapshotObserver& observer) {
  constexpr std::size_t kChunk = 64 * 1024;
  std::vector<std::byte> buffer(kChunk);
  const std::size_t size = snapshot.size();
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, buffer.data(), std::min(kChunk, size - done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return host_fail_errno(Stage::kRead, "cannot read", path);
    if (n == 0) return size_changed(path, size, "only " + std::to_string(done));
    const auto length = static_cast<std::size_t>(n);
    for (std::size_t written = 0; written < length;) {
      ssize_t w = pwrite(copy, buffer.data() + written, length - written,
                         static_cast<off_t>(done + written));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return host_fail_errno(Stage::kRead, "cannot write the memory file for it", path);
      written += static_cast<std::size_t>(w);
    }
    observer.copied(snapshot, done, ByteView(buffer.data(), length));
    done += length;
  }
  return expect_end_of_file(fd, size, path);
}

// The observed snapshot: the sealed memory file. The read-only mapping the observer saw is gone
// before the seal (a shared mapping of a writable file counts as writable to F_SEAL_WRITE).
HostResult<int> observed_sealed_copy(int fd, std::size_t size, const std::string& path,
                                     SnapshotObserver& observer) {
  int copy = memfd_create("efikexec-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0) return host_fail_errno(Stage::kRead, "cannot create a memory file for it", path);
  HostStatus status;
  if (ftruncate(copy, static_cast<off_t>(size)) != 0)
    status = host_fail_errno(Stage::kRead, "cannot size the memory file for it", path);
  void* map = MAP_FAILED;
  if (status) {
    map = mmap(nullptr, size, PROT_READ, MAP_SHARED, copy, 0);
    if (map == MAP_FAILED)
      status = host_fail_errno(Stage::kRead, "cannot map the memory file for it", path);
  }
  if (status)
    status = observed_copy(fd, copy, {static_cast<const std::byte*>(map), size}, path, observer);
  if (map != MAP_FAILED) munmap(map, size);
  if (status) status = seal(copy, path);
  if (!status) {
    close(copy);
    return std::unexpected(std::move(status.error()));
  }
  return copy;
}

// Anonymous memory for `size` bytes, in huge pages where the kernel has them: allocating and
// clearing a 4 KiB page at a time was a third of `verify`'s time on a large image, more than the
// copy itself. Aligned to the huge page size; `*mapped` gets the length to unmap. A file smaller
// than one huge page gets small pages: the kernel would clear all 2 MiB of a huge one.
void* private_mapping(std::size_t size, std::size_t* mapped) {
  constexpr std::size_t kHugePage = 2 * 1024 * 1024;
  if (size < kHugePage) {
    *mapped = size;
    return mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  const std::size_t length = (size + kHugePage - 1) / kHugePage * kHugePage;
  void* reserved = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return MAP_FAILED;
  const auto start = reinterpret_cast<std::uintptr_t>(reserved);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(reserved, aligned - start);
  if (const std::size_t tail = start + kHugePage - aligned; tail > 0)
    munmap(reinterpret_cast<void*>(aligned + length), tail);
  void* map = reinterpret_cast<void*>(aligned);
  // Advice only: without huge pages the copy still works, a page at a time.
  (void)madvise(map, length, MADV_HUGEPAGE);
  *mapped = length;
  return map;
}

// Reads [from, until) of `fd` into `to + from`, in chunks small enough to stay in the cache;
// after each, `arrived(end)` with the end of the bytes read so far. A file shorter than `size`
// (its size when opened) is refused.
template <typename Arrived>
HostStatus read_chunks(int fd, std::byte* to, std::size_t from, std::size_t until,
                       std::size_t size, const std::string& path, Arrived&& arrived) {
  constexpr std::size_t kChunk = 64 * 1024;
  std::size_t done = from;
  while (done < until) {
    ssize_t n = ::read(fd, to + done, std::min(kChunk, until - done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return host_fail_errno(Stage::kRead, "cannot read", path);
    if (n == 0) return size_changed(path, size, "only " + std::to_string(done));
    done += static_cast<std::size_t>(n);
    arrived(done);
  }
  return {};
}

// Reads from `from` to the end of the file, which must come at `size`, as read_chunks does.
template <typename Arrived>
HostStatus read_rest(int fd, std::byte* to, std::size_t from, std::size_t size,
                     const std::string& path, Arrived&& arrived) {
  if (auto read = read_chunks(fd, to, from, size, size, path, arrived); !read) return read;
  return expect_end_of_file(fd, size, path);
}

// Reads the rest of the file into the private snapshot on a thread of its own, while the caller
// hashes what has arrived. Hashing bounds `verify`'s time; the copy (with the kernel clearing the
// fresh pages under it) added about a fifth to it when done in turn, and with a second CPU it
// costs nothing. Progress is one atomic word: the bytes read so far, and kFinished once the
// reader stopped, published after `status_` says how.
class ReadAhead {
 public:
  ReadAhead(int fd, std::byte* to, std::size_t from, std::size_t size, const std::string& path)
      : fd_(fd), to_(to), from_(from), size_(size), path_(path), progress_(from) {}
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // False when no thread could be made: the caller reads the rest itself.
  bool start() { return pthread_create(&thread_, nullptr, &ReadAhead::run, this) == 0; }

  // Blocks until more than `seen` bytes are in or the reader stopped; returns how many are in.
  std::size_t wait_beyond(std::size_t seen, bool* finished) {
    for (;;) {
      const std::uint64_t progress = progress_.load(std::memory_order_acquire);
      const std::size_t in = progress & ~kFinished;
      if (in > seen || (progress & kFinished) != 0) {
        *finished = (progress & kFinished) != 0;
        return in;
      }
      progress_.wait(progress, std::memory_order_acquire);
    }
  }

  HostStatus join() {
    pthread_join(thread_, nullptr);
    return std::move(status_);
  }

 private:
  static constexpr std::uint64_t kFinished = std::uint64_t{1} << 63;

  static void* run(void* self) {
    static_cast<ReadAhead*>(self)->read_in_background();
    return nullptr;
  }

  void read_in_background() {
    std::size_t in = from_;
    status_ = read_rest(fd_, to_, from_, size_, path_, [this, &in](std::size_t end) {
      in = end;
      progress_.store(end, std::memory_order_release);
      progress_.notify_one();
    });
    progress_.store(in | kFinished, std::memory_order_release);
    progress_.notify_one();
  }

  int fd_;
  std::byte* to_;
  std::size_t from_;
  std::size_t size_;
  const std::string& path_;
  pthread_t thread_{};
  std::atomic<std::uint64_t> progress_;
  HostStatus status_;
};

// The private snapshot: read(2) straight into anonymous memory, each part shown to the observer
// once it arrived; read-only once full. The first chunk (the headers) is read here before the
// observer sees it, so the observer plans while the rest still reads as zero; the rest is read by
// a ReadAhead. The caller unmaps `map` (of `size` bytes) whatever the outcome.
HostStatus private_copy(int fd, void* map, std::size_t size, const std::string& path,
                        SnapshotObserver* observer) {
  auto* to = static_cast<std::byte*>(map);
  const ByteView snapshot(to, size);
  std::size_t seen = 0;
  auto show = [&](std::size_t end) {
    if (observer != nullptr && end > seen)
      observer->copied(snapshot, seen, ByteView(to + seen, end - seen));
    seen = end;
  };
  constexpr std::size_t kHeaders = 64 * 1024;
  std::size_t first = 0;
  HostStatus status = read_chunks(fd, to, 0, std::min(kHeaders, size), size, path,
                                  [&first](std::size_t end) { first = end; });
  if (status) show(first);
  ReadAhead reader(fd, to, first, size, path);
  if (status && observer != nullptr && first < size && reader.start()) {
    for (bool finished = false; !finished;) show(reader.wait_beyond(seen, &finished));
    status = reader.join();
  } else if (status) {
    status = read_rest(fd, to, first, size, path, show);
  }
  if (!status) return status;
  if (mprotect(map, size, PROT_READ) != 0)
    return host_fail_errno(Stage::kRead, "cannot make the copy read-only", path);
  return {};
}

}  // namespace

HostResult<FileBytes> FileBytes::read(const std::string& path, SnapshotObserver* observer,
                                      Snapshot kind) {
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
  } else if (kind == Snapshot::kPrivate) {
    bytes.data_ = private_mapping(bytes.size_, &bytes.mapped_);
    if (bytes.data_ != MAP_FAILED) {
      if (auto copied = private_copy(fd, bytes.data_, bytes.size_, path, observer); !copied) {
        close(fd);
        return std::unexpected(std::move(copied.error()));  // ~FileBytes unmaps
      }
    }
  } else {
    auto copy = observer != nullptr ? observed_sealed_copy(fd, bytes.size_, path, *observer)
                                    : sealed_copy(fd, bytes.size_, path);
    if (!copy) {
      close(fd);
      return std::unexpected(std::move(copy.error()));
    }
    // Populated up front unless an observer already went through the bytes: then only the pages
    // used later are faulted in (verification reads the headers and the signatures).
    const int populate = observer != nullptr ? 0 : MAP_POPULATE;
    bytes.data_ = mmap(nullptr, bytes.mapped_, PROT_READ, MAP_SHARED | populate, *copy, 0);
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
