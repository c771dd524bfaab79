// SPDX-License-Identifier: MIT
// Image services (UEFI 2.10 §7.4): LoadImage, StartImage, Exit, UnloadImage, and the loaded
// images' records (where each lies, for naming callers and faults).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "efi_shim/efi_types.hpp"
#include "efi_shim/fixed_vector.hpp"
#include "efi_shim/host.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::efi {

class MemoryManager;
class ProtocolDatabase;

struct LoadedImageRecord {
  EFI_HANDLE handle;
  EFI_LOADED_IMAGE* protocol;         // the live struct the image may edit (systemd-stub >= 258)
  EFI_DEVICE_PATH* device_path;       // LoadedImageDevicePath copy, or null
  std::uint64_t base;                 // where the image was mapped
  std::uint64_t pages;                // pages allocated for it (alignment slack included)
  std::uint64_t allocation;           // first page allocated
  std::uint64_t size;                 // SizeOfImage
  std::uint64_t entry;
  std::uint16_t subsystem;
  bool started;
  bool running;                       // inside its StartImage
  std::uint64_t exit_frame;           // ImageRunner's frame while running
  UINTN exit_data_size;
  CHAR16* exit_data;
  char label[16];                     // for traces: "sdstub", "linux", "image2", ...
};

class ImageTable {
 public:
  static constexpr std::size_t kMaxImages = 32;

  void init(MemoryManager& memory, ProtocolDatabase& protocols, ImageRunner& runner,
            EFI_SYSTEM_TABLE* system_table, std::uint64_t stack_top);

  // LoadImage(): from `source` when given, else through `device_path` (LoadFile2, LoadFile, or a
  // file on a SimpleFileSystem volume). `label` names the image in traces (null: generated).
  EFI_STATUS load(BOOLEAN boot_policy, EFI_HANDLE parent, EFI_DEVICE_PATH* device_path,
                  const void* source, UINTN source_size, EFI_HANDLE* handle,
                  const char* label = nullptr);
  EFI_STATUS start(EFI_HANDLE handle, UINTN* exit_data_size, CHAR16** exit_data);
  EFI_STATUS exit(EFI_HANDLE handle, EFI_STATUS status, UINTN exit_data_size, CHAR16* exit_data);
  EFI_STATUS unload(EFI_HANDLE handle);

  const LoadedImageRecord* find(EFI_HANDLE handle) const;
  // The loaded image whose memory holds `address`, if any.
  const LoadedImageRecord* containing(std::uint64_t address) const;
  // The image whose StartImage is innermost, if any.
  const LoadedImageRecord* running() const;
  // Whether the last StartImage to return ended by Exit() rather than a return.
  bool last_start_exited() const { return last_start_exited_; }
  // Slots; a slot whose handle is null is free (slots never move, so references stay valid
  // across nested StartImage calls that unload other images).
  std::span<const LoadedImageRecord> records() const { return {records_.data(), records_.size()}; }

 private:
  LoadedImageRecord* find_mutable(EFI_HANDLE handle);
  EFI_STATUS read_through_device_path(BOOLEAN boot_policy, EFI_DEVICE_PATH* device_path,
                                      void** buffer, UINTN* size);
  EFI_STATUS map(ByteView file, std::uint16_t* subsystem, std::uint64_t* allocation,
                 std::uint64_t* pages, std::uint64_t* base, std::uint64_t* size,
                 std::uint64_t* entry);
  void release(LoadedImageRecord& record);

  MemoryManager* memory_ = nullptr;
  ProtocolDatabase* protocols_ = nullptr;
  ImageRunner* runner_ = nullptr;
  EFI_SYSTEM_TABLE* system_table_ = nullptr;
  std::uint64_t stack_top_ = 0;
  std::array<LoadedImageRecord, kMaxImages> records_{};
  unsigned loads_ = 0;
  bool exiting_ = false;
  bool last_start_exited_ = false;
};

}  // namespace efikexec::efi
