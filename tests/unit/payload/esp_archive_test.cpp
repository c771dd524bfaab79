// SPDX-License-Identifier: MIT
// The payload's ESP archive (src/payload/esp_archive.hpp): the archive `efikexec load` packs
// (kexec/esp) becomes the boot volume the stub reads, the UKI at its path, the judge's refusals
// marked; what does not fit or tries to take the UKI's place is refused.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "kexec/esp/esp_volume.hpp"
#include "payload/esp_archive.hpp"

namespace efikexec::payload {
namespace {

struct RefuseAddons final : EspFileJudge {
  std::vector<std::string> seen;
  bool refuses(std::string_view name, ByteView) override {
    seen.emplace_back(name);
    return name.ends_with(".addon.efi");
  }
};

kexec::EspItem item(const std::string& path, const std::string& text) {
  kexec::EspItem out;
  out.path = path;
  for (char c : text) out.bytes.push_back(static_cast<std::byte>(c));
  return out;
}

struct Storage {
  std::array<uki::CpioMember, 8> members;
  std::array<efi::VolumeNode, 32> nodes;
  std::array<CHAR16, 1024> names;
  std::array<CHAR16, 64> path;
  EspVolumeStorage spans() { return {members, nodes, names, path}; }
};

const std::string kUki = "MZ the verified UKI";
ByteView uki_view() { return {reinterpret_cast<const std::byte*>(kUki.data()), kUki.size()}; }

std::vector<std::byte> archive_of(std::vector<kexec::EspItem> items) {
  kexec::EspSnapshot snapshot;
  snapshot.items = std::move(items);
  return kexec::esp_archive(snapshot);
}

TEST(EspArchive, TheFilesAndTheUkiMakeTheStubsBootVolume) {
  const auto archive = archive_of({item("\\EFI\\Linux\\uki.efi.extra.d\\a.addon.efi", "addon"),
                                   item("\\loader\\credentials\\g.cred", "global")});
  Storage storage;
  RefuseAddons judge;
  auto volume = build_esp_volume({archive.data(), archive.size()}, uki_view(), "EFI/Linux/uki.efi",
                                 storage.spans(), judge);
  ASSERT_TRUE(volume) << volume.error().message;
  EXPECT_EQ(judge.seen, (std::vector<std::string>{"EFI/Linux/uki.efi.extra.d/a.addon.efi",
                                                  "loader/credentials/g.cred"}));
  efi::FileVolume files;
  ASSERT_TRUE(files.assign(volume->nodes));
  const std::u16string expected_path = u"\\EFI\\Linux\\uki.efi";
  EXPECT_EQ(std::u16string(reinterpret_cast<const char16_t*>(volume->uki_path)), expected_path);
  auto open = [&](const std::u16string& path) {
    return files.open(efi::FileVolume::kRoot,
                      {reinterpret_cast<const CHAR16*>(path.data()), path.size()});
  };
  auto found = open(expected_path);
  ASSERT_TRUE(found);
  EXPECT_EQ(files.node(*found).data.data(), uki_view().data());
  auto addon = open(u"\\efi\\linux\\uki.efi.extra.d\\A.ADDON.EFI");
  ASSERT_TRUE(addon);
  EXPECT_TRUE(files.node(*addon).refused);
  auto credential = open(u"\\loader\\credentials\\g.cred");
  ASSERT_TRUE(credential);
  EXPECT_FALSE(files.node(*credential).refused);
  EXPECT_EQ(files.node(*credential).data.size(), 6u);
}

TEST(EspArchive, NothingInTheArchiveTakesTheUkisPlace) {
  const auto archive = archive_of({item("\\EFI\\Linux\\UKI.EFI", "MZ another image")});
  Storage storage;
  RefuseAddons judge;
  auto volume = build_esp_volume({archive.data(), archive.size()}, uki_view(), "EFI/Linux/uki.efi",
                                 storage.spans(), judge);
  ASSERT_FALSE(volume);
  EXPECT_EQ(volume.error().code, ErrorCode::kMalformed);
}

TEST(EspArchive, TooManyFilesOrNoRoomAreErrors) {
  std::vector<kexec::EspItem> items;
  for (int i = 0; i < 9; ++i) items.push_back(item("\\loader\\credentials\\" + std::to_string(i) + ".cred", "x"));
  const auto archive = archive_of(items);
  Storage storage;
  RefuseAddons judge;
  auto volume = build_esp_volume({archive.data(), archive.size()}, uki_view(), "uki.efi",
                                 storage.spans(), judge);
  ASSERT_FALSE(volume);
  EXPECT_EQ(volume.error().code, ErrorCode::kNoMemory);
  std::array<CHAR16, 4> short_path;
  EspVolumeStorage tight = storage.spans();
  tight.uki_path = short_path;
  const auto one = archive_of({});
  auto no_room = build_esp_volume({one.data(), one.size()}, uki_view(), "EFI/Linux/uki.efi", tight,
                                  judge);
  ASSERT_FALSE(no_room);
  EXPECT_EQ(no_room.error().code, ErrorCode::kNoMemory);
}

}  // namespace
}  // namespace efikexec::payload
