// SPDX-License-Identifier: MIT
// The Authenticode region list and the certificate table walk, over hand-built images: one test
// per rule of BAD-INPUT.md "Certificate table and signatures".
#include <gtest/gtest.h>

#include "pe_loader/authenticode.hpp"
#include "verify/support.hpp"
#include "verify/verify_images.hpp"

namespace efikexec::testing {
namespace {

// Records which file ranges were hashed, in order.
class RecordingHasher final : public pe::Hasher {
 public:
  explicit RecordingHasher(const Bytes& file) : base_(file.data()) {}
  void update(ByteView bytes) override {
    const auto offset = static_cast<std::uint64_t>(
        reinterpret_cast<const std::uint8_t*>(bytes.data()) - base_);
    ranges.push_back({offset, bytes.size()});
  }
  std::vector<pe::HashRegion> ranges;

 private:
  const std::uint8_t* base_;
};

Result<pe::Authenticode> layout_of(const Bytes& bytes) {
  auto image = pe::Image::parse(view(bytes));
  if (!image) return std::unexpected(image.error());
  return pe::Authenticode::parse(*image);
}

ErrorCode error_of(const Bytes& bytes) {
  auto layout = layout_of(bytes);
  EXPECT_FALSE(layout.has_value());
  return layout ? ErrorCode{} : layout.error().code;
}

Bytes fake_pkcs7(std::size_t size) {
  Bytes content(size, 0x11);
  content[0] = 0x30;
  return content;
}

TEST(AuthenticodeRegions, SkipChecksumAndCertificateEntryThenSectionsThenOverlay) {
  const Bytes bytes = verify_app_image();
  auto layout = layout_of(bytes);
  ASSERT_TRUE(layout.has_value());
  const std::uint64_t entry = directory_offset(4);
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected = {
      {0, kOptCheckSum},
      {kOptCheckSum + 4, entry - (kOptCheckSum + 4)},
      {entry + 8, kSizeOfHeaders - (entry + 8)},
      {0x400, 0x200},   // .text
      {0x600, 0x400},   // .data
      {0xa00, 0x200},   // .sbat
      {0xc00, 100},     // overlay
  };
  ASSERT_EQ(layout->regions().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(layout->regions()[i].offset, expected[i].first) << i;
    EXPECT_EQ(layout->regions()[i].size, expected[i].second) << i;
  }
  EXPECT_EQ(layout->hashed_size(), bytes.size() - 12);
  EXPECT_FALSE(layout->certificate_table().has_value());

  RecordingHasher hasher(bytes);
  layout->hash(hasher);
  ASSERT_EQ(hasher.ranges.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(hasher.ranges[i].offset, expected[i].first) << i;
}

TEST(AuthenticodeRegions, SectionsInFileOrderAndZeroSizeSkipped) {
  Bytes bytes = PeBuilder()
                    .section(".a", Bytes(0x200, 1))
                    .section(".empty", Bytes{})
                    .section(".b", Bytes(0x200, 2))
                    .build();
  // Swap the raw data of .a and .b: memory order and file order now differ.
  put32(bytes, section_header_offset(0) + kSecPointerToRawData, 0x600);
  put32(bytes, section_header_offset(2) + kSecPointerToRawData, 0x400);
  auto layout = layout_of(bytes);
  ASSERT_TRUE(layout.has_value());
  ASSERT_EQ(layout->regions().size(), 5u);
  EXPECT_EQ(layout->regions()[3].offset, 0x400u);
  EXPECT_EQ(layout->regions()[4].offset, 0x600u);
}

TEST(AuthenticodeRegions, FewDirectoriesMeansNoCertificateEntry) {
  Bytes bytes = PeBuilder().section(".text", Bytes(16, 0xc3)).build();
  put32(bytes, kOptNumberOfRvaAndSizes, 4);
  auto layout = layout_of(bytes);
  ASSERT_TRUE(layout.has_value());
  EXPECT_EQ(layout->regions()[1].offset, kOptCheckSum + 4u);
  EXPECT_EQ(layout->regions()[1].size, kSizeOfHeaders - (kOptCheckSum + 4u));
}

TEST(AuthenticodeRegions, RejectsSectionRawDataOverlap) {
  Bytes bytes = PeBuilder().section(".a", Bytes(0x200, 1)).section(".b", Bytes(0x200, 2)).build();
  put32(bytes, section_header_offset(1) + kSecPointerToRawData, 0x500);
  EXPECT_EQ(error_of(bytes), ErrorCode::kOverlap);
  bytes = PeBuilder().section(".a", Bytes(0x200, 1)).build();
  put32(bytes, section_header_offset(0) + kSecPointerToRawData, 0x200);  // inside the headers
  EXPECT_EQ(error_of(bytes), ErrorCode::kOverlap);
}

TEST(CertificateTable, WalksEveryEntry) {
  const Bytes bytes = with_certificate_table(
      verify_app_image(), {win_certificate(fake_pkcs7(61)), win_certificate(fake_pkcs7(200))});
  auto layout = layout_of(bytes);
  ASSERT_TRUE(layout.has_value());
  ASSERT_EQ(layout->certificates().size(), 2u);
  EXPECT_EQ(layout->certificates()[0].length, 69u);
  EXPECT_EQ(layout->certificates()[0].content.size(), 61u);
  EXPECT_EQ(layout->certificates()[1].offset, layout->certificate_table()->offset + 72);
  // The trailing region stops at the table: the overlay and sbsign-style padding are hashed.
  const pe::HashRegion last = layout->regions().back();
  EXPECT_EQ(last.offset + last.size, layout->certificate_table()->offset);
  EXPECT_EQ(last.size, 104u);  // 100 overlay bytes + 4 bytes of padding to 8
}

TEST(CertificateTable, RejectsTableNotAtTheEndOfTheFile) {
  Bytes bytes = with_certificate_table(verify_app_image(), {win_certificate(fake_pkcs7(40))});
  bytes.resize(bytes.size() + 8, 0);
  EXPECT_EQ(error_of(bytes), ErrorCode::kMalformed);
}

TEST(CertificateTable, RejectsMisalignedTable) {
  Bytes bytes = with_certificate_table(verify_app_image(), {win_certificate(fake_pkcs7(40))});
  // Move the table start back 4 bytes into the padding, shrinking nothing else.
  const std::uint32_t offset = get32(bytes, directory_offset(4));
  put32(bytes, directory_offset(4), offset - 4);
  put32(bytes, directory_offset(4) + 4, get32(bytes, directory_offset(4) + 4) + 4);
  EXPECT_EQ(error_of(bytes), ErrorCode::kBadAlignment);
}

TEST(CertificateTable, RejectsTableOverlappingASectionOrTheHeaders) {
  Bytes image = PeBuilder().section(".text", Bytes(0x200, 0xc3)).build();
  Bytes bytes = with_certificate_table(image, {win_certificate(fake_pkcs7(40))});
  const std::uint32_t size = static_cast<std::uint32_t>(bytes.size());
  put32(bytes, directory_offset(4), 0x400);  // the section's raw data, to the end of the file
  put32(bytes, directory_offset(4) + 4, size - 0x400);
  EXPECT_EQ(error_of(bytes), ErrorCode::kOverlap);
  put32(bytes, directory_offset(4), 0x200);  // into the headers
  put32(bytes, directory_offset(4) + 4, size - 0x200);
  EXPECT_EQ(error_of(bytes), ErrorCode::kOverlap);
}

TEST(CertificateTable, RejectsOverflowingDirectory) {
  Bytes bytes = with_certificate_table(verify_app_image(), {win_certificate(fake_pkcs7(40))});
  put32(bytes, directory_offset(4) + 4, 0xfffffff8);
  EXPECT_FALSE(layout_of(bytes).has_value());
  put32(bytes, directory_offset(4), 0xfffffff8);
  EXPECT_FALSE(layout_of(bytes).has_value());
}

TEST(CertificateTable, RejectsInconsistentLengths) {
  const Bytes base = with_certificate_table(verify_app_image(), {win_certificate(fake_pkcs7(48))});
  const std::uint32_t table = get32(base, directory_offset(4));
  Bytes bytes = base;
  put32(bytes, table, 7);  // below the header
  EXPECT_EQ(error_of(bytes), ErrorCode::kMalformed);
  bytes = base;
  put32(bytes, table, 57);  // past what remains
  EXPECT_EQ(error_of(bytes), ErrorCode::kOutOfRange);
  bytes = base;
  put32(bytes, table, 0xffffffff);  // would wrap to 0 when rounded up in 32 bits
  EXPECT_EQ(error_of(bytes), ErrorCode::kOutOfRange);
  // dwLength fits, but rounded up to 8 it runs past the table (table size not a multiple of 8).
  bytes = with_certificate_table(verify_app_image(), {win_certificate(fake_pkcs7(44))});
  bytes.resize(bytes.size() - 4);
  put32(bytes, directory_offset(4) + 4, get32(bytes, directory_offset(4) + 4) - 4);
  EXPECT_EQ(error_of(bytes), ErrorCode::kOutOfRange);
  // A truncated header (fewer than 8 bytes left after an entry).
  bytes = with_certificate_table(verify_app_image(), {win_certificate(fake_pkcs7(48))});
  bytes.resize(bytes.size() + 4, 0);
  put32(bytes, directory_offset(4) + 4, get32(bytes, directory_offset(4) + 4) + 4);
  EXPECT_FALSE(layout_of(bytes).has_value());
}

TEST(CertificateTable, RejectsOtherRevisionsAndTypes) {
  EXPECT_EQ(error_of(with_certificate_table(verify_app_image(),
                                            {win_certificate(fake_pkcs7(40), 0x0100)})),
            ErrorCode::kUnsupported);
  EXPECT_EQ(error_of(with_certificate_table(verify_app_image(),
                                            {win_certificate(fake_pkcs7(40), 0x0200, 0x0001)})),
            ErrorCode::kUnsupported);
}

TEST(CertificateTable, RejectsNonZeroPadding) {
  Bytes bytes = with_certificate_table(verify_app_image(), {win_certificate(fake_pkcs7(41))});
  bytes.back() = 0x55;
  EXPECT_EQ(error_of(bytes), ErrorCode::kMalformed);
}

TEST(CertificateTable, BoundsTheNumberOfEntries) {
  std::vector<Bytes> entries(pe::kMaxCertificates, win_certificate(fake_pkcs7(8)));
  EXPECT_TRUE(layout_of(with_certificate_table(verify_app_image(), entries)).has_value());
  entries.push_back(win_certificate(fake_pkcs7(8)));
  EXPECT_EQ(error_of(with_certificate_table(verify_app_image(), entries)), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace efikexec::testing
