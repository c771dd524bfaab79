// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <string_view>

#include "efi_shim/crc32.hpp"

namespace efikexec::efi {
namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

TEST(Crc32, MatchesTheIeeeCheckValues) {
  EXPECT_EQ(crc32(bytes_of("123456789")), 0xCBF43926u);
  EXPECT_EQ(crc32(bytes_of("")), 0u);
  EXPECT_EQ(crc32(bytes_of("The quick brown fox jumps over the lazy dog")), 0x414FA339u);
}

TEST(Crc32, CalculateCrc32ChecksItsArguments) {
  const char data[] = "123456789";
  UINT32 crc = 0;
  EXPECT_EQ(calculate_crc32(data, 9, &crc), EFI_SUCCESS);
  EXPECT_EQ(crc, 0xCBF43926u);
  EXPECT_EQ(calculate_crc32(nullptr, 9, &crc), EFI_INVALID_PARAMETER);
  EXPECT_EQ(calculate_crc32(data, 0, &crc), EFI_INVALID_PARAMETER);
  EXPECT_EQ(calculate_crc32(data, 9, nullptr), EFI_INVALID_PARAMETER);
}

// UEFI 2.10 §4.2: a table's CRC32 is computed over HeaderSize bytes with the field set to 0;
// recomputing over the finished header with the field zeroed again gives the same value.
TEST(Crc32, TableHeaderRoundTrip) {
  EFI_TABLE_HEADER header{EFI_SYSTEM_TABLE_SIGNATURE, (2 << 16) | 100, sizeof(EFI_TABLE_HEADER), 0, 0};
  header.CRC32 = crc32({reinterpret_cast<const std::byte*>(&header), sizeof(header)});
  EFI_TABLE_HEADER copy = header;
  copy.CRC32 = 0;
  EXPECT_EQ(crc32({reinterpret_cast<const std::byte*>(&copy), sizeof(copy)}), header.CRC32);
}

}  // namespace
}  // namespace efikexec::efi
