// SPDX-License-Identifier: MIT
// The runtime-services table before the handoff (UEFI 2.10 §8): variables from the machine's
// snapshot plus a volatile store, time from the host, reset refused (it ends the run). After
// ExitBootServices() the table points at the arch stubs instead (Shim::exit_boot_services).
#include <cstring>

#include "efi_shim/service_call.hpp"

namespace efikexec::efi {

namespace {

#define CALL(name) ServiceCall call("RT." name, __builtin_return_address(0))

// Variable data in traces, as the OVMF reference traces print it: u"text" when it is a
// NUL-terminated UCS-2 string of printable characters, else the first bytes in hex.
void trace_data(Text& out, const void* data, UINTN size) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  if (data == nullptr) return;
  constexpr std::size_t kMaxChars = 128;
  const std::size_t chars = size / 2;
  bool text = size >= 2 && size % 2 == 0 && chars <= kMaxChars && bytes[size - 2] == 0 &&
              bytes[size - 1] == 0;
  for (std::size_t i = 0; text && i + 1 < chars; ++i) {
    const unsigned c = bytes[2 * i] | (bytes[2 * i + 1] << 8);
    text = c >= 0x20 && c < 0x7f;
  }
  if (text) {
    // Copied out: the caller's buffer need not be 2-byte aligned.
    CHAR16 copy[kMaxChars];
    std::memcpy(copy, bytes, size);
    out.str("data=u").ucs2(copy, chars);
    return;
  }
  out.str("data=[");
  for (UINTN i = 0; i < size && i < 32; ++i) {
    out.chr("0123456789abcdef"[bytes[i] >> 4]).chr("0123456789abcdef"[bytes[i] & 15]);
  }
  out.str(size > 32 ? "...]" : "]");
}

EFI_STATUS EFIAPI get_time(EFI_TIME* time, EFI_TIME_CAPABILITIES* capabilities) {
  CALL("GetTime");
  EFI_STATUS status = call.shim().runtime().get_time(time, capabilities);
  if (call.traced()) call.result(status);
  return status;
}

EFI_STATUS EFIAPI set_time(EFI_TIME* time) {
  CALL("SetTime");
  EFI_STATUS status = call.shim().runtime().set_time(time);
  if (call.traced()) call.result(status);
  return status;
}

EFI_STATUS EFIAPI get_wakeup_time(BOOLEAN* enabled, BOOLEAN* pending, EFI_TIME* time) {
  CALL("GetWakeupTime");
  EFI_STATUS status = call.shim().runtime().get_wakeup_time(enabled, pending, time);
  if (call.traced()) call.result(status);
  return status;
}

EFI_STATUS EFIAPI set_wakeup_time(BOOLEAN enable, EFI_TIME* time) {
  CALL("SetWakeupTime");
  EFI_STATUS status = call.shim().runtime().set_wakeup_time(enable, time);
  if (call.traced()) call.result(status);
  return status;
}

// Before ExitBootServices() there is no virtual mode to switch to (§8.4.1: EFI_UNSUPPORTED is
// what firmware answers when the call is not allowed now).
EFI_STATUS EFIAPI set_virtual_address_map(UINTN, UINTN, UINT32, EFI_MEMORY_DESCRIPTOR*) {
  CALL("SetVirtualAddressMap");
  if (call.traced()) call.result(EFI_UNSUPPORTED);
  return EFI_UNSUPPORTED;
}

EFI_STATUS EFIAPI convert_pointer(UINTN, VOID**) {
  CALL("ConvertPointer");
  if (call.traced()) call.result(EFI_UNSUPPORTED);
  return EFI_UNSUPPORTED;
}

EFI_STATUS EFIAPI get_variable(CHAR16* name, EFI_GUID* guid, UINT32* attributes, UINTN* size,
                               VOID* data) {
  CALL("GetVariable");
  const UINTN offered = size ? *size : 0;
  EFI_STATUS status = call.shim().variables().get_variable(name, guid, attributes, size, data);
  if (call.traced()) {
    call.text().ucs2(name).str(", ");
    call.guid(guid).str(", size=").hex(offered);
    Text& out = call.result(status);
    if (size != nullptr && (status == EFI_SUCCESS || status == EFI_BUFFER_TOO_SMALL))
      out.str(" size=").hex(*size);
    if (status == EFI_SUCCESS) trace_data(out.chr(' '), data, *size);
  }
  return status;
}

EFI_STATUS EFIAPI get_next_variable_name(UINTN* size, CHAR16* name, EFI_GUID* guid) {
  CALL("GetNextVariableName");
  EFI_STATUS status = call.shim().variables().get_next_variable_name(size, name, guid);
  if (call.traced()) {
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.chr(' ').ucs2(name);
  }
  return status;
}

EFI_STATUS EFIAPI set_variable(CHAR16* name, EFI_GUID* guid, UINT32 attributes, UINTN size,
                               VOID* data) {
  CALL("SetVariable");
  EFI_STATUS status = call.shim().variables().set_variable(name, guid, attributes, size, data);
  if (call.traced()) {
    call.text().ucs2(name).str(", ");
    call.guid(guid).str(", attr=").hex(attributes).str(", size=").hex(size);
    if (data != nullptr) trace_data(call.text().str(", "), data, size);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI get_next_high_monotonic_count(UINT32* count) {
  CALL("GetNextHighMonotonicCount");
  EFI_STATUS status = call.shim().counter().get_next_high_monotonic_count(count);
  if (call.traced()) call.result(status);
  return status;
}

// gnu-efi declares ResetSystem as returning EFI_STATUS; it never returns either way.
EFI_STATUS EFIAPI reset_system(EFI_RESET_TYPE type, EFI_STATUS reset_status, UINTN size,
                               CHAR16* data) {
  CALL("ResetSystem");
  if (call.traced()) {
    call.text().str("type=").dec(type).str(", status=").status(reset_status);
    call.result_void();
    call.emit();
  }
  // ResetSystem never returns (§8.5.1): the run ends, and nothing of the machine is touched.
  call.shim().runtime().reset_system(type, reset_status, size, data);
  call.shim().host().run_end->end_run("the image called ResetSystem()", reset_status);
  __builtin_unreachable();
}

EFI_STATUS EFIAPI update_capsule(EFI_CAPSULE_HEADER** capsules, UINTN count,
                                 EFI_PHYSICAL_ADDRESS scatter_gather) {
  CALL("UpdateCapsule");
  EFI_STATUS status = call.shim().runtime().update_capsule(capsules, count, scatter_gather);
  if (call.traced()) call.result(status);
  return status;
}

EFI_STATUS EFIAPI query_capsule_capabilities(EFI_CAPSULE_HEADER** capsules, UINTN count,
                                             UINT64* maximum_size, EFI_RESET_TYPE* reset_type) {
  CALL("QueryCapsuleCapabilities");
  EFI_STATUS status = call.shim().runtime().query_capsule_capabilities(capsules, count,
                                                                        maximum_size, reset_type);
  if (call.traced()) call.result(status);
  return status;
}

EFI_STATUS EFIAPI query_variable_info(UINT32 attributes, UINT64* maximum_storage,
                                      UINT64* remaining_storage, UINT64* maximum_size) {
  CALL("QueryVariableInfo");
  EFI_STATUS status = call.shim().variables().query_variable_info(
      attributes, maximum_storage, remaining_storage, maximum_size);
  if (call.traced()) {
    call.text().str("attr=").hex(attributes);
    call.result(status);
  }
  return status;
}

}  // namespace

void fill_runtime_services(EFI_RUNTIME_SERVICES& table) {
  table.GetTime = get_time;
  table.SetTime = set_time;
  table.GetWakeupTime = get_wakeup_time;
  table.SetWakeupTime = set_wakeup_time;
  table.SetVirtualAddressMap = set_virtual_address_map;
  table.ConvertPointer = convert_pointer;
  table.GetVariable = get_variable;
  table.GetNextVariableName = get_next_variable_name;
  table.SetVariable = set_variable;
  table.GetNextHighMonotonicCount = get_next_high_monotonic_count;
  table.ResetSystem = reset_system;
  table.UpdateCapsule = update_capsule;
  table.QueryCapsuleCapabilities = query_capsule_capabilities;
  table.QueryVariableInfo = query_variable_info;
}

}  // namespace efikexec::efi
