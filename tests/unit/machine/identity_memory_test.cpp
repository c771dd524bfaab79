// SPDX-License-Identifier: MIT
// The run's memory file: 2 MiB pages on a tmpfs of its own where the loader may mount one, a memfd
// where it may not, and the same bytes either way.
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "kexec/machine/identity_memory.hpp"
#include "support/as_nobody.hpp"
#include "support/prerequisites.hpp"

namespace efikexec::kexec {
namespace {

constexpr std::uint64_t kTop = 64ull << 20;
constexpr std::uint64_t kHugePage = 2ull << 20;

std::uint64_t vmstat(const std::string& name) {
  std::ifstream in("/proc/vmstat");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value)
    if (key == name) return value;
  return 0;
}

// Writes one page inside the second 2 MiB of the file and reads it back.
bool write_and_read_back(IdentityMemory& memory) {
  std::array<std::byte, 4096> page{}, back{};
  page.fill(std::byte{0xa5});
  return memory.write(kHugePage + 0x3000, page) && memory.read(kHugePage + 0x3000, back) &&
         back == page;
}

TEST(IdentityMemory, KeepsWhatTheImageWritesIn2MiBPagesWhereTheLoaderMayMount) {
  if (geteuid() != 0) EFIKEXEC_MISSING_PREREQUISITE("root (a tmpfs mount of the loader's own)");
  std::ifstream shmem("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  std::string policy((std::istreambuf_iterator<char>(shmem)), std::istreambuf_iterator<char>());
  if (policy.empty()) EFIKEXEC_MISSING_PREREQUISITE("transparent huge pages in this kernel");
  if (policy.find("[deny]") != std::string::npos)
    EFIKEXEC_MISSING_PREREQUISITE("huge pages for a tmpfs (this host has shmem_enabled=deny)");

  IdentityMemory memory;
  ASSERT_TRUE(memory.create(kTop));
  struct statfs fs {};
  ASSERT_EQ(fstatfs(memory.fd(), &fs), 0);
  EXPECT_EQ(fs.f_type, TMPFS_MAGIC);
  const std::uint64_t fallbacks = vmstat("thp_file_fallback");
  ASSERT_TRUE(write_and_read_back(memory));
  struct stat st {};
  ASSERT_EQ(fstat(memory.fd(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kTop));
  if (st.st_blocks != static_cast<blkcnt_t>(kHugePage / 512) &&
      vmstat("thp_file_fallback") != fallbacks)
    EFIKEXEC_MISSING_PREREQUISITE("a free 2 MiB page (the kernel counted a thp_file_fallback)");
  EXPECT_EQ(st.st_blocks, static_cast<blkcnt_t>(kHugePage / 512))
      << "one page written: its whole 2 MiB page is allocated, not 4 KiB";
}

TEST(IdentityMemory, EndOfDataIsTheLastByteThatIsNotZero) {
  IdentityMemory memory;
  ASSERT_TRUE(memory.create(kTop));
  const std::array<std::byte, 1> one{std::byte{1}};
  const std::array<std::byte, 0x3000> zeros{};
  EXPECT_EQ(memory.end_of_data(0x100000, 0x800000), 0x100000u) << "nothing written";
  ASSERT_TRUE(memory.write(0x100010, one));
  ASSERT_TRUE(memory.write(0x100011, zeros));  // written, but zero: not data
  EXPECT_EQ(memory.end_of_data(0x100000, 0x800000), 0x100011u);
  ASSERT_TRUE(memory.write(0x500abc, one));  // after a hole
  ASSERT_TRUE(memory.write(0x700000, zeros));  // a later extent of zeros only
  EXPECT_EQ(memory.end_of_data(0x100000, 0x800000), 0x500abdu);
  EXPECT_EQ(memory.end_of_data(0x100000, 0x500000), 0x100011u) << "the range ends before it";
  EXPECT_EQ(memory.end_of_data(0x100000, 0x500abc), 0x100011u) << "ends just before the byte";
  EXPECT_EQ(memory.end_of_data(0x100000, 0x500abd), 0x500abdu) << "ends just after it";
  EXPECT_EQ(memory.end_of_data(0x600000, 0x800000), 0x600000u) << "zeros only";
  EXPECT_EQ(memory.end_of_data(0x100011, 0x200000), 0x100011u) << "starts after the data";
}

TEST(IdentityMemory, ZeroRunsAreHolesAndWrittenZerosOfAtLeastTheMinimum) {
  IdentityMemory memory;
  ASSERT_TRUE(memory.create(kTop));
  using Runs = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
  const std::array<std::byte, 1> one{std::byte{1}};
  const std::vector<std::byte> zeros(0x180000);
  ASSERT_TRUE(memory.write(0x100000, one));
  ASSERT_TRUE(memory.write(0x101000, zeros));  // written zeros, then a hole, up to the next byte
  ASSERT_TRUE(memory.write(0x400ff0, one));    // its page is data
  ASSERT_TRUE(memory.write(0x402000, one));    // one zero page between: too short for a run
  EXPECT_EQ(memory.zero_runs(0x100000, 0x800000, 0x100000),
            (Runs{{0x101000, 0x400000}, {0x403000, 0x800000}}));
  EXPECT_EQ(memory.zero_runs(0x100000, 0x800000, 0x1000),
            (Runs{{0x101000, 0x400000}, {0x401000, 0x402000}, {0x403000, 0x800000}}))
      << "the page between two data pages";
  EXPECT_EQ(memory.zero_runs(0x101000, 0x400000, 0x100000), (Runs{{0x101000, 0x400000}}))
      << "a range of zeros only";
  EXPECT_EQ(memory.zero_runs(0x100000, 0x101000, 0x1000), Runs{}) << "data only";
  EXPECT_EQ(memory.zero_runs(0x100000, 0x300000, 0x300000), Runs{}) << "shorter than asked";
  EXPECT_EQ(memory.zero_runs(0x100800, 0x800000, 0x1000), Runs{}) << "not page-aligned";
}

TEST(IdentityMemory, FallsBackToAMemfdWithoutThePrivilegeToMount) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!testing::drop_root_to_nobody()) _exit(3);
    IdentityMemory memory;
    if (!memory.create(kTop)) _exit(4);
    _exit(write_and_read_back(memory) ? 0 : 5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_NE(WEXITSTATUS(status), 3) << "cannot drop root";
  EXPECT_NE(WEXITSTATUS(status), 4) << "no memory file without the privilege to mount";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the bytes written are not the bytes read";
}

}  // namespace
}  // namespace efikexec::kexec
