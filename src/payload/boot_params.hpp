// SPDX-License-Identifier: MIT
// The zero page the kernel's kexec_file_load fills for the payload (Linux
// arch/x86/include/uapi/asm/bootparam.h, Documentation/arch/x86/zero-page.rst): one page at
// RSI, read only through the bounds-checked ByteView, field by field at its documented offset.
// The EFI memory map it points to and the setup_data nodes are read the same way once the
// caller has a view of them.
#pragma once

#include <cstdint>
#include <span>

#include "pe_loader/byte_view.hpp"

namespace efikexec::payload {

inline constexpr std::size_t kBootParamsSize = 4096;
inline constexpr std::size_t kMaxE820Entries = 128;  // E820_MAX_ENTRIES_ZEROPAGE

inline constexpr std::uint32_t kE820Ram = 1;
inline constexpr std::uint32_t kE820Reserved = 2;
inline constexpr std::uint32_t kE820Acpi = 3;
inline constexpr std::uint32_t kE820Nvs = 4;
inline constexpr std::uint32_t kE820Unusable = 5;

// "EL64": the efi_loader_signature of a 64-bit EFI boot.
inline constexpr std::uint32_t kEfiLoaderSignature64 = 0x34364c45;

struct E820Entry {
  std::uint64_t address;
  std::uint64_t size;
  std::uint32_t type;
};

struct EfiInfo {
  std::uint32_t loader_signature = 0;
  std::uint64_t system_table = 0;     // efi_systab | efi_systab_hi << 32
  std::uint32_t descriptor_size = 0;
  std::uint32_t descriptor_version = 0;
  std::uint64_t memory_map = 0;       // efi_memmap | efi_memmap_hi << 32
  std::uint32_t memory_map_size = 0;
};

struct BootParamsFacts {
  std::uint64_t acpi_rsdp = 0;
  std::uint8_t secure_boot = 0;        // 0 unknown, 1 disabled, 2 ... 3 enabled
  std::uint16_t protocol_version = 0;
  std::uint64_t ramdisk_address = 0;   // ramdisk_image | ext_ramdisk_image << 32
  std::uint64_t ramdisk_size = 0;      // ramdisk_size | ext_ramdisk_size << 32
  std::uint64_t command_line = 0;      // cmd_line_ptr | ext_cmd_line_ptr << 32
  std::uint32_t command_line_size = 0; // the header's cmdline_size: the longest it may be
  std::uint64_t setup_data = 0;
  EfiInfo efi;
  std::size_t e820_count = 0;
  std::array<E820Entry, kMaxE820Entries> e820{};

  std::span<const E820Entry> e820_entries() const { return {e820.data(), e820_count}; }
};

// Reads the facts; `page` must be the whole zero page. An e820_entries count past 128, an entry
// whose range overflows, or a zero-size entry is refused.
Result<BootParamsFacts> read_boot_params(ByteView page);

// One EFI_MEMORY_DESCRIPTOR (UEFI 2.10 §7.2) of the efi_info map.
struct EfiMemoryDescriptor {
  std::uint32_t type;
  std::uint64_t physical_start;
  std::uint64_t virtual_start;
  std::uint64_t pages;
  std::uint64_t attribute;
};
inline constexpr std::size_t kEfiMemoryDescriptorMinSize = 40;

// The i-th descriptor of an EFI memory map with `descriptor_size` stride; refuses a stride
// below the descriptor's size or one that does not divide the map.
Result<std::size_t> efi_memory_map_count(ByteView map, std::uint32_t descriptor_size);
Result<EfiMemoryDescriptor> efi_memory_descriptor(ByteView map, std::uint32_t descriptor_size,
                                                  std::size_t index);

// A setup_data node header: next (physical), type, len; the data follows the 16-byte header.
struct SetupDataHeader {
  std::uint64_t next;
  std::uint32_t type;
  std::uint32_t length;
};
inline constexpr std::size_t kSetupDataHeaderSize = 16;
Result<SetupDataHeader> read_setup_data_header(ByteView node);

// The command line at `bytes`: up to its NUL, which must come within the view.
Result<std::string_view> command_line_text(ByteView bytes);

// True when [address, address + size) lies inside one e820 range of type `type`.
bool inside_e820(std::span<const E820Entry> e820, std::uint64_t address, std::uint64_t size,
                 std::uint32_t type);

}  // namespace efikexec::payload
