// SPDX-License-Identifier: MIT
// The firmware's runtime services as the running kernel left them: the runtime regions with the
// virtual addresses it gave them in SetVirtualAddressMap() (/sys/firmware/efi/runtime-map), the
// runtime services table, the firmware vendor string and the configuration table. A kernel
// started by kexec must run the firmware at those same addresses: SetVirtualAddressMap() can be
// called once per firmware boot (UEFI 2.10 §8.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kexec/common/host_error.hpp"

namespace efikexec::kexec {

// One entry of /sys/firmware/efi/runtime-map (drivers/firmware/efi/runtime-map.c).
struct RuntimeRegion {
  std::uint64_t physical;
  std::uint64_t virtual_address;
  std::uint64_t pages;  // of 4 KiB
  std::uint32_t type;   // EFI_MEMORY_TYPE
  std::uint64_t attribute;

  std::uint64_t end() const { return physical + pages * 4096; }
};

struct FirmwareRuntime {
  std::vector<RuntimeRegion> regions;  // sorted by physical address, disjoint
  // The runtime services table at the virtual address the firmware runs at now (what a kernel
  // entered by kexec calls through), and as the running kernel reports it (/sys/.../runtime:
  // physical after a firmware boot, already virtual after a kexec).
  std::uint64_t runtime_services = 0;
  std::uint64_t runtime_reported = 0;
  std::uint64_t fw_vendor = 0;     // physical (/sys/firmware/efi/fw_vendor)
  std::uint64_t config_table = 0;  // physical (/sys/firmware/efi/config_table)
};

// What an EFI machine offers a next kernel: the runtime facts, or in words why there are none
// (the kernel exposes no runtime map: CONFIG_EFI_RUNTIME_MAP unset, or efi=noruntime).
struct FirmwareRuntimeFacts {
  std::optional<FirmwareRuntime> runtime;
  std::string unavailable;
};

// Reads EFI_DIR (normally /sys/firmware/efi); of the runtime map only the entries marked
// EFI_MEMORY_RUNTIME (a kernel started by efikexec lists its whole map there). A missing runtime
// map or runtime file is
// `unavailable`; an entry that is there but malformed (a file missing or not a number, an
// unaligned or wrapping range, overlapping entries, a runtime table outside every region) is an
// error (Stage::kMachine) naming the file.
HostResult<FirmwareRuntimeFacts> read_firmware_runtime(const std::string& efi_dir);

}  // namespace efikexec::kexec
