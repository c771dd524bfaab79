// SPDX-License-Identifier: MIT
// Trust anchors from the firmware (docs/payload.md, "Where the trust anchors come from"): db,
// dbx and SbatLevelRT read through the firmware's GetVariable, at the virtual addresses the first
// kernel gave the runtime services (SetVirtualAddressMap), and the policy the payload verifies
// with, composed from them and the anchors built in as the build chose (EFIKEXEC_PAYLOAD_TRUST).
// Everything the firmware's tables and variables hold is untrusted input: the tables are read
// only inside the runtime regions of the efi_info map, through the bounds-checked ByteView; a
// variable larger than its buffer is an error, never a truncation; the databases go through the
// core's signature list and SbatLevel parsers. Core-style and built hosted for the unit tests,
// which call a fake GetVariable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "payload/boot_params.hpp"
#include "pe_loader/sbat.hpp"
#include "pe_loader/signature_list.hpp"
#include "verifier/verify.hpp"

namespace efikexec::payload {

// EFI_GET_VARIABLE (UEFI 2.10 §8.2.1), called with the Microsoft x64 convention the firmware
// uses (the compiler saves what that convention lets the callee clobber, keeps the stack 16-byte
// aligned and reserves the 32 bytes of shadow space).
using EfiGetVariable = std::uint64_t(__attribute__((ms_abi)) *)(const char16_t* name,
                                                               const pe::Guid* vendor,
                                                               std::uint32_t* attributes,
                                                               std::uint64_t* data_size, void* data);

// EFI_RESET_SYSTEM (UEFI 2.10 §8.5.1), the same convention.
using EfiResetSystem = void(__attribute__((ms_abi)) *)(std::uint32_t reset_type,
                                                       std::uint64_t status,
                                                       std::uint64_t data_size, const void* data);
inline constexpr std::uint32_t kEfiResetCold = 0;

inline constexpr std::uint32_t kEfiRuntimeServicesCode = 5;
inline constexpr std::uint64_t kEfiSuccess = 0;
inline constexpr std::uint64_t kEfiBufferTooSmall = 0x8000000000000005;
inline constexpr std::uint64_t kEfiNotFound = 0x800000000000000e;

// GetVariable, found from the system table at physical `system_table` (boot_params.efi_info):
// the table must lie in a region of the runtime map, carry "IBI SYST" and a header covering
// RuntimeServices; RuntimeServices (virtual after SetVirtualAddressMap) must translate through
// the map to a table carrying "RUNTSERV" whose header covers GetVariable; GetVariable (virtual)
// must lie in a runtime services code region. Tables are read at their physical addresses
// (identity mapped: map_runtime maps every runtime region 1:1 as well); the pointer returned is
// the virtual one, callable once map_runtime's mappings are loaded.
Result<EfiGetVariable> find_get_variable(std::uint64_t system_table,
                                         std::span<const EfiMemoryDescriptor> runtime);
// ResetSystem, found and checked the same way.
Result<EfiResetSystem> find_reset_system(std::uint64_t system_table,
                                         std::span<const EfiMemoryDescriptor> runtime);

// Reads one variable into `buffer`: the bytes read, nullopt when the firmware has no such
// variable (EFI_NOT_FOUND). A variable larger than `buffer` (EFI_BUFFER_TOO_SMALL, offset: the
// size the firmware wanted), a size past the buffer, or any other status (offset: the status)
// is an error.
Result<std::optional<ByteView>> get_variable(EfiGetVariable get, const char16_t* name,
                                             const pe::Guid& vendor, std::span<std::byte> buffer);

// Which anchors the payload trusts; set when it is built (EFIKEXEC_PAYLOAD_TRUST, written into
// the image by link-payload.sh), never by anything user space hands over.
enum class TrustSource : std::uint8_t {
  kBuiltin = 0,   // only the anchors built in
  kFirmware = 1,  // only the firmware's db, dbx and SbatLevelRT
  kBoth = 2,      // both: db and dbx the union, every SbatLevel row of both applied
};
Result<TrustSource> trust_source_of(std::uint8_t value);
const char* trust_source_name(TrustSource source);

struct BuiltinTrust {
  ByteView db, dbx, sbat_level_text;  // EFI_SIGNATURE_LISTs; SbatLevel text (empty: none)
};

// Where the composed policy lives: db and dbx hold the built-in lists followed by the
// firmware's (the firmware's limit is what is left), `sbat_text` the SbatLevelRT text and
// `sbat_entries` the parsed rows of both.
struct TrustStorage {
  std::span<std::byte> db;
  std::span<std::byte> dbx;
  std::span<std::byte> sbat_text;
  std::span<pe::SbatLevelEntry> sbat_entries;
  std::span<pe::SbatLevelEntry> builtin_sbat_entries;  // scratch for the built-in level
};

// What the composed policy came from, for the serial console.
struct TrustReport {
  bool firmware_read = false;     // GetVariable was called
  bool firmware_db = false;       // the firmware has the variable (it may be empty)
  bool firmware_dbx = false;
  bool firmware_sbat_level = false;
  std::size_t db_entries = 0;     // signatures in the composed db and dbx
  std::size_t dbx_entries = 0;
  std::size_t sbat_rows = 0;      // SbatLevel rows applied (0: no level)
};

// The policy for `source`. `get` is the firmware's GetVariable, or nullptr when the runtime
// services cannot be reached: then kFirmware is refused (kNotFound) and kBoth uses the built-in
// anchors alone. A db or dbx that does not parse, SbatLevel text that does not parse, or an
// empty db in the result is an error (the payload refuses every UKI then). The policy's views
// point into `storage` and `builtin`.
Result<verifier::Policy> compose_trust(TrustSource source, const BuiltinTrust& builtin,
                                       EfiGetVariable get, const TrustStorage& storage,
                                       TrustReport& report);

}  // namespace efikexec::payload
