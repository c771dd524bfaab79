// SPDX-License-Identifier: MIT
// The boot-services table (UEFI 2.10 §7): one thin EFIAPI entry per service that traces and
// forwards to the class implementing it. Nothing is decided here.
#include <cstring>

#include "efi_shim/crc32.hpp"
#include "efi_shim/device_path.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/service_call.hpp"

namespace efikexec::efi {

namespace {

#define CALL(name) ServiceCall call("BS." name, __builtin_return_address(0))

const char* allocate_type_name(EFI_ALLOCATE_TYPE type) {
  switch (type) {
    case AllocateAnyPages: return "AllocateAnyPages";
    case AllocateMaxAddress: return "AllocateMaxAddress";
    case AllocateAddress: return "AllocateAddress";
    default: return "AllocateType?";
  }
}

const char* search_type_name(EFI_LOCATE_SEARCH_TYPE type) {
  switch (type) {
    case AllHandles: return "AllHandles";
    case ByRegisterNotify: return "ByRegisterNotify";
    case ByProtocol: return "ByProtocol";
    default: return "SearchType?";
  }
}

Text& memory_type(Text& text, std::uint32_t type) { return text.str(memory_type_name(type)); }

EFI_TPL EFIAPI raise_tpl(EFI_TPL tpl) {
  CALL("RaiseTPL");
  EFI_TPL old = call.shim().events().raise_tpl(tpl);
  if (call.traced()) {
    call.text().hex(tpl);
    call.result(EFI_SUCCESS).str(" old=").hex(old);
  }
  return old;
}

VOID EFIAPI restore_tpl(EFI_TPL tpl) {
  CALL("RestoreTPL");
  call.shim().events().restore_tpl(tpl);
  if (call.traced()) call.text().hex(tpl);
  call.result_void();
}

EFI_STATUS EFIAPI allocate_pages(EFI_ALLOCATE_TYPE type, EFI_MEMORY_TYPE memory, UINTN pages,
                                 EFI_PHYSICAL_ADDRESS* address) {
  CALL("AllocatePages");
  const EFI_PHYSICAL_ADDRESS requested = address ? *address : 0;
  EFI_STATUS status = call.shim().memory().allocate_pages(type, memory, pages, address);
  if (call.traced()) {
    memory_type(call.text().str(allocate_type_name(type)).str(", "), memory)
        .str(", pages=").hex(pages);
    if (type == AllocateMaxAddress) call.text().str(", max=").hex(requested);
    if (type == AllocateAddress) call.text().str(", addr=").hex(requested);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) {
      out.str(" addr=").hex(*address);
      call.shim().note_pages_allocated(*address, pages, call.sequence());
    }
  }
  return status;
}

EFI_STATUS EFIAPI free_pages(EFI_PHYSICAL_ADDRESS address, UINTN pages) {
  CALL("FreePages");
  EFI_STATUS status = call.shim().memory().free_pages(address, pages);
  if (status == EFI_SUCCESS) call.shim().note_pages_freed(address, pages);
  if (call.traced()) {
    call.text().hex(address).str(", pages=").hex(pages);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI get_memory_map(UINTN* size, EFI_MEMORY_DESCRIPTOR* map, UINTN* key,
                                 UINTN* descriptor_size, UINT32* version) {
  CALL("GetMemoryMap");
  const UINTN offered = size ? *size : 0;
  EFI_STATUS status =
      call.shim().memory().get_memory_map(size, map, key, descriptor_size, version);
  if (call.traced()) {
    call.text().str("size=").hex(offered).str(", map=").hex(reinterpret_cast<UINTN>(map));
    Text& out = call.result(status);
    if (size != nullptr) out.str(" size=").hex(*size);
    if (descriptor_size != nullptr) out.str(" descsz=").hex(*descriptor_size);
    if (status == EFI_SUCCESS && key != nullptr) out.str(" key=").hex(*key);
  }
  return status;
}

EFI_STATUS EFIAPI allocate_pool(EFI_MEMORY_TYPE type, UINTN size, VOID** buffer) {
  CALL("AllocatePool");
  EFI_STATUS status = call.shim().memory().allocate_pool(type, size, buffer);
  if (call.traced()) {
    memory_type(call.text(), type).str(", size=").hex(size);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" buf=").hex(reinterpret_cast<UINTN>(*buffer));
  }
  return status;
}

EFI_STATUS EFIAPI free_pool(VOID* buffer) {
  CALL("FreePool");
  EFI_STATUS status = call.shim().memory().free_pool(buffer);
  if (call.traced()) {
    call.text().hex(reinterpret_cast<UINTN>(buffer));
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI create_event(UINT32 type, EFI_TPL tpl, EFI_EVENT_NOTIFY notify, VOID* context,
                               EFI_EVENT* event) {
  CALL("CreateEvent");
  EFI_STATUS status = call.shim().events().create_event(type, tpl, notify, context, event);
  if (call.traced()) {
    call.text().str("type=").hex(type).str(", tpl=").hex(tpl);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI create_event_ex(UINT32 type, EFI_TPL tpl, EFI_EVENT_NOTIFY notify,
                                  const VOID* context, const EFI_GUID* group, EFI_EVENT* event) {
  CALL("CreateEventEx");
  EFI_STATUS status =
      call.shim().events().create_event_ex(type, tpl, notify, context, group, event);
  if (call.traced()) {
    call.text().str("type=").hex(type).str(", tpl=").hex(tpl).str(", group=");
    call.guid(group);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI set_timer(EFI_EVENT event, EFI_TIMER_DELAY type, UINT64 trigger) {
  CALL("SetTimer");
  EFI_STATUS status = call.shim().events().set_timer(event, type, trigger);
  if (call.traced()) {
    call.text().hex(reinterpret_cast<UINTN>(event)).str(", type=").dec(type).str(", time=")
        .dec(trigger);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI wait_for_event(UINTN count, EFI_EVENT* events, UINTN* index) {
  CALL("WaitForEvent");
  EFI_STATUS status = call.shim().events().wait_for_event(count, events, index);
  if (call.traced()) {
    call.text().str("count=").dec(count);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI signal_event(EFI_EVENT event) {
  CALL("SignalEvent");
  EFI_STATUS status = call.shim().events().signal_event(event);
  if (call.traced()) {
    call.text().hex(reinterpret_cast<UINTN>(event));
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI close_event(EFI_EVENT event) {
  CALL("CloseEvent");
  EFI_STATUS status = call.shim().events().close_event(event);
  if (call.traced()) {
    call.text().hex(reinterpret_cast<UINTN>(event));
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI check_event(EFI_EVENT event) {
  CALL("CheckEvent");
  EFI_STATUS status = call.shim().events().check_event(event);
  if (call.traced()) {
    call.text().hex(reinterpret_cast<UINTN>(event));
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI install_protocol_interface(EFI_HANDLE* handle, EFI_GUID* protocol,
                                             EFI_INTERFACE_TYPE type, VOID* interface) {
  CALL("InstallProtocolInterface");
  const EFI_HANDLE given = handle ? *handle : nullptr;
  EFI_STATUS status =
      call.shim().protocols().install_protocol_interface(handle, protocol, type, interface);
  if (call.traced()) {
    call.text().str("*handle=");
    call.handle(given).str(", ");
    call.guid(protocol).str(", iface=").hex(reinterpret_cast<UINTN>(interface));
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" handle=").hex(reinterpret_cast<UINTN>(*handle));
  }
  return status;
}

EFI_STATUS EFIAPI reinstall_protocol_interface(EFI_HANDLE handle, EFI_GUID* protocol,
                                               VOID* old_interface, VOID* new_interface) {
  CALL("ReinstallProtocolInterface");
  EFI_STATUS status = call.shim().protocols().reinstall_protocol_interface(
      handle, protocol, old_interface, new_interface);
  if (call.traced()) {
    call.handle(handle).str(", ");
    call.guid(protocol);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI uninstall_protocol_interface(EFI_HANDLE handle, EFI_GUID* protocol,
                                               VOID* interface) {
  CALL("UninstallProtocolInterface");
  EFI_STATUS status =
      call.shim().protocols().uninstall_protocol_interface(handle, protocol, interface);
  if (call.traced()) {
    call.handle(handle).str(", ");
    call.guid(protocol);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI handle_protocol(EFI_HANDLE handle, EFI_GUID* protocol, VOID** interface) {
  CALL("HandleProtocol");
  EFI_STATUS status = call.shim().protocols().handle_protocol(handle, protocol, interface);
  if (call.traced()) {
    call.handle(handle).str(", ");
    call.guid(protocol);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" iface=").hex(reinterpret_cast<UINTN>(*interface));
  }
  return status;
}

EFI_STATUS EFIAPI register_protocol_notify(EFI_GUID* protocol, EFI_EVENT event,
                                           VOID** registration) {
  CALL("RegisterProtocolNotify");
  EFI_STATUS status =
      call.shim().protocols().register_protocol_notify(protocol, event, registration);
  if (call.traced()) {
    call.guid(protocol);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI locate_handle(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID* protocol, VOID* key,
                                UINTN* size, EFI_HANDLE* buffer) {
  CALL("LocateHandle");
  const UINTN offered = size ? *size : 0;
  EFI_STATUS status = call.shim().protocols().locate_handle(type, protocol, key, size, buffer);
  if (call.traced()) {
    call.text().str(search_type_name(type)).str(", ");
    call.guid(protocol).str(", bufsize=").hex(offered);
    Text& out = call.result(status);
    if (size != nullptr) out.str(" bufsize=").hex(*size);
  }
  return status;
}

EFI_STATUS EFIAPI locate_device_path(EFI_GUID* protocol, EFI_DEVICE_PATH** path,
                                     EFI_HANDLE* device) {
  CALL("LocateDevicePath");
  const EFI_DEVICE_PATH* given = path ? *path : nullptr;
  if (call.traced()) {
    // Formatted before the call: the path is the caller's and may be freed after it.
    call.guid(protocol).str(", dp=");
    call.device_path(given);
  }
  EFI_STATUS status = call.shim().protocols().locate_device_path(protocol, path, device);
  if (call.traced()) {
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) {
      out.str(" device=").hex(reinterpret_cast<UINTN>(*device)).str(" remaining=");
      call.device_path(*path);
    }
  }
  return status;
}

EFI_STATUS EFIAPI install_configuration_table(EFI_GUID* guid, VOID* table) {
  CALL("InstallConfigurationTable");
  EFI_STATUS status = call.shim().install_configuration_table(guid, table);
  if (call.traced()) {
    call.guid(guid).str(", table=").hex(reinterpret_cast<UINTN>(table));
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI load_image(BOOLEAN boot_policy, EFI_HANDLE parent, EFI_DEVICE_PATH* path,
                             VOID* source, UINTN source_size, EFI_HANDLE* handle) {
  CALL("LoadImage");
  if (call.traced()) {
    call.text().str("BootPolicy=").dec(boot_policy).str(", parent=");
    call.handle(parent).str(", dp=");
    call.device_path(path).str(", src=").hex(reinterpret_cast<UINTN>(source))
        .str(", srcsize=").hex(source_size);
  }
  // Only a loaded image may load another (UEFI 2.10 §7.4.1).
  EFI_STATUS status = call.shim().images().find(parent) == nullptr
                          ? EFI_INVALID_PARAMETER
                          : call.shim().load_image_service(boot_policy, parent, path, source,
                                                           source_size, handle);
  if (call.traced()) {
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) {
      out.str(" handle=");
      call.handle(*handle);
      // Where it went, as OVMF's reference traces say it.
      if (const LoadedImageRecord* image = call.shim().images().find(*handle))
        out.str(" base=").hex(image->base).str(" size=").hex(image->size);
    }
  }
  return status;
}

EFI_STATUS EFIAPI start_image(EFI_HANDLE handle, UINTN* exit_data_size, CHAR16** exit_data) {
  EFI_STATUS status;
  {
    // The started image's own calls nest inside: the entry line goes out now, the result on
    // a line of its own when (if) StartImage returns.
    CALL("StartImage");
    if (call.traced()) {
      call.handle(handle).chr(')');
      call.emit();
    }
  }
  status = active_shim().images().start(handle, exit_data_size, exit_data);
  ServiceCall done("BS.StartImage", __builtin_return_address(0));
  if (done.traced()) {
    done.text().clear();
    done.text().str("#").dec(active_shim().next_sequence()).str(" <- BS.StartImage -> ")
        .status(status);
    done.emit();
  }
  return status;
}

EFI_STATUS EFIAPI exit_image(EFI_HANDLE handle, EFI_STATUS status, UINTN size, CHAR16* data) {
  CALL("Exit");
  if (call.traced()) {
    call.handle(handle).str(", status=").status(status).str(", datasize=").hex(size);
    call.emit();
  }
  return call.shim().images().exit(handle, status, size, data);
}

EFI_STATUS EFIAPI unload_image(EFI_HANDLE handle) {
  CALL("UnloadImage");
  EFI_STATUS status = call.shim().images().unload(handle);
  if (call.traced()) {
    call.handle(handle);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI get_next_monotonic_count(UINT64* count) {
  CALL("GetNextMonotonicCount");
  EFI_STATUS status = call.shim().counter().get_next_monotonic_count(count);
  if (call.traced()) call.result(status);
  return status;
}

EFI_STATUS EFIAPI stall(UINTN microseconds) {
  CALL("Stall");
  EFI_STATUS status = call.shim().events().stall(microseconds);
  if (call.traced()) {
    call.text().dec(microseconds);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI set_watchdog_timer(UINTN timeout, UINT64 code, UINTN size, CHAR16* data) {
  CALL("SetWatchdogTimer");
  EFI_STATUS status = call.shim().events().set_watchdog_timer(timeout, code, size, data);
  if (call.traced()) {
    call.text().dec(timeout).str(", code=").hex(code);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI connect_controller(EFI_HANDLE controller, EFI_HANDLE* drivers,
                                     EFI_DEVICE_PATH* remaining, BOOLEAN recursive) {
  CALL("ConnectController");
  EFI_STATUS status =
      call.shim().protocols().connect_controller(controller, drivers, remaining, recursive);
  if (call.traced()) {
    call.handle(controller).str(", recursive=").dec(recursive);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI disconnect_controller(EFI_HANDLE controller, EFI_HANDLE driver,
                                        EFI_HANDLE child) {
  CALL("DisconnectController");
  EFI_STATUS status = call.shim().protocols().disconnect_controller(controller, driver, child);
  if (call.traced()) {
    call.handle(controller);
    call.result(status);
  }
  return status;
}

const char* open_attribute_name(UINT32 attributes) {
  switch (attributes) {
#define EFIKEXEC_OPEN_ATTRIBUTE_NAME(value, text) \
  case value: return text;
#include "efi_shim/open_attribute_names.inc"
#undef EFIKEXEC_OPEN_ATTRIBUTE_NAME
    default: return "?";
  }
}

EFI_STATUS EFIAPI open_protocol(EFI_HANDLE handle, EFI_GUID* protocol, VOID** interface,
                                EFI_HANDLE agent, EFI_HANDLE controller, UINT32 attributes) {
  CALL("OpenProtocol");
  EFI_STATUS status = call.shim().protocols().open_protocol(handle, protocol, interface, agent,
                                                             controller, attributes);
  if (call.traced()) {
    call.handle(handle).str(", ");
    call.guid(protocol).str(", agent=");
    call.handle(agent).str(", ctrl=");
    call.handle(controller).str(", attr=").hex(attributes).chr('[')
        .str(open_attribute_name(attributes)).chr(']');
    Text& out = call.result(status);
    if (status == EFI_SUCCESS && interface != nullptr)
      out.str(" iface=").hex(reinterpret_cast<UINTN>(*interface));
  }
  return status;
}

EFI_STATUS EFIAPI close_protocol(EFI_HANDLE handle, EFI_GUID* protocol, EFI_HANDLE agent,
                                 EFI_HANDLE controller) {
  CALL("CloseProtocol");
  EFI_STATUS status =
      call.shim().protocols().close_protocol(handle, protocol, agent, controller);
  if (call.traced()) {
    call.handle(handle).str(", ");
    call.guid(protocol);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI open_protocol_information(EFI_HANDLE handle, EFI_GUID* protocol,
                                            EFI_OPEN_PROTOCOL_INFORMATION_ENTRY** entries,
                                            UINTN* count) {
  CALL("OpenProtocolInformation");
  EFI_STATUS status =
      call.shim().protocols().open_protocol_information(handle, protocol, entries, count);
  if (call.traced()) {
    call.handle(handle).str(", ");
    call.guid(protocol);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI protocols_per_handle(EFI_HANDLE handle, EFI_GUID*** buffer, UINTN* count) {
  CALL("ProtocolsPerHandle");
  EFI_STATUS status = call.shim().protocols().protocols_per_handle(handle, buffer, count);
  if (call.traced()) {
    call.handle(handle);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" count=").dec(*count);
  }
  return status;
}

EFI_STATUS EFIAPI locate_handle_buffer(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID* protocol,
                                       VOID* key, UINTN* count, EFI_HANDLE** buffer) {
  CALL("LocateHandleBuffer");
  EFI_STATUS status =
      call.shim().protocols().locate_handle_buffer(type, protocol, key, count, buffer);
  if (call.traced()) {
    call.text().str(search_type_name(type)).str(", ");
    call.guid(protocol);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" count=").dec(*count);
  }
  return status;
}

EFI_STATUS EFIAPI locate_protocol(EFI_GUID* protocol, VOID* registration, VOID** interface) {
  CALL("LocateProtocol");
  EFI_STATUS status =
      call.shim().protocols().locate_protocol(protocol, registration, interface);
  if (call.traced()) {
    call.guid(protocol);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" iface=").hex(reinterpret_cast<UINTN>(*interface));
  }
  return status;
}

// Collects the (GUID, interface) pairs of a varargs call up to the terminating NULL GUID. A
// macro: va_arg on an MS ABI va_list only works inside the EFIAPI function itself.
#define COLLECT_PAIRS(args, pairs, count, collected)                          \
  for (;;) {                                                                  \
    auto* protocol_ = __builtin_va_arg(args, EFI_GUID*);                      \
    if (protocol_ == nullptr) break;                                          \
    void* interface_ = __builtin_va_arg(args, void*);                         \
    if (count == ProtocolDatabase::kMaxMultiplePairs) {                       \
      collected = false;                                                      \
      break;                                                                  \
    }                                                                         \
    pairs[count++] = {protocol_, interface_};                                 \
  }

void trace_pairs(ServiceCall& call, const ProtocolInterfacePair* pairs, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    call.text().str(", ");
    call.guid(pairs[i].protocol).chr('=').hex(reinterpret_cast<UINTN>(pairs[i].interface));
    if (guid_equal(*pairs[i].protocol, guids::kDevicePath)) {
      call.text().str(" dp=");
      call.device_path(static_cast<const EFI_DEVICE_PATH*>(pairs[i].interface));
    }
  }
  call.text().str(", NULL");
}

EFI_STATUS EFIAPI install_multiple_protocol_interfaces(EFI_HANDLE* handle, ...) {
  CALL("InstallMultipleProtocolInterfaces");
  ProtocolInterfacePair pairs[ProtocolDatabase::kMaxMultiplePairs];
  std::size_t count = 0;
  __builtin_ms_va_list args;
  bool collected = true;
  __builtin_ms_va_start(args, handle);
  COLLECT_PAIRS(args, pairs, count, collected);
  __builtin_ms_va_end(args);
  const EFI_HANDLE given = handle ? *handle : nullptr;
  EFI_STATUS status = collected ? call.shim().protocols().install_multiple_protocol_interfaces(
                                      handle, {pairs, count})
                                : EFI_OUT_OF_RESOURCES;
  if (call.traced()) {
    call.text().str("*handle=").hex(reinterpret_cast<UINTN>(given));
    trace_pairs(call, pairs, count);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" handle=").hex(reinterpret_cast<UINTN>(*handle));
  }
  return status;
}

EFI_STATUS EFIAPI uninstall_multiple_protocol_interfaces(EFI_HANDLE handle, ...) {
  CALL("UninstallMultipleProtocolInterfaces");
  ProtocolInterfacePair pairs[ProtocolDatabase::kMaxMultiplePairs];
  std::size_t count = 0;
  __builtin_ms_va_list args;
  bool collected = true;
  __builtin_ms_va_start(args, handle);
  COLLECT_PAIRS(args, pairs, count, collected);
  __builtin_ms_va_end(args);
  EFI_STATUS status = collected ? call.shim().protocols().uninstall_multiple_protocol_interfaces(
                                      handle, {pairs, count})
                                : EFI_INVALID_PARAMETER;
  if (call.traced()) {
    call.handle(handle);
    trace_pairs(call, pairs, count);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI calculate_crc32(VOID* data, UINTN size, UINT32* crc) {
  CALL("CalculateCrc32");
  EFI_STATUS status = efi::calculate_crc32(data, size, crc);
  if (call.traced()) {
    call.text().hex(reinterpret_cast<UINTN>(data)).str(", size=").hex(size);
    call.result(status);
  }
  return status;
}

// systemd-stub >= 257 sends memcpy/memset through these (UEFI 2.10 §7.5.3): real, and overlap
// safe as the specification requires.
VOID EFIAPI copy_mem(VOID* destination, VOID* source, UINTN length) {
  CALL("CopyMem");
  std::memmove(destination, source, length);
  if (call.traced()) {
    call.text().str("dst=").hex(reinterpret_cast<UINTN>(destination)).str(", src=")
        .hex(reinterpret_cast<UINTN>(source)).str(", len=").hex(length);
    call.result_void();
  }
}

VOID EFIAPI set_mem(VOID* buffer, UINTN size, UINT8 value) {
  CALL("SetMem");
  std::memset(buffer, value, size);
  if (call.traced()) {
    call.text().hex(reinterpret_cast<UINTN>(buffer)).str(", len=").hex(size).str(", value=")
        .hex(value);
    call.result_void();
  }
}

}  // namespace

EFI_STATUS EFIAPI exit_boot_services_handler(EFI_HANDLE image, UINTN map_key) {
  CALL("ExitBootServices");
  if (call.traced()) {
    call.handle(image).str(", mapkey=").hex(map_key);
    // On success the run may end inside exit_boot_services(): the line goes out first.
    if (map_key == call.shim().memory().map_key()) {
      call.result(EFI_SUCCESS);
      call.emit();
    }
  }
  EFI_STATUS status = call.shim().exit_boot_services(image, map_key);
  if (call.traced() && status != EFI_SUCCESS) call.result(status);
  return status;
}

void fill_boot_services(EFI_BOOT_SERVICES& table, EFI_EXIT_BOOT_SERVICES exit_boot_services) {
  table.RaiseTPL = raise_tpl;
  table.RestoreTPL = restore_tpl;
  table.AllocatePages = allocate_pages;
  table.FreePages = free_pages;
  table.GetMemoryMap = get_memory_map;
  table.AllocatePool = allocate_pool;
  table.FreePool = free_pool;
  table.CreateEvent = create_event;
  table.SetTimer = set_timer;
  table.WaitForEvent = wait_for_event;
  table.SignalEvent = signal_event;
  table.CloseEvent = close_event;
  table.CheckEvent = check_event;
  table.InstallProtocolInterface = install_protocol_interface;
  table.ReinstallProtocolInterface = reinstall_protocol_interface;
  table.UninstallProtocolInterface = uninstall_protocol_interface;
  table.HandleProtocol = handle_protocol;
  table.PCHandleProtocol = nullptr;  // reserved (UEFI 2.10 §4.4.1)
  table.RegisterProtocolNotify = register_protocol_notify;
  table.LocateHandle = locate_handle;
  table.LocateDevicePath = locate_device_path;
  table.InstallConfigurationTable = install_configuration_table;
  table.LoadImage = load_image;
  table.StartImage = start_image;
  table.Exit = exit_image;
  table.UnloadImage = unload_image;
  table.ExitBootServices =
      exit_boot_services != nullptr ? exit_boot_services : exit_boot_services_handler;
  table.GetNextMonotonicCount = get_next_monotonic_count;
  table.Stall = stall;
  table.SetWatchdogTimer = set_watchdog_timer;
  table.ConnectController = connect_controller;
  table.DisconnectController = disconnect_controller;
  table.OpenProtocol = open_protocol;
  table.CloseProtocol = close_protocol;
  table.OpenProtocolInformation = open_protocol_information;
  table.ProtocolsPerHandle = protocols_per_handle;
  table.LocateHandleBuffer = locate_handle_buffer;
  table.LocateProtocol = locate_protocol;
  table.InstallMultipleProtocolInterfaces = install_multiple_protocol_interfaces;
  table.UninstallMultipleProtocolInterfaces = uninstall_multiple_protocol_interfaces;
  table.CalculateCrc32 = calculate_crc32;
  table.CopyMem = copy_mem;
  table.SetMem = set_mem;
  table.CreateEventEx = create_event_ex;
}

}  // namespace efikexec::efi
