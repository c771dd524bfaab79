// SPDX-License-Identifier: MIT
// The boot volume's resolution of what an image hands it: the file path nodes of a LoadImage
// device path, and a name given to File.Open. Invariants: a path resolves to a node of the
// volume, a device path only to a file, and nothing resolves above the root.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "efi_shim/file_volume.hpp"
#include "fuzz_assert.hpp"

using namespace efikexec;
using efi::VolumeNode;

namespace {

constexpr CHAR16 kEfi[] = {'E', 'F', 'I'};
constexpr CHAR16 kLinux[] = {'L', 'i', 'n', 'u', 'x'};
constexpr CHAR16 kUki[] = {'u', 'k', 'i', '.', 'e', 'f', 'i'};
constexpr CHAR16 kCred[] = {'a', '.', 'c', 'r', 'e', 'd'};
const std::byte kData[4] = {};

const VolumeNode kNodes[] = {{0, {}, true, {}, false},
                             {0, kEfi, true, {}, false},
                             {1, kLinux, true, {}, false},
                             {2, kUki, false, ByteView(kData, 4), false},
                             {0, kCred, false, ByteView(kData, 2), true}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static efi::FileVolume volume = [] {
    efi::FileVolume v;
    if (!v.assign(kNodes)) abort();
    return v;
  }();
  const ByteView input(reinterpret_cast<const std::byte*>(data), size);
  if (auto found = volume.resolve_file_path(input)) {
    FUZZ_ASSERT(*found < volume.size());
    FUZZ_ASSERT(!volume.node(*found).directory);
  }
  // The same bytes as a UCS-2 name, opened from every directory.
  std::size_t chars = size / sizeof(CHAR16);
  CHAR16 name[512];
  if (chars > 512) chars = 512;
  std::memcpy(name, data, chars * sizeof(CHAR16));
  for (std::uint32_t from : {0u, 1u, 2u}) {
    auto found = volume.open(from, std::span<const CHAR16>(name, chars));
    if (found) FUZZ_ASSERT(*found < volume.size());
  }
  for (std::uint32_t dir = 0; dir < volume.size(); ++dir) {
    for (auto entry = volume.next_entry(dir, 0); entry; entry = volume.next_entry(dir, *entry + 1))
      FUZZ_ASSERT(volume.node(*entry).parent == dir);
    std::uint64_t position = 0;
    if (size >= 8) std::memcpy(&position, data, 8);  // any position an image could leave
    if (auto entry = volume.directory_entry(dir, position)) {
      FUZZ_ASSERT(entry->node < volume.size());
      FUZZ_ASSERT(entry->next_position > position);
    }
  }
  return 0;
}
