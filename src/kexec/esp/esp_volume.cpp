// SPDX-License-Identifier: MIT
// The ESP snapshot systemd-stub's files come from (see esp_volume.hpp). Every open is relative to
// a directory already opened, with O_NOFOLLOW: a symbolic link anywhere, or `..`, cannot lead
// out of the ESP; a file is taken only when fstat says it is a regular one.
#include "kexec/esp/esp_volume.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kexec/common/digest.hpp"
#include "kexec/verify/verify.hpp"
#include "pe_loader/pe_image.hpp"

namespace efikexec::kexec {

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return text;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The names of a directory (without . and ..), sorted.
std::vector<std::string> directory_names(int directory) {
  std::vector<std::string> names;
  const int copy = ::openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return names;
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    ::close(copy);
    return names;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

// A subdirectory by name, as FAT matches names (case-insensitively); never through a link.
// Its name on disk goes to `found`. An invalid Fd when there is none.
Fd open_subdirectory(int parent, const std::string& name, std::string& found) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Fd();
  const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  if (int fd = ::openat(parent, name.c_str(), flags); fd >= 0) {
    found = name;
    return Fd(fd);
  }
  for (const std::string& candidate : directory_names(parent))
    if (lower(candidate) == lower(name)) {
      found = candidate;
      return Fd(::openat(parent, candidate.c_str(), flags));
    }
  return Fd();
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : path) {
    if (c == '\\' || c == '/') {
      if (!part.empty()) parts.push_back(part);
      part.clear();
    } else {
      part.push_back(c);
    }
  }
  if (!part.empty()) parts.push_back(part);
  return parts;
}

// What a directory systemd-stub reads may hold, by the name's suffix (lower case).
struct Wanted {
  const char* suffix;
  EspItemKind kind;
};
constexpr Wanted kExtraD[] = {{".addon.efi", EspItemKind::kAddon},
                              {".cred", EspItemKind::kCredential},
                              {".sysext.raw", EspItemKind::kSysext},
                              {".confext.raw", EspItemKind::kConfext},
                              {".raw", EspItemKind::kSysext}};  // 252 takes any *.raw
constexpr Wanted kAddons[] = {{".addon.efi", EspItemKind::kAddon}};
constexpr Wanted kCredentials[] = {{".cred", EspItemKind::kCredential}};
constexpr Wanted kExtensions[] = {{".sysext.raw", EspItemKind::kSysext},
                                  {".confext.raw", EspItemKind::kConfext}};

struct Reader {
  const std::string& esp;
  const EspLimits& limits;
  EspSnapshot& snapshot;
  std::uint64_t total = 0;

  // The files of one directory (given by its components from the ESP's root).
  HostStatus read_directory(int root, const std::vector<std::string>& components,
                            std::span<const Wanted> wanted) {
    Fd directory(::openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string volume_path;
    for (const std::string& component : components) {
      std::string found;
      Fd next = open_subdirectory(directory.get(), component, found);
      if (!next.valid()) return {};  // not there (or not a directory): nothing to read
      directory = std::move(next);
      volume_path += "\\" + found;
    }
    for (const std::string& name : directory_names(directory.get())) {
      if (name.empty() || name[0] == '.' || name.size() > 255) continue;  // as the stub skips
      if (std::any_of(name.begin(), name.end(),
                      [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
        continue;
      const std::string folded = lower(name);
      const Wanted* kind = nullptr;
      for (const Wanted& w : wanted)
        if (ends_with(folded, w.suffix)) {
          kind = &w;
          break;
        }
      if (kind == nullptr) continue;
      if (auto read = read_file(directory.get(), name, volume_path + "\\" + name, kind->kind);
          !read)
        return read;
    }
    return {};
  }

  HostStatus read_file(int directory, const std::string& name, const std::string& volume_path,
                       EspItemKind kind) {
    std::string shown = esp + volume_path;  // for messages, in this system's spelling
    std::replace(shown.begin() + static_cast<std::ptrdiff_t>(esp.size()), shown.end(), '\\', '/');
    Fd fd(::openat(directory, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ELOOP) return {};  // a symbolic link: never followed, never offered
      return host_fail_errno(Stage::kRead, "cannot open an ESP file", shown);
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return host_fail_errno(Stage::kRead, "cannot stat", shown);
    if (!S_ISREG(st.st_mode)) return {};  // devices, FIFOs, directories: not files of the ESP
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > limits.file_bytes)
      return host_fail(Stage::kRead,
                       "ESP file of " + std::to_string(size) + " bytes is over the limit of " +
                           std::to_string(limits.file_bytes) + " bytes per file",
                       shown);
    if (total + size > limits.total_bytes)
      return host_fail(Stage::kRead,
                       "the ESP files offered add up to more than the limit of " +
                           std::to_string(limits.total_bytes) + " bytes",
                       shown);
    if (snapshot.items.size() >= limits.files)
      return host_fail(Stage::kRead,
                       "more than " + std::to_string(limits.files) + " files offered on the ESP",
                       shown);
    EspItem item;
    item.path = volume_path;
    item.kind = kind;
    item.bytes.resize(size);
    std::uint64_t done = 0;
    while (done < size) {
      const ssize_t got = ::read(fd.get(), item.bytes.data() + done, size - done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return host_fail_errno(Stage::kRead, "cannot read an ESP file", shown);
      if (got == 0) break;
      done += static_cast<std::uint64_t>(got);
    }
    std::byte extra;
    if (done != size || ::read(fd.get(), &extra, 1) != 0)
      return host_fail(Stage::kRead, "ESP file changed while it was read", shown);
    total += size;
    item.sha256 = sha256_hex(ByteView(item.bytes.data(), item.bytes.size()));
    item.verdict = kind == EspItemKind::kAddon ? "not verified" : "-";
    snapshot.items.push_back(std::move(item));
    return {};
  }
};

}  // namespace

const char* esp_item_kind_name(EspItemKind kind) {
  switch (kind) {
    case EspItemKind::kAddon: return "addon";
    case EspItemKind::kCredential: return "credential";
    case EspItemKind::kSysext: return "sysext";
    case EspItemKind::kConfext: return "confext";
  }
  return "?";
}

HostResult<EspSnapshot> read_esp_snapshot(const std::string& directory,
                                          const std::string& image_path,
                                          const EspLimits& limits) {
  EspSnapshot snapshot;
  snapshot.directory = directory;
  const std::vector<std::string> image = split_path(image_path);
  if (image.empty())
    return host_fail(Stage::kRequest, "the image has no path on the ESP", image_path);
  for (const std::string& part : image)
    if (part == "." || part == "..")
      return host_fail(Stage::kRequest, "the image's path on the ESP holds . or ..", image_path);
  for (const std::string& part : image) snapshot.image_path += "\\" + part;
  Fd root(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return host_fail_errno(Stage::kRead, "cannot open the ESP", directory);
  Reader reader{directory, limits, snapshot};
  std::vector<std::string> extra_d(image.begin(), image.end());
  extra_d.back() += ".extra.d";
  for (auto [components, wanted] :
       {std::pair{extra_d, std::span<const Wanted>(kExtraD)},
        std::pair{std::vector<std::string>{"loader", "addons"}, std::span<const Wanted>(kAddons)},
        std::pair{std::vector<std::string>{"loader", "credentials"},
                  std::span<const Wanted>(kCredentials)},
        std::pair{std::vector<std::string>{"loader", "extensions"},
                  std::span<const Wanted>(kExtensions)}})
    if (auto read = reader.read_directory(root.get(), components, wanted); !read)
      return std::unexpected(std::move(read.error()));
  std::sort(snapshot.items.begin(), snapshot.items.end(),
            [](const EspItem& a, const EspItem& b) { return a.path < b.path; });
  return snapshot;
}

void verify_esp_addons(EspSnapshot& snapshot, const TrustPolicy* policy) {
  for (EspItem& item : snapshot.items) {
    if (item.kind != EspItemKind::kAddon) continue;
    if (policy == nullptr) {
      item.accepted.reset();
      item.verdict = "not verified (--no-verify)";
      continue;
    }
    auto image = pe::Image::parse(ByteView(item.bytes.data(), item.bytes.size()));
    if (!image) {
      item.accepted = false;
      item.verdict = "refused: not a PE image: " + describe(image.error());
      continue;
    }
    const VerifyVerdict verdict = verify_image(*image, *policy);
    item.accepted = verdict.accepted;
    item.verdict = (verdict.accepted ? "accepted: " : "refused: ") + verdict.reason;
  }
}

HostResult<EspSnapshot> read_offered_esp(const std::string& directory,
                                         const std::string& image_path, const TrustOptions& trust) {
  auto snapshot = read_esp_snapshot(directory, image_path);
  if (!snapshot) return snapshot;
  if (trust.no_verify) {
    verify_esp_addons(*snapshot, nullptr);
    return snapshot;
  }
  auto policy = build_trust_policy(trust);
  if (!policy) return std::unexpected(std::move(policy.error()));
  verify_esp_addons(*snapshot, &*policy);
  return snapshot;
}

std::optional<std::string> path_inside_esp(const std::string& esp, const std::string& image) {
  char esp_real[PATH_MAX], image_real[PATH_MAX];
  if (::realpath(esp.c_str(), esp_real) == nullptr ||
      ::realpath(image.c_str(), image_real) == nullptr)
    return std::nullopt;
  std::string root = esp_real;
  if (root.back() != '/') root += '/';
  const std::string file = image_real;
  if (file.size() <= root.size() || file.compare(0, root.size(), root) != 0) return std::nullopt;
  std::string path;
  for (const std::string& part : split_path(file.substr(root.size()))) path += "\\" + part;
  return path;
}

nlohmann::json esp_snapshot_json(const EspSnapshot& snapshot) {
  nlohmann::json items = nlohmann::json::array();
  for (const EspItem& item : snapshot.items) {
    nlohmann::json entry = {{"path", item.path},
                            {"kind", esp_item_kind_name(item.kind)},
                            {"size", item.bytes.size()},
                            {"sha256", item.sha256},
                            {"verdict", item.verdict}};
    entry["accepted"] = item.accepted ? nlohmann::json(*item.accepted) : nlohmann::json();
    items.push_back(std::move(entry));
  }
  return {{"directory", snapshot.directory}, {"image_path", snapshot.image_path},
          {"offered", std::move(items)}};
}

std::string render_esp_snapshot(const EspSnapshot& snapshot) {
  std::ostringstream out;
  out << "efikexec: ESP " << snapshot.directory << " (the image is " << snapshot.image_path
      << " on it): " << snapshot.items.size() << " file"
      << (snapshot.items.size() == 1 ? "" : "s") << " offered\n";
  for (const EspItem& item : snapshot.items)
    out << "efikexec: ESP " << esp_item_kind_name(item.kind) << " " << item.path << " "
        << item.bytes.size() << " bytes sha256 " << item.sha256 << ": " << item.verdict << "\n";
  return out.str();
}

std::string slash_path(const std::string& volume_path) {
  std::string path;
  for (const std::string& part : split_path(volume_path)) path += (path.empty() ? "" : "/") + part;
  return path;
}

std::vector<std::byte> esp_archive(const EspSnapshot& snapshot) {
  std::vector<std::byte> archive;
  auto append = [&archive](const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::byte*>(data);
    archive.insert(archive.end(), bytes, bytes + size);
  };
  auto pad = [&archive] { archive.resize((archive.size() + 3) & ~std::size_t{3}); };
  std::uint32_t inode = 1;
  auto member = [&](const std::string& name, std::uint32_t mode, ByteView data) {
    // newc: "070701", then ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
    // rdevmajor, rdevminor, namesize, check as 8 hex digits each.
    char header[111];
    std::snprintf(header, sizeof header,
                  "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", inode++, mode,
                  0u, 0u, 1u, 0u, data.size(), 0u, 0u, 0u, 0u, name.size() + 1, 0u);
    append(header, 110);
    append(name.c_str(), name.size() + 1);
    pad();
    append(data.data(), data.size());
    pad();
  };
  for (const EspItem& item : snapshot.items)
    member(slash_path(item.path), 0100644, ByteView(item.bytes.data(), item.bytes.size()));
  member("TRAILER!!!", 0, {});
  return archive;
}

VolumeBuilder::VolumeBuilder()
    : node_storage_(kMaxNodes), name_storage_(kMaxNameCharacters),
      builder_(node_storage_, name_storage_) {}

HostResult<bool> VolumeBuilder::add_file(const std::string& path, ByteView data, bool refused) {
  auto added = builder_.add_file(path, data, refused);
  if (!added) return host_fail(Stage::kRequest, std::string("boot volume: ") + added.error().message, path);
  return *added;
}

}  // namespace efikexec::kexec
