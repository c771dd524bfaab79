// SPDX-License-Identifier: MIT
// The payload's ESP archive (src/payload/esp_archive.hpp): any bytes either become a boot volume
// the core's FileVolume accepts, with the UKI found at its path and every refused file marked, or
// are refused. The first input byte picks the UKI's path, the judge refuses every other file.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "efi_shim/file_volume.hpp"
#include "fuzz_assert.hpp"
#include "payload/esp_archive.hpp"

namespace {

struct AlternatingJudge final : efikexec::payload::EspFileJudge {
  std::size_t calls = 0;
  bool refuses(std::string_view, efikexec::ByteView) override { return calls++ % 2 == 1; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace efikexec;
  if (size == 0) return 0;
  constexpr std::string_view kPaths[] = {"EFI/Linux/uki.efi", "uki.efi", "EFI//Linux/../x.efi",
                                         "loader/credentials/a.cred"};
  const std::string_view uki_path = kPaths[data[0] % std::size(kPaths)];
  const ByteView archive(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  static const std::byte uki[4] = {std::byte{'M'}, std::byte{'Z'}};
  static std::array<uki::CpioMember, 16> members;
  static std::array<efi::VolumeNode, 64> nodes;
  static std::array<CHAR16, 2048> names;
  static std::array<CHAR16, 64> path;
  AlternatingJudge judge;
  auto volume = payload::build_esp_volume(archive, ByteView(uki, sizeof uki), uki_path,
                                          {members, nodes, names, path}, judge);
  if (!volume) return 0;
  efi::FileVolume files;
  FUZZ_ASSERT(files.assign(volume->nodes));
  std::size_t length = 0;
  while (volume->uki_path[length] != 0) ++length;
  auto found = files.open(efi::FileVolume::kRoot, {volume->uki_path, length});
  FUZZ_ASSERT(found);
  FUZZ_ASSERT(files.node(*found).data.data() == uki && !files.node(*found).refused);
  return 0;
}
