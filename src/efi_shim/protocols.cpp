// SPDX-License-Identifier: MIT
#include "efi_shim/protocols.hpp"
#include "efi_shim/guids.hpp"

#include <cstring>

#include "efi_shim/device_path.hpp"

namespace efikexec::efi {

namespace {

// What the pool record behind a handle or a registration holds: nothing the shim reads back, but
// recognisable in a memory dump.
struct Record {
  std::uint64_t signature;
  std::uint64_t serial;
};
constexpr std::uint64_t kHandleSignature = 0x4c444e4846454b45;        // "EKEFHNDL"
constexpr std::uint64_t kRegistrationSignature = 0x474552504645454b;  // "KEEFPREG"

constexpr UINT32 kOpenRemovedWithInterface = EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL |
                                             EFI_OPEN_PROTOCOL_GET_PROTOCOL |
                                             EFI_OPEN_PROTOCOL_TEST_PROTOCOL;

// The drivers DisconnectController stops in one call; more is EFI_OUT_OF_RESOURCES.
constexpr std::size_t kMaxDriversPerController = 32;

void* allocate_record(PoolAllocator& pool, std::uint64_t signature, std::uint64_t serial) {
  void* record = nullptr;
  if (pool.allocate_pool(EfiBootServicesData, sizeof(Record), &record) != EFI_SUCCESS) return nullptr;
  if (record != nullptr) {
    Record contents{signature, serial};
    std::memcpy(record, &contents, sizeof(contents));
  }
  return record;
}

template <class T, std::size_t N>
bool push_unique(FixedVector<T, N>& list, const T& value, bool* overflow) {
  for (const T& item : list)
    if (item == value) return false;
  if (!list.push_back(value)) *overflow = true;
  return true;
}

}  // namespace

ProtocolDatabase::ProtocolDatabase(PoolAllocator& pool, EventManager& events)
    : pool_(pool), events_(events) {
  events_.set_close_hook(&ProtocolDatabase::on_event_closed, this);
}

void ProtocolDatabase::on_event_closed(void* self, EFI_EVENT event) {
  auto& db = *static_cast<ProtocolDatabase*>(self);
  for (const NotifyEntry& notify : db.notifies_)
    if (notify.event == event) db.pool_.free_pool(notify.registration);
  db.notifies_.erase_if([event](const NotifyEntry& notify) { return notify.event == event; });
}

ProtocolDatabase::HandleEntry* ProtocolDatabase::find_handle(EFI_HANDLE handle) {
  if (handle == nullptr) return nullptr;
  for (HandleEntry& entry : handles_)
    if (entry.handle == handle) return &entry;
  return nullptr;
}

const ProtocolDatabase::HandleEntry* ProtocolDatabase::find_handle(EFI_HANDLE handle) const {
  return const_cast<ProtocolDatabase*>(this)->find_handle(handle);
}

ProtocolDatabase::InterfaceEntry* ProtocolDatabase::find_entry(EFI_HANDLE handle,
                                                               const EFI_GUID& protocol) {
  if (handle == nullptr) return nullptr;
  for (InterfaceEntry& entry : interfaces_)
    if (entry.handle == handle && guid_equal(entry.protocol, protocol)) return &entry;
  return nullptr;
}

void* ProtocolDatabase::find_interface(EFI_HANDLE handle, const EFI_GUID& protocol) const {
  const InterfaceEntry* entry = const_cast<ProtocolDatabase*>(this)->find_entry(handle, protocol);
  return entry != nullptr ? entry->interface : nullptr;
}

ProtocolDatabase::NotifyEntry* ProtocolDatabase::find_notify(void* registration) {
  if (registration == nullptr) return nullptr;
  for (NotifyEntry& notify : notifies_)
    if (notify.registration == registration) return &notify;
  return nullptr;
}

std::size_t ProtocolDatabase::open_count(EFI_HANDLE handle, const EFI_GUID& protocol) const {
  std::size_t count = 0;
  for (const OpenEntry& open : opens_)
    count += open.handle == handle && guid_equal(open.protocol, protocol);
  return count;
}

const ProtocolDatabase::InterfaceEntry* ProtocolDatabase::next_interface(
    const EFI_GUID& protocol, std::uint64_t position) const {
  for (const InterfaceEntry& entry : interfaces_)
    if (entry.order > position && guid_equal(entry.protocol, protocol)) return &entry;
  return nullptr;
}

void ProtocolDatabase::signal_notifies(const EFI_GUID& protocol) {
  // Collected first: a notify function may register or close events while others are signalled.
  FixedVector<EFI_EVENT, kMaxNotifies> events;
  for (const NotifyEntry& notify : notifies_)
    if (guid_equal(notify.protocol, protocol)) (void)events.push_back(notify.event);
  for (EFI_EVENT event : events) (void)events_.signal_event(event);
}

EFI_STATUS ProtocolDatabase::install_one(EFI_HANDLE* handle, const EFI_GUID& protocol,
                                         void* interface) {
  HandleEntry* entry = nullptr;
  if (*handle != nullptr) {
    entry = find_handle(*handle);
    if (entry == nullptr || find_entry(*handle, protocol) != nullptr) return EFI_INVALID_PARAMETER;
    if (entry->interfaces >= kMaxProtocolsPerHandle) return EFI_OUT_OF_RESOURCES;
  }
  if (interfaces_.full()) return EFI_OUT_OF_RESOURCES;
  if (entry == nullptr) {
    if (handles_.full()) return EFI_OUT_OF_RESOURCES;
    void* record = allocate_record(pool_, kHandleSignature, next_serial_++);
    if (record == nullptr) return EFI_OUT_OF_RESOURCES;
    (void)handles_.push_back({record, 0});
    entry = &handles_.back();
  }
  std::uint64_t order = next_order_++;
  (void)interfaces_.push_back({entry->handle, protocol, interface, order, order});
  ++entry->interfaces;
  *handle = entry->handle;
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::install_protocol_interface(EFI_HANDLE* handle,
                                                        const EFI_GUID* protocol,
                                                        EFI_INTERFACE_TYPE interface_type,
                                                        void* interface) {
  if (handle == nullptr || protocol == nullptr || interface_type != EFI_NATIVE_INTERFACE)
    return EFI_INVALID_PARAMETER;
  EFI_GUID guid = *protocol;
  EFI_STATUS status = install_one(handle, guid, interface);
  if (status == EFI_SUCCESS) signal_notifies(guid);
  return status;
}

bool ProtocolDatabase::disconnect_drivers(EFI_HANDLE handle, const EFI_GUID& protocol) {
  // One driver at a time, looking again after each: Stop() changes the open list. A driver that
  // reports success but keeps its open would loop forever in EDK2; here the rounds are bounded.
  for (std::size_t round = 0; round <= kMaxOpensPerInterface; ++round) {
    EFI_HANDLE agent = nullptr;
    for (const OpenEntry& open : opens_) {
      if (open.handle == handle && guid_equal(open.protocol, protocol) &&
          (open.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER) != 0) {
        agent = open.agent;
        break;
      }
    }
    if (agent == nullptr) return true;
    if (disconnect_controller(handle, agent, nullptr) != EFI_SUCCESS) return false;
  }
  return false;
}

EFI_STATUS ProtocolDatabase::release_interface(EFI_HANDLE handle, const EFI_GUID& protocol) {
  bool disconnected = disconnect_drivers(handle, protocol);
  if (disconnected) {
    opens_.erase_if([&](const OpenEntry& open) {
      return open.handle == handle && guid_equal(open.protocol, protocol) &&
             (open.attributes & kOpenRemovedWithInterface) != 0;
    });
  }
  // EDK2 reconnects the drivers here; with none to connect that is nothing.
  if (!disconnected || open_count(handle, protocol) > 0) return EFI_ACCESS_DENIED;
  return EFI_SUCCESS;
}

void ProtocolDatabase::free_handle_if_empty(EFI_HANDLE handle) {
  HandleEntry* entry = find_handle(handle);
  if (entry == nullptr || entry->interfaces != 0) return;
  handles_.erase(static_cast<std::size_t>(entry - handles_.begin()));
  (void)pool_.free_pool(handle);
}

EFI_STATUS ProtocolDatabase::take_interface(EFI_HANDLE handle, const EFI_GUID& protocol,
                                            void* interface, InterfaceEntry** entry) {
  if (find_handle(handle) == nullptr) return EFI_INVALID_PARAMETER;
  InterfaceEntry* found = find_entry(handle, protocol);
  if (found == nullptr || found->interface != interface) return EFI_NOT_FOUND;
  EFI_STATUS status = release_interface(handle, protocol);
  if (status != EFI_SUCCESS) return status;
  // Driver Stop() functions may have run: look it up again.
  found = find_entry(handle, protocol);
  if (found == nullptr || found->interface != interface) return EFI_NOT_FOUND;
  *entry = found;
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::uninstall_one(EFI_HANDLE handle, const EFI_GUID& protocol,
                                           void* interface, bool keep_handle) {
  InterfaceEntry* entry = nullptr;
  EFI_STATUS status = take_interface(handle, protocol, interface, &entry);
  if (status != EFI_SUCCESS) return status;
  HandleEntry* owner = find_handle(handle);
  if (owner == nullptr) return EFI_NOT_FOUND;
  interfaces_.erase(static_cast<std::size_t>(entry - interfaces_.begin()));
  --owner->interfaces;
  if (!keep_handle) free_handle_if_empty(handle);
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::uninstall_protocol_interface(EFI_HANDLE handle,
                                                          const EFI_GUID* protocol,
                                                          void* interface) {
  if (protocol == nullptr) return EFI_INVALID_PARAMETER;
  return uninstall_one(handle, EFI_GUID(*protocol), interface, false);
}

EFI_STATUS ProtocolDatabase::reinstall_protocol_interface(EFI_HANDLE handle,
                                                          const EFI_GUID* protocol,
                                                          void* old_interface,
                                                          void* new_interface) {
  if (protocol == nullptr) return EFI_INVALID_PARAMETER;
  EFI_GUID guid = *protocol;
  InterfaceEntry* entry = nullptr;
  EFI_STATUS status = take_interface(handle, guid, old_interface, &entry);
  if (status != EFI_SUCCESS) return status;
  // To the end of the protocol's list: a new interface for registrations (§7.3.4).
  InterfaceEntry moved = *entry;
  interfaces_.erase(static_cast<std::size_t>(entry - interfaces_.begin()));
  moved.interface = new_interface;
  moved.order = next_order_++;
  (void)interfaces_.push_back(moved);
  signal_notifies(guid);
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::install_multiple_protocol_interfaces(
    EFI_HANDLE* handle, std::span<const ProtocolInterfacePair> pairs) {
  if (handle == nullptr) return EFI_INVALID_PARAMETER;
  if (pairs.size() > kMaxMultiplePairs) return EFI_OUT_OF_RESOURCES;
  // EDK2 holds TPL_NOTIFY over the whole installation: notify functions see all or nothing.
  EFI_TPL old_tpl = events_.raise_tpl(TPL_NOTIFY);
  EFI_HANDLE old_handle = *handle;
  EFI_STATUS status = EFI_SUCCESS;
  std::size_t installed = 0;
  for (const ProtocolInterfacePair& pair : pairs) {
    if (pair.protocol == nullptr) {
      status = EFI_INVALID_PARAMETER;
      break;
    }
    if (guid_equal(*pair.protocol, guids::kDevicePath)) {
      auto* path = static_cast<EFI_DEVICE_PATH*>(pair.interface);
      EFI_HANDLE owner = nullptr;
      if (path != nullptr &&
          locate_device_path(&guids::kDevicePath, &path, &owner) == EFI_SUCCESS &&
          owner != nullptr && device_path_is_end(path)) {
        status = EFI_ALREADY_STARTED;
        break;
      }
    }
    status = install_protocol_interface(handle, pair.protocol, EFI_NATIVE_INTERFACE,
                                        pair.interface);
    if (status != EFI_SUCCESS) break;
    ++installed;
  }
  if (status != EFI_SUCCESS) {
    for (std::size_t i = 0; i < installed; ++i)
      (void)uninstall_one(*handle, *pairs[i].protocol, pairs[i].interface, false);
    *handle = old_handle;
  }
  events_.restore_tpl(old_tpl);
  return status;
}

EFI_STATUS ProtocolDatabase::uninstall_multiple_protocol_interfaces(
    EFI_HANDLE handle, std::span<const ProtocolInterfacePair> pairs) {
  if (pairs.size() > kMaxMultiplePairs) return EFI_INVALID_PARAMETER;
  EFI_STATUS status = EFI_SUCCESS;
  std::size_t removed = 0;
  for (const ProtocolInterfacePair& pair : pairs) {
    status = pair.protocol == nullptr
                 ? EFI_INVALID_PARAMETER
                 : uninstall_one(handle, *pair.protocol, pair.interface, true);
    if (status != EFI_SUCCESS) break;
    ++removed;
  }
  if (status != EFI_SUCCESS) {
    // The handle was kept alive, so everything goes back onto the same one.
    for (std::size_t i = 0; i < removed; ++i) {
      EFI_HANDLE same = handle;
      (void)install_protocol_interface(&same, pairs[i].protocol, EFI_NATIVE_INTERFACE,
                                       pairs[i].interface);
    }
    status = EFI_INVALID_PARAMETER;
  }
  free_handle_if_empty(handle);
  return status;
}

EFI_STATUS ProtocolDatabase::handle_protocol(EFI_HANDLE handle, const EFI_GUID* protocol,
                                             void** interface) {
  return open_protocol(handle, protocol, interface, firmware_agent_, nullptr,
                       EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL);
}

EFI_STATUS ProtocolDatabase::register_protocol_notify(const EFI_GUID* protocol, EFI_EVENT event,
                                                      void** registration) {
  if (protocol == nullptr || registration == nullptr || !events_.is_event(event))
    return EFI_INVALID_PARAMETER;
  if (notifies_.full()) return EFI_OUT_OF_RESOURCES;
  void* record = allocate_record(pool_, kRegistrationSignature, next_serial_++);
  if (record == nullptr) return EFI_OUT_OF_RESOURCES;
  (void)notifies_.push_back({record, *protocol, event, 0});
  *registration = record;
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::search(EFI_LOCATE_SEARCH_TYPE search_type, const EFI_GUID* protocol,
                                    void* search_key, HandleList& found, NotifyEntry** notify) {
  *notify = nullptr;
  switch (search_type) {
    case AllHandles:
      for (const HandleEntry& entry : handles_) (void)found.push_back(entry.handle);
      break;
    case ByRegisterNotify: {
      NotifyEntry* registration = find_notify(search_key);
      if (registration == nullptr) return EFI_INVALID_PARAMETER;
      *notify = registration;
      if (const InterfaceEntry* next = next_interface(registration->protocol, registration->position))
        (void)found.push_back(next->handle);
      break;
    }
    case ByProtocol:
      if (protocol == nullptr) return EFI_INVALID_PARAMETER;
      // A handle holds a protocol once, so each handle shows up at most once.
      for (const InterfaceEntry& entry : interfaces_)
        if (guid_equal(entry.protocol, *protocol)) (void)found.push_back(entry.handle);
      break;
    default:
      return EFI_INVALID_PARAMETER;
  }
  return found.empty() ? EFI_NOT_FOUND : EFI_SUCCESS;
}

void ProtocolDatabase::advance(NotifyEntry* notify, EFI_HANDLE handle) {
  if (notify == nullptr) return;
  if (const InterfaceEntry* entry = find_entry(handle, notify->protocol)) notify->position = entry->order;
}

EFI_STATUS ProtocolDatabase::locate_handle(EFI_LOCATE_SEARCH_TYPE search_type,
                                           const EFI_GUID* protocol, void* search_key,
                                           UINTN* buffer_size, EFI_HANDLE* buffer) {
  if (buffer_size == nullptr || (*buffer_size > 0 && buffer == nullptr))
    return EFI_INVALID_PARAMETER;
  HandleList found;
  NotifyEntry* notify = nullptr;
  EFI_STATUS status = search(search_type, protocol, search_key, found, &notify);
  if (status != EFI_SUCCESS) return status;
  UINTN needed = found.size() * sizeof(EFI_HANDLE);
  if (needed > *buffer_size) {
    *buffer_size = needed;
    return EFI_BUFFER_TOO_SMALL;
  }
  std::memcpy(buffer, found.begin(), needed);
  *buffer_size = needed;
  advance(notify, found[0]);
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::locate_handle_buffer(EFI_LOCATE_SEARCH_TYPE search_type,
                                                  const EFI_GUID* protocol, void* search_key,
                                                  UINTN* no_handles, EFI_HANDLE** buffer) {
  if (no_handles == nullptr || buffer == nullptr) return EFI_INVALID_PARAMETER;
  *no_handles = 0;
  *buffer = nullptr;
  HandleList found;
  NotifyEntry* notify = nullptr;
  EFI_STATUS status = search(search_type, protocol, search_key, found, &notify);
  if (status != EFI_SUCCESS) return status == EFI_INVALID_PARAMETER ? status : EFI_NOT_FOUND;
  void* memory = nullptr;
  UINTN size = found.size() * sizeof(EFI_HANDLE);
  if (pool_.allocate_pool(EfiBootServicesData, size, &memory) != EFI_SUCCESS || memory == nullptr)
    return EFI_OUT_OF_RESOURCES;
  std::memcpy(memory, found.begin(), size);
  *buffer = static_cast<EFI_HANDLE*>(memory);
  *no_handles = found.size();
  advance(notify, found[0]);
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::locate_protocol(const EFI_GUID* protocol, void* registration,
                                             void** interface) {
  if (interface == nullptr || protocol == nullptr) return EFI_INVALID_PARAMETER;
  *interface = nullptr;
  const InterfaceEntry* entry = nullptr;
  if (registration == nullptr) {
    entry = next_interface(*protocol, 0);
  } else {
    NotifyEntry* notify = find_notify(registration);
    if (notify == nullptr) return EFI_INVALID_PARAMETER;
    entry = next_interface(notify->protocol, notify->position);
    if (entry != nullptr) notify->position = entry->order;
  }
  if (entry == nullptr) return EFI_NOT_FOUND;
  *interface = entry->interface;
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::locate_device_path(const EFI_GUID* protocol,
                                                EFI_DEVICE_PATH** device_path,
                                                EFI_HANDLE* device) {
  if (protocol == nullptr || device_path == nullptr || *device_path == nullptr)
    return EFI_INVALID_PARAMETER;
  const EFI_DEVICE_PATH* source = *device_path;
  if (!device_path_instance_size(source)) return EFI_INVALID_PARAMETER;
  std::optional<std::size_t> best;
  EFI_HANDLE best_handle = nullptr;
  for (const InterfaceEntry& entry : interfaces_) {
    if (!guid_equal(entry.protocol, *protocol)) continue;
    auto* path = static_cast<const EFI_DEVICE_PATH*>(
        find_interface(entry.handle, guids::kDevicePath));
    auto size = device_path_prefix_size(path, source);
    // Two handles with the same path would be a database error (EDK2 ASSERTs); first one wins.
    if (size && (!best || *size > *best)) {
      best = size;
      best_handle = entry.handle;
    }
  }
  if (!best) return EFI_NOT_FOUND;
  if (device == nullptr) return EFI_INVALID_PARAMETER;
  *device = best_handle;
  *device_path = reinterpret_cast<EFI_DEVICE_PATH*>(
      const_cast<std::byte*>(reinterpret_cast<const std::byte*>(source)) + *best);
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::open_protocol(EFI_HANDLE handle, const EFI_GUID* protocol,
                                           void** interface, EFI_HANDLE agent,
                                           EFI_HANDLE controller, UINT32 attributes) {
  if (protocol == nullptr) return EFI_INVALID_PARAMETER;
  bool test = attributes == EFI_OPEN_PROTOCOL_TEST_PROTOCOL;
  if (!test && interface == nullptr) return EFI_INVALID_PARAMETER;
  if (find_handle(handle) == nullptr) return EFI_INVALID_PARAMETER;
  switch (attributes) {
    case EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER:
      if (!is_handle(agent) || !is_handle(controller) || handle == controller)
        return EFI_INVALID_PARAMETER;
      break;
    case EFI_OPEN_PROTOCOL_BY_DRIVER:
    case EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE:
      if (!is_handle(agent) || !is_handle(controller)) return EFI_INVALID_PARAMETER;
      break;
    case EFI_OPEN_PROTOCOL_EXCLUSIVE:
      if (!is_handle(agent)) return EFI_INVALID_PARAMETER;
      break;
    case EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL:
    case EFI_OPEN_PROTOCOL_GET_PROTOCOL:
    case EFI_OPEN_PROTOCOL_TEST_PROTOCOL:
      break;
    default:
      return EFI_INVALID_PARAMETER;
  }
  EFI_GUID guid = *protocol;
  // EDK2 leaves *Interface alone on errors other than EFI_UNSUPPORTED (NULL) and
  // EFI_ALREADY_STARTED (the interface: not an error for a bus driver).
  auto result = [&](EFI_STATUS status) {
    if (!test && (status == EFI_SUCCESS || status == EFI_ALREADY_STARTED))
      *interface = find_interface(handle, guid);
    else if (!test && status == EFI_UNSUPPORTED)
      *interface = nullptr;
    return status;
  };
  if (find_entry(handle, guid) == nullptr) return result(EFI_UNSUPPORTED);

  bool by_driver = false;
  bool exclusive = false;
  for (OpenEntry& open : opens_) {
    if (open.handle != handle || !guid_equal(open.protocol, guid)) continue;
    bool exact = open.agent == agent && open.attributes == attributes &&
                 open.controller == controller;
    if ((open.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER) != 0) {
      by_driver = true;
      if (exact) return result(EFI_ALREADY_STARTED);
    }
    if ((open.attributes & EFI_OPEN_PROTOCOL_EXCLUSIVE) != 0) {
      exclusive = true;
    } else if (exact) {
      ++open.open_count;
      return result(EFI_SUCCESS);
    }
  }
  switch (attributes) {
    case EFI_OPEN_PROTOCOL_BY_DRIVER:
      if (exclusive || by_driver) return result(EFI_ACCESS_DENIED);
      break;
    case EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE:
    case EFI_OPEN_PROTOCOL_EXCLUSIVE:
      if (exclusive) return result(EFI_ACCESS_DENIED);
      // An exclusive opener takes the interface from the drivers holding it (§7.3.9).
      if (by_driver && !disconnect_drivers(handle, guid)) return result(EFI_ACCESS_DENIED);
      if (find_entry(handle, guid) == nullptr) return result(EFI_UNSUPPORTED);
      break;
  }
  if (agent == nullptr) return result(EFI_SUCCESS);
  if (open_count(handle, guid) >= kMaxOpensPerInterface ||
      !opens_.push_back({handle, guid, agent, controller, attributes, 1}))
    return result(EFI_OUT_OF_RESOURCES);
  return result(EFI_SUCCESS);
}

EFI_STATUS ProtocolDatabase::close_protocol(EFI_HANDLE handle, const EFI_GUID* protocol,
                                            EFI_HANDLE agent, EFI_HANDLE controller) {
  if (!is_handle(handle) || !is_handle(agent) || (controller != nullptr && !is_handle(controller)) ||
      protocol == nullptr)
    return EFI_INVALID_PARAMETER;
  EFI_GUID guid = *protocol;
  if (find_entry(handle, guid) == nullptr) return EFI_NOT_FOUND;
  std::size_t before = opens_.size();
  opens_.erase_if([&](const OpenEntry& open) {
    return open.handle == handle && guid_equal(open.protocol, guid) && open.agent == agent &&
           open.controller == controller;
  });
  return opens_.size() != before ? EFI_SUCCESS : EFI_NOT_FOUND;
}

EFI_STATUS ProtocolDatabase::open_protocol_information(
    EFI_HANDLE handle, const EFI_GUID* protocol, EFI_OPEN_PROTOCOL_INFORMATION_ENTRY** entry_buffer,
    UINTN* entry_count) {
  if (protocol == nullptr || entry_buffer == nullptr || entry_count == nullptr)
    return EFI_INVALID_PARAMETER;
  *entry_buffer = nullptr;
  *entry_count = 0;
  EFI_GUID guid = *protocol;
  if (find_entry(handle, guid) == nullptr) return EFI_NOT_FOUND;
  std::size_t count = open_count(handle, guid);
  // EDK2 allocates one entry even when there are none, so the buffer is never NULL.
  UINTN size = (count == 0 ? 1 : count) * sizeof(EFI_OPEN_PROTOCOL_INFORMATION_ENTRY);
  void* memory = nullptr;
  if (pool_.allocate_pool(EfiBootServicesData, size, &memory) != EFI_SUCCESS || memory == nullptr)
    return EFI_OUT_OF_RESOURCES;
  auto* entries = static_cast<EFI_OPEN_PROTOCOL_INFORMATION_ENTRY*>(memory);
  std::size_t i = 0;
  for (const OpenEntry& open : opens_) {
    if (open.handle != handle || !guid_equal(open.protocol, guid)) continue;
    entries[i++] = {open.agent, open.controller, open.attributes, open.open_count};
  }
  *entry_buffer = entries;
  *entry_count = count;
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::protocols_per_handle(EFI_HANDLE handle, EFI_GUID*** protocol_buffer,
                                                  UINTN* protocol_buffer_count) {
  if (protocol_buffer == nullptr || protocol_buffer_count == nullptr) return EFI_INVALID_PARAMETER;
  *protocol_buffer_count = 0;
  const HandleEntry* owner = find_handle(handle);
  if (owner == nullptr || owner->interfaces == 0) return EFI_INVALID_PARAMETER;
  std::size_t count = owner->interfaces;
  void* memory = nullptr;
  if (pool_.allocate_pool(EfiBootServicesData, count * (sizeof(EFI_GUID*) + sizeof(EFI_GUID)),
                          &memory) != EFI_SUCCESS ||
      memory == nullptr)
    return EFI_OUT_OF_RESOURCES;
  auto* pointers = static_cast<EFI_GUID**>(memory);
  auto* guids = reinterpret_cast<EFI_GUID*>(pointers + count);
  // Newest first: walk the handle's interfaces by descending install order.
  std::uint64_t below = ~std::uint64_t{0};
  for (std::size_t i = 0; i < count; ++i) {
    const InterfaceEntry* newest = nullptr;
    for (const InterfaceEntry& entry : interfaces_) {
      if (entry.handle != handle || entry.handle_order >= below) continue;
      if (newest == nullptr || entry.handle_order > newest->handle_order) newest = &entry;
    }
    below = newest->handle_order;
    guids[i] = newest->protocol;
    pointers[i] = &guids[i];
  }
  *protocol_buffer = pointers;
  *protocol_buffer_count = count;
  return EFI_SUCCESS;
}

EFI_STATUS ProtocolDatabase::connect_controller(EFI_HANDLE controller, EFI_HANDLE*,
                                                EFI_DEVICE_PATH*, BOOLEAN) {
  if (!is_handle(controller)) return EFI_INVALID_PARAMETER;
  return EFI_NOT_FOUND;
}

EFI_STATUS ProtocolDatabase::stop_driver(EFI_HANDLE controller, EFI_HANDLE driver,
                                         EFI_HANDLE child, bool* stopped) {
  *stopped = false;
  auto* binding = static_cast<EFI_DRIVER_BINDING_PROTOCOL*>(
      find_interface(driver, guids::kDriverBinding));
  if (binding == nullptr) return EFI_INVALID_PARAMETER;
  bool manages = false;
  bool child_found = false;
  bool overflow = false;
  HandleList children;
  for (const OpenEntry& open : opens_) {
    if (open.handle != controller || open.agent != driver) continue;
    manages |= (open.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER) != 0;
    if ((open.attributes & EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER) != 0) {
      push_unique(children, open.controller, &overflow);
      child_found |= open.controller == child;
    }
  }
  if (overflow) return EFI_OUT_OF_RESOURCES;
  if (!manages || (child != nullptr && !child_found)) return EFI_SUCCESS;
  // Children first, then the driver itself unless only one child was asked for and it has more
  // (UEFI 2.10 §11.1 EFI_DRIVER_BINDING_PROTOCOL.Stop()).
  EFI_STATUS status = EFI_SUCCESS;
  std::size_t to_stop = 0;
  if (!children.empty()) {
    to_stop = child != nullptr ? 1 : children.size();
    status = binding->Stop(binding, controller, to_stop, child != nullptr ? &child : children.begin());
  }
  if (!EFI_ERROR(status) && (child == nullptr || children.size() == to_stop))
    status = binding->Stop(binding, controller, 0, nullptr);
  *stopped = !EFI_ERROR(status);
  return status;
}

EFI_STATUS ProtocolDatabase::disconnect_controller(EFI_HANDLE controller, EFI_HANDLE driver_image,
                                                   EFI_HANDLE child) {
  if (!is_handle(controller) || (child != nullptr && !is_handle(child)))
    return EFI_INVALID_PARAMETER;
  if (driver_image != nullptr && find_interface(driver_image, guids::kDriverBinding) == nullptr)
    return EFI_INVALID_PARAMETER;
  FixedVector<EFI_HANDLE, kMaxDriversPerController> drivers;
  bool overflow = false;
  for (const OpenEntry& open : opens_) {
    if (open.handle == controller && (open.attributes & EFI_OPEN_PROTOCOL_BY_DRIVER) != 0 &&
        (driver_image == nullptr || open.agent == driver_image))
      push_unique(drivers, open.agent, &overflow);
  }
  if (overflow) return EFI_OUT_OF_RESOURCES;
  // Nothing manages the controller (or not the given driver): nothing to do (§7.3.13).
  if (drivers.empty()) return EFI_SUCCESS;
  std::size_t stopped = 0;
  bool failed = false;
  for (EFI_HANDLE driver : drivers) {
    bool done = false;
    EFI_STATUS status = stop_driver(controller, driver, child, &done);
    if (status == EFI_INVALID_PARAMETER || status == EFI_OUT_OF_RESOURCES) return status;
    failed |= EFI_ERROR(status);
    stopped += done;
  }
  // The specification has no "not found" here; a driver whose Stop() failed is a device error.
  return failed && stopped == 0 ? EFI_DEVICE_ERROR : EFI_SUCCESS;
}

}  // namespace efikexec::efi
