// SPDX-License-Identifier: MIT
// The first step of every command that looks at an image: read it once into its sealed
// snapshot and parse it. Nothing of it is verified yet (verify/verified_image.hpp does that).
#pragma once

#include <string>

#include "kexec/common/host_error.hpp"
#include "kexec/image/file_bytes.hpp"
#include "pe_loader/pe_image.hpp"

namespace efikexec::kexec {

struct OpenedImage {
  std::string path;
  FileBytes bytes;
  pe::Image image;  // views into `bytes`, whose mapping moves with it
};

// Stage::kRead for an unreadable file, kParse naming the rule a malformed image broke.
// `observer` sees the snapshot while it is taken; `kind` says where it is kept (FileBytes::read).
HostResult<OpenedImage> open_image(const std::string& path, SnapshotObserver* observer = nullptr,
                                   Snapshot kind = Snapshot::kSealed);

}  // namespace efikexec::kexec
