// SPDX-License-Identifier: MIT
// TEMPORARY copy of the contract of src/payload/bare_metal/run_uki.hpp, used only while that
// directory does not exist (src/payload/sources.cmake picks the real one when it does). The
// declarations are exactly the agreed ones; drop this directory with bare_metal_run_stub.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <efikexec/error.hpp>

namespace efikexec::payload {
struct E820Range { std::uint64_t address; std::uint64_t size; std::uint32_t type; };
struct EfiRuntimeDescriptor { std::uint32_t type; std::uint64_t physical_start; std::uint64_t virtual_start; std::uint64_t pages; std::uint64_t attribute; };
struct BareMetalMachine {
  std::span<const E820Range> e820;                    // from boot_params
  std::span<const E820Range> in_use;                   // payload image, page tables, stack, bundle, boot_params, command line: never handed out
  std::span<const EfiRuntimeDescriptor> runtime_map;   // boot_params.efi_info memory map (may be empty)
  std::uint64_t acpi_rsdp;                             // 0 if unknown
  std::uint64_t efi_system_table;                      // real systab physical (0 if none)
  std::uint64_t setup_data;                            // boot_params.hdr.setup_data chain head (SETUP_EFI etc.)
};
struct BareMetalRequest {
  std::span<const std::byte> uki;          // already verified by the caller; stays where it is
  std::span<const std::byte> extra_initrd; // may be empty
  std::optional<std::uint32_t> profile;
  std::string_view command_line;           // may be empty
  bool replace_command_line;               // false: appended
};
class SerialConsole { public: virtual void write(std::string_view) = 0; protected: ~SerialConsole() = default; };
// Runs the UKI against the shim in ring 0 on the machine's memory; returns only on failure
// (the stub's own ExitBootServices() succeeds and it starts the kernel).
Error run_uki_on_bare_metal(const BareMetalMachine&, const BareMetalRequest&, SerialConsole&);
}
