// SPDX-License-Identifier: MIT
// The firmware's runtime services for the kernel the run started (x86_64 Linux boot protocol).
// SetVirtualAddressMap() can be called once per firmware boot, so a kernel entered by kexec must
// run the firmware at the virtual addresses the running kernel gave it, as kexec-tools arranges
// it: a SETUP_EFI entry in boot_params' setup_data chain (Documentation/arch/x86/boot.rst; read
// by arch/x86/platform/efi/efi.c, efi_systab_init) tells the kernel so, and it then maps each
// runtime descriptor of its EFI memory map at its VirtualStart (kexec_enter_virtual_mode) and
// calls through the system table's RuntimeServices. The shim's memory map already carries those
// virtual addresses (src/efi_shim/memory.cpp), so the map the Linux stub copied into boot_params
// does too; what is written here, after the run, is the rest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "kexec/common/host_error.hpp"
#include "kexec/machine/machine.hpp"
#include "kexec/run/efi_run.hpp"
#include "uki/linux_setup_data.hpp"

namespace efikexec::kexec {

using uki::efi_setup_entry;
using uki::kBootParamsSetupData;
using uki::kEfiSetupData;
using uki::kSetupDataHeader;
using uki::kSetupEfi;

// Pages the handoff sets aside for it when the machine has firmware runtime services.
inline constexpr std::uint64_t kEfiSetupPages = 1;

// What the next kernel gets: the firmware's runtime services, or the shim's stubs (and why).
struct RuntimeHandover {
  bool firmware = false;
  std::string description;          // one sentence for the load report
  std::uint64_t setup_data = 0;     // where the SETUP_EFI entry is
  std::uint64_t runtime_services = 0;
  std::uint64_t config_tables = 0;  // the array SETUP_EFI names, and its length
  std::uint64_t config_table_count = 0;
};

// What the run's system table points the kernel at, read back from the run's memory as
// hostile: the vendor string, the runtime services table, and the configuration tables (ACPI,
// SMBIOS and what the image installed): the array, its length, and where each table is.
// Unexpected (in words) when the system table or the array lie outside the memory the run
// allocated, or the system table's signature was overwritten.
struct SystemTablePointers {
  std::uint64_t firmware_vendor = 0;
  std::uint64_t runtime_services = 0;
  std::uint64_t array = 0;
  std::uint64_t count = 0;
  std::vector<std::uint64_t> tables;  // each entry's VendorTable
};
std::expected<SystemTablePointers, std::string> read_system_table_pointers(const RunOutcome& run);

// Hands the firmware's runtime services to the kernel of `run` when the machine has them and
// the run left Linux boot_params: writes the SETUP_EFI entry at `page` (set aside by the run,
// kEfiSetupPages), links it first in boot_params' setup_data chain, and points the system table
// the kernel receives at the firmware's runtime services table (its CRC renewed). The boot
// params and system table are read back from the run's memory as hostile: they must lie in
// memory the run allocated, and the configuration table array the entry names too. Otherwise
// nothing is written and the result says why (the kernel then finds the shim's stubs, and runs
// without EFI runtime services). An error only when the run's memory cannot be written.
HostResult<RuntimeHandover> hand_over_runtime_services(const Machine& machine, RunOutcome& run,
                                                        std::uint64_t page);

}  // namespace efikexec::kexec
