// SPDX-License-Identifier: MIT
// setup_data entries of the x86 Linux boot protocol (Documentation/arch/x86/boot.rst,
// arch/x86/include/uapi/asm/bootparam.h) that a loader adds to boot_params, and the fields of
// boot_params they hang from. SETUP_EFI tells a kernel entered after SetVirtualAddressMap() (by
// kexec, or by the payload after kexec_file_load) to run the firmware at the virtual addresses
// the running kernel gave it, instead of calling SetVirtualAddressMap() a second time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "uki/boot_params_offsets.hpp"

namespace efikexec::uki {

inline constexpr std::uint32_t kSetupEfi = 4;                 // SETUP_EFI
inline constexpr std::uint64_t kBootParamsSetupData = boot_params_offsets::kSetupData;
inline constexpr std::size_t kSetupDataHeader = 16;           // next (u64), type (u32), len (u32)
// struct efi_setup_data: fw_vendor, runtime (read by kernels before 5.7), tables, smbios,
// reserved[8]; all physical but `runtime`, the virtual address of the runtime services table.
inline constexpr std::size_t kEfiSetupData = 96;
// boot_params.efi_info: "EL64" for a 64-bit EFI boot, the system table (low, high).
inline constexpr std::size_t kBootParamsEfiLoaderSignature =
    boot_params_offsets::kEfiLoaderSignature;
inline constexpr std::size_t kBootParamsEfiSystemTable = boot_params_offsets::kEfiSystab;
inline constexpr std::size_t kBootParamsEfiSystemTableHigh = boot_params_offsets::kEfiSystabHi;

// The SETUP_EFI entry, as bytes: header (next, type, len) and struct efi_setup_data.
inline std::array<std::byte, kSetupDataHeader + kEfiSetupData> efi_setup_entry(
    std::uint64_t next, std::uint64_t fw_vendor, std::uint64_t runtime_services,
    std::uint64_t tables, std::uint64_t smbios) {
  std::array<std::byte, kSetupDataHeader + kEfiSetupData> entry{};
  auto put = [&entry](std::size_t offset, const void* value, std::size_t size) {
    std::memcpy(entry.data() + offset, value, size);
  };
  const std::uint32_t type = kSetupEfi;
  const auto length = static_cast<std::uint32_t>(kEfiSetupData);
  put(0, &next, 8);
  put(8, &type, 4);
  put(12, &length, 4);
  put(kSetupDataHeader + 0, &fw_vendor, 8);
  put(kSetupDataHeader + 8, &runtime_services, 8);
  put(kSetupDataHeader + 16, &tables, 8);
  put(kSetupDataHeader + 24, &smbios, 8);
  return entry;
}

}  // namespace efikexec::uki
