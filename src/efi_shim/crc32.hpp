// SPDX-License-Identifier: MIT
// CRC-32 as EFI uses it (UEFI 2.10 §4.2: table header CRC32 "using a standard CCITT32 CRC
// algorithm with a seed polynomial value of 0x04c11db7"): the reflected IEEE 802.3 CRC, initial
// value 0xFFFFFFFF, final complement, crc32("123456789") == 0xCBF43926.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "efi_shim/efi_types.hpp"

namespace efikexec::efi {

std::uint32_t crc32(std::span<const std::byte> bytes);

// BS.CalculateCrc32 (UEFI 2.10 §7.5.5): EFI_INVALID_PARAMETER for a NULL Data or Crc32, or a
// DataSize of 0 (as EDK2 checks).
EFI_STATUS calculate_crc32(const void* data, UINTN data_size, UINT32* crc);

}  // namespace efikexec::efi
