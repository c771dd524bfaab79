// SPDX-License-Identifier: MIT
// The ESP snapshot the run's boot volume is made of: the directories systemd-stub reads and only
// those, regular files only, never through a symbolic link, and the size limits.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "esp/temp_tree.hpp"
#include "kexec/esp/esp_volume.hpp"
#include "kexec/run/efi_run.hpp"
#include "uki/cpio.hpp"

namespace efikexec::testing {
namespace {

using kexec::EspItemKind;
using kexec::EspLimits;
using kexec::EspSnapshot;

std::vector<std::string> paths(const EspSnapshot& snapshot) {
  std::vector<std::string> out;
  for (const kexec::EspItem& item : snapshot.items) out.push_back(item.path);
  return out;
}

class EspVolumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree.write("esp/EFI/Linux/uki.efi", "uki");
    tree.write("esp/EFI/Linux/uki.efi.extra.d/a.addon.efi", "not a PE");
    tree.write("esp/EFI/Linux/uki.efi.extra.d/b.cred", "secret");
    tree.write("esp/EFI/Linux/uki.efi.extra.d/c.sysext.raw", "sysext");
    tree.write("esp/EFI/Linux/uki.efi.extra.d/d.confext.raw", "confext");
    tree.write("esp/EFI/Linux/uki.efi.extra.d/readme.txt", "not for the stub");
    tree.write("esp/EFI/Linux/uki.efi.extra.d/.hidden.cred", "hidden");
    tree.write("esp/loader/Credentials/g.cred", "global");
    tree.write("esp/loader/addons/z.addon.efi", "global addon");
    tree.write("esp/loader/extensions/e.sysext.raw", "extension");
    tree.write("esp/loader/extensions/e.cred", "a credential in the wrong place");
    tree.write("esp/loader/loader.conf", "timeout 3");
    tree.write("outside/secret.cred", "outside the ESP");
  }
  std::string esp() const { return tree.path("esp"); }

  TempTree tree;
};

TEST_F(EspVolumeTest, ReadsWhatSystemdStubReadsAndNothingElse) {
  auto snapshot = kexec::read_esp_snapshot(esp(), "\\EFI\\Linux\\uki.efi");
  ASSERT_TRUE(snapshot) << snapshot.error().message();
  // Directory names match case-insensitively (loader\Credentials), as on FAT.
  EXPECT_EQ(paths(*snapshot),
            (std::vector<std::string>{"\\EFI\\Linux\\uki.efi.extra.d\\a.addon.efi",
                                      "\\EFI\\Linux\\uki.efi.extra.d\\b.cred",
                                      "\\EFI\\Linux\\uki.efi.extra.d\\c.sysext.raw",
                                      "\\EFI\\Linux\\uki.efi.extra.d\\d.confext.raw",
                                      "\\loader\\Credentials\\g.cred",
                                      "\\loader\\addons\\z.addon.efi",
                                      "\\loader\\extensions\\e.sysext.raw"}));
  EXPECT_EQ(snapshot->items[0].kind, EspItemKind::kAddon);
  EXPECT_EQ(snapshot->items[1].kind, EspItemKind::kCredential);
  EXPECT_EQ(snapshot->items[3].kind, EspItemKind::kConfext);
  EXPECT_EQ(snapshot->items[1].sha256,
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b");  // "secret"
  EXPECT_EQ(snapshot->image_path, "\\EFI\\Linux\\uki.efi");
  // Another UKI has no extra.d: only the global directories.
  auto other = kexec::read_esp_snapshot(esp(), "EFI/Linux/other.efi");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->items.size(), 3u);
}

// What the payload gets: the same files under `/`-separated paths in a newc archive that the
// core's cpio reader (the payload's) lists back, each member's bytes where it says.
TEST_F(EspVolumeTest, TheArchiveForThePayloadHoldsEveryFileUnderItsPath) {
  auto snapshot = kexec::read_esp_snapshot(esp(), "\\EFI\\Linux\\uki.efi");
  ASSERT_TRUE(snapshot) << snapshot.error().message();
  const std::vector<std::byte> archive = kexec::esp_archive(*snapshot);
  const ByteView view(archive.data(), archive.size());
  std::array<uki::CpioMember, 16> members;
  auto count = uki::list_cpio_members(view, members);
  ASSERT_TRUE(count) << count.error().message;
  ASSERT_EQ(*count, snapshot->items.size());
  for (std::size_t i = 0; i < *count; ++i) {
    EXPECT_EQ(members[i].name, kexec::slash_path(snapshot->items[i].path));
    EXPECT_EQ(members[i].mode, 0100644u);
    const auto& bytes = snapshot->items[i].bytes;
    ASSERT_EQ(members[i].size, bytes.size());
    EXPECT_EQ(std::memcmp(archive.data() + members[i].data_offset, bytes.data(), bytes.size()), 0);
  }
  EXPECT_EQ(members[1].name, "EFI/Linux/uki.efi.extra.d/b.cred");
  EXPECT_EQ(kexec::slash_path("\\EFI\\Linux\\uki.efi"), "EFI/Linux/uki.efi");
}

TEST_F(EspVolumeTest, NeverFollowsASymbolicLink) {
  ASSERT_EQ(::symlink(tree.path("outside/secret.cred").c_str(),
                      tree.path("esp/loader/Credentials/link.cred").c_str()), 0);
  std::filesystem::remove_all(tree.path("esp/loader/addons"));
  ASSERT_EQ(::symlink(tree.path("outside").c_str(), tree.path("esp/loader/addons").c_str()), 0);
  tree.write("outside/evil.addon.efi", "evil");
  ASSERT_EQ(::mkfifo(tree.path("esp/loader/Credentials/fifo.cred").c_str(), 0600), 0);
  std::filesystem::create_directories(tree.path("esp/loader/Credentials/dir.cred"));
  auto snapshot = kexec::read_esp_snapshot(esp(), "\\EFI\\Linux\\uki.efi");
  ASSERT_TRUE(snapshot) << snapshot.error().message();
  for (const std::string& path : paths(*snapshot)) {
    EXPECT_EQ(path.find("link"), std::string::npos) << path;
    EXPECT_EQ(path.find("evil"), std::string::npos) << path;
    EXPECT_EQ(path.find("fifo"), std::string::npos) << path;
    EXPECT_EQ(path.find("dir.cred"), std::string::npos) << path;
  }
  // An image path that climbs out is refused before anything is read.
  EXPECT_FALSE(kexec::read_esp_snapshot(esp(), "\\..\\outside\\x.efi"));
}

TEST_F(EspVolumeTest, SizeLimitsAreErrorsNamingTheFile) {
  EspLimits limits;
  limits.file_bytes = 10;
  auto big = kexec::read_esp_snapshot(esp(), "\\EFI\\Linux\\uki.efi", limits);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message().find("esp/loader/addons/z.addon.efi"), std::string::npos)
      << big.error().message();
  EXPECT_NE(big.error().message().find("limit of 10 bytes per file"), std::string::npos);
  limits = {};
  limits.total_bytes = 30;
  auto total = kexec::read_esp_snapshot(esp(), "\\EFI\\Linux\\uki.efi", limits);
  ASSERT_FALSE(total);
  EXPECT_NE(total.error().message().find("add up to more than"), std::string::npos);
  limits = {};
  limits.files = 2;
  EXPECT_FALSE(kexec::read_esp_snapshot(esp(), "\\EFI\\Linux\\uki.efi", limits));
  EXPECT_FALSE(kexec::read_esp_snapshot(tree.path("missing"), "\\EFI\\Linux\\uki.efi"));
}

TEST_F(EspVolumeTest, AddonsGetAVerdictAndTheReportShowsIt) {
  auto snapshot = kexec::read_esp_snapshot(esp(), "\\EFI\\Linux\\uki.efi");
  ASSERT_TRUE(snapshot);
  kexec::TrustPolicy nothing_trusted;
  kexec::verify_esp_addons(*snapshot, &nothing_trusted);
  EXPECT_EQ(snapshot->items[0].accepted, false);
  EXPECT_NE(snapshot->items[0].verdict.find("refused: not a PE image"), std::string::npos);
  EXPECT_FALSE(snapshot->items[1].accepted.has_value());  // a credential is data
  std::vector<kexec::RunRequest::BootFile> files;
  kexec::add_esp_files(*snapshot, files);
  ASSERT_EQ(files.size(), snapshot->items.size());
  EXPECT_TRUE(files[0].refused);
  EXPECT_FALSE(files[1].refused);
  const nlohmann::json json = kexec::esp_snapshot_json(*snapshot);
  EXPECT_EQ(json["offered"][1]["kind"], "credential");
  EXPECT_EQ(json["offered"][1]["size"], 6);
  EXPECT_EQ(json["offered"][0]["accepted"], false);
  EXPECT_NE(kexec::render_esp_snapshot(*snapshot).find("addon \\loader\\addons\\z.addon.efi 12 bytes"),
            std::string::npos);
  kexec::verify_esp_addons(*snapshot, nullptr);  // --no-verify
  EXPECT_FALSE(snapshot->items[0].accepted.has_value());
  files.clear();
  kexec::add_esp_files(*snapshot, files);
  EXPECT_FALSE(files[0].refused);
}

TEST_F(EspVolumeTest, TheImagesPathOnTheEsp) {
  EXPECT_EQ(kexec::path_inside_esp(esp(), tree.path("esp/EFI/Linux/uki.efi")),
            "\\EFI\\Linux\\uki.efi");
  EXPECT_EQ(kexec::path_inside_esp(esp() + "/", tree.path("esp/./EFI/Linux/../Linux/uki.efi")),
            "\\EFI\\Linux\\uki.efi");
  EXPECT_FALSE(kexec::path_inside_esp(esp(), tree.path("outside/secret.cred")));
  EXPECT_FALSE(kexec::path_inside_esp(esp(), esp()));
}

TEST(VolumeBuilder, MakesDirectoriesAndRefusesEscapes) {
  kexec::VolumeBuilder builder;
  const std::string data = "x";
  const ByteView bytes(reinterpret_cast<const std::byte*>(data.data()), data.size());
  ASSERT_TRUE(builder.add_file("\\EFI\\Linux\\a.efi", bytes));
  ASSERT_TRUE(builder.add_file("efi/linux/b.efi", bytes, true));
  EXPECT_EQ(builder.add_file("\\EFI\\LINUX\\A.EFI", bytes).value(), false);  // already there
  EXPECT_FALSE(builder.add_file("\\EFI\\..\\x", bytes));
  EXPECT_FALSE(builder.add_file("\\EFI\\Linux\\a.efi\\x", bytes));
  EXPECT_FALSE(builder.add_file("\\", bytes));
  ASSERT_EQ(builder.nodes().size(), 5u);  // root, EFI, Linux, a.efi, b.efi
  EXPECT_TRUE(builder.nodes()[4].refused);
  efi::FileVolume volume;
  EXPECT_TRUE(volume.assign(builder.nodes()));
}

}  // namespace
}  // namespace efikexec::testing
