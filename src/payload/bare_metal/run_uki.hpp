// SPDX-License-Identifier: MIT
// Running a verified UKI on bare metal: after kexec_file_load started the payload (ring 0, an
// identity map of RAM, interrupts off) and it verified the UKI, this runs the UKI against the same
// shim the confined run uses, on the machine's real memory. The stub's ExitBootServices()
// succeeds and systemd-stub, then the Linux EFI stub, start the kernel themselves: nothing comes
// back unless something failed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <efikexec/error.hpp>

#include "efi_shim/file_volume.hpp"

namespace efikexec::payload {

// An e820 entry as boot_params carries it (type: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable,
// 7 persistent, others reserved).
struct E820Range {
  std::uint64_t address;
  std::uint64_t size;
  std::uint32_t type;
};

// One descriptor of boot_params.efi_info's memory map (the firmware's runtime regions, at the
// virtual addresses the first kernel chose).
struct EfiRuntimeDescriptor {
  std::uint32_t type;
  std::uint64_t physical_start;
  std::uint64_t virtual_start;
  std::uint64_t pages;
  std::uint64_t attribute;
};

struct BareMetalMachine {
  std::span<const E820Range> e820;                   // from boot_params
  std::span<const E820Range> in_use;                 // payload image, page tables, stack, bundle,
                                                     // boot_params, command line: never handed out
  std::span<const EfiRuntimeDescriptor> runtime_map;  // boot_params.efi_info memory map (may be empty)
  std::uint64_t acpi_rsdp;                           // 0 if unknown
  std::uint64_t efi_system_table;                    // real systab physical (0 if none)
  std::uint64_t setup_data;                          // boot_params.hdr.setup_data chain head
  // boot_params.secure_boot as the loading kernel set it (Linux's efi_secureboot_mode: 0 unset,
  // 1 unknown, 2 disabled, 3 enabled); what SecureBoot and SetupMode say to the images.
  std::uint8_t secure_boot = 0;
  // Resets the machine through the firmware (its ResetSystem()), when the caller found it; returns
  // only if the firmware did not reset. Null: the run resets through the ports.
  void (*firmware_reset)() = nullptr;
};

struct BareMetalRequest {
  std::span<const std::byte> uki;           // already verified by the caller; stays where it is
  std::span<const std::byte> extra_initrd;  // may be empty
  std::optional<std::uint32_t> profile;
  // Empty: the UKI's own command line. Otherwise it replaces the UKI's (replace_command_line) or
  // is appended to it, as `efikexec load --command-line` / `--append` do.
  std::string_view command_line;
  bool replace_command_line;
  // The ESP's files the stub reads (the volume's nodes, the UKI among them at `uki_path`, a
  // NUL-terminated `\`-separated path from the root); the caller marked each image it refused.
  // Empty: the UKI alone, at \EFI\Linux\uki.efi.
  std::span<const efi::VolumeNode> boot_volume = {};
  const CHAR16* uki_path = nullptr;
};

class SerialConsole {
 public:
  virtual void write(std::string_view) = 0;

 protected:
  ~SerialConsole() = default;
};

// Runs the UKI against the shim in ring 0 on the machine's memory; returns only on failure
// (the stub's own ExitBootServices() succeeds and it starts the kernel). What went wrong is also
// written on `serial`. When the UKI itself failed (LoadImage, or its entry point returned or
// called Exit()), the error's code is kImageFault and its offset the EFI status.
//
// What it expects of the caller:
//  - ring 0, interrupts off, DF clear, long mode with a flat 64-bit code segment, SSE enabled
//    (CR4.OSFXSR, CR0.EM clear): it loads MXCSR 0x1F80 and the x87 control word 0x037F itself;
//  - an identity map of all e820 RAM (the stubs and the kernel run on it until the kernel loads
//    its own CR3), and of the ACPI, NVS and runtime code/data ranges, which it reads to find the
//    firmware tables (reserved and MMIO ranges are never read);
//  - `in_use` naming every page that must survive until the kernel runs: the payload's code and
//    data, its stack, page tables, GDT and IDT, the UKI, the extra initrd, boot_params;
//  - about 16 KiB of the caller's stack (the images run on a 512 KiB stack the shim allocates);
//  - static storage for about 44 KiB of .bss (the machine map); the shim itself (about 260 KiB)
//    and its variable store (1 MiB) live in pages it sets aside from the map.
Error run_uki_on_bare_metal(const BareMetalMachine&, const BareMetalRequest&, SerialConsole&);

}  // namespace efikexec::payload
