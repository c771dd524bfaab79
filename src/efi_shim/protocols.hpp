// SPDX-License-Identifier: MIT
// The handle and protocol database: protocol handler services (UEFI 2.10 §7.3) and the
// driver-model entry points ConnectController/DisconnectController, with OVMF/EDK2's status codes
// (MdeModulePkg/Core/Dxe/Hand) where the specification leaves room.
//
// Handles are opaque: each is the address of a small record allocated from the pool
// (EfiBootServicesData), unique while the handle lives and freed with its last interface (§7.3.3).
// Values the image passes in are only compared against the table, never followed, so an unknown
// handle is EFI_INVALID_PARAMETER, not a crash. RegisterProtocolNotify registrations are
// records of the same kind.
//
// Interfaces of a protocol are kept in installation order (a reinstall moves one to the end, as
// EDK2's protocol lists do); LocateHandle(ByProtocol), LocateProtocol and the ByRegisterNotify
// positions follow that order.
//
// The shim runs no drivers: ConnectController starts nothing (EFI_NOT_FOUND, as EDK2 with no
// EFI_DRIVER_BINDING_PROTOCOL). DisconnectController does call the Stop() of an image's own
// driver binding that opened a controller BY_DRIVER, so that an image acting as a driver can let go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "efi_shim/efi_types.hpp"
#include "efi_shim/events.hpp"
#include "efi_shim/fixed_vector.hpp"
#include "efi_shim/host.hpp"

namespace efikexec::efi {

// One (protocol, interface) argument pair of Install/UninstallMultipleProtocolInterfaces; the
// varargs thunk collects them up to the terminating NULL protocol.
struct ProtocolInterfacePair {
  const EFI_GUID* protocol;
  void* interface;
};


class ProtocolDatabase {
 public:
  static constexpr std::size_t kMaxHandles = 256;
  static constexpr std::size_t kMaxProtocolsPerHandle = 32;
  static constexpr std::size_t kMaxInterfaces = 1024;  // all handles together
  static constexpr std::size_t kMaxOpensPerInterface = 64;
  static constexpr std::size_t kMaxOpens = 2048;  // all interfaces together
  static constexpr std::size_t kMaxNotifies = 64;
  // Install/UninstallMultipleProtocolInterfaces take at most this many pairs.
  static constexpr std::size_t kMaxMultiplePairs = kMaxProtocolsPerHandle;

  // Handle and registration records come from `pool`. Registers itself with `events` so that
  // CloseEvent ends the event's protocol notifications (so it must not be moved or copied).
  ProtocolDatabase(PoolAllocator& pool, EventManager& events);
  ProtocolDatabase(const ProtocolDatabase&) = delete;
  ProtocolDatabase& operator=(const ProtocolDatabase&) = delete;

  // The agent HandleProtocol records its opens under (EDK2: the DXE core's image handle, so they
  // show in OpenProtocolInformation as BY_HANDLE_PROTOCOL entries). Without one (NULL), the
  // opens are not recorded, as OpenProtocol does for a NULL AgentHandle.
  void set_firmware_agent(EFI_HANDLE agent) { firmware_agent_ = agent; }

  // §7.3.2. EFI_INVALID_PARAMETER also for an unknown *Handle or a protocol already on it.
  EFI_STATUS install_protocol_interface(EFI_HANDLE* handle, const EFI_GUID* protocol,
                                        EFI_INTERFACE_TYPE interface_type, void* interface);
  // §7.3.4. Drivers holding the old interface are disconnected first (EFI_ACCESS_DENIED if they
  // cannot be); notifications of the protocol are signalled.
  EFI_STATUS reinstall_protocol_interface(EFI_HANDLE handle, const EFI_GUID* protocol,
                                          void* old_interface, void* new_interface);
  // §7.3.3. GET/TEST/BY_HANDLE opens go with the interface; any other open left after
  // disconnecting drivers makes it EFI_ACCESS_DENIED.
  EFI_STATUS uninstall_protocol_interface(EFI_HANDLE handle, const EFI_GUID* protocol,
                                          void* interface);
  // §7.3.16: all or nothing. A Device Path interface already installed on a handle (an exact
  // LocateDevicePath match) makes it EFI_ALREADY_STARTED, as in EDK2. Notify functions of the
  // new protocols run after all are installed (the TPL is raised to TPL_NOTIFY meanwhile).
  EFI_STATUS install_multiple_protocol_interfaces(EFI_HANDLE* handle,
                                                  std::span<const ProtocolInterfacePair> pairs);
  // §7.3.17: all or nothing; any failure restores what was removed and is EFI_INVALID_PARAMETER.
  EFI_STATUS uninstall_multiple_protocol_interfaces(EFI_HANDLE handle,
                                                    std::span<const ProtocolInterfacePair> pairs);
  // §7.3.7: OpenProtocol(BY_HANDLE_PROTOCOL) by the firmware agent.
  EFI_STATUS handle_protocol(EFI_HANDLE handle, const EFI_GUID* protocol, void** interface);
  // §7.3.5: `event` is signalled after every install or reinstall of `protocol`; the
  // registration starts before the first interface already installed (as in EDK2).
  EFI_STATUS register_protocol_notify(const EFI_GUID* protocol, EFI_EVENT event,
                                      void** registration);
  // §7.3.6: EFI_BUFFER_TOO_SMALL sets *BufferSize to the size needed. ByRegisterNotify returns
  // one handle per call and moves the registration past it.
  EFI_STATUS locate_handle(EFI_LOCATE_SEARCH_TYPE search_type, const EFI_GUID* protocol,
                           void* search_key, UINTN* buffer_size, EFI_HANDLE* buffer);
  // §7.3.8: the handle carrying `protocol` whose Device Path is the longest prefix of the first
  // instance of *DevicePath; *DevicePath moves past that prefix. A malformed *DevicePath (a node
  // shorter than its header, no End node within 64 KiB) is EFI_INVALID_PARAMETER.
  EFI_STATUS locate_device_path(const EFI_GUID* protocol, EFI_DEVICE_PATH** device_path,
                                EFI_HANDLE* device);
  // §7.3.9.
  EFI_STATUS open_protocol(EFI_HANDLE handle, const EFI_GUID* protocol, void** interface,
                           EFI_HANDLE agent, EFI_HANDLE controller, UINT32 attributes);
  // §7.3.10.
  EFI_STATUS close_protocol(EFI_HANDLE handle, const EFI_GUID* protocol, EFI_HANDLE agent,
                            EFI_HANDLE controller);
  // §7.3.11: the entry buffer comes from the pool (the caller frees it). NULL out-pointers are
  // EFI_INVALID_PARAMETER (EDK2 would crash); an unknown handle is EFI_NOT_FOUND (as EDK2).
  EFI_STATUS open_protocol_information(EFI_HANDLE handle, const EFI_GUID* protocol,
                                       EFI_OPEN_PROTOCOL_INFORMATION_ENTRY** entry_buffer,
                                       UINTN* entry_count);
  // §7.3.14: one pool buffer holds the GUID pointer array followed by the GUIDs it points to,
  // so the caller's single FreePool releases everything. Newest protocol first, as EDK2.
  EFI_STATUS protocols_per_handle(EFI_HANDLE handle, EFI_GUID*** protocol_buffer,
                                  UINTN* protocol_buffer_count);
  // §7.3.15: the handle array comes from the pool.
  EFI_STATUS locate_handle_buffer(EFI_LOCATE_SEARCH_TYPE search_type, const EFI_GUID* protocol,
                                  void* search_key, UINTN* no_handles, EFI_HANDLE** buffer);
  // §7.3.16 LocateProtocol: with a Registration, the next interface installed since (its
  // Protocol argument is then ignored, as in EDK2); an unknown Registration is
  // EFI_INVALID_PARAMETER.
  EFI_STATUS locate_protocol(const EFI_GUID* protocol, void* registration, void** interface);
  // §7.3.12: no driver ever connects here, so EFI_NOT_FOUND for any valid controller.
  EFI_STATUS connect_controller(EFI_HANDLE controller, EFI_HANDLE* driver_image_handles,
                                EFI_DEVICE_PATH* remaining_device_path, BOOLEAN recursive);
  // §7.3.13, as EDK2: EFI_SUCCESS when no driver manages the controller; otherwise each managing
  // driver's EFI_DRIVER_BINDING_PROTOCOL.Stop() is called (children first). A managing agent
  // without a driver binding is EFI_INVALID_PARAMETER; no driver stopped is EFI_NOT_FOUND.
  EFI_STATUS disconnect_controller(EFI_HANDLE controller, EFI_HANDLE driver_image,
                                   EFI_HANDLE child);

  // For the shim itself (no open record): the interface of `protocol` on `handle`, or nullptr.
  void* find_interface(EFI_HANDLE handle, const EFI_GUID& protocol) const;
  bool is_handle(EFI_HANDLE handle) const { return find_handle(handle) != nullptr; }
  std::size_t handle_count() const { return handles_.size(); }

 private:
  struct HandleEntry {
    EFI_HANDLE handle;
    std::uint32_t interfaces;
  };
  struct InterfaceEntry {
    EFI_HANDLE handle;
    EFI_GUID protocol;
    void* interface;
    std::uint64_t order;         // position in the protocol's list (install or reinstall)
    std::uint64_t handle_order;  // position in the handle's list (install)
  };
  struct OpenEntry {
    EFI_HANDLE handle;  // with `protocol`: the interface opened
    EFI_GUID protocol;
    EFI_HANDLE agent;
    EFI_HANDLE controller;
    UINT32 attributes;
    UINT32 open_count;
  };
  struct NotifyEntry {
    void* registration;
    EFI_GUID protocol;
    EFI_EVENT event;
    std::uint64_t position;  // order of the last interface returned
  };
  using HandleList = FixedVector<EFI_HANDLE, kMaxHandles>;

  static void on_event_closed(void* self, EFI_EVENT event);

  HandleEntry* find_handle(EFI_HANDLE handle);
  const HandleEntry* find_handle(EFI_HANDLE handle) const;
  InterfaceEntry* find_entry(EFI_HANDLE handle, const EFI_GUID& protocol);
  NotifyEntry* find_notify(void* registration);
  std::size_t open_count(EFI_HANDLE handle, const EFI_GUID& protocol) const;
  // The next interface of `protocol` after `position`, or nullptr.
  const InterfaceEntry* next_interface(const EFI_GUID& protocol, std::uint64_t position) const;

  EFI_STATUS install_one(EFI_HANDLE* handle, const EFI_GUID& protocol, void* interface);
  // The entry of `interface` (as `protocol` on `handle`), freed of its openers for removal or
  // replacement: EFI_INVALID_PARAMETER, EFI_NOT_FOUND or release_interface()'s error otherwise.
  EFI_STATUS take_interface(EFI_HANDLE handle, const EFI_GUID& protocol, void* interface,
                            InterfaceEntry** entry);
  // `keep_handle`: an emptied handle stays (the multiple-uninstall may put interfaces back).
  EFI_STATUS uninstall_one(EFI_HANDLE handle, const EFI_GUID& protocol, void* interface,
                           bool keep_handle);
  void free_handle_if_empty(EFI_HANDLE handle);
  // EDK2's CoreDisconnectControllersUsingProtocolInterface: disconnects BY_DRIVER openers and
  // drops GET/TEST/BY_HANDLE opens; EFI_ACCESS_DENIED if any open is left.
  EFI_STATUS release_interface(EFI_HANDLE handle, const EFI_GUID& protocol);
  // Disconnects every BY_DRIVER opener of (handle, protocol); false if one cannot be.
  bool disconnect_drivers(EFI_HANDLE handle, const EFI_GUID& protocol);
  void signal_notifies(const EFI_GUID& protocol);
  // The search of LocateHandle; `notify` is set for ByRegisterNotify.
  EFI_STATUS search(EFI_LOCATE_SEARCH_TYPE search_type, const EFI_GUID* protocol,
                    void* search_key, HandleList& found, NotifyEntry** notify);
  void advance(NotifyEntry* notify, EFI_HANDLE handle);
  // Stops `driver` on `controller` (all children, or only `child`); EFI_SUCCESS if stopped.
  EFI_STATUS stop_driver(EFI_HANDLE controller, EFI_HANDLE driver, EFI_HANDLE child,
                         bool* stopped);

  PoolAllocator& pool_;
  EventManager& events_;
  EFI_HANDLE firmware_agent_ = nullptr;
  FixedVector<HandleEntry, kMaxHandles> handles_;       // creation order
  FixedVector<InterfaceEntry, kMaxInterfaces> interfaces_;  // by `order`
  FixedVector<OpenEntry, kMaxOpens> opens_;
  FixedVector<NotifyEntry, kMaxNotifies> notifies_;
  std::uint64_t next_order_ = 1;
  std::uint64_t next_serial_ = 1;
};

}  // namespace efikexec::efi
