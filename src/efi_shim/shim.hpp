// SPDX-License-Identifier: MIT
// The shim: a minimal UEFI boot-services environment (system table, boot services, runtime
// services before the handoff, protocol database, console) in which an unmodified EFI image runs
// until it calls ExitBootServices(). Every structure the image can see lives in physical memory
// handed out by the MemoryManager, so what survives the handoff is exactly what the map says.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "efi_shim/builtin_protocols.hpp"
#include "efi_shim/efi_types.hpp"
#include "efi_shim/events.hpp"
#include "efi_shim/fixed_vector.hpp"
#include "efi_shim/host.hpp"
#include "efi_shim/images.hpp"
#include "efi_shim/memory.hpp"
#include "efi_shim/protocols.hpp"
#include "efi_shim/text.hpp"
#include "efi_shim/variables.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::efi {

struct ShimHost {
  PhysicalMemory* memory;
  Clock* clock;
  Random* random;
  Console* console;
  TraceSink* trace;  // null: calls are not traced
  ImageRunner* runner;
  RunEndSink* run_end;
};

struct ConfigurationTableEntry {
  EFI_GUID guid;
  std::uint64_t address;
};

struct ShimConfig {
  std::span<const MemoryRange> machine;
  // Copied into a page typed EfiRuntimeServicesCode; after the handoff every runtime service
  // points at it (arch/x86_64/runtime_stubs.S).
  std::span<const std::byte> runtime_stub_code;
  // The ExitBootServices slot: the arch capture entry, which continues in
  // exit_boot_services_handler(). Null installs the handler itself (tests, no capture).
  EFI_EXIT_BOOT_SERVICES exit_boot_services_entry;
  // The machine's firmware tables (ACPI RSDP, SMBIOS) passed through as configuration tables.
  std::span<const ConfigurationTableEntry> firmware_tables;
  // Backing store of the variable service (names and data of volatile variables).
  std::span<std::byte> variable_storage;
  std::uint64_t stack_pages;  // the EFI stack the first image runs on
};

// The handler behind ExitBootServices(); the capture entry jumps here with the caller's
// arguments untouched.
EFI_STATUS EFIAPI exit_boot_services_handler(EFI_HANDLE image, UINTN map_key);

class Shim {
 public:
  Shim() = default;
  Shim(const Shim&) = delete;
  Shim& operator=(const Shim&) = delete;

  // Builds the tables and installs this shim as the one the EFI entry points reach (an EFI call
  // carries no context, so exactly one shim is active per process).
  Result<void> init(const ShimConfig& config, const ShimHost& host);

  // The host loads the image the user gave (already verified) as if the firmware's boot manager
  // did, from a file `file_name` on the shim's boot volume.
  EFI_STATUS load_image(ByteView file, const CHAR16* file_name, const char* label,
                        EFI_HANDLE* handle);
  // LoadOptions of a loaded image (UCS-2, NUL-terminated copy in pool memory).
  EFI_STATUS set_load_options(EFI_HANDLE handle, const CHAR16* options, std::size_t length);
  // Serves `initrd` through LoadFile2 on the Linux initrd media device path.
  EFI_STATUS install_initrd(ByteView initrd);
  // The files of the boot volume (the nodes and their bytes stay the host's). With
  // `secure_boot`, LoadImage refuses the images whose node is marked refused, by their path or
  // by their bytes, with EFI_ACCESS_DENIED as OVMF's verification does.
  Result<void> set_boot_volume(std::span<const VolumeNode> nodes, bool secure_boot);
  const FileVolume& boot_volume() const { return boot_volume_files_; }
  // BS.LoadImage (UEFI 2.10 §7.4.1): a path on the boot volume without a source buffer is read
  // from the volume; then ImageTable::load.
  EFI_STATUS load_image_service(BOOLEAN boot_policy, EFI_HANDLE parent, EFI_DEVICE_PATH* path,
                                const void* source, UINTN source_size, EFI_HANDLE* handle);
  EFI_STATUS start_image(EFI_HANDLE handle, UINTN* exit_data_size, CHAR16** exit_data);

  EFI_SYSTEM_TABLE* system_table() const { return system_table_; }
  MemoryManager& memory() { return memory_; }
  const MemoryManager& memory() const { return memory_; }
  ImageTable& images() { return images_; }
  ProtocolDatabase& protocols() { return *protocols_; }
  EventManager& events() { return *events_; }
  VariableStore& variables() { return *variables_; }
  RuntimeServices& runtime() { return *runtime_; }
  MonotonicCounter& counter() { return counter_; }
  const ShimHost& host() const { return host_; }
  bool boot_services_exited() const { return exited_; }

  // "sdstub+0x1a2b", "pages@#211+0x10" (inside the pages of traced AllocatePages call 211, as
  // OVMF's reference traces name code systemd-stub >= 258 copied there), or "?0x...": names an
  // address for traces and fault reports.
  void describe_address(Text& out, std::uint64_t address) const;
  // Traced AllocatePages/FreePages of the images, for describe_address().
  void note_pages_allocated(std::uint64_t start, std::uint64_t pages, std::uint64_t sequence);
  void note_pages_freed(std::uint64_t start, std::uint64_t pages);
  // The boot service being executed (for a fault inside the shim), or null.
  const char* current_service() const { return current_service_; }

  // Internal to the EFI entry points.
  EFI_STATUS exit_boot_services(EFI_HANDLE image, UINTN map_key);
  EFI_STATUS install_configuration_table(const EFI_GUID* guid, void* table);
  void update_table_crc(EFI_TABLE_HEADER* header);
  struct CallState {
    std::uint64_t sequence = 0;
    const char* service = nullptr;
  };
  CallState enter_service(const char* name);
  void leave_service(const CallState& previous) { current_service_ = previous.service; }
  std::uint64_t next_sequence() { return ++sequence_; }
  unsigned depth() const;

 private:
  Result<void> build_tables(const ShimConfig& config);
  void* allocate(EFI_MEMORY_TYPE type, std::size_t size);

  ShimHost host_{};
  MemoryManager memory_;
  // Built in init(), once the host services they depend on are known.
  std::optional<EventManager> events_;
  std::optional<ProtocolDatabase> protocols_;
  std::optional<VariableStore> variables_;
  std::optional<RuntimeServices> runtime_;
  MonotonicCounter counter_;
  ImageTable images_;
  EFI_SYSTEM_TABLE* system_table_ = nullptr;
  EFI_BOOT_SERVICES* boot_services_ = nullptr;
  EFI_RUNTIME_SERVICES* runtime_services_ = nullptr;
  std::uint64_t runtime_stub_ = 0;
  EFI_HANDLE boot_volume_ = nullptr;
  EFI_DEVICE_PATH* boot_volume_path_ = nullptr;
  FileVolume boot_volume_files_;
  bool secure_boot_ = false;
  EFI_CONFIGURATION_TABLE* configuration_tables_ = nullptr;
  std::size_t configuration_capacity_ = 0;
  const char* current_service_ = nullptr;
  std::uint64_t sequence_ = 0;
  struct PageAllocation {
    std::uint64_t start;
    std::uint64_t pages;
    std::uint64_t sequence;
  };
  // The most recent ones; when full the oldest are forgotten (they only name addresses).
  FixedVector<PageAllocation, 64> page_allocations_;
  bool exited_ = false;
};

// The shim the EFI entry points reach.
Shim& active_shim();

}  // namespace efikexec::efi
