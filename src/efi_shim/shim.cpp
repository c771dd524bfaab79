// SPDX-License-Identifier: MIT
#include "efi_shim/shim.hpp"

#include <cstring>

#include "efi_shim/crc32.hpp"
#include "efi_shim/device_path.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/service_call.hpp"

namespace efikexec::efi {

namespace {

// EFI calls carry no context: the entry points find the shim here. Set by Shim::init.
Shim* g_active_shim = nullptr;

// The revision OVMF 2022.11 reports (UEFI 2.70), which the reference traces were taken with.
constexpr UINT32 kSpecificationRevision = (2 << 16) | 70;
constexpr char16_t kFirmwareVendor[] = u"efikexec";
constexpr UINT32 kFirmwareRevision = 0x00010000;

template <class T>
void set_header(T& table, UINT64 signature) {
  table.Hdr.Signature = signature;
  table.Hdr.Revision = kSpecificationRevision;
  table.Hdr.HeaderSize = sizeof(T);
  table.Hdr.CRC32 = 0;
  table.Hdr.Reserved = 0;
}

}  // namespace

Shim& active_shim() { return *g_active_shim; }

void* Shim::allocate(EFI_MEMORY_TYPE type, std::size_t size) {
  void* memory = nullptr;
  if (memory_.allocate_pool(type, size, &memory) != EFI_SUCCESS) return nullptr;
  std::memset(memory, 0, size);
  return memory;
}

void Shim::update_table_crc(EFI_TABLE_HEADER* header) {
  header->CRC32 = 0;
  header->CRC32 = crc32({reinterpret_cast<const std::byte*>(header), header->HeaderSize});
}

Result<void> Shim::build_tables(const ShimConfig& config) {
  // UEFI 2.10 §4.3: the system table, the runtime table and the configuration table must stay
  // valid after ExitBootServices(), so they are runtime data; the boot table need not be.
  system_table_ = static_cast<EFI_SYSTEM_TABLE*>(
      allocate(EfiRuntimeServicesData, sizeof(EFI_SYSTEM_TABLE)));
  runtime_services_ = static_cast<EFI_RUNTIME_SERVICES*>(
      allocate(EfiRuntimeServicesData, sizeof(EFI_RUNTIME_SERVICES)));
  boot_services_ = static_cast<EFI_BOOT_SERVICES*>(
      allocate(EfiBootServicesData, sizeof(EFI_BOOT_SERVICES)));
  auto* vendor = static_cast<CHAR16*>(allocate(EfiRuntimeServicesData, sizeof kFirmwareVendor));
  if (!system_table_ || !runtime_services_ || !boot_services_ || !vendor)
    return fail(ErrorCode::kNoMemory, "no memory for the system table");
  std::memcpy(vendor, kFirmwareVendor, sizeof kFirmwareVendor);

  // The code the next kernel finds behind the runtime table after kexec.
  EFI_PHYSICAL_ADDRESS stub = 0;
  if (config.runtime_stub_code.size() > kPageSize ||
      memory_.allocate_pages(AllocateAnyPages, EfiRuntimeServicesCode, 1, &stub) != EFI_SUCCESS)
    return fail(ErrorCode::kNoMemory, "no memory for the runtime services stubs");
  if (!config.runtime_stub_code.empty())  // memcpy takes no null source, even for no bytes
    std::memcpy(memory_.pointer(stub), config.runtime_stub_code.data(),
                config.runtime_stub_code.size());
  runtime_stub_ = stub;

  set_header(*boot_services_, EFI_BOOT_SERVICES_SIGNATURE);
  fill_boot_services(*boot_services_, config.exit_boot_services_entry);
  update_table_crc(&boot_services_->Hdr);
  set_header(*runtime_services_, EFI_RUNTIME_SERVICES_SIGNATURE);
  fill_runtime_services(*runtime_services_);
  update_table_crc(&runtime_services_->Hdr);
  set_header(*system_table_, EFI_SYSTEM_TABLE_SIGNATURE);
  system_table_->FirmwareVendor = vendor;
  system_table_->FirmwareRevision = kFirmwareRevision;
  system_table_->RuntimeServices = runtime_services_;
  system_table_->BootServices = boot_services_;
  update_table_crc(&system_table_->Hdr);
  return {};
}

Result<void> Shim::init(const ShimConfig& config, const ShimHost& host) {
  host_ = host;
  g_active_shim = this;
  if (auto ready = memory_.init(config.machine, *host.memory); !ready) return ready;
  events_.emplace(*host.clock, memory_);
  protocols_.emplace(memory_, *events_);
  variables_.emplace(config.variable_storage);
  runtime_.emplace(*host.clock);
  if (auto tables = build_tables(config); !tables) return tables;

  // EDK2 records HandleProtocol() opens under its core's image handle, so they show in
  // OpenProtocolInformation; the shim has a handle of its own for that.
  EFI_HANDLE firmware = nullptr;
  EFI_DEVICE_PATH* firmware_path = make_vendor_path(memory_, HARDWARE_DEVICE_PATH, HW_VENDOR_DP,
                                                    guids::kFirmwareCore);
  if (firmware_path == nullptr ||
      protocols_->install_protocol_interface(&firmware, &guids::kDevicePath, EFI_NATIVE_INTERFACE,
                                             firmware_path) != EFI_SUCCESS)
    return fail(ErrorCode::kNoMemory, "cannot create the firmware's handle");
  protocols_->set_firmware_agent(firmware);

  if (install_console(*this, *system_table_) != EFI_SUCCESS || install_rng(*this) != EFI_SUCCESS ||
      install_device_path_to_text(*this) != EFI_SUCCESS ||
      install_boot_volume(*this, &boot_volume_, &boot_volume_path_) != EFI_SUCCESS)
    return fail(ErrorCode::kNoMemory, "cannot install the shim's own protocols");
  update_table_crc(&system_table_->Hdr);
  for (const ConfigurationTableEntry& table : config.firmware_tables) {
    EFI_GUID guid = table.guid;
    if (install_configuration_table(&guid, reinterpret_cast<void*>(table.address)) != EFI_SUCCESS)
      return fail(ErrorCode::kNoMemory, "cannot install the firmware's configuration tables");
  }

  EFI_PHYSICAL_ADDRESS stack = 0;
  if (memory_.allocate_pages(AllocateAnyPages, EfiBootServicesData, config.stack_pages, &stack) !=
      EFI_SUCCESS)
    return fail(ErrorCode::kNoMemory, "no memory for the EFI stack");
  images_.init(memory_, *protocols_, *host.runner, system_table_,
               stack + pages_to_bytes(config.stack_pages));
  return {};
}

EFI_STATUS Shim::load_image(ByteView file, const CHAR16* file_name, const char* label,
                            EFI_HANDLE* handle) {
  // The path a boot manager would use: the volume, then a file path node (§10.3.5.4).
  std::size_t name_chars = 0;
  while (file_name[name_chars] != 0 && name_chars < 255) ++name_chars;
  const std::size_t volume_size = *device_path_instance_size(boot_volume_path_);
  const std::size_t node_size = 4 + (name_chars + 1) * sizeof(CHAR16);
  auto* path = static_cast<std::uint8_t*>(allocate(EfiBootServicesData,
                                                   volume_size + node_size + 4));
  if (path == nullptr) return EFI_OUT_OF_RESOURCES;
  std::memcpy(path, boot_volume_path_, volume_size);
  std::uint8_t* node = path + volume_size;
  node[0] = MEDIA_DEVICE_PATH;
  node[1] = MEDIA_FILEPATH_DP;
  node[2] = static_cast<std::uint8_t>(node_size);
  node[3] = static_cast<std::uint8_t>(node_size >> 8);
  std::memcpy(node + 4, file_name, name_chars * sizeof(CHAR16));
  std::uint8_t* end = node + node_size;
  end[0] = END_DEVICE_PATH_TYPE;
  end[1] = END_ENTIRE_DEVICE_PATH_SUBTYPE;
  end[2] = 4;
  EFI_STATUS status = images_.load(FALSE, nullptr, reinterpret_cast<EFI_DEVICE_PATH*>(path),
                                   file.data(), file.size(), handle, label);
  (void)memory_.free_pool(path);
  return status;
}

Result<void> Shim::set_boot_volume(std::span<const VolumeNode> nodes, bool secure_boot) {
  if (auto assigned = boot_volume_files_.assign(nodes); !assigned) return assigned;
  secure_boot_ = secure_boot;
  return {};
}

EFI_STATUS Shim::load_image_service(BOOLEAN boot_policy, EFI_HANDLE parent,
                                    EFI_DEVICE_PATH* path, const void* source, UINTN source_size,
                                    EFI_HANDLE* handle) {
  // The file the path names on the boot volume, if it does.
  std::optional<std::uint32_t> node;
  if (path != nullptr) {
    EFI_DEVICE_PATH* remaining = path;
    EFI_HANDLE device = nullptr;
    if (protocols_->locate_device_path(&guids::kSimpleFileSystem, &remaining, &device) ==
            EFI_SUCCESS &&
        device == boot_volume_) {
      if (auto size = device_path_size(remaining)) {
        auto found = boot_volume_files_.resolve_file_path(
            ByteView(reinterpret_cast<const std::byte*>(remaining), *size));
        if (found) node = *found;
      }
    }
  }
  // OVMF refuses an image that fails its verification with EFI_ACCESS_DENIED and no handle
  // (UEFI 2.10 §7.4.1: the platform policy prohibits loading it), as its reference traces of
  // add-ons under Secure Boot show (tests/conformance/esp-trace.sh).
  if (secure_boot_) {
    if (node && boot_volume_files_.node(*node).refused) return EFI_ACCESS_DENIED;
    // An image read first and handed over as a buffer (systemd-stub >= 258 does so).
    if (source != nullptr)
      for (std::uint32_t i = 0; i < boot_volume_files_.size(); ++i) {
        const VolumeNode& file = boot_volume_files_.node(i);
        if (file.refused && file.data.size() == source_size &&
            std::memcmp(file.data.data(), source, source_size) == 0)
          return EFI_ACCESS_DENIED;
      }
  }
  if (source == nullptr && node && !boot_volume_files_.node(*node).directory) {
    const ByteView data = boot_volume_files_.node(*node).data;
    source = data.data();
    source_size = data.size();
  }
  return images_.load(boot_policy, parent, path, source, source_size, handle);
}

EFI_STATUS Shim::set_load_options(EFI_HANDLE handle, const CHAR16* options, std::size_t length) {
  const LoadedImageRecord* record = images_.find(handle);
  if (record == nullptr) return EFI_INVALID_PARAMETER;
  const std::size_t bytes = (length + 1) * sizeof(CHAR16);
  auto* copy = static_cast<CHAR16*>(allocate(EfiLoaderData, bytes));
  if (copy == nullptr) return EFI_OUT_OF_RESOURCES;
  std::memcpy(copy, options, length * sizeof(CHAR16));
  record->protocol->LoadOptions = copy;
  record->protocol->LoadOptionsSize = static_cast<UINT32>(bytes);
  return EFI_SUCCESS;
}

EFI_STATUS Shim::install_initrd(ByteView initrd) { return efi::install_initrd(*this, initrd); }

EFI_STATUS Shim::start_image(EFI_HANDLE handle, UINTN* exit_data_size, CHAR16** exit_data) {
  return images_.start(handle, exit_data_size, exit_data);
}

void Shim::describe_address(Text& out, std::uint64_t address) const {
  if (const LoadedImageRecord* image = images_.containing(address)) {
    out.str(image->label).str("+").hex(address - image->base);
    return;
  }
  for (const PageAllocation& pages : page_allocations_) {
    if (address >= pages.start && address - pages.start < pages_to_bytes(pages.pages)) {
      out.str("pages@#").dec(pages.sequence).chr('+').hex(address - pages.start);
      return;
    }
  }
  out.chr('?').hex(address);
}

void Shim::note_pages_allocated(std::uint64_t start, std::uint64_t pages,
                                std::uint64_t sequence) {
  if (page_allocations_.full()) page_allocations_.erase(0);
  (void)page_allocations_.push_back({start, pages, sequence});
}

void Shim::note_pages_freed(std::uint64_t start, std::uint64_t pages) {
  const std::uint64_t end = start + pages_to_bytes(pages);
  page_allocations_.erase_if([&](const PageAllocation& allocation) {
    return allocation.start < end && start < allocation.start + pages_to_bytes(allocation.pages);
  });
}

unsigned Shim::depth() const {
  unsigned running = 0;
  for (const LoadedImageRecord& record : images_.records())
    if (record.handle != nullptr && record.running) ++running;
  return running > 0 ? running - 1 : 0;
}

Shim::CallState Shim::enter_service(const char* name) {
  CallState previous{0, current_service_};
  current_service_ = name;
  // Timers fire when the image calls in (§7.1: the shim has no timer interrupt).
  if (!exited_ && events_) events_->poll();
  return previous;
}

EFI_STATUS Shim::install_configuration_table(const EFI_GUID* guid, void* table) {
  if (guid == nullptr) return EFI_INVALID_PARAMETER;
  UINTN& count = system_table_->NumberOfTableEntries;
  for (UINTN i = 0; i < count; ++i) {
    if (!guid_equal(configuration_tables_[i].VendorGuid, *guid)) continue;
    if (table != nullptr) {
      configuration_tables_[i].VendorTable = table;
    } else {
      for (UINTN j = i; j + 1 < count; ++j) configuration_tables_[j] = configuration_tables_[j + 1];
      --count;
    }
    update_table_crc(&system_table_->Hdr);
    return EFI_SUCCESS;
  }
  if (table == nullptr) return EFI_NOT_FOUND;
  if (count == configuration_capacity_) {
    // Grown in steps as EDK2 does; runtime data, since the next kernel reads it (§4.6).
    const std::size_t capacity = configuration_capacity_ + 16;
    auto* grown = static_cast<EFI_CONFIGURATION_TABLE*>(
        allocate(EfiRuntimeServicesData, capacity * sizeof(EFI_CONFIGURATION_TABLE)));
    if (grown == nullptr) return EFI_OUT_OF_RESOURCES;
    if (count != 0) std::memcpy(grown, configuration_tables_, count * sizeof *grown);
    if (configuration_tables_ != nullptr) (void)memory_.free_pool(configuration_tables_);
    configuration_tables_ = grown;
    configuration_capacity_ = capacity;
    system_table_->ConfigurationTable = grown;
  }
  configuration_tables_[count].VendorGuid = *guid;
  configuration_tables_[count].VendorTable = table;
  ++count;
  update_table_crc(&system_table_->Hdr);
  return EFI_SUCCESS;
}

EFI_STATUS Shim::exit_boot_services(EFI_HANDLE image, UINTN map_key) {
  if (exited_) return EFI_INVALID_PARAMETER;
  events_->signal_before_exit_boot_services();
  // §7.4.6: a stale key means the caller's map is out of date; it must ask again.
  if (map_key != memory_.map_key()) return EFI_INVALID_PARAMETER;
  events_->signal_exit_boot_services();
  variables_->exit_boot_services();
  exited_ = true;

  // What the next kernel sees: runtime services that are still there after kexec, and no boot
  // services or consoles (EDK2 clears them the same way).
  auto* slots = reinterpret_cast<std::uint64_t*>(&runtime_services_->GetTime);
  const std::size_t count = (sizeof(EFI_RUNTIME_SERVICES) - sizeof(EFI_TABLE_HEADER)) / 8;
  for (std::size_t i = 0; i < count; ++i) slots[i] = runtime_stub_;
  update_table_crc(&runtime_services_->Hdr);
  system_table_->ConsoleInHandle = nullptr;
  system_table_->ConIn = nullptr;
  system_table_->ConsoleOutHandle = nullptr;
  system_table_->ConOut = nullptr;
  system_table_->StandardErrorHandle = nullptr;
  system_table_->StdErr = nullptr;
  system_table_->BootServices = nullptr;
  update_table_crc(&system_table_->Hdr);
  host_.run_end->boot_services_exited(image);
  return EFI_SUCCESS;
}

// ---- ServiceCall ----

ServiceCall::ServiceCall(const char* name, const void* return_address)
    : shim_(active_shim()),
      previous_(shim_.enter_service(name)),
      traced_(shim_.host().trace != nullptr) {
  if (!traced_) return;
  sequence_ = shim_.next_sequence();
  text_.chr('#').dec(sequence_).str(" d").dec(shim_.depth()).chr(' ');
  shim_.describe_address(text_, reinterpret_cast<std::uint64_t>(return_address));
  text_.chr(' ').str(name).chr('(');
}

ServiceCall::~ServiceCall() {
  if (traced_ && !emitted_) emit();
  shim_.leave_service(previous_);
}

Text& ServiceCall::result(EFI_STATUS status) { return text_.str(") -> ").status(status); }

Text& ServiceCall::result_void() { return text_.str(") -> void"); }

void ServiceCall::emit() {
  if (!traced_) return;
  shim_.host().trace->line(text_.view());
  emitted_ = true;
}

Text& ServiceCall::handle(EFI_HANDLE handle) {
  if (const LoadedImageRecord* image = shim_.images().find(handle))
    return text_.str("h:").str(image->label);
  return text_.hex(reinterpret_cast<std::uint64_t>(handle));
}

Text& ServiceCall::guid(const EFI_GUID* guid) {
  if (guid == nullptr) return text_.str("NULL");
  if (const char* name = guids::name(*guid)) return text_.str(name);
  return text_.guid(*guid);
}

Text& ServiceCall::device_path(const EFI_DEVICE_PATH* path) {
  append_device_path(text_, path, guids::name);
  return text_;
}

}  // namespace efikexec::efi
