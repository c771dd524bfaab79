// SPDX-License-Identifier: MIT
// Boot Loader Specification Type #2 entries (UKIs in \EFI\Linux) as systemd-boot reads, names,
// orders and picks them: the rules only, over text the caller has read. Everything here takes
// untrusted bytes (file names, .osrel, .profile, loader.conf, EFI variables) and allocates
// nothing: results are views into the caller's text or written into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pe_loader/byte_view.hpp"

namespace efikexec::uki {

// systemd-boot looks at profiles 0..255 of a UKI (systemd's UNIFIED_PROFILES_MAX).
inline constexpr unsigned kMaxBootProfiles = 256;

// Compares version strings as systemd does (strverscmp_improved, the order bootctl and
// systemd-boot sort by): segments of digits or letters, separated by anything else; '~' marks
// the oldest (pre-releases), then '-' (release), then '^' (patched), then '.' (point releases);
// more segments is newer, numbers compare by value ("00123" == "123"). <0, 0, >0 like strcmp.
int compare_versions(std::string_view a, std::string_view b);

// Matches `text` against a glob as systemd-boot's efi_fnmatch does, ASCII letters folded to lower
// case on both sides (systemd-boot lower-cases ids and patterns before matching): '*', '?',
// '[set]' with ranges, '\' escapes. Linear in the input: no backtracking.
bool glob_match(std::string_view pattern, std::string_view text);
// Whether `pattern` has any of the glob's special characters.
bool is_glob(std::string_view pattern);
// ASCII-only case-insensitive equality (systemd-boot's strcaseeq16 over ASCII ids).
bool equal_ignoring_case(std::string_view a, std::string_view b);
// Lower-cases ASCII letters in place (systemd-boot's strtolower16 on ids).
void ascii_lower_case(std::span<char> text);

// "+LEFT[-DONE]" just before the suffix (".efi") of a file name: systemd's boot counting
// (Automatic Boot Assessment). `prefix_length` is where the '+' is: name[0, prefix_length) is the
// name without the counter, and with the suffix appended, the name bootctl shows.
struct BootCounter {
  int tries_left;
  int tries_done;
  std::size_t prefix_length;
};
// As systemd-boot parses it: the last '+' of the name, at least one digit, optionally '-' and at
// least one digit, each at most INT_MAX, then exactly the suffix (case-insensitive). Anything else
// is no counter (the entry is not counted), never an error.
std::optional<BootCounter> parse_boot_counter(std::string_view file_name,
                                              std::string_view suffix = ".efi");

// Whether systemd-boot considers a directory entry of \EFI\Linux at all: not hidden ('.'), named
// *.efi (any case), not auto-* (its own automatic entries). Directories are the caller's check.
bool is_type2_file_name(std::string_view file_name);

// Calls `visit(key, value)` for every "KEY<sep>VALUE" line as systemd-boot's line reader does
// (line_get_key_value): the text ends at its first NUL; lines end at '\n' or '\r'; blanks and
// tabs around a line dropped; '#' lines and lines without a separator skipped; the key ends at
// the first separator character, the value starts after all separator characters that follow;
// one pair of matching quotes around the value removed. .osrel and .profile use "=", loader.conf
// " \t".
template <class Visit>
void for_each_key_value(std::string_view text, std::string_view separators, Visit&& visit);

// What a UKI's .osrel gives its entry (systemd's bootspec_pick_name_version_sort_key): the title
// (PRETTY_NAME, else IMAGE_ID, NAME, ID), the version (IMAGE_VERSION, else VERSION, VERSION_ID,
// BUILD_ID) and the sort key (IMAGE_ID, else ID). The last of a repeated key wins. No title:
// systemd-boot shows no entry for that profile.
struct OsReleaseNames {
  std::string_view title;
  std::optional<std::string_view> version;
  std::optional<std::string_view> sort_key;
};
std::optional<OsReleaseNames> os_release_names(std::string_view osrel);

// A .profile section's ID= and TITLE=.
struct ProfileFields {
  std::optional<std::string_view> id;
  std::optional<std::string_view> title;
};
ProfileFields profile_fields(std::string_view profile_section);

// Writes the entry id and title of a UKI's profile into `id_out` and `title_out` as systemd-boot
// makes them: profile 0 is the file name (titled "NAME", or "NAME (TITLE)" when its .profile has
// a TITLE=); profile N > 0 is "FILE@ID" or "FILE@N", titled "NAME (TITLE)", "NAME (ID)" or
// "NAME (Profile #N+1)". The id is lower-cased, the title is not. kNoMemory when a buffer is too
// small.
struct Type2Labels {
  std::string_view id;
  std::string_view title;
};
Result<Type2Labels> type2_labels(std::string_view file_name, unsigned profile,
                                 const ProfileFields& fields, std::string_view os_title,
                                 std::span<char> id_out, std::span<char> title_out);

// What systemd-boot orders entries by (boot_entry_compare); all strings lower-case ids as above.
struct EntryOrder {
  std::string_view id;
  std::optional<std::string_view> id_without_profile;  // the file name, for profiles > 0
  std::optional<std::string_view> sort_key;
  std::optional<std::string_view> machine_id;  // Type #1 only; absent for UKIs
  std::optional<std::string_view> version;
  unsigned profile = 0;
  int tries_left = -1;  // -1: no boot counting
  int tries_done = -1;
};
// <0 when `a` comes first. Entries without tries left last; entries with a sort key before those
// without; then sort key, machine id, version (newest first); then id by version order (newest
// first); profiles of one UKI by number (profile 0 first: systemd-boot leaves its place to an
// unstable sort); then more tries left first, fewer tries done first.
int compare_entries(const EntryOrder& a, const EntryOrder& b);

// loader.conf's `default` (a glob over entry ids, or "@saved"); the last line wins, and other
// "@..." values are ignored as systemd-boot ignores them.
std::optional<std::string_view> loader_conf_default(std::string_view loader_conf);

// A UCS-2 string variable of systemd's loader (LoaderEntryDefault, LoaderEntryOneShot,
// LoaderEntryLastBooted): its data (after the 4-byte efivarfs attributes) as UTF-8 in `out`,
// ending at the first NUL or the end of the data. kMalformed for an odd size or a lone surrogate,
// kNoMemory when `out` is too small.
Result<std::string_view> decode_loader_string(ByteView data, std::span<char> out);

// Where the default of systemd-boot comes from (config_select_default_entry), in its order.
enum class DefaultSource : std::uint8_t {
  kOneShot,         // LoaderEntryOneShot
  kEfiVariable,     // LoaderEntryDefault
  kSavedByVariable, // LoaderEntryDefault is "@saved": LoaderEntryLastBooted
  kLoaderConf,      // loader.conf `default`
  kSavedByConf,     // loader.conf `default @saved`: LoaderEntryLastBooted
  kFirst,           // nothing matched: the first entry in order
};
const char* default_source_name(DefaultSource source);

struct LoaderSettings {
  std::optional<std::string_view> oneshot;         // LoaderEntryOneShot
  std::optional<std::string_view> default_efivar;  // LoaderEntryDefault
  std::optional<std::string_view> default_config;  // loader.conf `default`
  std::optional<std::string_view> saved;           // LoaderEntryLastBooted
};

struct DefaultPick {
  std::size_t index;
  DefaultSource source;
  std::string_view pattern;  // what matched; empty for kFirst
};
// The entry systemd-boot boots without a key pressed, among `sorted_ids` (lower-case ids in the
// order of compare_entries): the first id matching the one-shot pattern, else LoaderEntryDefault
// (or the last booted entry when it is "@saved"), else loader.conf's default (likewise), else the
// first entry. Nothing when there are no entries.
std::optional<DefaultPick> select_default_entry(std::span<const std::string_view> sorted_ids,
                                                const LoaderSettings& settings);

}  // namespace efikexec::uki

#include "uki/boot_entries_inl.hpp"
