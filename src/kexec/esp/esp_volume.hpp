// SPDX-License-Identifier: MIT
// The ESP as systemd-stub reads it, snapshotted before the image runs: the add-ons, credentials
// and extensions of the directories the stub looks into (`<UKI>.extra.d/`, `\loader\addons\`,
// `\loader\credentials\`, `\loader\extensions\`), read by this process (regular files only,
// never through a symbolic link, nothing outside the ESP, size limits), each add-on verified
// with the UKI's trust policy. The run serves the snapshot as its boot volume (efi_shim's
// FileVolume); the confined child never opens a file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "efi_shim/file_volume.hpp"
#include "kexec/common/host_error.hpp"
#include "kexec/verify/trust_policy.hpp"

namespace efikexec::kexec {

struct EspLimits {
  std::uint64_t file_bytes = 64ull << 20;   // one file
  std::uint64_t total_bytes = 256ull << 20;  // all files together
  std::size_t files = 256;                   // files taken from the ESP
};

enum class EspItemKind : std::uint8_t { kAddon, kCredential, kSysext, kConfext };
const char* esp_item_kind_name(EspItemKind kind);

struct EspItem {
  std::string path;  // on the volume, `\`-separated from its root: "\loader\addons\a.addon.efi"
  EspItemKind kind{};
  std::vector<std::byte> bytes;
  std::string sha256;  // hex of the whole file
  // Add-ons: the trust policy's verdict (refused ones fail LoadImage under Secure Boot).
  std::optional<bool> accepted;
  std::string verdict;  // one line; for credentials and extensions "-" (the stub takes them as data)
};

struct EspSnapshot {
  std::string directory;   // the ESP on this system
  std::string image_path;  // the UKI's path on the volume (`\`-separated)
  std::vector<EspItem> items;  // sorted by path
};

// Reads the files of `directory` (an ESP) that systemd-stub would read for a UKI at `image_path`
// on it. Stage::kRead for an ESP that cannot be opened, a file over a limit (naming it and the
// limit) or a file that changed while read; symbolic links, devices, FIFOs and names starting
// with `.` are left out.
HostResult<EspSnapshot> read_esp_snapshot(const std::string& directory,
                                          const std::string& image_path,
                                          const EspLimits& limits = {});

// Records each add-on's verdict under `policy`; with no policy (--no-verify) they stay
// unverified and are not refused.
void verify_esp_addons(EspSnapshot& snapshot, const TrustPolicy* policy);

// read_esp_snapshot, then verify_esp_addons under the policy `trust` builds (none with
// --no-verify): what `load` and `run-efi --esp` offer the image.
HostResult<EspSnapshot> read_offered_esp(const std::string& directory,
                                         const std::string& image_path, const TrustOptions& trust);

// The UKI's path on the ESP when `image` lies inside `esp` (both resolved), `\`-separated.
std::optional<std::string> path_inside_esp(const std::string& esp, const std::string& image);

// The snapshot's files as one uncompressed newc cpio archive (what the payload serves the stub
// after kexec; payload/protocol.hpp): each item under its path, `/`-separated without the
// leading one, then the trailer. Directories are implied by the paths.
std::vector<std::byte> esp_archive(const EspSnapshot& snapshot);
// A volume path (`\`-separated from the root) as the archive and the protocol spell it.
std::string slash_path(const std::string& volume_path);

nlohmann::json esp_snapshot_json(const EspSnapshot& snapshot);
// One line per item: "efikexec: ESP add-on \loader\addons\a.addon.efi 1234 bytes sha256 ...: ..."
std::string render_esp_snapshot(const EspSnapshot& snapshot);

// The boot volume's nodes for the run: files given by their path on the volume (`\` or `/`
// separated), their directories made as needed. Names and bytes stay the caller's or this
// object's; the nodes are valid while it lives.
class VolumeBuilder {
 public:
  // Room for every file the ESP limits allow, the boot files and their directories.
  static constexpr std::size_t kMaxNodes = 4096;
  static constexpr std::size_t kMaxNameCharacters = 256 * 1024;

  VolumeBuilder();
  VolumeBuilder(const VolumeBuilder&) = delete;  // the builder points into the storage
  VolumeBuilder& operator=(const VolumeBuilder&) = delete;
  // Stage::kRequest for an empty or `.`/`..` component, or a file where a directory is needed;
  // a file already there is kept (false).
  HostResult<bool> add_file(const std::string& path, ByteView data, bool refused = false);
  std::span<const efi::VolumeNode> nodes() const { return builder_.nodes(); }

 private:
  std::vector<efi::VolumeNode> node_storage_;
  std::vector<CHAR16> name_storage_;
  efi::VolumeNodeBuilder builder_;
};

}  // namespace efikexec::kexec
