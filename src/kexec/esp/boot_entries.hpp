// SPDX-License-Identifier: MIT
// The UKIs on the ESP as systemd-boot sees them (Boot Loader Specification Type #2): where the
// ESP is (as bootctl finds it), the entries of EFI/Linux with their profiles, titles, versions and
// boot counters in systemd-boot's order, and the entry it would boot by default (LoaderEntryOneShot,
// LoaderEntryDefault, loader.conf). `efikexec list` shows them; `load --entry/--default` loads one.
// The rules themselves are the core's (uki/boot_entries.hpp); this is the directory walk, the
// variables and the files. Every UKI found is untrusted: parsed by the PE parser, never run here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kexec/common/host_error.hpp"
#include "kexec/verify/trust_policy.hpp"
#include "pe_loader/signature_list.hpp"
#include "uki/boot_entries.hpp"

namespace efikexec::kexec {

// systemd's loader variables (LoaderEntryDefault, ...) live under this vendor GUID.
inline constexpr pe::Guid kLoaderVendorGuid =
    pe::make_guid(0x4a67b082, 0x0a4c, 0x41cf, {0xb6, 0xc7, 0x44, 0x0b, 0x29, 0xbb, 0x8c, 0x4f});

// Where to look. Empty `esp`: found as bootctl finds it (find_esp below).
struct EspOptions {
  std::string esp;
  std::string xbootldr;           // an extra partition with EFI/Linux; empty: found with the ESP
  std::string efivars_directory;  // LoaderEntry* variables; empty: none are read
  const TrustPolicy* verify = nullptr;  // when set, each UKI's verdict under this policy
};

// Where the system's mounts are, for find_esp (tests point these at a fake tree).
struct MountSources {
  std::string root;  // prefix of every path checked ("" on the running system)
  std::string mountinfo = "/proc/self/mountinfo";
  std::string udev_data = "/run/udev/data";  // "b MAJ:MIN" files with ID_PART_ENTRY_TYPE=
};

struct EspLocation {
  std::string esp;
  std::string xbootldr;  // empty when there is none
  std::string found_by;  // how: "--esp", or the mount and what was checked
};

// bootctl's search: /efi, /boot, /boot/efi (each looked into first, which mounts an automounted
// one), the first that is a mount point of a vfat file system
// holding EFI/ and, when udev recorded its partition type, is an ESP (GPT type
// c12a7328-f81f-11d2-ba4b-00a0c93ec93b, MBR 0xef). XBOOTLDR: /boot when it is another mount whose
// recorded type is bc13c2ff-59e6-4262-a352-b275fd6f7172 (MBR 0xea). bootctl asks blkid when udev
// has not recorded a type; efikexec then accepts the vfat mount and says so in `found_by`.
// Stage::kMachine when none qualifies.
HostResult<EspLocation> find_esp(const MountSources& sources = {});

struct BootEntry {
  std::string id;         // systemd-boot's: the file name lower-cased, "@PROFILE" after profile 0
  std::string plain_id;   // the id without the boot counter ("+LEFT-DONE"), as bootctl shows it
  std::optional<std::string> id_without_profile;
  std::string file_name;  // as in the directory
  std::string path;
  std::string partition;  // "esp" or "xbootldr"
  std::string title;
  std::optional<std::string> version;
  std::optional<std::string> sort_key;
  unsigned profile = 0;
  std::optional<std::string> profile_id;
  int tries_left = -1;  // -1: no boot counting
  int tries_done = -1;
  std::string cmdline;  // the profile's .cmdline, for display
  std::optional<bool> accepted;  // the file's verdict, when verification was asked for
  std::string verdict;           // its reason

  uki::EntryOrder order() const;
};

// A file systemd-boot would have looked at that is no UKI efikexec can read, with the reason.
struct UnreadableEntry {
  std::string file_name;
  std::string path;
  std::string error;
};

struct BootEntries {
  EspLocation location;
  std::vector<BootEntry> entries;  // in systemd-boot's order
  std::vector<UnreadableEntry> unreadable;
  // What chooses the default, as read: the variables decoded, loader.conf's `default`.
  std::optional<std::string> oneshot, default_variable, default_config, last_booted;
  struct Default {
    std::size_t index;  // into `entries`
    uki::DefaultSource source;
    std::string pattern;  // what matched; empty when it is simply the first entry
  };
  std::optional<Default> default_entry;
  std::vector<std::string> notes;  // what was ignored and why (an unreadable variable, ...)
};

// Reads the ESP (and XBOOTLDR) of `options`. A directory that cannot be read is Stage::kRead; a
// UKI that does not parse is listed in `unreadable`, never an error of the whole list.
HostResult<BootEntries> read_boot_entries(const EspOptions& options,
                                          const MountSources& sources = {});

struct ChosenEntry {
  const BootEntry* entry;
  std::string why;  // "--entry X", or the default's source and pattern
};
// `--entry ID[@PROFILE]`: an entry id or a glob over ids (case-insensitive), the id with or without
// its boot counter, a profile by its ID= or its number. Stage::kRequest when nothing matches or
// more than one entry does (naming them).
HostResult<ChosenEntry> choose_entry(const BootEntries& entries, const std::string& request);
// `--default`: the entry systemd-boot boots without a key pressed.
HostResult<ChosenEntry> choose_default(const BootEntries& entries);

nlohmann::json boot_entries_json(const BootEntries& entries);
std::string render_boot_entries_text(const BootEntries& entries);

}  // namespace efikexec::kexec
