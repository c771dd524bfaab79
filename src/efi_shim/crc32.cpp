// SPDX-License-Identifier: MIT
#include "efi_shim/crc32.hpp"

#include <array>

namespace efikexec::efi {

namespace {

// The reflected form of 0x04C11DB7, one table entry per byte value.
constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kTable = make_table();

}  // namespace

std::uint32_t crc32(std::span<const std::byte> bytes) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::byte b : bytes) c = kTable[(c ^ static_cast<std::uint8_t>(b)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

EFI_STATUS calculate_crc32(const void* data, UINTN data_size, UINT32* crc) {
  if (data == nullptr || data_size == 0 || crc == nullptr) return EFI_INVALID_PARAMETER;
  *crc = crc32({static_cast<const std::byte*>(data), data_size});
  return EFI_SUCCESS;
}

}  // namespace efikexec::efi
