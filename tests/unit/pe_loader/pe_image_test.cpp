// SPDX-License-Identifier: MIT
// Every validation rule of pe::Image::parse, each with an image broken in exactly one place.
#include <gtest/gtest.h>

#include <cstring>

#include "pe_loader/pe_image.hpp"
#include "support/pe_builder.hpp"

namespace efikexec::testing {
namespace {

Bytes valid_image() {
  return PeBuilder()
      .section(".text", Bytes(100, 0xc3), 0x60000020)
      .section(".data", Bytes(300, 0x11), 0xc0000040, 0x2000)
      .build();
}

// Parses `bytes` and expects rejection with `code` and a message containing `rule`.
void expect_rejected(const Bytes& bytes, ErrorCode code, const char* rule,
                     std::optional<std::uint64_t> offset = std::nullopt) {
  auto image = pe::Image::parse(view(bytes));
  ASSERT_FALSE(image.has_value()) << "expected rejection: " << rule;
  EXPECT_EQ(image.error().code, code) << image.error().message;
  EXPECT_NE(std::strstr(image.error().message, rule), nullptr) << image.error().message;
  if (offset) {
    EXPECT_EQ(image.error().offset, *offset);
  }
}

TEST(PeImage, ParsesAValidImage) {
  Bytes bytes = valid_image();
  auto image = pe::Image::parse(view(bytes));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_TRUE(image->is_x86_64());
  EXPECT_EQ(image->image_base(), kImageBase);
  EXPECT_EQ(image->size_of_image(), 0x4000u);
  ASSERT_EQ(image->sections().size(), 2u);
  EXPECT_EQ(image->sections()[0].name(), ".text");
  EXPECT_EQ(image->sections()[1].memory_size(), 0x2000u);
  EXPECT_EQ(image->sections()[1].copy_size(), 0x200u);  // raw data, padded to FileAlignment
  EXPECT_EQ(image->checksum_field_offset(), kOptCheckSum);
  EXPECT_EQ(image->overlay_size(), 0u);
  ASSERT_NE(image->find_section(".data"), nullptr);
  EXPECT_EQ(image->find_section(".nope"), nullptr);
}

TEST(PeImage, ReportsTheOverlay) {
  Bytes bytes = PeBuilder().section(".text", Bytes(16, 0xc3)).overlay(Bytes(24, 7)).build();
  auto image = pe::Image::parse(view(bytes));
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->overlay_size(), 24u);
  EXPECT_EQ(image->end_of_raw_data(), bytes.size() - 24);
}

TEST(PeImage, RejectsEmptyAndTinyFiles) {
  expect_rejected(Bytes{}, ErrorCode::kTruncated, "DOS header");
  expect_rejected(Bytes(63, 0), ErrorCode::kTruncated, "DOS header");
}

TEST(PeImage, RejectsMissingMz) {
  Bytes bytes = valid_image();
  bytes[0] = 'X';
  expect_rejected(bytes, ErrorCode::kBadMagic, "MZ", 0);
}

TEST(PeImage, RejectsELfanewInsideDosHeader) {
  Bytes bytes = valid_image();
  put32(bytes, 0x3c, 0x20);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "e_lfanew", 0x3c);
}

TEST(PeImage, RejectsELfanewPastEnd) {
  Bytes bytes = valid_image();
  put32(bytes, 0x3c, static_cast<std::uint32_t>(bytes.size() - 10));
  expect_rejected(bytes, ErrorCode::kOutOfRange, "e_lfanew", 0x3c);
  put32(bytes, 0x3c, 0xfffffff0);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "e_lfanew", 0x3c);
}

TEST(PeImage, RejectsMissingPeSignature) {
  Bytes bytes = valid_image();
  bytes[kPeOffset + 1] = 'X';
  expect_rejected(bytes, ErrorCode::kBadMagic, "PE signature", kPeOffset);
}

TEST(PeImage, RejectsTruncatedHeaders) {
  Bytes bytes = valid_image();
  bytes.resize(kOptionalOffset + 50);
  expect_rejected(bytes, ErrorCode::kTruncated, "optional header");
  bytes = valid_image();
  bytes.resize(kSectionTableOffset + 20);  // the headers SizeOfHeaders promises are cut short
  expect_rejected(bytes, ErrorCode::kOutOfRange, "SizeOfHeaders");
}

TEST(PeImage, RejectsPe32AndUnknownMagic) {
  Bytes bytes = valid_image();
  put16(bytes, kOptionalOffset, 0x10b);
  expect_rejected(bytes, ErrorCode::kUnsupported, "PE32 ");
  put16(bytes, kOptionalOffset, 0x777);
  expect_rejected(bytes, ErrorCode::kBadMagic, "optional header magic");
}

TEST(PeImage, RejectsNumberOfRvaAndSizesAbove16) {
  Bytes bytes = valid_image();
  put32(bytes, kOptNumberOfRvaAndSizes, 17);
  expect_rejected(bytes, ErrorCode::kMalformed, "above 16", kOptNumberOfRvaAndSizes);
}

TEST(PeImage, RejectsNumberOfRvaAndSizesDisagreeingWithOptionalHeaderSize) {
  Bytes bytes = valid_image();
  put16(bytes, kCoffOffset + 16, 112 + 4 * 8);  // room for 4 directories, 16 declared
  expect_rejected(bytes, ErrorCode::kMalformed, "SizeOfOptionalHeader");
}

TEST(PeImage, TreatsDirectoriesBeyondNumberOfRvaAndSizesAsAbsent) {
  Bytes bytes = PeBuilder().section(".text", Bytes(8, 0xc3)).relocations({}).build();
  put32(bytes, directory_offset(5) + 4, 8);
  put32(bytes, kOptNumberOfRvaAndSizes, 5);  // no relocation directory entry
  auto image = pe::Image::parse(view(bytes));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_FALSE(image->directory(pe::DirectoryIndex::kBaseRelocation).has_value());
  EXPECT_FALSE(image->directory_entry_offset(pe::DirectoryIndex::kBaseRelocation).has_value());
  put32(bytes, kOptNumberOfRvaAndSizes, 4);  // not even a certificate directory
  image = pe::Image::parse(view(bytes));
  ASSERT_TRUE(image.has_value());
  EXPECT_FALSE(image->directory_entry_offset(pe::DirectoryIndex::kCertificate).has_value());
}

TEST(PeImage, RejectsAlignmentsThatAreNotPowersOfTwo) {
  Bytes bytes = valid_image();
  put32(bytes, kOptSectionAlignment, 0);
  expect_rejected(bytes, ErrorCode::kBadAlignment, "SectionAlignment");
  bytes = valid_image();
  put32(bytes, kOptFileAlignment, 0x300);
  expect_rejected(bytes, ErrorCode::kBadAlignment, "FileAlignment");
}

TEST(PeImage, RejectsSizeOfHeadersPastFile) {
  Bytes bytes = valid_image();
  put32(bytes, kOptSizeOfHeaders, static_cast<std::uint32_t>(bytes.size() + 1));
  expect_rejected(bytes, ErrorCode::kOutOfRange, "SizeOfHeaders");
}

TEST(PeImage, RejectsSizeOfImageBelowSizeOfHeaders) {
  Bytes bytes = valid_image();
  put32(bytes, kOptSizeOfImage, kSizeOfHeaders - 1);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "SizeOfImage");
}

TEST(PeImage, RejectsEntryPointOutsideImage) {
  Bytes bytes = valid_image();
  put32(bytes, kOptEntryPoint, 0x4000);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "AddressOfEntryPoint");
}

TEST(PeImage, RejectsSectionTablePastSizeOfHeaders) {
  Bytes bytes = valid_image();
  put16(bytes, kCoffOffset + 2, 40);  // 40 headers do not fit in 0x400 bytes of headers
  expect_rejected(bytes, ErrorCode::kOutOfRange, "SizeOfHeaders");
}

TEST(PeImage, RejectsSectionTablePastEndOfFile) {
  Bytes bytes = valid_image();
  put32(bytes, kOptSizeOfHeaders, 0x1000);  // large enough that only the file end stops it
  put32(bytes, kOptSizeOfImage, 0x4000);
  bytes.resize(0x1000);
  put16(bytes, kCoffOffset + 2, 96);
  expect_rejected(bytes, ErrorCode::kTruncated, "section table");
}

TEST(PeImage, RejectsTooManySections) {
  Bytes bytes = valid_image();
  put16(bytes, kCoffOffset + 2, 97);
  expect_rejected(bytes, ErrorCode::kUnsupported, "96 sections");
}

TEST(PeImage, RejectsSectionPastSizeOfImage) {
  Bytes bytes = valid_image();
  put32(bytes, section_header_offset(1) + kSecVirtualSize, 0x2001);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "past SizeOfImage", section_header_offset(1));
}

TEST(PeImage, RejectsSectionAddressOverflow) {
  Bytes bytes = valid_image();
  put32(bytes, section_header_offset(1) + kSecVirtualAddress, 0xfffff000);
  put32(bytes, section_header_offset(1) + kSecVirtualSize, 0x2000);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "past SizeOfImage");
}

TEST(PeImage, RejectsRawDataPastEndOfFile) {
  Bytes bytes = valid_image();
  put32(bytes, section_header_offset(1) + kSecSizeOfRawData, 0x10000);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "raw data", section_header_offset(1));
  bytes = valid_image();
  put32(bytes, section_header_offset(1) + kSecPointerToRawData, 0xffffff00);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "raw data");
}

TEST(PeImage, RejectsOverlappingSections) {
  Bytes bytes = valid_image();
  put32(bytes, section_header_offset(1) + kSecVirtualAddress, 0x1010);
  expect_rejected(bytes, ErrorCode::kOverlap, "overlap", section_header_offset(1));
}

TEST(PeImage, RejectsSectionOverlappingHeaders) {
  Bytes bytes = valid_image();
  put32(bytes, section_header_offset(0) + kSecVirtualAddress, 0x200);
  expect_rejected(bytes, ErrorCode::kOverlap, "headers");
}

TEST(PeImage, AcceptsGapsAndEmptySections) {
  Bytes bytes = PeBuilder()
                    .section(".text", Bytes(16, 0xc3))
                    .section(".empty", Bytes{}, 0x40000040, 0)
                    .section(".data", Bytes(16, 1))
                    .build();
  auto image = pe::Image::parse(view(bytes));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->sections()[1].memory_size(), 0u);
}

TEST(PeImage, RejectsDirectoryPastSizeOfImage) {
  Bytes bytes = valid_image();
  put32(bytes, directory_offset(6), 0x3f00);
  put32(bytes, directory_offset(6) + 4, 0x200);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "data directory", directory_offset(6));
}

TEST(PeImage, RejectsCertificateTablePastEndOfFile) {
  Bytes bytes = valid_image();
  put32(bytes, directory_offset(4), static_cast<std::uint32_t>(bytes.size() - 8));
  put32(bytes, directory_offset(4) + 4, 16);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "certificate table", directory_offset(4));
  put32(bytes, directory_offset(4), 0xfffffff8);
  expect_rejected(bytes, ErrorCode::kOutOfRange, "certificate table");
}

TEST(PeImage, MapsHeadersSectionsAndZeroFilledTails) {
  Bytes bytes = valid_image();
  auto image = pe::Image::parse(view(bytes));
  ASSERT_TRUE(image.has_value());
  std::vector<std::byte> memory(image->size_of_image(), std::byte{0xee});
  ASSERT_TRUE(pe::map_image(*image, memory).has_value());
  EXPECT_EQ(std::memcmp(memory.data(), bytes.data(), kSizeOfHeaders), 0);
  EXPECT_EQ(memory[0x1000], std::byte{0xc3});
  EXPECT_EQ(memory[0x1000 + 99], std::byte{0xc3});
  EXPECT_EQ(memory[0x1000 + 100], std::byte{0});  // zero tail inside the raw padding
  EXPECT_EQ(memory[0x2000], std::byte{0x11});
  EXPECT_EQ(memory[0x2000 + 300], std::byte{0});
  EXPECT_EQ(memory[0x3fff], std::byte{0});        // VirtualSize beyond raw data: zero
  std::vector<std::byte> small(image->size_of_image() - 1);
  EXPECT_FALSE(pe::map_image(*image, small).has_value());
}

TEST(PeImage, CopiesOnlyVirtualSizeWhenRawDataIsLarger) {
  Bytes bytes = valid_image();
  put32(bytes, section_header_offset(0) + kSecVirtualSize, 10);
  auto image = pe::Image::parse(view(bytes));
  ASSERT_TRUE(image.has_value());
  std::vector<std::byte> memory(image->size_of_image());
  ASSERT_TRUE(pe::map_image(*image, memory).has_value());
  EXPECT_EQ(memory[0x1000 + 9], std::byte{0xc3});
  EXPECT_EQ(memory[0x1000 + 10], std::byte{0});
}

}  // namespace
}  // namespace efikexec::testing
