// SPDX-License-Identifier: MIT
// The image hashed while its snapshot is taken (StreamedDigests over FileBytes::read): the same
// digests as one pass over the sealed snapshot, handed out only for the regions that were hashed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "kexec/image/file_bytes.hpp"
#include "kexec/image/opened_image.hpp"
#include "kexec/verify/crypto_openssl.hpp"
#include "kexec/verify/streamed_digests.hpp"
#include "pe_loader/authenticode.hpp"
#include "verify/support.hpp"
#include "verify/verify_images.hpp"

namespace efikexec::testing {
namespace {

using kexec::ImageDigests;
using kexec::StreamedDigests;

constexpr pe::HashAlgorithm kAlgorithms[] = {pe::HashAlgorithm::kSha256,
                                             pe::HashAlgorithm::kSha1};

std::string temporary_file(const Bytes& bytes) {
  std::string path = ::testing::TempDir() + "streamed-XXXXXX";
  const int fd = mkstemp(path.data());
  EXPECT_GE(fd, 0);
  close(fd);
  write_bytes(path, bytes);
  return path;
}

// Reads PATH with StreamedDigests and returns its digests for the image's own regions, and the
// digests of one pass over the sealed snapshot in `expected`.
std::optional<ImageDigests> streamed(const std::string& path, ImageDigests& expected) {
  StreamedDigests digests(kAlgorithms);
  auto opened = kexec::open_image(path, &digests);
  EXPECT_TRUE(opened.has_value()) << path;
  if (!opened) return std::nullopt;
  auto authenticode = pe::Authenticode::parse(opened->image);
  EXPECT_TRUE(authenticode.has_value()) << path;
  if (!authenticode) return std::nullopt;
  expected = kexec::authenticode_digests(*authenticode, kAlgorithms);
  return digests.digests_for(*authenticode);
}

void expect_same(const ImageDigests& a, const ImageDigests& b, const std::string& what) {
  for (pe::HashAlgorithm algorithm : kAlgorithms) {
    ASSERT_NE(a.get(algorithm), nullptr) << what;
    ASSERT_NE(b.get(algorithm), nullptr) << what;
    EXPECT_EQ(*a.get(algorithm), *b.get(algorithm)) << what << " " << hash_algorithm_name(algorithm);
  }
}

TEST(StreamedDigests, EqualOnePassOverTheSnapshotForSignedFixtures) {
  for (const char* name : {"app.efi", "uki.efi", "nosbat.efi", "app-dual.efi", "uki-chain.efi"}) {
    ImageDigests expected;
    auto digests = streamed(verify_fixture(name), expected);
    ASSERT_TRUE(digests.has_value()) << name << ": not hashed while read";
    expect_same(*digests, expected, name);
  }
}

TEST(StreamedDigests, EqualOnePassOverAnImageReadInManyChunks) {
  // Regions that start and end inside chunks and span several of them.
  const std::string path = temporary_file(verify_large_image(3 * 1024 * 1024 + 12345));
  ImageDigests expected;
  auto digests = streamed(path, expected);
  std::remove(path.c_str());
  ASSERT_TRUE(digests.has_value());
  expect_same(*digests, expected, "large image");
}

TEST(StreamedDigests, EqualOnePassOverTheFixtureUki) {
  REAL_FIXTURE(path, "uki-signed.efi");
  ImageDigests expected;
  auto digests = streamed(path, expected);
  ASSERT_TRUE(digests.has_value());
  expect_same(*digests, expected, path);
}

TEST(StreamedDigests, NothingForRegionsThatWereNotTheOnesHashed) {
  ImageDigests expected;
  StreamedDigests digests(kAlgorithms);
  auto opened = kexec::open_image(verify_fixture("app.efi"), &digests);
  ASSERT_TRUE(opened.has_value());
  // Another image's regions: the streamed digests must not stand for them.
  const Bytes other = verify_large_image(100000);
  auto image = pe::Image::parse(view(other));
  ASSERT_TRUE(image.has_value());
  auto authenticode = pe::Authenticode::parse(*image);
  ASSERT_TRUE(authenticode.has_value());
  EXPECT_FALSE(digests.digests_for(*authenticode).has_value());
}

TEST(StreamedDigests, NothingForAFileThatIsNotAPeImage) {
  Bytes bytes(200000, 0x5a);
  const std::string path = temporary_file(bytes);
  StreamedDigests digests(kAlgorithms);
  auto read = kexec::FileBytes::read(path, &digests);
  std::remove(path.c_str());
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->view().size(), bytes.size());
  const Bytes app = read_bytes(verify_fixture("app.efi"));
  auto image = pe::Image::parse(view(app));
  ASSERT_TRUE(image.has_value());
  auto authenticode = pe::Authenticode::parse(*image);
  ASSERT_TRUE(authenticode.has_value());
  EXPECT_FALSE(digests.digests_for(*authenticode).has_value());
}

}  // namespace
}  // namespace efikexec::testing
