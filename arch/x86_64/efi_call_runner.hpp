// SPDX-License-Identifier: MIT
// The shim's ImageRunner over efi_call.S: a direct call into EFI code with the MS x64 ABI, on the
// shim's EFI stack, and Exit() as a return of that call. The same in the confined child (ring 3)
// and in the payload on bare metal (ring 0): nothing in it depends on the privilege level.
#pragma once

#include <cstdint>

#include "efi_shim/host.hpp"

extern "C" {
// arch/x86_64/efi_call.S
EFI_STATUS efikexec_efi_call(void* entry, void* handle, void* system_table, std::uint64_t stack_top,
                             std::uint64_t* frame);
[[noreturn]] void efikexec_efi_exit(std::uint64_t* frame, EFI_STATUS status);
}

namespace efikexec::arch {

class EfiCallRunner final : public efi::ImageRunner {
 public:
  EFI_STATUS call_entry(EFI_IMAGE_ENTRY_POINT entry, EFI_HANDLE handle,
                        EFI_SYSTEM_TABLE* system_table, std::uint64_t stack_top,
                        std::uint64_t* frame) override {
    return efikexec_efi_call(reinterpret_cast<void*>(entry), handle, system_table, stack_top,
                             frame);
  }
  [[noreturn]] void exit_to(std::uint64_t* frame, EFI_STATUS status) override {
    efikexec_efi_exit(frame, status);
  }
};

}  // namespace efikexec::arch
