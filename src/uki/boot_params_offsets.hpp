// SPDX-License-Identifier: MIT
// Where the fields of the x86 zero page (struct boot_params, Linux
// arch/x86/include/uapi/asm/bootparam.h; Documentation/arch/x86/zero-page.rst) are: one list
// for everything that reads or writes one (the payload's reader, the crash handoff).
#pragma once

#include <cstdint>

namespace efikexec::uki::boot_params_offsets {

inline constexpr std::uint64_t kAcpiRsdpAddr = 0x070;
inline constexpr std::uint64_t kExtRamdiskImage = 0x0c0;
inline constexpr std::uint64_t kExtRamdiskSize = 0x0c4;
inline constexpr std::uint64_t kExtCmdLinePtr = 0x0c8;
inline constexpr std::uint64_t kEfiLoaderSignature = 0x1c0;
inline constexpr std::uint64_t kEfiSystab = 0x1c4;
inline constexpr std::uint64_t kEfiMemdescSize = 0x1c8;
inline constexpr std::uint64_t kEfiMemdescVersion = 0x1cc;
inline constexpr std::uint64_t kEfiMemmap = 0x1d0;
inline constexpr std::uint64_t kEfiMemmapSize = 0x1d4;
inline constexpr std::uint64_t kEfiSystabHi = 0x1d8;
inline constexpr std::uint64_t kEfiMemmapHi = 0x1dc;
inline constexpr std::uint64_t kE820Entries = 0x1e8;
inline constexpr std::uint64_t kSecureBoot = 0x1ec;
inline constexpr std::uint64_t kHeaderMagic = 0x202;
inline constexpr std::uint64_t kVersion = 0x206;
inline constexpr std::uint64_t kCode32Start = 0x214;
inline constexpr std::uint64_t kRamdiskImage = 0x218;
inline constexpr std::uint64_t kRamdiskSize = 0x21c;
inline constexpr std::uint64_t kCmdLinePtr = 0x228;
inline constexpr std::uint64_t kCmdlineSize = 0x238;
inline constexpr std::uint64_t kSetupData = 0x250;
inline constexpr std::uint64_t kE820Table = 0x2d0;
inline constexpr std::uint64_t kE820EntrySize = 20;
inline constexpr std::uint64_t kE820TableMax = 128;  // E820_MAX_ENTRIES_ZEROPAGE

}  // namespace efikexec::uki::boot_params_offsets
