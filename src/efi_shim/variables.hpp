// SPDX-License-Identifier: MIT
// Runtime services as the image sees them before ExitBootServices (UEFI 2.10 §8): the variable
// store (§8.2), time (§8.3), ResetSystem (§8.5.1), capsules (§8.5.3).
//
// Variables: the host loads a read-only snapshot of the machine's variables (efivarfs) before the
// run; the image's SetVariable calls then change an in-memory copy only. A snapshot variable can
// be overwritten, appended to or deleted for the rest of the run, and nothing is ever written
// back to the machine: NV is an attribute the store keeps, not a promise of persistence. The
// Secure Boot state cannot be changed at all (see set_variable()).
//
// Storage is a fixed-capacity index plus a byte arena the caller provides; no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <efikexec/error.hpp>

#include "efi_shim/efi_types.hpp"
#include "efi_shim/fixed_vector.hpp"
#include "efi_shim/host.hpp"

namespace efikexec::efi {


// Not in gnu-efi: UEFI 2.10 §8.2.1.
inline constexpr UINT32 kVariableEnhancedAuthenticatedAccess = 0x80;

class VariableStore {
 public:
  static constexpr std::size_t kMaxVariables = 512;
  // Longest variable name accepted, terminator not counted. Names in image memory are read at
  // most this far.
  static constexpr std::size_t kMaxNameChars = 1024;
  // Name (with terminator) plus data of one variable written by SetVariable, as
  // QueryVariableInfo reports it. Snapshot variables may be larger (a machine's dbx can be).
  static constexpr std::size_t kMaxVariableSize = 64 * 1024;

  // `arena` holds names and data for the store's lifetime (at most 4 GiB, 8-byte aligned).
  explicit VariableStore(std::span<std::byte> arena) : arena_(arena) {}
  VariableStore(const VariableStore&) = delete;
  VariableStore& operator=(const VariableStore&) = delete;

  // Host: adds one machine variable before the run. `name` has no terminator; the data is
  // copied. Errors: an empty or over-long name, empty data, attributes of unknown bits
  // (kInvalidArgument), a name/GUID already loaded (kInvalidArgument), no room (kNoMemory).
  Result<void> load_snapshot_variable(std::span<const CHAR16> name, const EFI_GUID& guid,
                                      UINT32 attributes, std::span<const std::byte> data);

  // §8.2.1 GetVariable: EFI_BUFFER_TOO_SMALL sets *DataSize to the size needed and, as EDK2 and
  // UEFI 2.10 do, still returns *Attributes.
  EFI_STATUS get_variable(const CHAR16* name, const EFI_GUID* guid, UINT32* attributes,
                          UINTN* data_size, void* data);
  // §8.2.2 GetNextVariableName: an empty name starts the enumeration (snapshot order, then
  // variables created during the run); a name/GUID that is not a variable, or a name without a
  // terminator inside *VariableNameSize bytes, is EFI_INVALID_PARAMETER.
  EFI_STATUS get_next_variable_name(UINTN* name_size, CHAR16* name, EFI_GUID* guid);
  // §8.2.3 SetVariable, with EDK2's order of checks:
  //  - RT without BS, or NV alone: EFI_INVALID_PARAMETER (EFI_UNSUPPORTED with the deprecated
  //    EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS, which is always EFI_UNSUPPORTED);
  //  - EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS or ..._ENHANCED_AUTHENTICATED_ACCESS:
  //    EFI_WRITE_PROTECTED — the shim verifies no authenticated writes, so PK/KEK/db/dbx and every
  //    other authenticated variable stay as the machine has them;
  //  - EFI_VARIABLE_HARDWARE_ERROR_RECORD: EFI_INVALID_PARAMETER (no error-record storage, like
  //    EDK2 built without it);
  //  - name + data above kMaxVariableSize: EFI_INVALID_PARAMETER;
  //  - read-only variables (SecureBoot, SetupMode, AuditMode, DeployedMode, VendorKeys,
  //    SignatureSupport, the *Default keys, ...; UEFI 2.10 §3.3): EFI_WRITE_PROTECTED;
  //  - an existing variable rewritten with other attributes (APPEND_WRITE aside, Attributes 0
  //    deleting): EFI_INVALID_PARAMETER; deleting what does not exist: EFI_NOT_FOUND;
  //  - after exit_boot_services(): only RT variables, volatile ones are read-only.
  EFI_STATUS set_variable(const CHAR16* name, const EFI_GUID* guid, UINT32 attributes,
                          UINTN data_size, const void* data);
  // §8.2.4 QueryVariableInfo: one store serves NV and volatile variables alike; the numbers are
  // the arena's.
  EFI_STATUS query_variable_info(UINT32 attributes, UINT64* maximum_storage_size,
                                 UINT64* remaining_storage_size, UINT64* maximum_variable_size);

  // From ExitBootServices on, variables without EFI_VARIABLE_RUNTIME_ACCESS are invisible.
  void exit_boot_services() { at_runtime_ = true; }

  // What the store holds, for the host's report (e.g. which Loader*/Stub* variables the image set).
  struct VariableView {
    std::span<const CHAR16> name;  // without terminator
    EFI_GUID guid;
    UINT32 attributes;
    std::span<const std::byte> data;
    bool from_snapshot;  // loaded from the machine
    bool changed;        // written during the run
  };
  std::size_t size() const { return entries_.size(); }
  VariableView at(std::size_t index) const;
  std::size_t arena_used() const { return used_; }
  // The variables the image set during the run and that still exist (created, or snapshot
  // variables rewritten or appended to), in store order: calls `visit(const VariableView&)` for
  // each and returns how many there were. Safe on a store the image may have scribbled on: an
  // entry whose blob does not lie inside the arena is skipped, never read.
  template <typename Visit>
  std::size_t for_each_set_during_run(Visit&& visit) const {
    std::size_t count = 0;
    const std::size_t entries = entries_.size() < kMaxVariables ? entries_.size() : kMaxVariables;
    for (std::size_t i = 0; i < entries; ++i) {
      const Entry& entry = entries_[i];
      if (!entry.changed || !inside_arena(entry)) continue;
      visit(at(i));
      ++count;
    }
    return count;
  }

 private:
  struct Entry {
    EFI_GUID guid;
    UINT32 attributes;
    std::uint32_t offset;      // in the arena: name (with terminator), then data
    std::uint32_t name_bytes;  // terminator included
    std::uint32_t data_size;
    bool from_snapshot;
    bool changed;
  };

  Entry* find(const CHAR16* name, std::size_t name_bytes, const EFI_GUID& guid, bool visible_only);
  bool visible(const Entry& entry) const;
  // The entry's name (terminated, at least one character) and data lie inside the arena.
  bool inside_arena(const Entry& entry) const;
  std::size_t live_bytes() const;
  // Room for `size` bytes in the arena (compacting if needed); nullopt when full.
  std::optional<std::uint32_t> allocate(std::size_t size);
  void compact();
  // Gives `entry` (in the table or about to be) a new blob: name, the first `kept` bytes of its
  // current data (APPEND_WRITE), then `data`. False when the arena is full.
  bool store(Entry& entry, const CHAR16* name, std::size_t name_bytes, std::size_t kept,
             std::span<const std::byte> data);

  std::span<std::byte> arena_;
  std::size_t used_ = 0;
  FixedVector<Entry, kMaxVariables> entries_;
  bool at_runtime_ = false;
};

// The ResetSystem call the image made: ResetSystem never returns (§8.5.1), so the thunk ends the
// run with this as its reason.
struct ResetRequest {
  EFI_RESET_TYPE type;
  EFI_STATUS status;
  // The leading string of ResetData (at most 127 characters), terminated.
  std::array<CHAR16, 128> reason;
};

class RuntimeServices {
 public:
  explicit RuntimeServices(Clock& clock) : clock_(clock) {}
  RuntimeServices(const RuntimeServices&) = delete;
  RuntimeServices& operator=(const RuntimeServices&) = delete;

  // §8.3.1 GetTime from Clock::wall_clock (EFI_DEVICE_ERROR if the host cannot tell); the
  // capabilities of a PC RTC as EDK2 reports them (1 Hz, 50 ppm, not reset to zero).
  EFI_STATUS get_time(EFI_TIME* time, EFI_TIME_CAPABILITIES* capabilities);
  // §8.3.2 SetTime: an invalid time is EFI_INVALID_PARAMETER; a valid one EFI_UNSUPPORTED —
  // an image must not set the host's clock, and pretending success would hide that.
  EFI_STATUS set_time(const EFI_TIME* time);
  // §8.3.3/§8.3.4: no wakeup timer (EFI_UNSUPPORTED once the arguments are valid).
  EFI_STATUS get_wakeup_time(BOOLEAN* enabled, BOOLEAN* pending, EFI_TIME* time);
  EFI_STATUS set_wakeup_time(BOOLEAN enable, const EFI_TIME* time);
  // §8.5.1: records the request (reason read from ResetData, bounded by DataSize) and returns
  // it; the thunk must not return to the image but end the run ("image asked to reset").
  const ResetRequest& reset_system(EFI_RESET_TYPE type, EFI_STATUS status, UINTN data_size,
                                   const void* reset_data);
  const ResetRequest* reset_request() const { return reset_ ? &*reset_ : nullptr; }
  // §8.5.3: no capsule support.
  EFI_STATUS update_capsule(EFI_CAPSULE_HEADER** capsules, UINTN count,
                            EFI_PHYSICAL_ADDRESS scatter_gather_list);
  EFI_STATUS query_capsule_capabilities(EFI_CAPSULE_HEADER** capsules, UINTN count,
                                        UINT64* maximum_capsule_size, EFI_RESET_TYPE* reset_type);

 private:
  Clock& clock_;
  std::optional<ResetRequest> reset_;
};

}  // namespace efikexec::efi
