// SPDX-License-Identifier: MIT
#include "efi_shim/variables.hpp"
#include "efi_shim/guids.hpp"

#include <cstring>
#include <string_view>

namespace efikexec::efi {

namespace {

constexpr UINT32 kNv = EFI_VARIABLE_NON_VOLATILE;
constexpr UINT32 kBs = EFI_VARIABLE_BOOTSERVICE_ACCESS;
constexpr UINT32 kRt = EFI_VARIABLE_RUNTIME_ACCESS;
constexpr UINT32 kAppend = EFI_VARIABLE_APPEND_WRITE;
constexpr UINT32 kAuthenticated = EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS |
                                  EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS |
                                  kVariableEnhancedAuthenticatedAccess;
// Every attribute bit UEFI 2.10 §8.2.1 defines; anything else is EFI_INVALID_PARAMETER.
constexpr UINT32 kKnownAttributes = kNv | kBs | kRt | EFI_VARIABLE_HARDWARE_ERROR_RECORD |
                                    kAuthenticated | kAppend;
// EDK2's EFI_VARIABLE_ATTRIBUTES_MASK, for its "NV alone" and "no attribute" tests.
constexpr UINT32 kAttributesMask = kNv | kBs | kRt | EFI_VARIABLE_HARDWARE_ERROR_RECORD |
                                   EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS | kAppend;
// Arena blobs start 8-byte aligned, so names in the arena are properly aligned CHAR16 arrays.
constexpr std::size_t kBlobAlignment = 8;

// Variables an image must not set (UEFI 2.10 §3.3 marks the global ones read-only; the Secure
// Boot keys and databases change only through authenticated writes, which the shim refuses).
constexpr std::string_view kReadOnlyGlobal[] = {
    "SecureBoot", "SetupMode", "AuditMode", "DeployedMode", "VendorKeys", "SignatureSupport",
    "OsIndicationsSupported", "BootOptionSupport", "LangCodes", "PlatformLangCodes",
    "BootCurrent", "ConInDev", "ConOutDev", "ErrOutDev", "PK", "KEK", "PKDefault", "KEKDefault",
    "dbDefault", "dbxDefault", "dbtDefault", "dbrDefault"};
constexpr std::string_view kReadOnlySecurityDatabase[] = {"db", "dbx", "dbt", "dbr"};

std::size_t blob_size(std::size_t name_bytes, std::size_t data_size) {
  return (name_bytes + data_size + kBlobAlignment - 1) & ~(kBlobAlignment - 1);
}

CHAR16 char_at(const CHAR16* text, std::size_t index) {
  CHAR16 c;
  std::memcpy(&c, reinterpret_cast<const std::byte*>(text) + index * sizeof(CHAR16), sizeof(c));
  return c;
}

// Characters before the terminator of a UCS-2 string in image memory (read unaligned-safe, at
// most `max_chars` + 1 characters); nullopt when no terminator comes within that.
std::optional<std::size_t> string_length(const CHAR16* text, std::size_t max_chars) {
  for (std::size_t i = 0; i <= max_chars; ++i)
    if (char_at(text, i) == 0) return i;
  return std::nullopt;
}

bool name_equals(const CHAR16* name, std::size_t chars, std::string_view ascii) {
  if (chars != ascii.size()) return false;
  for (std::size_t i = 0; i < chars; ++i)
    if (char_at(name, i) != static_cast<unsigned char>(ascii[i])) return false;
  return true;
}

bool read_only(const CHAR16* name, std::size_t chars, const EFI_GUID& guid) {
  if (guid_equal(guid, guids::kGlobalVariable)) {
    for (std::string_view ro : kReadOnlyGlobal)
      if (name_equals(name, chars, ro)) return true;
  } else if (guid_equal(guid, guids::kImageSecurityDatabase)) {
    for (std::string_view ro : kReadOnlySecurityDatabase)
      if (name_equals(name, chars, ro)) return true;
  }
  return false;
}

// UEFI 2.10 §8.3.1: the ranges of each EFI_TIME field.
bool valid_time(const EFI_TIME& t) {
  constexpr std::uint8_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (t.Year < 1900 || t.Year > 9999 || t.Month < 1 || t.Month > 12 || t.Hour > 23 ||
      t.Minute > 59 || t.Second > 59 || t.Nanosecond > 999999999)
    return false;
  bool leap = (t.Year % 4 == 0 && t.Year % 100 != 0) || t.Year % 400 == 0;
  unsigned days = kDays[t.Month - 1] + (t.Month == 2 && leap ? 1 : 0);
  if (t.Day < 1 || t.Day > days) return false;
  if (t.TimeZone != EFI_UNSPECIFIED_TIMEZONE && (t.TimeZone < -1440 || t.TimeZone > 1440))
    return false;
  return (t.Daylight & ~(EFI_TIME_ADJUST_DAYLIGHT | EFI_TIME_IN_DAYLIGHT)) == 0;
}

}  // namespace

bool VariableStore::visible(const Entry& entry) const {
  return !at_runtime_ || (entry.attributes & kRt) != 0;
}

bool VariableStore::inside_arena(const Entry& entry) const {
  const std::size_t size = arena_.size();
  if (entry.offset > size || entry.name_bytes < 2 * sizeof(CHAR16) ||
      entry.name_bytes % sizeof(CHAR16) != 0 || entry.name_bytes > size - entry.offset ||
      entry.data_size > size - entry.offset - entry.name_bytes)
    return false;
  CHAR16 last;
  std::memcpy(&last, arena_.data() + entry.offset + entry.name_bytes - sizeof(CHAR16), sizeof last);
  return last == 0;
}

VariableStore::Entry* VariableStore::find(const CHAR16* name, std::size_t name_bytes,
                                          const EFI_GUID& guid, bool visible_only) {
  for (Entry& entry : entries_) {
    if (entry.name_bytes != name_bytes || !guid_equal(entry.guid, guid)) continue;
    if (visible_only && !visible(entry)) continue;
    if (std::memcmp(arena_.data() + entry.offset, name, name_bytes) == 0) return &entry;
  }
  return nullptr;
}

std::size_t VariableStore::live_bytes() const {
  std::size_t total = 0;
  for (const Entry& entry : entries_) total += blob_size(entry.name_bytes, entry.data_size);
  return total;
}

void VariableStore::compact() {
  // Slide every live blob down, lowest first, so no move overwrites a blob not yet moved.
  std::size_t cursor = 0;
  std::uint64_t last = 0;
  bool first = true;
  for (;;) {
    Entry* lowest = nullptr;
    for (Entry& entry : entries_) {
      if (!first && entry.offset <= last) continue;
      if (lowest == nullptr || entry.offset < lowest->offset) lowest = &entry;
    }
    if (lowest == nullptr) break;
    first = false;
    last = lowest->offset;
    std::size_t size = blob_size(lowest->name_bytes, lowest->data_size);
    std::memmove(arena_.data() + cursor, arena_.data() + lowest->offset, size);
    lowest->offset = static_cast<std::uint32_t>(cursor);
    cursor += size;
  }
  used_ = cursor;
}

std::optional<std::uint32_t> VariableStore::allocate(std::size_t size) {
  if (size > arena_.size() - used_) compact();
  if (size > arena_.size() - used_) return std::nullopt;
  auto offset = static_cast<std::uint32_t>(used_);
  used_ += size;
  return offset;
}

bool VariableStore::store(Entry& entry, const CHAR16* name, std::size_t name_bytes,
                          std::size_t kept, std::span<const std::byte> data) {
  auto offset = allocate(blob_size(name_bytes, kept + data.size()));
  if (!offset) return false;
  // Read the kept bytes only now: allocate() may have compacted them elsewhere (it updates
  // entry.offset). The new blob lies past every live one, so nothing overlaps.
  std::byte* blob = arena_.data() + *offset;
  if (kept != 0) std::memcpy(blob + name_bytes, arena_.data() + entry.offset + entry.name_bytes, kept);
  std::memcpy(blob, name, name_bytes);
  if (!data.empty()) std::memcpy(blob + name_bytes + kept, data.data(), data.size());
  entry.offset = *offset;
  entry.name_bytes = static_cast<std::uint32_t>(name_bytes);
  entry.data_size = static_cast<std::uint32_t>(kept + data.size());
  return true;
}

Result<void> VariableStore::load_snapshot_variable(std::span<const CHAR16> name,
                                                   const EFI_GUID& guid, UINT32 attributes,
                                                   std::span<const std::byte> data) {
  if (name.empty() || name.size() > kMaxNameChars)
    return fail(ErrorCode::kInvalidArgument, "variable name empty or too long");
  for (CHAR16 c : name)
    if (c == 0) return fail(ErrorCode::kInvalidArgument, "variable name contains a NUL");
  if (data.empty()) return fail(ErrorCode::kInvalidArgument, "variable without data");
  if ((attributes & ~kKnownAttributes) != 0 || (attributes & kAppend) != 0)
    return fail(ErrorCode::kInvalidArgument, "variable attributes with undefined bits");
  if (data.size() > arena_.size()) return fail(ErrorCode::kNoMemory, "variable store full");
  // The name with its terminator, as the arena keeps it and image lookups compare it.
  std::array<CHAR16, kMaxNameChars + 1> terminated{};
  std::memcpy(terminated.data(), name.data(), name.size_bytes());
  std::size_t name_bytes = name.size_bytes() + sizeof(CHAR16);
  if (find(terminated.data(), name_bytes, guid, false) != nullptr)
    return fail(ErrorCode::kInvalidArgument, "variable loaded twice");
  if (entries_.full()) return fail(ErrorCode::kNoMemory, "too many variables");
  Entry entry{guid, attributes, 0, 0, 0, true, false};
  if (!store(entry, terminated.data(), name_bytes, 0, data))
    return fail(ErrorCode::kNoMemory, "variable store full");
  (void)entries_.push_back(entry);
  return {};
}

EFI_STATUS VariableStore::get_variable(const CHAR16* name, const EFI_GUID* guid,
                                       UINT32* attributes, UINTN* data_size, void* data) {
  if (name == nullptr || guid == nullptr || data_size == nullptr) return EFI_INVALID_PARAMETER;
  // A name longer than any variable's cannot match: EFI_NOT_FOUND, as the empty name.
  auto chars = string_length(name, kMaxNameChars);
  if (!chars || *chars == 0) return EFI_NOT_FOUND;
  Entry* entry = find(name, (*chars + 1) * sizeof(CHAR16), EFI_GUID(*guid), true);
  if (entry == nullptr) return EFI_NOT_FOUND;
  EFI_STATUS status = EFI_SUCCESS;
  if (*data_size < entry->data_size) {
    status = EFI_BUFFER_TOO_SMALL;
  } else if (data == nullptr) {
    return EFI_INVALID_PARAMETER;
  } else {
    std::memcpy(data, arena_.data() + entry->offset + entry->name_bytes, entry->data_size);
  }
  *data_size = entry->data_size;
  if (attributes != nullptr) *attributes = entry->attributes;
  return status;
}

EFI_STATUS VariableStore::get_next_variable_name(UINTN* name_size, CHAR16* name, EFI_GUID* guid) {
  if (name_size == nullptr || name == nullptr || guid == nullptr) return EFI_INVALID_PARAMETER;
  // The input name must end inside the caller's buffer (§8.2.2); a longer one than any variable
  // has is no variable's name either way.
  std::size_t max_chars = *name_size / sizeof(CHAR16);
  if (max_chars == 0) return EFI_INVALID_PARAMETER;
  auto chars = string_length(name, (max_chars < kMaxNameChars + 1 ? max_chars : kMaxNameChars + 1) - 1);
  if (!chars) return EFI_INVALID_PARAMETER;
  std::size_t next = 0;
  if (*chars != 0) {
    EFI_GUID current;
    std::memcpy(&current, guid, sizeof(current));
    Entry* entry = find(name, (*chars + 1) * sizeof(CHAR16), current, true);
    if (entry == nullptr) return EFI_INVALID_PARAMETER;
    next = static_cast<std::size_t>(entry - entries_.begin()) + 1;
  }
  while (next < entries_.size() && !visible(entries_[next])) ++next;
  if (next == entries_.size()) return EFI_NOT_FOUND;
  const Entry& found = entries_[next];
  UINTN needed = found.name_bytes;
  if (needed > *name_size) {
    *name_size = needed;
    return EFI_BUFFER_TOO_SMALL;
  }
  std::memcpy(name, arena_.data() + found.offset, needed);
  std::memcpy(guid, &found.guid, sizeof(EFI_GUID));
  *name_size = needed;
  return EFI_SUCCESS;
}

EFI_STATUS VariableStore::set_variable(const CHAR16* name, const EFI_GUID* guid,
                                       UINT32 attributes, UINTN data_size, const void* data) {
  if (name == nullptr || guid == nullptr) return EFI_INVALID_PARAMETER;
  auto chars = string_length(name, kMaxNameChars);
  if (!chars || *chars == 0) return EFI_INVALID_PARAMETER;
  if (data_size != 0 && data == nullptr) return EFI_INVALID_PARAMETER;
  if ((attributes & ~kKnownAttributes) != 0) return EFI_INVALID_PARAMETER;
  bool deprecated_auth = (attributes & EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS) != 0;
  if ((attributes & (kRt | kBs)) == kRt || (attributes & kAttributesMask) == kNv)
    return deprecated_auth ? EFI_UNSUPPORTED : EFI_INVALID_PARAMETER;
  // UEFI 2.10 §8.2.3: EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS is deprecated, EFI_UNSUPPORTED.
  if (deprecated_auth) return EFI_UNSUPPORTED;
  if ((attributes & kAuthenticated) != 0) return EFI_WRITE_PROTECTED;
  if ((attributes & EFI_VARIABLE_HARDWARE_ERROR_RECORD) != 0) return EFI_INVALID_PARAMETER;
  std::size_t name_bytes = (*chars + 1) * sizeof(CHAR16);
  if (data_size > kMaxVariableSize - name_bytes) return EFI_INVALID_PARAMETER;
  EFI_GUID vendor = *guid;
  if (read_only(name, *chars, vendor)) return EFI_WRITE_PROTECTED;
  std::span<const std::byte> bytes{static_cast<const std::byte*>(data), data_size};

  if (Entry* entry = find(name, name_bytes, vendor, false)) {
    if (at_runtime_ && (entry->attributes & kRt) == 0) return EFI_WRITE_PROTECTED;
    if (attributes != 0 && (attributes & ~kAppend) != entry->attributes)
      return EFI_INVALID_PARAMETER;
    // A machine variable written with authentication (its attributes say so) stays as it is.
    if ((entry->attributes & kAuthenticated) != 0) return EFI_WRITE_PROTECTED;
    // After ExitBootServices volatile variables are read-only (EDK2).
    if (at_runtime_ && (entry->attributes & kNv) == 0) return EFI_WRITE_PROTECTED;
    bool append = (attributes & kAppend) != 0;
    if ((!append && data_size == 0) || (attributes & (kBs | kRt)) == 0) {
      entries_.erase(static_cast<std::size_t>(entry - entries_.begin()));
      return EFI_SUCCESS;
    }
    const std::byte* current = arena_.data() + entry->offset + entry->name_bytes;
    if (!append && data_size == entry->data_size && std::memcmp(current, data, data_size) == 0)
      return EFI_SUCCESS;
    if (append && data_size == 0) return EFI_SUCCESS;
    // Snapshot variables may already exceed the limit (a machine's dbx): no underflow here.
    std::size_t kept = append ? entry->data_size : 0;
    if (kept > kMaxVariableSize - name_bytes || data_size > kMaxVariableSize - name_bytes - kept)
      return EFI_INVALID_PARAMETER;
    if (!store(*entry, name, name_bytes, kept, bytes)) return EFI_OUT_OF_RESOURCES;
    entry->changed = true;
    return EFI_SUCCESS;
  }

  if (data_size == 0 && (attributes & kAppend) != 0) return EFI_SUCCESS;
  if (data_size == 0 || (attributes & (kBs | kRt)) == 0) return EFI_NOT_FOUND;
  if (at_runtime_ && ((attributes & kRt) == 0 || (attributes & kNv) == 0))
    return EFI_INVALID_PARAMETER;
  if (entries_.full()) return EFI_OUT_OF_RESOURCES;
  Entry entry{vendor, attributes & ~kAppend, 0, 0, 0, false, true};
  if (!store(entry, name, name_bytes, 0, bytes)) return EFI_OUT_OF_RESOURCES;
  (void)entries_.push_back(entry);
  return EFI_SUCCESS;
}

EFI_STATUS VariableStore::query_variable_info(UINT32 attributes, UINT64* maximum_storage_size,
                                              UINT64* remaining_storage_size,
                                              UINT64* maximum_variable_size) {
  if (maximum_storage_size == nullptr || remaining_storage_size == nullptr ||
      maximum_variable_size == nullptr || attributes == 0)
    return EFI_INVALID_PARAMETER;
  if ((attributes & EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS) != 0) return EFI_UNSUPPORTED;
  if ((attributes & kAttributesMask) == 0) return EFI_UNSUPPORTED;
  if ((attributes & kAttributesMask) == kNv) return EFI_INVALID_PARAMETER;
  if ((attributes & (kRt | kBs)) == kRt) return EFI_INVALID_PARAMETER;
  if (at_runtime_ && (attributes & kRt) == 0) return EFI_INVALID_PARAMETER;
  if ((attributes & (kNv | EFI_VARIABLE_HARDWARE_ERROR_RECORD)) ==
      EFI_VARIABLE_HARDWARE_ERROR_RECORD)
    return EFI_INVALID_PARAMETER;
  // No authenticated writes and no hardware error records: nothing to report for those.
  if ((attributes & (kAuthenticated | EFI_VARIABLE_HARDWARE_ERROR_RECORD)) != 0)
    return EFI_UNSUPPORTED;
  std::size_t remaining = arena_.size() - live_bytes();
  *maximum_storage_size = arena_.size();
  *remaining_storage_size = remaining;
  *maximum_variable_size = remaining < kMaxVariableSize ? remaining : kMaxVariableSize;
  return EFI_SUCCESS;
}

VariableStore::VariableView VariableStore::at(std::size_t index) const {
  const Entry& entry = entries_[index];
  const std::byte* blob = arena_.data() + entry.offset;
  return {{reinterpret_cast<const CHAR16*>(blob), entry.name_bytes / sizeof(CHAR16) - 1},
          entry.guid,
          entry.attributes,
          {blob + entry.name_bytes, entry.data_size},
          entry.from_snapshot,
          entry.changed};
}

EFI_STATUS RuntimeServices::get_time(EFI_TIME* time, EFI_TIME_CAPABILITIES* capabilities) {
  if (time == nullptr) return EFI_INVALID_PARAMETER;
  EFI_TIME now{};
  if (!clock_.wall_clock(now)) return EFI_DEVICE_ERROR;
  *time = now;
  if (capabilities != nullptr) {
    capabilities->Resolution = 1;        // counts per second
    capabilities->Accuracy = 50000000;   // 50 ppm, in millionths of a ppm
    capabilities->SetsToZero = FALSE;
  }
  return EFI_SUCCESS;
}

EFI_STATUS RuntimeServices::set_time(const EFI_TIME* time) {
  if (time == nullptr || !valid_time(*time)) return EFI_INVALID_PARAMETER;
  return EFI_UNSUPPORTED;
}

EFI_STATUS RuntimeServices::get_wakeup_time(BOOLEAN* enabled, BOOLEAN* pending, EFI_TIME* time) {
  if (enabled == nullptr || pending == nullptr || time == nullptr) return EFI_INVALID_PARAMETER;
  return EFI_UNSUPPORTED;
}

EFI_STATUS RuntimeServices::set_wakeup_time(BOOLEAN enable, const EFI_TIME* time) {
  if (enable && (time == nullptr || !valid_time(*time))) return EFI_INVALID_PARAMETER;
  return EFI_UNSUPPORTED;
}

const ResetRequest& RuntimeServices::reset_system(EFI_RESET_TYPE type, EFI_STATUS status,
                                                  UINTN data_size, const void* reset_data) {
  ResetRequest request{type, status, {}};
  if (reset_data != nullptr) {
    // ResetData starts with a terminated string (§8.5.1); read no further than DataSize.
    std::size_t chars = data_size / sizeof(CHAR16);
    if (chars > request.reason.size() - 1) chars = request.reason.size() - 1;
    const auto* text = static_cast<const CHAR16*>(reset_data);
    for (std::size_t i = 0; i < chars; ++i) {
      CHAR16 c = char_at(text, i);
      if (c == 0) break;
      request.reason[i] = c;
    }
  }
  reset_ = request;
  return *reset_;
}

EFI_STATUS RuntimeServices::update_capsule(EFI_CAPSULE_HEADER**, UINTN, EFI_PHYSICAL_ADDRESS) {
  return EFI_UNSUPPORTED;
}

EFI_STATUS RuntimeServices::query_capsule_capabilities(EFI_CAPSULE_HEADER**, UINTN, UINT64*,
                                                       EFI_RESET_TYPE*) {
  return EFI_UNSUPPORTED;
}

}  // namespace efikexec::efi
