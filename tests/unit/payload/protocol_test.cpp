// SPDX-License-Identifier: MIT
// The payload protocol v1 command line and the bundle (src/payload/protocol.hpp).
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "payload/protocol.hpp"

namespace efikexec::payload {
namespace {

TEST(Protocol, OnlyTheUkiSize) {
  auto request = parse_protocol_command_line("efikexec.uki_size=9365888");
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->uki_size, 9365888u);
  EXPECT_EQ(request->initrd_size, 0u);
  EXPECT_FALSE(request->profile);
  EXPECT_FALSE(request->replace_command_line);
  EXPECT_TRUE(request->command_line.empty());
}

TEST(Protocol, EveryOptionAndTheTextVerbatim) {
  auto request = parse_protocol_command_line(
      "efikexec.uki_size=4097 efikexec.initrd_size=12 efikexec.profile=2 "
      "efikexec.cmdline=replace -- console=ttyS0  quiet -- efikexec.uki_size=1");
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->uki_size, 4097u);
  EXPECT_EQ(request->initrd_size, 12u);
  EXPECT_EQ(request->profile, 2u);
  EXPECT_TRUE(request->replace_command_line);
  EXPECT_EQ(request->command_line, "console=ttyS0  quiet -- efikexec.uki_size=1");
}

TEST(Protocol, TheEspArchiveAndTheUkisPathGoTogether) {
  auto request = parse_protocol_command_line(
      "efikexec.uki_size=1 efikexec.esp_size=512 efikexec.esp_image=EFI/Linux/a+b.efi -- x");
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->esp_size, 512u);
  EXPECT_EQ(request->esp_image, "EFI/Linux/a+b.efi");
  EXPECT_EQ(request->command_line, "x");
}

TEST(Protocol, AppendAndAnEmptyText) {
  auto request = parse_protocol_command_line("efikexec.uki_size=1 efikexec.cmdline=append --");
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_FALSE(request->replace_command_line);
  EXPECT_TRUE(request->command_line.empty());
}

struct Refusal {
  const char* text;
  ErrorCode code;
  const char* message_part;
};

void PrintTo(const Refusal& refusal, std::ostream* out) { *out << '"' << refusal.text << '"'; }

class ProtocolRefuses : public ::testing::TestWithParam<Refusal> {};

TEST_P(ProtocolRefuses, NamingWhatIsWrong) {
  auto request = parse_protocol_command_line(GetParam().text);
  ASSERT_FALSE(request) << GetParam().text;
  EXPECT_EQ(request.error().code, GetParam().code) << request.error().message;
  EXPECT_NE(std::string(request.error().message).find(GetParam().message_part), std::string::npos)
      << request.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Payload, ProtocolRefuses,
    ::testing::Values(
        Refusal{"", ErrorCode::kNotFound, "uki_size"},
        Refusal{"-- console=ttyS0", ErrorCode::kNotFound, "uki_size"},
        Refusal{"efikexec.profile=1", ErrorCode::kNotFound, "uki_size"},
        Refusal{"efikexec.profile=1 efikexec.uki_size=5", ErrorCode::kNotFound, "first"},
        Refusal{"efikexec.uki_size=5 efikexec.uki_size=5", ErrorCode::kMalformed, "first"},
        Refusal{"efikexec.uki_size=0", ErrorCode::kMalformed, "positive"},
        Refusal{"efikexec.uki_size=012", ErrorCode::kMalformed, "decimal"},
        Refusal{"efikexec.uki_size=-1", ErrorCode::kMalformed, "decimal"},
        Refusal{"efikexec.uki_size=0x10", ErrorCode::kMalformed, "decimal"},
        Refusal{"efikexec.uki_size=", ErrorCode::kMalformed, "decimal"},
        Refusal{"efikexec.uki_size=18446744073709551616", ErrorCode::kMalformed, "decimal"},
        Refusal{"efikexec.uki_size=5 efikexec.profile=4294967296", ErrorCode::kMalformed,
                "32-bit"},
        Refusal{"efikexec.uki_size=5 efikexec.initrd_size=x", ErrorCode::kMalformed, "decimal"},
        Refusal{"efikexec.uki_size=5 efikexec.initrd_size=1 efikexec.initrd_size=1",
                ErrorCode::kMalformed, "twice"},
        Refusal{"efikexec.uki_size=5 efikexec.cmdline=prepend", ErrorCode::kMalformed,
                "append nor replace"},
        Refusal{"efikexec.uki_size=5 efikexec.db=x", ErrorCode::kUnsupported, "unknown"},
        Refusal{"efikexec.uki_size=5 efikexec.no_verify=1", ErrorCode::kUnsupported, "unknown"},
        Refusal{"efikexec.uki_size=5 console=ttyS0", ErrorCode::kMalformed, "efikexec."},
        Refusal{"efikexec.uki_size=5  efikexec.profile=1", ErrorCode::kMalformed, "single"},
        Refusal{"efikexec.uki_size=5 ", ErrorCode::kMalformed, "single"},
        Refusal{"efikexec.uki_size=5 efikexec.profile", ErrorCode::kMalformed, "'='"},
        Refusal{"efikexec.uki_size=5 efikexec.esp_size=9", ErrorCode::kMalformed, "together"},
        Refusal{"efikexec.uki_size=5 efikexec.esp_image=a.efi", ErrorCode::kMalformed,
                "together"},
        Refusal{"efikexec.uki_size=5 efikexec.esp_size=0 efikexec.esp_image=a.efi",
                ErrorCode::kMalformed, "positive"},
        Refusal{"efikexec.uki_size=5 efikexec.esp_size=9 efikexec.esp_image=", ErrorCode::kMalformed,
                "empty"},
        Refusal{"efikexec.uki_size=5 efikexec.esp_size=9 efikexec.esp_image=a\\b",
                ErrorCode::kMalformed, "printable"},
        Refusal{"efikexec.uki_size=5 efikexec.esp_size=9 efikexec.esp_image=a\x01",
                ErrorCode::kMalformed, "printable"},
        Refusal{"efikexec.uki_size=5 efikexec.esp_size=9 efikexec.esp_size=9 "
                "efikexec.esp_image=a", ErrorCode::kMalformed, "twice"}));

std::vector<std::byte> ramdisk(std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 7);
  return bytes;
}

TEST(Bundle, TheUkiAndTheInitrdAfterThePadding) {
  const auto bytes = ramdisk(3 * 4096);
  ProtocolRequest request;
  request.uki_size = 4097;
  request.initrd_size = 4096;
  auto bundle = split_bundle(ByteView(bytes.data(), bytes.size()), request);
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->uki.data(), bytes.data());
  EXPECT_EQ(bundle->uki.size(), 4097u);
  EXPECT_EQ(bundle->extra_initrd.data(), bytes.data() + 8192);
  EXPECT_EQ(bundle->extra_initrd.size(), 4096u);
}

TEST(Bundle, NoInitrd) {
  const auto bytes = ramdisk(4096);
  ProtocolRequest request;
  request.uki_size = 4096;
  auto bundle = split_bundle(ByteView(bytes.data(), bytes.size()), request);
  ASSERT_TRUE(bundle);
  EXPECT_EQ(bundle->uki.size(), 4096u);
  EXPECT_TRUE(bundle->extra_initrd.empty());
}

TEST(Bundle, TheEspArchiveAfterTheInitrdsPadding) {
  const auto bytes = ramdisk(4 * 4096);
  const ByteView view(bytes.data(), bytes.size());
  ProtocolRequest request;
  request.uki_size = 4097;
  request.initrd_size = 10;
  request.esp_size = 4096;
  auto bundle = split_bundle(view, request);
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->esp_archive.data(), bytes.data() + 3 * 4096);
  EXPECT_EQ(bundle->esp_archive.size(), 4096u);
  request.initrd_size = 0;  // without an initrd it starts where the initrd would
  bundle = split_bundle(view, request);
  ASSERT_TRUE(bundle);
  EXPECT_EQ(bundle->esp_archive.data(), bytes.data() + 2 * 4096);
  request.esp_size = 2 * 4096 + 1;
  EXPECT_EQ(split_bundle(view, request).error().code, ErrorCode::kOutOfRange);
  request.initrd_size = ~std::uint64_t{0} - 4096;
  EXPECT_EQ(split_bundle(view, request).error().code, ErrorCode::kOutOfRange);
}

TEST(Bundle, SizesThatDoNotFitTheRamdiskAreRefused) {
  const auto bytes = ramdisk(2 * 4096);
  const ByteView view(bytes.data(), bytes.size());
  ProtocolRequest request;
  request.uki_size = 2 * 4096 + 1;
  EXPECT_EQ(split_bundle(view, request).error().code, ErrorCode::kOutOfRange);
  request.uki_size = 4096;
  request.initrd_size = 4097;
  EXPECT_EQ(split_bundle(view, request).error().code, ErrorCode::kOutOfRange);
  request.uki_size = 4097;  // the initrd starts at 8192: nothing is left
  request.initrd_size = 1;
  EXPECT_EQ(split_bundle(view, request).error().code, ErrorCode::kOutOfRange);
  request.uki_size = ~std::uint64_t{0} - 5;
  EXPECT_FALSE(split_bundle(view, request));
}

}  // namespace
}  // namespace efikexec::payload
