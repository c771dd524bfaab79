// SPDX-License-Identifier: MIT
// gnu-efi spells every EFI type and table; this is the one place the core includes it.
#pragma once

extern "C" {
#include <efi.h>
#include <efiapi.h>
}

#include <cstdint>
#include <cstring>

namespace efikexec::efi {

inline bool guid_equal(const EFI_GUID& a, const EFI_GUID& b) {
  return std::memcmp(&a, &b, sizeof(EFI_GUID)) == 0;
}

inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr std::uint64_t pages_to_bytes(std::uint64_t pages) { return pages * kPageSize; }
inline constexpr std::uint64_t bytes_to_pages(std::uint64_t bytes) {
  return (bytes + kPageSize - 1) / kPageSize;
}

}  // namespace efikexec::efi
