// SPDX-License-Identifier: MIT
// The newc cpio members of an initrd as systemd-stub packs credentials and extensions: found
// behind compressed data, malformed headers passed over, the trailer left out.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "uki/cpio.hpp"

namespace efikexec::uki {
namespace {

// One newc member: header, name and NUL padded to 4, data padded to 4.
std::string member(const std::string& name, const std::string& data, unsigned mode = 0100644) {
  char header[111];
  std::snprintf(header, sizeof header,
                "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1u, mode, 0u, 0u,
                1u, 0u, static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u,
                static_cast<unsigned>(name.size() + 1), 0u);
  std::string out(header, 110);
  out += name;
  out.push_back('\0');
  while (out.size() % 4 != 0) out.push_back('\0');
  out += data;
  while (out.size() % 4 != 0) out.push_back('\0');
  return out;
}

ByteView view(const std::string& bytes) {
  return {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()};
}

TEST(Cpio, ListsMembersBehindOtherData) {
  const std::string initrd = std::string("\x28\xb5\x2f\xfd compressed 070701 junk....", 32) +
                             member(".extra", "", 040755) +
                             member(".extra/credentials/a.cred", "secret") +
                             member("TRAILER!!!", "") + member(".extra/sysext/x.raw", "ext");
  std::array<CpioMember, 8> members;
  auto count = list_cpio_members(view(initrd), members);
  ASSERT_TRUE(count);
  ASSERT_EQ(*count, 3u);
  EXPECT_EQ(members[0].name, ".extra");
  EXPECT_EQ(members[0].mode, 040755u);
  EXPECT_EQ(members[1].name, ".extra/credentials/a.cred");
  EXPECT_EQ(members[1].size, 6u);
  EXPECT_EQ(members[1].offset, 32u + 120u);  // archives start 4-aligned, as the kernel reads them
  EXPECT_EQ(members[2].name, ".extra/sysext/x.raw");
}

TEST(Cpio, PassesOverBrokenHeaders) {
  std::string bad_hex = member("a", "x");
  bad_hex[6 + 8 * 6] = 'g';  // c_filesize is no hex
  std::string no_nul = member("abc", "");
  no_nul[110 + 3] = 'd';  // the name's NUL
  std::string too_long = member("b", "data");
  too_long[6 + 8 * 6 + 7] = 'F';  // c_filesize past the end
  std::array<CpioMember, 8> members;
  for (const std::string& broken : {bad_hex, no_nul, too_long, member("c", "").substr(0, 100)}) {
    auto count = list_cpio_members(view(broken), members);
    ASSERT_TRUE(count);
    EXPECT_EQ(*count, 0u);
  }
  const std::string broken_then_good = bad_hex + member("good", "");  // the names point into it
  auto count = list_cpio_members(view(broken_then_good), members);
  ASSERT_TRUE(count);
  ASSERT_EQ(*count, 1u);
  EXPECT_EQ(members[0].name, "good");
}

TEST(Cpio, SaysWhenThereIsNoRoomLeft) {
  const std::string initrd = member("a", "") + member("b", "") + member("c", "");
  std::array<CpioMember, 2> members;
  auto count = list_cpio_members(view(initrd), members);
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().code, ErrorCode::kNoMemory);
  EXPECT_EQ(members[1].name, "b");
}

}  // namespace
}  // namespace efikexec::uki
