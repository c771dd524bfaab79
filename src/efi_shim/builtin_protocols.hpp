// SPDX-License-Identifier: MIT
// The protocols the shim provides itself (see builtin_protocols.cpp).
#pragma once

#include "efi_shim/efi_types.hpp"
#include "efi_shim/file_volume.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::efi {

class Shim;

class MemoryManager;
// A vendor node (hardware or media) followed by End, in pool memory.
EFI_DEVICE_PATH* make_vendor_path(MemoryManager& memory, std::uint8_t type, std::uint8_t subtype,
                                  const EFI_GUID& guid);

EFI_STATUS install_console(Shim& shim, EFI_SYSTEM_TABLE& system_table);
EFI_STATUS install_rng(Shim& shim);
// EFI_DEVICE_PATH_TO_TEXT_PROTOCOL in EDK2's spelling (systemd-stub names its own image with it).
EFI_STATUS install_device_path_to_text(Shim& shim);
EFI_STATUS install_initrd(Shim& shim, ByteView initrd);
// The volume images are loaded from: a handle with a VenHw device path and SimpleFileSystem.
EFI_STATUS install_boot_volume(Shim& shim, EFI_HANDLE* handle, EFI_DEVICE_PATH** path);

}  // namespace efikexec::efi
