// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "pe_loader/sbat.hpp"
#include "verify/verify_images.hpp"

namespace efikexec::testing {
namespace {

ByteView text_view(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::array<pe::SbatEntry, pe::kMaxSbatEntries> g_rows;
std::array<pe::SbatLevelEntry, pe::kMaxSbatEntries> g_level_rows;

Result<std::span<pe::SbatEntry>> section(std::string_view text) {
  return pe::parse_sbat_section(text_view(text), g_rows);
}

Result<pe::SbatLevel> level(std::string_view text) {
  return pe::parse_sbat_level(text_view(text), g_level_rows);
}

TEST(SbatSection, ParsesRows) {
  auto rows = section(kAppSbat);
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].component, "sbat");
  EXPECT_EQ((*rows)[1].component, "efikexec-test");
  EXPECT_EQ((*rows)[1].generation, 1u);
  EXPECT_EQ((*rows)[1].vendor, "efikexec");
  EXPECT_EQ((*rows)[1].package, "efikexec-test");
  EXPECT_EQ((*rows)[1].version, "1");
  EXPECT_EQ((*rows)[1].url, "https://example.invalid/efikexec");
  EXPECT_EQ((*rows)[1].offset, kAppSbat.find("efikexec-test"));
}

TEST(SbatSection, NulPaddingEndsTheTextAndBlankRowsAreSkipped) {
  std::string text = "a,2,v,p,1,u\n\nb,3,v,p,1,u,with,commas\n";
  text.append(16, '\0');
  auto rows = section(text);
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].url, "u,with,commas");
  EXPECT_TRUE(section(std::string(8, '\0'))->empty());
}

TEST(SbatSection, RejectsBadRows) {
  EXPECT_EQ(section("a,1,v,p,1\n").error().code, ErrorCode::kMalformed);        // five fields
  EXPECT_EQ(section("a,1,v,p,1,u").error().code, ErrorCode::kMalformed);        // no newline
  EXPECT_EQ(section(",1,v,p,1,u\n").error().code, ErrorCode::kMalformed);       // no component
  EXPECT_EQ(section("a,x,v,p,1,u\n").error().code, ErrorCode::kMalformed);      // not a number
  EXPECT_EQ(section("a,,v,p,1,u\n").error().code, ErrorCode::kMalformed);       // empty
  EXPECT_EQ(section("a,-1,v,p,1,u\n").error().code, ErrorCode::kMalformed);
  EXPECT_EQ(section("a,4294967296,v,p,1,u\n").error().code, ErrorCode::kOverflow);
  EXPECT_EQ(section("a,4294967295,v,p,1,u\n")->front().generation, 4294967295u);
  const std::string nul("a,1,v,p,1,u\n\0b,1,v,p,1,u\n", 25);
  auto embedded = section(nul);
  ASSERT_FALSE(embedded.has_value());
  EXPECT_EQ(embedded.error().code, ErrorCode::kMalformed);
  EXPECT_EQ(embedded.error().offset, 12u);
}

TEST(SbatSection, BoundsTheRowCount) {
  std::string text;
  for (std::size_t i = 0; i <= pe::kMaxSbatEntries; ++i) text += "a,1,v,p,1,u\n";
  EXPECT_EQ(section(text).error().code, ErrorCode::kNoMemory);
}

TEST(SbatLevelText, ParsesTheShimFormat) {
  auto parsed = level("sbat,1,2024010900\nshim,4\ngrub,3\ngrub.debian,4\n");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->datestamp, "2024010900");
  ASSERT_EQ(parsed->entries.size(), 4u);
  EXPECT_EQ(parsed->entries[3].component, "grub.debian");
  EXPECT_EQ(parsed->entries[3].generation, 4u);
  EXPECT_TRUE(level("sbat,1\nshim,2").has_value());  // hand-written: no final newline
}

TEST(SbatLevelText, RejectsBadLevels) {
  EXPECT_EQ(level("shim,1\n").error().code, ErrorCode::kMalformed);
  EXPECT_EQ(level("sbat,1,2024\nshim\n").error().code, ErrorCode::kMalformed);
  EXPECT_EQ(level("sbat,1,2024\nshim,two\n").error().code, ErrorCode::kMalformed);
  EXPECT_EQ(level("").error().code, ErrorCode::kMalformed);
}

TEST(SbatCheck, BelowTheLevelIsRevokedAtOrAboveIsNot) {
  auto rows = section("sbat,1,S,sbat,1,u\ngrub,3,G,grub,2.06,u\ngrub.debian,4,D,grub2,2.06,u\n");
  ASSERT_TRUE(rows.has_value());
  std::array<pe::SbatLevelEntry, 8> storage;
  auto at = pe::parse_sbat_level(text_view("sbat,1,2024\ngrub,3\ngrub.debian,4\n"), storage);
  ASSERT_TRUE(at.has_value());
  EXPECT_FALSE(pe::find_sbat_violation(*rows, at->entries).has_value());
  auto above = pe::parse_sbat_level(text_view("sbat,1,2024\ngrub,3\ngrub.debian,5\n"), storage);
  ASSERT_TRUE(above.has_value());
  auto violation = pe::find_sbat_violation(*rows, above->entries);
  ASSERT_TRUE(violation.has_value());
  EXPECT_EQ(violation->entry->component, "grub.debian");
  EXPECT_EQ(violation->level->generation, 5u);
  // Components the image does not have are no concern.
  auto other = pe::parse_sbat_level(text_view("sbat,1,2024\nshim,9\n"), storage);
  EXPECT_FALSE(pe::find_sbat_violation(*rows, other->entries).has_value());
}

}  // namespace
}  // namespace efikexec::testing
