// SPDX-License-Identifier: MIT
// run_uki_on_bare_metal() with its machine-facing services passed in: the real function passes
// the ring-0 ones (bare_metal_host.hpp); tests pass fakes for what a test process cannot do
// (port I/O, physical memory at fixed addresses, the end of the run).
#pragma once

#include "efi_shim/host.hpp"
#include "efi_shim/variables.hpp"
#include "payload/bare_metal/firmware_tables.hpp"
#include "payload/bare_metal/machine_map.hpp"
#include "payload/bare_metal/run_uki.hpp"

namespace efikexec::payload {

struct BareMetalServices {
  // Null: IdentityPhysicalMemory over the machine map (the real machine).
  efi::PhysicalMemory* memory = nullptr;
  // Null: IdentityReader over the machine map.
  PhysicalReader* reader = nullptr;
  efi::Clock* clock = nullptr;
  efi::Random* random = nullptr;
  efi::ImageRunner* runner = nullptr;
  efi::RunEndSink* run_end = nullptr;
  efi::TraceSink* trace = nullptr;  // null: no trace
};

// Pages set aside before the shim starts, typed EfiBootServicesData: the Shim object itself and
// the variable store's backing (the next kernel gets them back as RAM).
inline constexpr std::uint64_t kVariableStorageBytes = 1 << 20;
inline constexpr std::uint64_t kEfiStackPages = 128;  // 512 KiB, as the confined run gives

// The firmware's Secure Boot state for the images, from the loading kernel's word for it
// (boot_params.secure_boot, which that kernel sets itself, not user space): SecureBoot and
// SetupMode as read-only variables, so that systemd-stub keeps its .cmdline under Secure Boot
// and the Linux EFI stub tells the next kernel to lock down as the first one did. An unset or
// unknown mode adds nothing (the stubs then act as on firmware without the variables).
Result<void> add_secure_boot_variables(efi::VariableStore& variables, std::uint8_t secure_boot);

// `map` is scratch the caller provides (large: static storage on bare metal). Returns only when
// the UKI could not be started or came back without starting its kernel.
Error run_uki_with(const BareMetalMachine& machine, const BareMetalRequest& request,
                   SerialConsole& serial, const BareMetalServices& services, MachineMap& map);

}  // namespace efikexec::payload
