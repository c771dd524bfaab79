// SPDX-License-Identifier: MIT
#include "payload/firmware_trust.hpp"

#include <cstring>

namespace efikexec::payload {

namespace {

// EFI_SYSTEM_TABLE and EFI_RUNTIME_SERVICES, x64 (UEFI 2.10 §4.3, §4.5).
constexpr std::uint64_t kSystemTableSignature = 0x5453595320494249;    // "IBI SYST"
constexpr std::uint64_t kRuntimeServicesSignature = 0x56524553544e5552;  // "RUNTSERV"
constexpr std::uint64_t kHeaderSizeOffset = 12;
constexpr std::uint64_t kRuntimeServicesOffset = 88;  // in the system table
constexpr std::uint64_t kGetVariableOffset = 72;      // in the runtime services table
constexpr std::uint64_t kResetSystemOffset = 104;     // in the runtime services table

ByteView physical(std::uint64_t address, std::uint64_t size) {
  return ByteView(reinterpret_cast<const std::byte*>(address), static_cast<std::size_t>(size));
}

std::uint64_t region_size(const EfiMemoryDescriptor& d) { return d.pages << 12; }

// The region holding [address, address + size), by physical (or virtual) address.
const EfiMemoryDescriptor* region_of(std::span<const EfiMemoryDescriptor> runtime,
                                     std::uint64_t address, std::uint64_t size, bool virtual_address) {
  for (const EfiMemoryDescriptor& d : runtime) {
    const std::uint64_t start = virtual_address ? d.virtual_start : d.physical_start;
    if (virtual_address && start == 0) continue;
    if (address < start) continue;
    if (range_fits(address - start, size, region_size(d))) return &d;
  }
  return nullptr;
}

// A table of `size` bytes at physical `address`, inside one runtime region.
Result<ByteView> runtime_table(std::span<const EfiMemoryDescriptor> runtime, std::uint64_t address,
                               std::uint64_t size, const char* outside) {
  if (address == 0 || region_of(runtime, address, size, false) == nullptr)
    return fail(ErrorCode::kOutOfRange, outside, address);
  return physical(address, size);
}

// A table header: its signature and a HeaderSize that covers `needed` bytes.
Result<void> check_header(ByteView table, std::uint64_t signature, std::uint64_t needed,
                          const char* bad_signature, const char* short_header) {
  auto found = table.read<Le64>(0, "EFI table signature");
  if (!found) return std::unexpected(found.error());
  if (*found != signature) return fail(ErrorCode::kBadMagic, bad_signature, 0);
  auto header_size = table.read<Le32>(kHeaderSizeOffset, "EFI table HeaderSize");
  if (!header_size) return std::unexpected(header_size.error());
  if (*header_size < needed) return fail(ErrorCode::kTruncated, short_header, kHeaderSizeOffset);
  return {};
}

std::size_t count_signatures(ByteView lists) {
  auto count = pe::validate_signature_lists(lists);
  return count ? *count : 0;
}

struct VariableSpec {
  const char16_t* name;
  const pe::Guid* vendor;
  const char* too_large;  // the messages that name the variable
  const char* failed;
};
constexpr VariableSpec kDb{u"db", &pe::kImageSecurityDatabaseGuid,
                           "the firmware's db is larger than the payload's limit",
                           "GetVariable(db) failed"};
constexpr VariableSpec kDbx{u"dbx", &pe::kImageSecurityDatabaseGuid,
                            "the firmware's dbx is larger than the payload's limit",
                            "GetVariable(dbx) failed"};
constexpr VariableSpec kSbatLevelRt{u"SbatLevelRT", &pe::kShimLockGuid,
                                    "the firmware's SbatLevelRT is larger than the payload's limit",
                                    "GetVariable(SbatLevelRT) failed"};

// get_variable with the variable named in the error.
Result<std::optional<ByteView>> read_named(EfiGetVariable get, const VariableSpec& spec,
                                           std::span<std::byte> buffer) {
  auto read = get_variable(get, spec.name, *spec.vendor, buffer);
  if (read) return read;
  Error error = read.error();
  error.message = error.code == ErrorCode::kNoMemory ? spec.too_large : spec.failed;
  return std::unexpected(error);
}

// Copies the built-in lists to the front of `storage`; returns the room after them.
Result<std::span<std::byte>> place_builtin(ByteView builtin, std::span<std::byte> storage,
                                           const char* too_large) {
  if (builtin.size() > storage.size()) return fail(ErrorCode::kNoMemory, too_large, builtin.size());
  if (!builtin.empty()) std::memcpy(storage.data(), builtin.data(), builtin.size());
  return storage.subspan(builtin.size());
}

// A database the firmware has, checked whole, after the built-in lists (`size` grows by it).
Result<void> add_lists(const std::optional<ByteView>& lists, const char* malformed, bool& present,
                       std::size_t& size) {
  if (!lists) return {};
  present = true;
  if (auto valid = pe::validate_signature_lists(*lists); !valid)
    return fail(ErrorCode::kMalformed, malformed, valid.error().offset);
  size += lists->size();
  return {};
}

}  // namespace

namespace {

// The runtime service at `offset` in the runtime services table (see find_get_variable).
Result<std::uint64_t> find_runtime_service(std::uint64_t system_table,
                                           std::span<const EfiMemoryDescriptor> runtime,
                                           std::uint64_t offset, const char* not_code) {
  auto system = runtime_table(runtime, system_table, kRuntimeServicesOffset + 8,
                              "the EFI system table is not in a runtime region");
  if (!system) return std::unexpected(system.error());
  if (auto checked = check_header(*system, kSystemTableSignature, kRuntimeServicesOffset + 8,
                                  "the EFI system table has no IBI SYST signature",
                                  "the EFI system table's header is too short");
      !checked)
    return std::unexpected(checked.error());
  auto services_virtual = system->read<Le64>(kRuntimeServicesOffset, "RuntimeServices");
  if (!services_virtual) return std::unexpected(services_virtual.error());
  const std::uint64_t table_size = offset + 8;
  const EfiMemoryDescriptor* holding = region_of(runtime, *services_virtual, table_size, true);
  if (holding == nullptr)
    return fail(ErrorCode::kOutOfRange,
                "RuntimeServices is not at a virtual address of the runtime map", *services_virtual);
  const std::uint64_t services_physical =
      holding->physical_start + (*services_virtual - holding->virtual_start);
  auto services = runtime_table(runtime, services_physical, table_size,
                                "the runtime services table is not in a runtime region");
  if (!services) return std::unexpected(services.error());
  if (auto checked = check_header(*services, kRuntimeServicesSignature, table_size,
                                  "the runtime services table has no RUNTSERV signature",
                                  "the runtime services table's header is too short");
      !checked)
    return std::unexpected(checked.error());
  auto service = services->read<Le64>(offset, "a runtime service");
  if (!service) return std::unexpected(service.error());
  const EfiMemoryDescriptor* code = region_of(runtime, *service, 1, true);
  if (code == nullptr || code->type != kEfiRuntimeServicesCode)
    return fail(ErrorCode::kOutOfRange, not_code, *service);
  return *service;
}

}  // namespace

Result<EfiGetVariable> find_get_variable(std::uint64_t system_table,
                                         std::span<const EfiMemoryDescriptor> runtime) {
  auto found = find_runtime_service(system_table, runtime, kGetVariableOffset,
                                    "GetVariable is not in a runtime services code region");
  if (!found) return std::unexpected(found.error());
  return reinterpret_cast<EfiGetVariable>(static_cast<std::uintptr_t>(*found));
}

Result<EfiResetSystem> find_reset_system(std::uint64_t system_table,
                                         std::span<const EfiMemoryDescriptor> runtime) {
  auto found = find_runtime_service(system_table, runtime, kResetSystemOffset,
                                    "ResetSystem is not in a runtime services code region");
  if (!found) return std::unexpected(found.error());
  return reinterpret_cast<EfiResetSystem>(static_cast<std::uintptr_t>(*found));
}

Result<std::optional<ByteView>> get_variable(EfiGetVariable get, const char16_t* name,
                                             const pe::Guid& vendor, std::span<std::byte> buffer) {
  std::uint32_t attributes = 0;
  std::uint64_t size = buffer.size();
  const std::uint64_t status = get(name, &vendor, &attributes, &size, buffer.data());
  if (status == kEfiNotFound) return std::optional<ByteView>{};
  if (status == kEfiBufferTooSmall)
    return fail(ErrorCode::kNoMemory, "the variable is larger than the payload's limit", size);
  if (status != kEfiSuccess) return fail(ErrorCode::kIo, "GetVariable failed", status);
  if (size > buffer.size())
    return fail(ErrorCode::kOutOfRange, "GetVariable returned a size past the buffer", size);
  return std::optional<ByteView>{ByteView(buffer.data(), static_cast<std::size_t>(size))};
}

Result<TrustSource> trust_source_of(std::uint8_t value) {
  switch (value) {
    case 0: return TrustSource::kBuiltin;
    case 1: return TrustSource::kFirmware;
    case 2: return TrustSource::kBoth;
    default: return fail(ErrorCode::kMalformed, "the built-in trust source is unknown", value);
  }
}

const char* trust_source_name(TrustSource source) {
  switch (source) {
    case TrustSource::kBuiltin: return "builtin";
    case TrustSource::kFirmware: return "firmware";
    case TrustSource::kBoth: return "both";
  }
  return "?";
}

Result<verifier::Policy> compose_trust(TrustSource source, const BuiltinTrust& builtin,
                                       EfiGetVariable get, const TrustStorage& storage,
                                       TrustReport& report) {
  report = {};
  const bool use_builtin = source != TrustSource::kFirmware;
  const bool use_firmware = source != TrustSource::kBuiltin;
  if (use_firmware && get == nullptr && source == TrustSource::kFirmware)
    return fail(ErrorCode::kNotFound,
                "this payload trusts the firmware's db, and its runtime services cannot be reached");

  const ByteView builtin_db = use_builtin ? builtin.db : ByteView{};
  const ByteView builtin_dbx = use_builtin ? builtin.dbx : ByteView{};
  auto db_room = place_builtin(builtin_db, storage.db, "the built-in db is larger than the payload's limit");
  if (!db_room) return std::unexpected(db_room.error());
  auto dbx_room =
      place_builtin(builtin_dbx, storage.dbx, "the built-in dbx is larger than the payload's limit");
  if (!dbx_room) return std::unexpected(dbx_room.error());
  std::size_t db_size = builtin_db.size();
  std::size_t dbx_size = builtin_dbx.size();

  // The SbatLevel rows: the built-in ones first, then the firmware's; a component in both is
  // checked against both rows, so the higher generation counts.
  std::size_t rows = 0;
  bool have_level = false;
  if (use_builtin && !builtin.sbat_level_text.empty()) {
    auto level = pe::parse_sbat_level(builtin.sbat_level_text, storage.builtin_sbat_entries);
    if (!level) return std::unexpected(level.error());
    if (level->entries.size() > storage.sbat_entries.size())
      return fail(ErrorCode::kNoMemory, "too many SbatLevel rows", level->entries.size());
    for (const pe::SbatLevelEntry& entry : level->entries) storage.sbat_entries[rows++] = entry;
    have_level = true;
  }

  if (use_firmware && get != nullptr) {
    report.firmware_read = true;
    auto db = read_named(get, kDb, *db_room);
    if (!db) return std::unexpected(db.error());
    auto dbx = read_named(get, kDbx, *dbx_room);
    if (!dbx) return std::unexpected(dbx.error());
    auto level_text = read_named(get, kSbatLevelRt, storage.sbat_text);
    if (!level_text) return std::unexpected(level_text.error());
    if (auto added = add_lists(*db, "the firmware's db is not a valid signature database",
                               report.firmware_db, db_size);
        !added)
      return std::unexpected(added.error());
    if (auto added = add_lists(*dbx, "the firmware's dbx is not a valid signature database",
                               report.firmware_dbx, dbx_size);
        !added)
      return std::unexpected(added.error());
    if (*level_text) {
      report.firmware_sbat_level = true;
      auto level = pe::parse_sbat_level(**level_text, storage.sbat_entries.subspan(rows));
      if (!level) return std::unexpected(level.error());
      rows += level->entries.size();
      have_level = true;
    }
  }

  verifier::Policy policy{ByteView(storage.db.data(), db_size),
                          ByteView(storage.dbx.data(), dbx_size), std::nullopt};
  if (have_level)
    policy.sbat_level = std::span<const pe::SbatLevelEntry>(storage.sbat_entries.data(), rows);
  if (auto valid = verifier::validate_policy(policy); !valid) return std::unexpected(valid.error());
  report.db_entries = count_signatures(policy.db);
  report.dbx_entries = count_signatures(policy.dbx);
  report.sbat_rows = rows;
  if (report.db_entries == 0)
    return fail(ErrorCode::kUntrusted, "the payload's db is empty: it trusts nothing");
  return policy;
}

}  // namespace efikexec::payload
