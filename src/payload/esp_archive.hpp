// SPDX-License-Identifier: MIT
// The ESP archive of the payload protocol (protocol.hpp, docs/payload.md): the files systemd-stub
// reads from the ESP, as one newc cpio archive that user space appended to the bundle, turned
// into the boot volume the bare-metal run serves the stub, the UKI at its path on it. Untrusted
// bytes: every member is bounds-checked by the core's cpio reader, every path by the volume
// builder; which images LoadImage() must refuse is the caller's judgement (it verifies them).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <efikexec/error.hpp>

#include "efi_shim/file_volume.hpp"
#include "pe_loader/byte_view.hpp"
#include "uki/cpio.hpp"

namespace efikexec::payload {

// Decides, for each file of the archive, whether LoadImage() of it must fail under Secure Boot.
class EspFileJudge {
 public:
  virtual bool refuses(std::string_view name, ByteView data) = 0;

 protected:
  ~EspFileJudge() = default;
};

struct EspVolumeStorage {
  std::span<uki::CpioMember> members;  // one per file: more is an error
  std::span<efi::VolumeNode> nodes;    // the files, their directories and the root
  std::span<CHAR16> names;             // every name's characters
  std::span<CHAR16> uki_path;          // the UKI's path, `\`-separated and NUL-terminated
};

struct EspVolume {
  std::span<const efi::VolumeNode> nodes;
  const CHAR16* uki_path;  // in storage.uki_path
};

// kMalformed for a member that is not a regular file, a path the volume cannot hold, or one
// named twice (the UKI's path included: the archive cannot replace the verified UKI);
// kNoMemory when the storage is too small, the cpio reader's errors as they come.
Result<EspVolume> build_esp_volume(ByteView archive, ByteView uki, std::string_view uki_path,
                                   const EspVolumeStorage& storage, EspFileJudge& judge);

}  // namespace efikexec::payload
