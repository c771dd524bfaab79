// SPDX-License-Identifier: MIT
#include "kexec/image/opened_image.hpp"

#include <utility>

namespace efikexec::kexec {

HostResult<OpenedImage> open_image(const std::string& path, SnapshotObserver* observer,
                                   Snapshot kind) {
  auto bytes = FileBytes::read(path, observer, kind);
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  auto image = pe::Image::parse(bytes->view());
  if (!image) return host_fail(Stage::kParse, image.error(), path);
  return OpenedImage{path, std::move(*bytes), *image};
}

}  // namespace efikexec::kexec
