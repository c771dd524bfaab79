// SPDX-License-Identifier: MIT
#include <nlohmann/json.hpp>

#include "kexec/esp/boot_entries.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "kexec/image/opened_image.hpp"
#include "kexec/inspect/inspect.hpp"
#include "kexec/verify/trust_policy.hpp"
#include "kexec/verify/verify.hpp"
#include "uki/uki.hpp"

namespace efikexec::kexec {

namespace {

using nlohmann::json;

// GPT partition types (Discoverable Partitions Specification) and their MBR counterparts.
constexpr std::string_view kEspType = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
constexpr std::string_view kXbootldrType = "bc13c2ff-59e6-4262-a352-b275fd6f7172";
constexpr std::string_view kEspMbrType = "0xef";
constexpr std::string_view kXbootldrMbrType = "0xea";

// What is read whole: a UKI is parsed from memory, loader.conf and a variable are small.
constexpr std::uint64_t kMaxUkiBytes = std::uint64_t{1} << 30;
constexpr std::uint64_t kMaxLoaderConfBytes = 64 * 1024;
constexpr std::uint64_t kMaxVariableBytes = 4096;

struct Mount {
  std::string point;
  std::string fstype;
  unsigned major = 0, minor = 0;
};

// mountinfo escapes blanks, tabs, newlines and backslashes as \ooo.
std::string unescape_mount_field(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.size() == 3 && std::all_of(digits.begin(), digits.end(),
                                            [](char c) { return c >= '0' && c <= '7'; })) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// proc(5): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER".
std::vector<Mount> read_mounts(const std::string& path) {
  std::vector<Mount> mounts;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    const auto dash = std::find(words.begin(), words.end(), "-");
    if (words.size() < 7 || dash == words.end() || dash + 1 == words.end()) continue;
    Mount mount;
    if (std::sscanf(words[2].c_str(), "%u:%u", &mount.major, &mount.minor) != 2) continue;
    mount.point = unescape_mount_field(words[4]);
    mount.fstype = *(dash + 1);
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

// The mount at `point`: the last one listed, which hides those before it.
const Mount* mount_at(const std::vector<Mount>& mounts, const std::string& point) {
  const Mount* found = nullptr;
  for (const Mount& mount : mounts)
    if (mount.point == point) found = &mount;
  return found;
}

// udev's record of a block device's partition type, lower-case; empty when it has none.
std::string partition_type(const MountSources& sources, const Mount& mount) {
  std::ifstream in(sources.root + sources.udev_data + "/b" + std::to_string(mount.major) + ":" +
                   std::to_string(mount.minor));
  std::string line;
  constexpr std::string_view kKey = "E:ID_PART_ENTRY_TYPE=";
  while (std::getline(in, line)) {
    if (line.starts_with(kKey)) {
      std::string type = line.substr(kKey.size());
      std::transform(type.begin(), type.end(), type.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return type;
    }
  }
  return {};
}

bool is_directory(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The entry of `directory` named `name` in any case (FAT's lookup; a copy of an ESP on another
// file system keeps the case it was written with). Empty when there is none.
std::string find_ignoring_case(const std::string& directory, std::string_view name) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return {};
  std::string found;
  while (const dirent* entry = ::readdir(dir)) {
    if (uki::equal_ignoring_case(entry->d_name, name)) {
      found = directory + "/" + entry->d_name;
      if (std::string_view(entry->d_name) == name) break;  // the exact spelling wins
    }
  }
  ::closedir(dir);
  return found;
}

// A directory's regular files (no links, no directories), sorted by name.
HostResult<std::vector<std::string>> regular_files(const std::string& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return host_fail_errno(Stage::kRead, "cannot open the directory", directory);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    struct stat st{};
    const std::string path = directory + "/" + entry->d_name;
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::string lower_case(std::string text) {
  uki::ascii_lower_case(text);
  return text;
}

// A small file read whole, or nothing when it does not exist; `notes` says why one was ignored.
std::optional<std::string> read_small_file(const std::string& path, std::uint64_t limit,
                                           std::vector<std::string>& notes) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) notes.push_back(path + ": cannot stat, ignored");
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > limit) {
    notes.push_back(path + ": not a regular file of at most " + std::to_string(limit) +
                    " bytes, ignored");
    return std::nullopt;
  }
  auto bytes = FileBytes::read(path);
  if (!bytes) {
    notes.push_back(bytes.error().message() + ", ignored");
    return std::nullopt;
  }
  return std::string(bytes->view().chars());
}

// A loader variable (efivarfs: 4 attribute bytes, then UCS-2) as UTF-8. systemd-boot ignores
// one it cannot read; so does this, with a note.
std::optional<std::string> read_loader_variable(const std::string& directory, const char* name,
                                                 std::vector<std::string>& notes) {
  if (directory.empty()) return std::nullopt;
  const std::string path = directory + "/" + efivarfs_name(name, kLoaderVendorGuid);
  std::optional<std::string> raw = read_small_file(path, kMaxVariableBytes, notes);
  if (!raw) return std::nullopt;
  if (raw->size() < 4) {
    notes.push_back(path + ": shorter than the efivarfs attributes word, ignored");
    return std::nullopt;
  }
  const ByteView data(reinterpret_cast<const std::byte*>(raw->data()) + 4, raw->size() - 4);
  std::string out(data.size() / 2 * 3 + 1, '\0');
  auto text = uki::decode_loader_string(data, std::span<char>(out.data(), out.size()));
  if (!text) {
    notes.push_back(path + ": " + describe(text.error()) + ", ignored");
    return std::nullopt;
  }
  return std::string(*text);
}

std::optional<std::string> to_string(std::optional<std::string_view> text) {
  if (!text) return std::nullopt;
  return std::string(*text);
}

std::string section_string(const uki::Uki& uki, std::string_view name, unsigned profile) {
  const pe::Section* section = uki.find(name, profile);
  return section ? std::string(uki.image().section_data(*section).chars()) : std::string();
}

// The entries of one UKI file, one per profile, as systemd-boot makes them (boot_entry_add_type2).
void add_uki_entries(const std::string& directory, const std::string& file_name,
                     const std::string& partition, const TrustPolicy* policy, BootEntries& out) {
  const std::string path = directory + "/" + file_name;
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) > kMaxUkiBytes) {
    out.unreadable.push_back({file_name, path, "larger than " + std::to_string(kMaxUkiBytes) +
                                                   " bytes"});
    return;
  }
  auto opened = open_image(path);
  if (!opened) {
    // The reason without the path, which the entry names already.
    std::string reason = opened.error().message();
    if (reason.starts_with(path + ": ")) reason.erase(0, path.size() + 2);
    out.unreadable.push_back({file_name, path, reason});
    return;
  }
  const uki::Uki uki = uki::Uki::from_image(opened->image);
  std::optional<VerifyVerdict> verdict;
  if (policy != nullptr) verdict = verify_image(opened->image, *policy);
  const std::optional<uki::BootCounter> counter = uki::parse_boot_counter(file_name);
  const unsigned profiles = std::min(std::max(uki.profile_count(), 1u), uki::kMaxBootProfiles);
  bool listed = false;
  for (unsigned profile = 0; profile < profiles; ++profile) {
    if (uki.find(".osrel", profile) == nullptr) continue;
    const std::string osrel = section_string(uki, ".osrel", profile);
    const std::optional<uki::OsReleaseNames> names = uki::os_release_names(osrel);
    if (!names) continue;
    const std::string profile_text = section_string(uki, ".profile", profile);
    const uki::ProfileFields fields = uki::profile_fields(profile_text);
    std::string id(file_name.size() + profile_text.size() + 16, '\0');
    std::string title(names->title.size() + profile_text.size() + 32, '\0');
    auto labels = uki::type2_labels(file_name, profile, fields, names->title,
                                    std::span<char>(id.data(), id.size()),
                                    std::span<char>(title.data(), title.size()));
    if (!labels) {  // the buffers are sized for the longest result: cannot happen
      out.unreadable.push_back({file_name, path, describe(labels.error())});
      return;
    }
    BootEntry entry;
    entry.id = std::string(labels->id);
    entry.title = std::string(labels->title);
    entry.file_name = file_name;
    entry.path = path;
    entry.partition = partition;
    entry.version = to_string(names->version);
    entry.sort_key = to_string(names->sort_key);
    entry.profile = profile;
    entry.profile_id = to_string(fields.id);
    if (profile > 0) entry.id_without_profile = lower_case(file_name);
    entry.plain_id = entry.id;
    if (counter) {
      entry.tries_left = counter->tries_left;
      entry.tries_done = counter->tries_done;
      // The counter sits just before ".efi"; the profile suffix, if any, comes after it.
      const std::size_t end = file_name.size() - 4;
      entry.plain_id.erase(counter->prefix_length, end - counter->prefix_length);
    }
    if (verdict) {
      entry.accepted = verdict->accepted;
      entry.verdict = verdict->reason;
    }
    const pe::Section* cmdline = uki.find(".cmdline", profile);
    entry.cmdline = section_text(cmdline ? uki.image().section_data(*cmdline) : ByteView{});
    out.entries.push_back(std::move(entry));
    listed = true;
    // systemd-boot stops at the first profile without a .cmdline (it returns from the loop
    // where it reads the command line for display); its later profiles get no entries.
    if (cmdline == nullptr) break;
  }
  if (!listed)
    out.unreadable.push_back(
        {file_name, path, "no profile with an .osrel naming the OS (PRETTY_NAME, IMAGE_ID, NAME or "
                          "ID): systemd-boot shows no entry for it"});
}

HostStatus add_partition(const std::string& root, const std::string& partition,
                         const TrustPolicy* policy, BootEntries& out) {
  const std::string efi = find_ignoring_case(root, "EFI");
  const std::string linux_dir = efi.empty() ? std::string() : find_ignoring_case(efi, "Linux");
  if (linux_dir.empty() || !is_directory(linux_dir)) {
    out.notes.push_back(root + " has no EFI/Linux directory");
    return {};
  }
  auto files = regular_files(linux_dir);
  if (!files) return std::unexpected(files.error());
  for (const std::string& name : *files)
    if (uki::is_type2_file_name(name)) add_uki_entries(linux_dir, name, partition, policy, out);
  return {};
}

std::string quoted(const std::optional<std::string>& text) {
  return text ? "'" + *text + "'" : std::string("-");
}

json optional_json(const std::optional<std::string>& text) {
  return text ? json(*text) : json(nullptr);
}

}  // namespace

uki::EntryOrder BootEntry::order() const {
  uki::EntryOrder order;
  order.id = id;
  if (id_without_profile) order.id_without_profile = *id_without_profile;
  if (sort_key) order.sort_key = *sort_key;
  if (version) order.version = *version;
  order.profile = profile;
  order.tries_left = tries_left;
  order.tries_done = tries_done;
  return order;
}

HostResult<EspLocation> find_esp(const MountSources& sources) {
  // Looking into each candidate first mounts an automounted ESP (systemd's /efi, /boot
  // automount units), so that the mount table then shows its file system.
  for (const char* candidate : {"/efi", "/boot", "/boot/efi"})
    (void)find_ignoring_case(sources.root + candidate, "EFI");
  const std::vector<Mount> mounts = read_mounts(sources.root + sources.mountinfo);
  EspLocation location;
  std::string tried;
  for (const char* candidate : {"/efi", "/boot", "/boot/efi"}) {
    const Mount* mount = mount_at(mounts, candidate);
    const std::string path = sources.root + candidate;
    std::string why;
    if (mount == nullptr) why = "not a mount point";
    else if (mount->fstype != "vfat") why = "a " + mount->fstype + " file system, not vfat";
    else if (find_ignoring_case(path, "EFI").empty()) why = "has no EFI directory";
    if (why.empty()) {
      const std::string type = partition_type(sources, *mount);
      if (!type.empty() && type != kEspType && type != kEspMbrType)
        why = "partition type " + type + " is not the ESP's";
      if (why.empty()) {
        location.esp = path;
        location.found_by = std::string(candidate) + ": vfat mount holding EFI/, " +
                            (type.empty() ? "partition type not recorded by udev (not checked)"
                                          : "ESP partition type");
        break;
      }
    }
    tried += std::string(tried.empty() ? "" : "; ") + candidate + " " + why;
  }
  if (location.esp.empty())
    return host_fail(Stage::kMachine, "no ESP found (" + tried + "); give --esp DIR");
  // XBOOTLDR: /boot, when it is not the ESP and udev says it is one.
  if (location.esp != sources.root + "/boot") {
    if (const Mount* boot = mount_at(mounts, "/boot")) {
      const std::string type = partition_type(sources, *boot);
      if (type == kXbootldrType || type == kXbootldrMbrType) {
        location.xbootldr = sources.root + "/boot";
        location.found_by += "; XBOOTLDR /boot";
      }
    }
  }
  return location;
}

HostResult<BootEntries> read_boot_entries(const EspOptions& options, const MountSources& sources) {
  BootEntries out;
  if (options.esp.empty()) {
    auto found = find_esp(sources);
    if (!found) return std::unexpected(found.error());
    out.location = *found;
  } else {
    if (!is_directory(options.esp))
      return host_fail(Stage::kRead, "the ESP given is not a directory", options.esp);
    out.location = {options.esp, {}, "--esp"};
  }
  if (!options.xbootldr.empty()) {
    if (!is_directory(options.xbootldr))
      return host_fail(Stage::kRead, "the XBOOTLDR partition given is not a directory",
                       options.xbootldr);
    out.location.xbootldr = options.xbootldr;
  }
  // systemd-boot reads EFI/Linux of its own partition, then of XBOOTLDR, and sorts them together.
  if (auto added = add_partition(out.location.esp, "esp", options.verify, out); !added)
    return std::unexpected(added.error());
  if (!out.location.xbootldr.empty())
    if (auto added = add_partition(out.location.xbootldr, "xbootldr", options.verify, out);
        !added)
      return std::unexpected(added.error());
  std::stable_sort(out.entries.begin(), out.entries.end(),
                   [](const BootEntry& a, const BootEntry& b) {
                     return uki::compare_entries(a.order(), b.order()) < 0;
                   });

  // loader.conf is the ESP's (systemd-boot reads \loader\loader.conf of the volume it runs from).
  const std::string loader = find_ignoring_case(out.location.esp, "loader");
  const std::string conf = loader.empty() ? std::string() : find_ignoring_case(loader, "loader.conf");
  if (!conf.empty())
    if (auto text = read_small_file(conf, kMaxLoaderConfBytes, out.notes))
      out.default_config = to_string(uki::loader_conf_default(*text));
  out.oneshot = read_loader_variable(options.efivars_directory, "LoaderEntryOneShot", out.notes);
  out.default_variable =
      read_loader_variable(options.efivars_directory, "LoaderEntryDefault", out.notes);
  out.last_booted =
      read_loader_variable(options.efivars_directory, "LoaderEntryLastBooted", out.notes);

  std::vector<std::string_view> ids;
  for (const BootEntry& entry : out.entries) ids.push_back(entry.id);
  auto view = [](const std::optional<std::string>& text) -> std::optional<std::string_view> {
    if (!text) return std::nullopt;
    return std::string_view(*text);
  };
  if (auto pick = uki::select_default_entry(ids, {view(out.oneshot), view(out.default_variable),
                                                  view(out.default_config), view(out.last_booted)}))
    out.default_entry = BootEntries::Default{pick->index, pick->source, std::string(pick->pattern)};
  return out;
}

HostResult<ChosenEntry> choose_entry(const BootEntries& entries, const std::string& request) {
  std::vector<const BootEntry*> matches;
  for (const BootEntry& entry : entries.entries) {
    // The id, the id without the counter, and a profile by number as well as by its ID=.
    std::vector<std::string> names = {entry.id, entry.plain_id};
    if (entry.profile > 0 && entry.id_without_profile) {
      const std::string number = "@" + std::to_string(entry.profile);
      names.push_back(*entry.id_without_profile + number);
      const std::size_t suffix = entry.id.size() - entry.id_without_profile->size();
      names.push_back(entry.plain_id.substr(0, entry.plain_id.size() - suffix) + number);
    }
    if (std::any_of(names.begin(), names.end(),
                    [&](const std::string& name) { return uki::glob_match(request, name); }))
      matches.push_back(&entry);
  }
  if (matches.size() == 1) return ChosenEntry{matches.front(), "--entry " + request};
  if (matches.size() > 1) {
    std::string ids;
    for (const BootEntry* entry : matches) ids += (ids.empty() ? "" : ", ") + entry->id;
    return host_fail(Stage::kRequest,
                     "--entry '" + request + "' matches " + std::to_string(matches.size()) +
                         " boot entries (" + ids + "); name one");
  }
  for (const UnreadableEntry& broken : entries.unreadable)
    if (uki::glob_match(request, broken.file_name))
      return host_fail(Stage::kParse, "boot entry " + broken.file_name + " cannot be used: " +
                                          broken.error);
  std::string ids;
  for (const BootEntry& entry : entries.entries) ids += (ids.empty() ? "" : ", ") + entry.id;
  return host_fail(Stage::kRequest, "no boot entry matches '" + request + "' (entries: " +
                                        (ids.empty() ? std::string("none") : ids) + ")");
}

HostResult<ChosenEntry> choose_default(const BootEntries& entries) {
  if (!entries.default_entry || entries.default_entry->index >= entries.entries.size())
    return host_fail(Stage::kRequest, "no boot entries in EFI/Linux of " + entries.location.esp +
                                          (entries.location.xbootldr.empty()
                                               ? std::string()
                                               : " or " + entries.location.xbootldr));
  const BootEntries::Default& pick = *entries.default_entry;
  std::string why = uki::default_source_name(pick.source);
  if (!pick.pattern.empty()) why += " '" + pick.pattern + "'";
  return ChosenEntry{&entries.entries[pick.index], why};
}

json boot_entries_json(const BootEntries& entries) {
  json list = json::array();
  for (std::size_t i = 0; i < entries.entries.size(); ++i) {
    const BootEntry& e = entries.entries[i];
    list.push_back({{"id", e.id},
                    {"plain_id", e.plain_id},
                    {"title", e.title},
                    {"version", optional_json(e.version)},
                    {"sort_key", optional_json(e.sort_key)},
                    {"profile", e.profile},
                    {"profile_id", optional_json(e.profile_id)},
                    {"file", e.file_name},
                    {"path", e.path},
                    {"partition", e.partition},
                    {"tries_left", e.tries_left < 0 ? json(nullptr) : json(e.tries_left)},
                    {"tries_done", e.tries_done < 0 ? json(nullptr) : json(e.tries_done)},
                    {"bad", e.tries_left == 0},
                    {"default", entries.default_entry && entries.default_entry->index == i},
                    {"cmdline", e.cmdline},
                    {"accepted", e.accepted ? json(*e.accepted) : json(nullptr)},
                    {"verdict", e.accepted ? json(e.verdict) : json(nullptr)}});
  }
  json unreadable = json::array();
  for (const UnreadableEntry& u : entries.unreadable)
    unreadable.push_back({{"file", u.file_name}, {"path", u.path}, {"error", u.error}});
  json chosen = nullptr;
  if (entries.default_entry && entries.default_entry->index < entries.entries.size())
    chosen = {{"id", entries.entries[entries.default_entry->index].id},
              {"source", uki::default_source_name(entries.default_entry->source)},
              {"pattern", entries.default_entry->pattern.empty()
                              ? json(nullptr)
                              : json(entries.default_entry->pattern)}};
  return {{"esp", entries.location.esp},
          {"xbootldr", entries.location.xbootldr.empty() ? json(nullptr)
                                                         : json(entries.location.xbootldr)},
          {"found_by", entries.location.found_by},
          {"loader",
           {{"LoaderEntryOneShot", optional_json(entries.oneshot)},
            {"LoaderEntryDefault", optional_json(entries.default_variable)},
            {"LoaderEntryLastBooted", optional_json(entries.last_booted)},
            {"loader_conf_default", optional_json(entries.default_config)}}},
          {"default", chosen},
          {"entries", list},
          {"unreadable", unreadable},
          {"notes", entries.notes}};
}

std::string render_boot_entries_text(const BootEntries& entries) {
  std::string out = "ESP: " + entries.location.esp + " (" + entries.location.found_by + ")\n";
  if (!entries.location.xbootldr.empty()) out += "XBOOTLDR: " + entries.location.xbootldr + "\n";
  if (entries.oneshot || entries.default_variable || entries.default_config || entries.last_booted)
    out += "LoaderEntryOneShot " + quoted(entries.oneshot) + ", LoaderEntryDefault " +
           quoted(entries.default_variable) + ", loader.conf default " +
           quoted(entries.default_config) + ", LoaderEntryLastBooted " +
           quoted(entries.last_booted) + "\n";
  if (auto chosen = choose_default(entries))
    out += "default: " + chosen->entry->id + " (" + chosen->why + ")\n";
  else
    out += "default: none (no entries)\n";
  std::size_t id_width = 2, title_width = 5, version_width = 7;
  for (const BootEntry& e : entries.entries) {
    id_width = std::max(id_width, e.id.size());
    title_width = std::max(title_width, e.title.size());
    version_width = std::max(version_width, e.version.value_or("-").size());
  }
  const bool verified = std::any_of(entries.entries.begin(), entries.entries.end(),
                                    [](const BootEntry& e) { return e.accepted.has_value(); });
  auto row = [&](const std::string& mark, const std::string& id, const std::string& title,
                 const std::string& version, const std::string& tries, const std::string& verdict,
                 const std::string& path) {
    std::string line = mark + " " + id + std::string(id_width - id.size() + 2, ' ') + title +
                       std::string(title_width - title.size() + 2, ' ') + version +
                       std::string(version_width - version.size() + 2, ' ') + tries +
                       std::string(tries.size() < 8 ? 8 - tries.size() : 1, ' ');
    if (verified) line += verdict + std::string(verdict.size() < 10 ? 10 - verdict.size() : 1, ' ');
    out += line + path + "\n";
  };
  row(" ", "ID", "TITLE", "VERSION", "TRIES", "SIGNATURE", "FILE");
  for (std::size_t i = 0; i < entries.entries.size(); ++i) {
    const BootEntry& e = entries.entries[i];
    const bool is_default = entries.default_entry && entries.default_entry->index == i;
    std::string tries = "-";
    if (e.tries_left >= 0)
      tries = std::to_string(e.tries_left) + "/" + std::to_string(e.tries_done) +
              (e.tries_left == 0 ? " bad" : "");
    row(is_default ? "*" : " ", e.id, e.title, e.version.value_or("-"), tries,
        e.accepted ? (*e.accepted ? "accepted" : "refused") : "-", e.path);
  }
  // Why each refused file was refused, once per file.
  std::string last;
  for (const BootEntry& e : entries.entries)
    if (e.accepted == false && e.path != last) {
      out += "refused: " + e.path + ": " + e.verdict + "\n";
      last = e.path;
    }
  for (const UnreadableEntry& u : entries.unreadable)
    out += "unreadable: " + u.path + ": " + u.error + "\n";
  for (const std::string& note : entries.notes) out += "note: " + note + "\n";
  return out;
}

}  // namespace efikexec::kexec
