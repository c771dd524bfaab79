// SPDX-License-Identifier: MIT
// FileBytes over file systems that cannot splice (efivarfs, where the machine's db, dbx and
// SbatLevelRT live, is one; the guest test qemu.efivars reads it for real). Here: files of /proc
// that refuse sendfile(2) yet report their true size, read through the read(2) copy.
#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "kexec/image/file_bytes.hpp"
#include "support/as_nobody.hpp"

namespace efikexec::kexec {
namespace {

// Whether PATH is a regular file with a size that the kernel will not sendfile from.
bool refuses_sendfile(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return false;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int sink = memfd_create("file-bytes-test", MFD_CLOEXEC);
  off_t offset = 0;
  bool refused = sendfile(sink, fd, &offset, 1) < 0 && errno == EINVAL;
  close(sink);
  close(fd);
  return refused;
}

std::vector<std::string> glob_paths(const char* pattern) {
  std::vector<std::string> paths;
  glob_t found{};
  if (glob(pattern, 0, nullptr, &found) == 0)
    for (std::size_t i = 0; i < found.gl_pathc; ++i) paths.emplace_back(found.gl_pathv[i]);
  globfree(&found);
  return paths;
}

std::string first_refusing(const std::vector<std::string>& candidates) {
  for (const std::string& path : candidates)
    if (refuses_sendfile(path)) return path;
  return {};
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FileBytesWithoutSplice, CopiesAFileTheKernelWillNotSendfile) {
  // /proc/config.gz: fixed bytes of a known size, no splice_read.
  const std::string path = first_refusing({"/proc/config.gz"});
  if (path.empty()) GTEST_SKIP() << "no /proc/config.gz (CONFIG_IKCONFIG_PROC) on this kernel";
  auto bytes = FileBytes::read(path);
  ASSERT_TRUE(bytes) << bytes.error().message();
  const std::string expected = contents(path);
  ASSERT_EQ(bytes->size(), expected.size());
  EXPECT_EQ(bytes->view().chars(), expected);
}

TEST(FileBytesWithoutSplice, CopiesADeviceConfigurationSpace) {
  // /proc/bus/pci/BB/DD.F: the size is the device's configuration space (256 or 4096 bytes),
  // read whole only with CAP_SYS_ADMIN.
  if (geteuid() != 0) GTEST_SKIP() << "a whole configuration space needs root";
  const std::string path = first_refusing(glob_paths("/proc/bus/pci/*/*"));
  if (path.empty()) GTEST_SKIP() << "no /proc/bus/pci device files here";
  struct stat st{};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  auto bytes = FileBytes::read(path);
  ASSERT_TRUE(bytes) << bytes.error().message();
  ASSERT_EQ(bytes->size(), static_cast<std::size_t>(st.st_size));
  // Vendor and device ID do not change; the rest of the space may (status bits).
  EXPECT_EQ(bytes->view().chars().substr(0, 4), contents(path).substr(0, 4)) << path;
}

// Without CAP_SYS_ADMIN a configuration space file reads 64 (or 128) of its 256 or 4096 bytes:
// the copy must be refused as a size change, not cut or padded. Root drops to nobody in a child
// for this.
void expect_refused_as_reading_short(Snapshot kind) {
  const std::string path = first_refusing(glob_paths("/proc/bus/pci/*/*"));
  if (path.empty()) GTEST_SKIP() << "no /proc/bus/pci device files here";
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipefd[0]);
    if (!testing::drop_root_to_nobody()) _exit(3);
    auto bytes = FileBytes::read(path, nullptr, kind);
    const std::string error = bytes ? std::string() : bytes.error().message();
    if (write(pipefd[1], error.data(), error.size()) < 0) _exit(4);
    _exit(bytes ? 1 : 0);
  }
  close(pipefd[1]);
  std::string error;
  char buffer[512];
  for (ssize_t n; (n = read(pipefd[0], buffer, sizeof buffer)) > 0;) error.append(buffer, n);
  close(pipefd[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_NE(WEXITSTATUS(status), 3) << "cannot drop root";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "accepted " << path << " although it reads short";
  EXPECT_NE(error.find(path + ": changed size while being read ("), std::string::npos) << error;
  EXPECT_NE(error.find(" bytes when opened, only "), std::string::npos) << error;
}

TEST(FileBytesWithoutSplice, RefusesAFileThatReadsShorterThanItsSize) {
  expect_refused_as_reading_short(Snapshot::kSealed);
}

TEST(FileBytesPrivate, RefusesAFileThatReadsShorterThanItsSize) {
  expect_refused_as_reading_short(Snapshot::kPrivate);
}

// Records what a SnapshotObserver is shown, checking it against the file as it goes.
class RecordingObserver final : public SnapshotObserver {
 public:
  explicit RecordingObserver(const std::string& file) : file_(file) {}
  void copied(ByteView snapshot, std::size_t offset, ByteView chunk) override {
    EXPECT_EQ(snapshot.size(), file_.size());
    EXPECT_EQ(offset, next);  // in file order, from 0, no gap
    EXPECT_EQ(chunk.chars(), std::string_view(file_).substr(offset, chunk.size()));
    // The chunk is in the snapshot already: the observer sees the bytes that were written.
    EXPECT_EQ(snapshot.chars().substr(offset, chunk.size()), chunk.chars());
    next = offset + chunk.size();
    ++chunks;
  }
  std::size_t next = 0;
  std::size_t chunks = 0;

 private:
  const std::string& file_;
};

TEST(FileBytesObserved, ShowsEveryChunkInFileOrderAsWrittenIntoTheSnapshot) {
  std::string data(300001, '\0');
  std::uint32_t state = 1;
  for (char& c : data) c = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
  const std::string path = ::testing::TempDir() + "file-bytes-observed";
  std::ofstream(path, std::ios::binary) << data;
  RecordingObserver observer(data);
  auto bytes = FileBytes::read(path, &observer);
  std::remove(path.c_str());
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message();
  EXPECT_EQ(observer.next, data.size());
  EXPECT_GT(observer.chunks, 1u);
  EXPECT_EQ(bytes->view().chars(), data);
}

TEST(FileBytesObserved, AnEmptyFileShowsNothing) {
  const std::string path = ::testing::TempDir() + "file-bytes-observed-empty";
  std::ofstream(path, std::ios::binary).close();
  const std::string none;
  RecordingObserver observer(none);
  auto bytes = FileBytes::read(path, &observer);
  std::remove(path.c_str());
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), 0u);
  EXPECT_EQ(observer.chunks, 0u);
}

// The private snapshot (`verify`): the same chunks in file order, the bytes of the file as it was
// read, a copy that neither this process nor a later write to the file can change.
std::string pseudo_random_bytes(std::size_t size) {
  std::string data(size, '\0');
  std::uint32_t state = 7;
  for (char& c : data) c = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
  return data;
}

TEST(FileBytesPrivate, ShowsEveryChunkAndKeepsTheBytesAsRead) {
  const std::string data = pseudo_random_bytes(3 * 1024 * 1024 + 17);
  const std::string path = ::testing::TempDir() + "file-bytes-private";
  std::ofstream(path, std::ios::binary) << data;
  RecordingObserver observer(data);
  auto bytes = FileBytes::read(path, &observer, Snapshot::kPrivate);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message();
  EXPECT_EQ(observer.next, data.size());
  EXPECT_GT(observer.chunks, 1u);
  // Overwritten on disk afterwards: the snapshot keeps what was read.
  std::ofstream(path, std::ios::binary | std::ios::in) << std::string(4096, 'X');
  std::remove(path.c_str());
  EXPECT_EQ(bytes->view().chars(), data);
}

// Changes the file it is reading while it is shown the first chunk (the headers), before the rest
// of the file is read: what a second writer could do at any moment.
class ChangingObserver final : public SnapshotObserver {
 public:
  ChangingObserver(std::string path, off_t new_size) : path_(std::move(path)), size_(new_size) {}
  void copied(ByteView snapshot, std::size_t offset, ByteView chunk) override {
    if (offset != 0) return;
    // The first call sees the rest of the snapshot as zero: nothing is read past the headers yet.
    const std::string_view rest = snapshot.chars().substr(chunk.size());
    first_call_rest_is_zero = rest.find_first_not_of('\0') == std::string_view::npos;
    EXPECT_EQ(truncate(path_.c_str(), size_), 0);
  }
  bool first_call_rest_is_zero = false;

 private:
  std::string path_;
  off_t size_;
};

std::string private_read_error(std::size_t size, off_t changed_to) {
  const std::string path = ::testing::TempDir() + "file-bytes-private-changing";
  std::ofstream(path, std::ios::binary) << pseudo_random_bytes(size);
  ChangingObserver observer(path, changed_to);
  auto bytes = FileBytes::read(path, &observer, Snapshot::kPrivate);
  std::remove(path.c_str());
  EXPECT_TRUE(observer.first_call_rest_is_zero);
  return bytes ? std::string() : bytes.error().message();
}

TEST(FileBytesPrivate, RefusesAFileThatShrinksWhileTheRestIsRead) {
  const std::string error = private_read_error(1024 * 1024, 300 * 1024);
  EXPECT_NE(error.find("changed size while being read (1048576 bytes when opened, only 307200 read)"),
            std::string::npos)
      << error;
}

TEST(FileBytesPrivate, RefusesAFileThatGrowsWhileTheRestIsRead) {
  const std::string error = private_read_error(1024 * 1024, 2 * 1024 * 1024);
  EXPECT_NE(error.find("changed size while being read (1048576 bytes when opened, more read)"),
            std::string::npos)
      << error;
}

TEST(FileBytesPrivate, TheCopyIsReadOnly) {
  const std::string path = ::testing::TempDir() + "file-bytes-private-ro";
  std::ofstream(path, std::ios::binary) << pseudo_random_bytes(8192);
  auto bytes = FileBytes::read(path, nullptr, Snapshot::kPrivate);
  std::remove(path.c_str());
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message();
  EXPECT_DEATH(*const_cast<std::byte*>(bytes->view().data()) = std::byte{1}, "");
}

TEST(FileBytesPrivate, AnEmptyFileIsAnEmptySnapshot) {
  const std::string path = ::testing::TempDir() + "file-bytes-private-empty";
  std::ofstream(path, std::ios::binary).close();
  auto bytes = FileBytes::read(path, nullptr, Snapshot::kPrivate);
  std::remove(path.c_str());
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), 0u);
}

}  // namespace
}  // namespace efikexec::kexec
