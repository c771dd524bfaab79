// SPDX-License-Identifier: MIT
#include "efi_shim/images.hpp"

#include <cstring>

#include "efi_shim/device_path.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/memory.hpp"
#include "efi_shim/protocols.hpp"
#include "pe_loader/decimal.hpp"
#include "pe_loader/pe_image.hpp"

namespace efikexec::efi {

namespace {

// The EFI_LOAD_FILE2 protocol has the same shape as EFI_LOAD_FILE (UEFI 2.10 §13.2).
using LoadFileProtocol = EFI_LOAD_FILE_PROTOCOL;

void copy_label(char (&out)[16], const char* label, unsigned number) {
  std::memset(out, 0, sizeof out);
  if (label != nullptr) {
    std::size_t length = std::strlen(label);
    std::memcpy(out, label, length < sizeof out - 1 ? length : sizeof out - 1);
    return;
  }
  char text[16] = "image";
  std::size_t at = 5;
  const Decimal digits(number);  // named: a temporary in the range expression dies too early
  for (const char digit : digits.view())
    if (at < sizeof text - 1) text[at++] = digit;
  std::memcpy(out, text, sizeof text);
}

// UEFI 2.10 §2.1: the image type decides the memory types of its code and data.
bool memory_types_for(std::uint16_t subsystem, EFI_MEMORY_TYPE* code, EFI_MEMORY_TYPE* data) {
  switch (subsystem) {
    case 10: *code = EfiLoaderCode; *data = EfiLoaderData; return true;
    case 11: *code = EfiBootServicesCode; *data = EfiBootServicesData; return true;
    case 12: *code = EfiRuntimeServicesCode; *data = EfiRuntimeServicesData; return true;
    default: return false;
  }
}

// A pool copy of a device path (the image's FilePath and LoadedImageDevicePath outlive the
// caller's buffer); null if the path is malformed or memory ran out.
EFI_DEVICE_PATH* duplicate_device_path(PoolAllocator& pool, const EFI_DEVICE_PATH* path) {
  auto size = device_path_size(path);
  void* copy = nullptr;
  if (!size || pool.allocate_pool(EfiBootServicesData, *size, &copy) != EFI_SUCCESS)
    return nullptr;
  std::memcpy(copy, path, *size);
  return static_cast<EFI_DEVICE_PATH*>(copy);
}

}  // namespace

void ImageTable::init(MemoryManager& memory, ProtocolDatabase& protocols, ImageRunner& runner,
                      EFI_SYSTEM_TABLE* system_table, std::uint64_t stack_top) {
  memory_ = &memory;
  protocols_ = &protocols;
  runner_ = &runner;
  system_table_ = system_table;
  stack_top_ = stack_top;
}

LoadedImageRecord* ImageTable::find_mutable(EFI_HANDLE handle) {
  if (handle == nullptr) return nullptr;
  for (LoadedImageRecord& record : records_)
    if (record.handle == handle) return &record;
  return nullptr;
}

const LoadedImageRecord* ImageTable::find(EFI_HANDLE handle) const {
  return const_cast<ImageTable*>(this)->find_mutable(handle);
}

const LoadedImageRecord* ImageTable::containing(std::uint64_t address) const {
  for (const LoadedImageRecord& record : records_)
    if (record.handle != nullptr && address >= record.base && address - record.base < record.size)
      return &record;
  return nullptr;
}

const LoadedImageRecord* ImageTable::running() const {
  // Nested StartImage calls run on the same stack; the innermost one has the lowest frame.
  const LoadedImageRecord* innermost = nullptr;
  for (const LoadedImageRecord& record : records_)
    if (record.handle != nullptr && record.running &&
        (innermost == nullptr || record.exit_frame < innermost->exit_frame))
      innermost = &record;
  return innermost;
}

EFI_STATUS ImageTable::map(ByteView file, std::uint16_t* subsystem, std::uint64_t* allocation,
                           std::uint64_t* pages, std::uint64_t* base, std::uint64_t* size,
                           std::uint64_t* entry) {
  // OVMF answers EFI_UNSUPPORTED for bytes that are not a PE image (conformance transcripts).
  auto image = pe::Image::parse(file);
  if (!image) return EFI_UNSUPPORTED;
  EFI_MEMORY_TYPE code_type, data_type;
  if (!image->is_x86_64() || !memory_types_for(image->subsystem(), &code_type, &data_type))
    return EFI_UNSUPPORTED;
  const std::uint64_t alignment =
      image->section_alignment() > kPageSize ? image->section_alignment() : kPageSize;
  *pages = bytes_to_pages(image->size_of_image()) + (alignment - kPageSize) / kPageSize;
  EFI_PHYSICAL_ADDRESS address = 0;
  if (memory_->allocate_pages(AllocateAnyPages, code_type, *pages, &address) != EFI_SUCCESS)
    return EFI_OUT_OF_RESOURCES;
  *allocation = address;
  *base = (address + alignment - 1) & ~(alignment - 1);
  std::span<std::byte> mapped(memory_->pointer(*base), image->size_of_image());
  if (!pe::map_image(*image, mapped) || !pe::relocate_image(*image, mapped, *base)) {
    (void)memory_->free_pages(address, *pages);
    return EFI_LOAD_ERROR;
  }
  *subsystem = image->subsystem();
  *size = image->size_of_image();
  *entry = *base + image->entry_point();
  return EFI_SUCCESS;
}

EFI_STATUS ImageTable::read_through_device_path(BOOLEAN boot_policy,
                                                EFI_DEVICE_PATH* device_path, void** buffer,
                                                UINTN* size) {
  // UEFI 2.10 §7.4.1: LoadFile2 (not for boot options), then LoadFile, then a file system.
  for (const EFI_GUID* protocol : {&guids::kLoadFile2, &guids::kLoadFile}) {
    if (protocol == &guids::kLoadFile2 && boot_policy) continue;
    EFI_DEVICE_PATH* remaining = device_path;
    EFI_HANDLE device = nullptr;
    if (protocols_->locate_device_path(protocol, &remaining, &device) != EFI_SUCCESS) continue;
    void* interface = nullptr;
    if (protocols_->handle_protocol(device, protocol, &interface) != EFI_SUCCESS) continue;
    auto* load_file = static_cast<LoadFileProtocol*>(interface);
    *size = 0;
    EFI_STATUS status = load_file->LoadFile(load_file, remaining, boot_policy, size, nullptr);
    if (status != EFI_BUFFER_TOO_SMALL) return status == EFI_SUCCESS ? EFI_LOAD_ERROR : status;
    status = memory_->allocate_pool(EfiBootServicesData, *size, buffer);
    if (status != EFI_SUCCESS) return status;
    status = load_file->LoadFile(load_file, remaining, boot_policy, size, *buffer);
    if (status != EFI_SUCCESS) (void)memory_->free_pool(*buffer);
    return status;
  }
  return EFI_NOT_FOUND;
}

EFI_STATUS ImageTable::load(BOOLEAN boot_policy, EFI_HANDLE parent, EFI_DEVICE_PATH* device_path,
                            const void* source, UINTN source_size, EFI_HANDLE* handle,
                            const char* label) {
  if (handle == nullptr) return EFI_INVALID_PARAMETER;
  LoadedImageRecord* slot = nullptr;
  for (LoadedImageRecord& record : records_)
    if (record.handle == nullptr) {
      slot = &record;
      break;
    }
  if (slot == nullptr) return EFI_OUT_OF_RESOURCES;

  void* read_buffer = nullptr;
  if (source == nullptr) {
    if (device_path == nullptr) return EFI_INVALID_PARAMETER;
    EFI_STATUS status = read_through_device_path(boot_policy, device_path, &read_buffer,
                                                 &source_size);
    if (status != EFI_SUCCESS) return status;
    source = read_buffer;
  }
  // Images are named after what they are, as the reference traces name them.
  if (label == nullptr && source_size > 0x206 &&
      std::memcmp(static_cast<const std::uint8_t*>(source) + 0x202, "HdrS", 4) == 0)
    label = "linux";
  LoadedImageRecord record{};
  EFI_STATUS status = map(ByteView(static_cast<const std::byte*>(source), source_size),
                          &record.subsystem, &record.allocation, &record.pages, &record.base,
                          &record.size, &record.entry);
  if (read_buffer != nullptr) (void)memory_->free_pool(read_buffer);
  if (status != EFI_SUCCESS) return status;

  EFI_MEMORY_TYPE code_type = EfiLoaderCode, data_type = EfiLoaderData;
  memory_types_for(record.subsystem, &code_type, &data_type);
  void* protocol_memory = nullptr;
  status = memory_->allocate_pool(EfiBootServicesData, sizeof(EFI_LOADED_IMAGE), &protocol_memory);
  if (status != EFI_SUCCESS) {
    (void)memory_->free_pages(record.allocation, record.pages);
    return status;
  }
  auto* loaded = static_cast<EFI_LOADED_IMAGE*>(protocol_memory);
  std::memset(loaded, 0, sizeof *loaded);
  loaded->Revision = EFI_LOADED_IMAGE_PROTOCOL_REVISION;
  loaded->ParentHandle = parent;
  loaded->SystemTable = system_table_;
  loaded->ImageBase = reinterpret_cast<void*>(record.base);
  loaded->ImageSize = record.size;
  loaded->ImageCodeType = code_type;
  loaded->ImageDataType = data_type;

  // The device the path starts on, and the rest of the path as the image's FilePath.
  if (device_path != nullptr) {
    EFI_DEVICE_PATH* remaining = device_path;
    EFI_HANDLE device = nullptr;
    if (protocols_->locate_device_path(&guids::kDevicePath, &remaining, &device) == EFI_SUCCESS) {
      loaded->DeviceHandle = device;
    } else {
      remaining = device_path;
    }
    loaded->FilePath = duplicate_device_path(*memory_, remaining);
    record.device_path = duplicate_device_path(*memory_, device_path);
  }
  record.protocol = loaded;
  record.handle = nullptr;
  status = protocols_->install_protocol_interface(&record.handle, &guids::kLoadedImage,
                                                  EFI_NATIVE_INTERFACE, loaded);
  // Without a path OVMF still installs LoadedImageDevicePath, with a NULL interface.
  if (status == EFI_SUCCESS)
    status = protocols_->install_protocol_interface(&record.handle,
                                                    &guids::kLoadedImageDevicePath,
                                                    EFI_NATIVE_INTERFACE, record.device_path);
  copy_label(record.label, label, ++loads_);
  *slot = record;
  if (status != EFI_SUCCESS) {
    release(*slot);
    return status;
  }
  *handle = record.handle;
  return EFI_SUCCESS;
}

void ImageTable::release(LoadedImageRecord& record) {
  if (record.handle != nullptr) {
    (void)protocols_->uninstall_protocol_interface(record.handle, &guids::kLoadedImageDevicePath,
                                                   record.device_path);
    (void)protocols_->uninstall_protocol_interface(record.handle, &guids::kLoadedImage,
                                                   record.protocol);
  }
  if (record.protocol != nullptr) {
    if (record.protocol->FilePath != nullptr) (void)memory_->free_pool(record.protocol->FilePath);
    (void)memory_->free_pool(record.protocol);
  }
  if (record.device_path != nullptr) (void)memory_->free_pool(record.device_path);
  (void)memory_->free_pages(record.allocation, record.pages);
  record = LoadedImageRecord{};
}

EFI_STATUS ImageTable::start(EFI_HANDLE handle, UINTN* exit_data_size, CHAR16** exit_data) {
  LoadedImageRecord* record = find_mutable(handle);
  if (record == nullptr || record->started) return EFI_INVALID_PARAMETER;
  const bool nested = running() != nullptr;
  record->started = true;
  record->running = true;
  EFI_STATUS status = runner_->call_entry(reinterpret_cast<EFI_IMAGE_ENTRY_POINT>(record->entry),
                                          handle, system_table_, nested ? 0 : stack_top_,
                                          &record->exit_frame);
  record->running = false;
  last_start_exited_ = exiting_;
  exiting_ = false;
  if (exit_data_size != nullptr) *exit_data_size = record->exit_data_size;
  if (exit_data != nullptr) *exit_data = record->exit_data;
  // EDK2 unloads an application once it has returned or exited; drivers stay resident.
  if (record->subsystem == 10) release(*record);
  return status;
}

EFI_STATUS ImageTable::exit(EFI_HANDLE handle, EFI_STATUS status, UINTN exit_data_size,
                            CHAR16* exit_data) {
  LoadedImageRecord* record = find_mutable(handle);
  if (record == nullptr) return EFI_INVALID_PARAMETER;
  if (!record->started) {
    release(*record);
    return EFI_SUCCESS;
  }
  if (record != running()) return EFI_INVALID_PARAMETER;
  record->exit_data_size = exit_data != nullptr ? exit_data_size : 0;
  record->exit_data = exit_data;
  exiting_ = true;
  runner_->exit_to(&record->exit_frame, status);
  __builtin_unreachable();
}

EFI_STATUS ImageTable::unload(EFI_HANDLE handle) {
  LoadedImageRecord* record = find_mutable(handle);
  if (record == nullptr) return EFI_INVALID_PARAMETER;
  if (record->started) {
    if (record->running || record->protocol->Unload == nullptr) return EFI_UNSUPPORTED;
    EFI_STATUS status = record->protocol->Unload(handle);
    if (status != EFI_SUCCESS) return status;
  }
  release(*record);
  return EFI_SUCCESS;
}

}  // namespace efikexec::efi
