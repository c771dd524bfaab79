// SPDX-License-Identifier: MIT
#include "payload/esp_archive.hpp"

namespace efikexec::payload {

Result<EspVolume> build_esp_volume(ByteView archive, ByteView uki, std::string_view uki_path,
                                   const EspVolumeStorage& storage, EspFileJudge& judge) {
  auto count = uki::list_cpio_members(archive, storage.members);
  if (!count) return std::unexpected(count.error());
  efi::VolumeNodeBuilder builder(storage.nodes, storage.names);
  // The UKI first: no member of the archive can take its place.
  if (auto added = builder.add_file(uki_path, uki); !added) return std::unexpected(added.error());
  for (const uki::CpioMember& member : storage.members.first(*count)) {
    constexpr std::uint32_t kTypeMask = 0170000, kRegular = 0100000;
    if ((member.mode & kTypeMask) != kRegular)
      return fail(ErrorCode::kMalformed, "an ESP archive member is not a regular file",
                  member.offset);
    auto data = archive.subview(member.data_offset, member.size,
                                "an ESP archive member runs past the archive");
    if (!data) return std::unexpected(data.error());
    const bool refused = judge.refuses(member.name, *data);
    auto added = builder.add_file(member.name, *data, refused);
    if (!added) return std::unexpected(added.error());
    if (!*added)
      return fail(ErrorCode::kMalformed,
                  "the ESP archive names a file twice, or the UKI's own path", member.offset);
  }
  // The path LoadImage() gets: `\` first, `/` turned into `\`, then the NUL.
  if (storage.uki_path.size() < uki_path.size() + 2)
    return fail(ErrorCode::kNoMemory, "no room for the UKI's path on the ESP");
  std::size_t at = 0;
  storage.uki_path[at++] = u'\\';
  for (const char c : uki_path)
    storage.uki_path[at++] = c == '/' ? u'\\' : static_cast<CHAR16>(static_cast<unsigned char>(c));
  storage.uki_path[at] = 0;
  return EspVolume{builder.nodes(), storage.uki_path.data()};
}

}  // namespace efikexec::payload
