// SPDX-License-Identifier: MIT
// What every EFI entry point does around its work: mark the service as current (a fault inside
// the shim then names it), let timers fire, and — with tracing on — write one line in the format
// of the OVMF reference traces: `#SEQ dDEPTH CALLER SERVICE(args) -> Status outputs`.
#pragma once

#include "efi_shim/shim.hpp"
#include "efi_shim/text.hpp"

namespace efikexec::efi {

class ServiceCall {
 public:
  ServiceCall(const char* name, const void* return_address);
  ~ServiceCall();
  ServiceCall(const ServiceCall&) = delete;
  ServiceCall& operator=(const ServiceCall&) = delete;

  Shim& shim() { return shim_; }
  bool traced() const { return traced_; }
  // This call's number in the trace (0 when not traced).
  std::uint64_t sequence() const { return sequence_; }
  // The line so far, up to and including "SERVICE(": append the arguments.
  Text& text() { return text_; }
  // Closes the argument list with the result; append outputs after it, then emit().
  Text& result(EFI_STATUS status);
  Text& result_void();
  void emit();

  // Argument formatting shared by the entry points.
  Text& handle(EFI_HANDLE handle);
  Text& guid(const EFI_GUID* guid);
  Text& device_path(const EFI_DEVICE_PATH* path);

 private:
  Shim& shim_;
  Shim::CallState previous_;
  Text text_;
  bool traced_;
  bool emitted_ = false;
  std::uint64_t sequence_ = 0;
};

// The entry points in one place: they fill the tables.
void fill_boot_services(EFI_BOOT_SERVICES& table, EFI_EXIT_BOOT_SERVICES exit_boot_services);
void fill_runtime_services(EFI_RUNTIME_SERVICES& table);

}  // namespace efikexec::efi
