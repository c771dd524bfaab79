// SPDX-License-Identifier: MIT
// Base relocations: DIR64 applied, ABSOLUTE skipped, every malformed block rejected before any
// byte of the mapped image changes.
#include <gtest/gtest.h>

#include <cstring>

#include "pe_loader/pe_image.hpp"
#include "support/pe_builder.hpp"

namespace efikexec::testing {
namespace {

constexpr std::uint64_t kNewBase = 0x7f000000;

struct Mapped {
  Bytes file;
  std::vector<std::byte> memory;
};

// A .data section holding two pointers into the image at offsets 0 and 16.
Bytes data_with_pointers() {
  Bytes data(32, 0);
  put64(data, 0, kImageBase + 0x1000);
  put64(data, 16, kImageBase + 0x1008);
  return data;
}

Result<void> relocate(Mapped& m) {
  auto image = pe::Image::parse(view(m.file));
  if (!image) return std::unexpected(image.error());
  m.memory.assign(image->size_of_image(), std::byte{0});
  if (auto mapped = pe::map_image(*image, m.memory); !mapped) return mapped;
  return pe::relocate_image(*image, m.memory, kNewBase);
}

std::uint64_t load64(const std::vector<std::byte>& memory, std::size_t offset) {
  std::uint64_t value;
  std::memcpy(&value, memory.data() + offset, 8);
  return value;
}

TEST(Relocation, AppliesDir64AndSkipsAbsolute) {
  Mapped m{PeBuilder()
               .section(".data", data_with_pointers())
               .relocations({{0x1000, {0xa000, 0x0000, 0xa010, 0x0000}}})
               .build(),
           {}};
  ASSERT_TRUE(relocate(m).has_value());
  EXPECT_EQ(load64(m.memory, 0x1000), kNewBase + 0x1000);
  EXPECT_EQ(load64(m.memory, 0x1010), kNewBase + 0x1008);
}

TEST(Relocation, NoDirectoryIsNothingToDo) {
  Mapped m{PeBuilder().section(".data", data_with_pointers()).build(), {}};
  ASSERT_TRUE(relocate(m).has_value());
  EXPECT_EQ(load64(m.memory, 0x1000), kImageBase + 0x1000);
}

// Expects `blocks` (raw .reloc bytes) to be rejected and the image left as mapped.
void expect_rejected(Bytes reloc_bytes, const char* rule, std::uint32_t directory_size = 0) {
  PeBuilder builder;
  builder.section(".data", data_with_pointers());
  Bytes file = builder.relocations({}).build();
  // Replace the empty .reloc section with the hand-made bytes.
  auto image = pe::Image::parse(view(file));
  ASSERT_TRUE(image.has_value());
  const pe::Section* reloc = image->find_section(".reloc");
  ASSERT_NE(reloc, nullptr);
  std::uint32_t header = reloc->header_offset;
  std::uint32_t raw = static_cast<std::uint32_t>(file.size());
  file.resize(file.size() + 0x200, 0);
  std::copy(reloc_bytes.begin(), reloc_bytes.end(), file.begin() + raw);
  put32(file, header + kSecVirtualSize, 0x200);
  put32(file, header + kSecSizeOfRawData, 0x200);
  put32(file, header + kSecPointerToRawData, raw);
  put32(file, directory_offset(5) + 4,
        directory_size ? directory_size : static_cast<std::uint32_t>(reloc_bytes.size()));
  put32(file, kOptSizeOfImage, reloc->virtual_address + 0x1000);
  Mapped m{file, {}};
  auto result = relocate(m);
  ASSERT_FALSE(result.has_value()) << "expected: " << rule;
  EXPECT_NE(std::strstr(result.error().message, rule), nullptr) << result.error().message;
  EXPECT_EQ(load64(m.memory, 0x1000), kImageBase + 0x1000) << "image changed before rejection";
}

Bytes block(std::uint32_t page, std::uint32_t size, std::vector<std::uint16_t> entries) {
  Bytes out(8 + entries.size() * 2);
  put32(out, 0, page);
  put32(out, 4, size);
  for (std::size_t i = 0; i < entries.size(); ++i) put16(out, 8 + i * 2, entries[i]);
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Relocation, RejectsBlockSizeZero) {
  expect_rejected(block(0x1000, 0, {0xa000, 0}), "below 8");
}

TEST(Relocation, RejectsBlockSizeBelowEight) {
  expect_rejected(block(0x1000, 6, {0xa000, 0}), "below 8");
}

TEST(Relocation, RejectsOddBlockSize) {
  expect_rejected(block(0x1000, 11, {0xa000, 0}), "odd");
}

TEST(Relocation, RejectsBlockPastDirectory) {
  expect_rejected(block(0x1000, 64, {0xa000, 0}), "past the directory");
}

TEST(Relocation, RejectsTruncatedBlockHeader) {
  expect_rejected(concat(block(0x1000, 12, {0xa000, 0}), Bytes{1, 2, 3, 4}), "truncated");
}

TEST(Relocation, RejectsTargetOutsideImage) {
  expect_rejected(block(0x2000, 12, {0xaffc, 0}), "outside the image");
  expect_rejected(block(0xfffff000, 12, {0xa000, 0}), "outside the image");
}

TEST(Relocation, RejectsUnknownTypes) {
  expect_rejected(block(0x1000, 12, {0x3000, 0}), "DIR64");
}

TEST(Relocation, RejectsAFixupOfTheDirectoryItself) {
  expect_rejected(block(0x2000, 12, {0xa000, 0}), "relocation directory");
}

TEST(Relocation, ChecksAllBlocksBeforeApplyingAny) {
  // A good first block followed by a bad one must leave the first fixup unapplied.
  expect_rejected(concat(block(0x1000, 12, {0xa000, 0}), block(0x1000, 12, {0x5000, 0})),
                  "DIR64");
}

TEST(Relocation, WalksExactlyTheDirectorySize) {
  // Garbage after the directory's Size (section padding) is never read.
  Bytes bytes = concat(block(0x1000, 12, {0xa000, 0}), Bytes(8, 0xff));
  PeBuilder builder;
  builder.section(".data", data_with_pointers());
  builder.relocations({{0x1000, {0xa000, 0}}});
  Mapped m{builder.build(), {}};
  ASSERT_TRUE(relocate(m).has_value());
  EXPECT_EQ(load64(m.memory, 0x1000), kNewBase + 0x1000);
}

}  // namespace
}  // namespace efikexec::testing
