// SPDX-License-Identifier: MIT
// `efikexec list` and `load --entry/--default` over a fake ESP holding copies of the fixture UKIs,
// fake efivarfs files and a fake mount table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kexec/esp/boot_entries.hpp"
#include "kexec/verify/trust_policy.hpp"
#include "esp/temp_tree.hpp"
#include "support/prerequisites.hpp"

namespace efikexec::testing {
namespace {

namespace fs = std::filesystem;
using kexec::BootEntries;
using kexec::EspOptions;

// An efivarfs file of systemd's loader: attributes, then the UCS-2 string and its NUL.
void write_loader_variable(const TempTree& tree, const char* name, std::u16string value,
                           bool odd = false) {
  std::string bytes = {'\x07', '\0', '\0', '\0'};
  value.push_back(u'\0');
  for (char16_t c : value) {
    bytes.push_back(static_cast<char>(c & 0xff));
    bytes.push_back(static_cast<char>(c >> 8));
  }
  if (odd) bytes.push_back('x');
  tree.write("efivars/" + kexec::efivarfs_name(name, kexec::kLoaderVendorGuid), bytes);
}

std::vector<std::string> ids(const BootEntries& entries) {
  std::vector<std::string> out;
  for (const auto& entry : entries.entries) out.push_back(entry.id);
  return out;
}

// An ESP with the signed UKI (boot counted), the other-signed one, the multi-profile one, a
// broken file, and what systemd-boot passes over.
struct FakeEsp {
  TempTree tree;
  bool ready = false;

  FakeEsp() {
    const std::string signed_uki = fixture_path("uki-signed.efi");
    const std::string other = fixture_path("uki-other-signed.efi");
    const std::string profiles = fixture_path("newer/uki-profiles-signed.efi");
    if (signed_uki.empty() || other.empty() || profiles.empty()) return;
    tree.copy(signed_uki, "esp/EFI/Linux/debian-6.1+2-1.efi");
    tree.copy(other, "esp/EFI/Linux/other.efi");
    tree.copy(profiles, "esp/EFI/Linux/Profiles.EFI");
    tree.copy(signed_uki, "esp/EFI/Linux/.hidden.efi");
    tree.copy(signed_uki, "esp/EFI/Linux/auto-x.efi");
    tree.copy(signed_uki, "esp/EFI/Linux/readme.txt");
    fs::create_directories(tree.path("esp/EFI/Linux/dir.efi"));
    fs::create_symlink(signed_uki, tree.path("esp/EFI/Linux/link.efi"));
    std::ifstream in(signed_uki, std::ios::binary);
    std::string head(300, '\0');
    in.read(head.data(), head.size());
    tree.write("esp/EFI/Linux/broken.efi", head);
    fs::create_directories(tree.path("efivars"));
    ready = true;
  }

  EspOptions options() const { return {tree.path("esp"), {}, tree.path("efivars")}; }
};

#define NEED_FAKE_ESP(esp)                                                             \
  FakeEsp esp;                                                                         \
  if (!esp.ready)                                                                      \
  EFIKEXEC_MISSING_PREREQUISITE("fixtures uki-signed.efi, uki-other-signed.efi and "   \
                                "newer/uki-profiles-signed.efi under EFIKEXEC_FIXTURES")

TEST(BootEntries, ListsTheUkisAsSystemdBootOrdersThem) {
  NEED_FAKE_ESP(esp);
  auto entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries) << entries.error().message();
  // Sort key "debian" before "efikexec-test"; within a sort key newest version first, then the
  // id by version order, newest first; profiles of one UKI by number.
  EXPECT_EQ(ids(*entries), (std::vector<std::string>{"other.efi", "debian-6.1+2-1.efi",
                                                     "profiles.efi", "profiles.efi@p1",
                                                     "profiles.efi@p2"}));
  const kexec::BootEntry& counted = entries->entries[1];
  EXPECT_EQ(counted.plain_id, "debian-6.1.efi");
  EXPECT_EQ(counted.tries_left, 2);
  EXPECT_EQ(counted.tries_done, 1);
  EXPECT_EQ(counted.title, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(counted.sort_key, "debian");
  EXPECT_EQ(counted.cmdline, "console=ttyS0 efikexec.uki=1 panic=-1");
  const kexec::BootEntry& p1 = entries->entries[3];
  EXPECT_EQ(p1.profile, 1u);
  EXPECT_EQ(p1.profile_id, "p1");
  EXPECT_EQ(p1.id_without_profile, "profiles.efi");
  EXPECT_EQ(p1.file_name, "Profiles.EFI");
  EXPECT_EQ(p1.cmdline, "console=ttyS0 efikexec.profile=1 panic=-1");
  // The broken file is listed with its reason; the rest systemd-boot passes over silently.
  ASSERT_EQ(entries->unreadable.size(), 1u);
  EXPECT_EQ(entries->unreadable[0].file_name, "broken.efi");
  EXPECT_NE(entries->unreadable[0].error.find("offset 0x"), std::string::npos);
  // Nothing configured: the first entry.
  ASSERT_TRUE(entries->default_entry);
  EXPECT_EQ(entries->default_entry->index, 0u);
  EXPECT_EQ(entries->default_entry->source, uki::DefaultSource::kFirst);

  const nlohmann::json json = kexec::boot_entries_json(*entries);
  EXPECT_EQ(json["entries"].size(), 5u);
  EXPECT_EQ(json["entries"][1]["plain_id"], "debian-6.1.efi");
  EXPECT_EQ(json["default"]["id"], "other.efi");
  EXPECT_EQ(json["unreadable"][0]["file"], "broken.efi");
  const std::string text = kexec::render_boot_entries_text(*entries);
  EXPECT_NE(text.find("* other.efi"), std::string::npos) << text;
  EXPECT_NE(text.find("2/1"), std::string::npos) << text;
}

TEST(BootEntries, NoTriesLeftGoesLast) {
  NEED_FAKE_ESP(esp);
  fs::rename(esp.tree.path("esp/EFI/Linux/other.efi"), esp.tree.path("esp/EFI/Linux/other+0-3.efi"));
  auto entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries);
  EXPECT_EQ(ids(*entries).back(), "other+0-3.efi");
  EXPECT_EQ(ids(*entries).front(), "debian-6.1+2-1.efi");
}

TEST(BootEntries, DefaultFromVariablesThenLoaderConf) {
  NEED_FAKE_ESP(esp);
  esp.tree.write("esp/loader/loader.conf", "timeout 3\ndefault debian-*\n");
  auto entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->default_config, "debian-*");
  EXPECT_EQ(entries->entries[entries->default_entry->index].id, "debian-6.1+2-1.efi");
  EXPECT_EQ(entries->default_entry->source, uki::DefaultSource::kLoaderConf);

  write_loader_variable(esp.tree, "LoaderEntryDefault", u"Profiles.efi@P2");
  entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->entries[entries->default_entry->index].id, "profiles.efi@p2");
  EXPECT_EQ(entries->default_entry->source, uki::DefaultSource::kEfiVariable);

  write_loader_variable(esp.tree, "LoaderEntryOneShot", u"other.efi");
  entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries);
  auto chosen = kexec::choose_default(*entries);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->entry->id + " " + chosen->why, "other.efi LoaderEntryOneShot 'other.efi'");

  // A malformed variable is ignored with a note, as systemd-boot ignores one it cannot read.
  write_loader_variable(esp.tree, "LoaderEntryOneShot", u"other.efi", /*odd=*/true);
  entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->default_entry->source, uki::DefaultSource::kEfiVariable);
  ASSERT_EQ(entries->notes.size(), 1u);
  EXPECT_NE(entries->notes[0].find("odd size"), std::string::npos) << entries->notes[0];

  // @saved: the last booted entry.
  write_loader_variable(esp.tree, "LoaderEntryDefault", u"@saved");
  write_loader_variable(esp.tree, "LoaderEntryLastBooted", u"profiles.efi@p1");
  fs::remove(esp.tree.path("efivars/" + kexec::efivarfs_name("LoaderEntryOneShot",
                                                              kexec::kLoaderVendorGuid)));
  entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->entries[entries->default_entry->index].id, "profiles.efi@p1");
  EXPECT_EQ(entries->default_entry->source, uki::DefaultSource::kSavedByVariable);

  // Without efivars nothing but loader.conf counts.
  EspOptions no_variables = esp.options();
  no_variables.efivars_directory.clear();
  entries = kexec::read_boot_entries(no_variables);
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->default_entry->source, uki::DefaultSource::kLoaderConf);
}

TEST(BootEntries, ChoosesAnEntryByIdPatternOrProfile) {
  NEED_FAKE_ESP(esp);
  auto entries = kexec::read_boot_entries(esp.options());
  ASSERT_TRUE(entries);
  auto id_of = [&](const std::string& request) -> std::string {
    auto chosen = kexec::choose_entry(*entries, request);
    return chosen ? chosen->entry->id : "error: " + chosen.error().message();
  };
  EXPECT_EQ(id_of("debian-6.1+2-1.efi"), "debian-6.1+2-1.efi");
  EXPECT_EQ(id_of("debian-6.1.efi"), "debian-6.1+2-1.efi");  // without the counter
  EXPECT_EQ(id_of("DEBIAN*"), "debian-6.1+2-1.efi");
  EXPECT_EQ(id_of("profiles.efi"), "profiles.efi");
  EXPECT_EQ(id_of("profiles.efi@p2"), "profiles.efi@p2");
  EXPECT_EQ(id_of("profiles.efi@2"), "profiles.efi@p2");  // by number
  EXPECT_EQ(id_of("*@p1"), "profiles.efi@p1");

  auto ambiguous = kexec::choose_entry(*entries, "profiles*");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().stage, kexec::Stage::kRequest);
  EXPECT_NE(ambiguous.error().reason.find("matches 3 boot entries"), std::string::npos);
  auto none = kexec::choose_entry(*entries, "fedora*");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().stage, kexec::Stage::kRequest);
  EXPECT_NE(none.error().reason.find("no boot entry matches 'fedora*'"), std::string::npos);
  auto broken = kexec::choose_entry(*entries, "broken.efi");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().stage, kexec::Stage::kParse);
}

TEST(BootEntries, VerdictsOnRequest) {
  NEED_FAKE_ESP(esp);
  EFIKEXEC_NEED_FIXTURE(db, "keys/db.crt");
  kexec::TrustOptions trust;
  trust.db_files = {db};
  trust.efivars_directory = esp.tree.path("efivars");
  auto policy = kexec::build_trust_policy(trust);
  ASSERT_TRUE(policy) << policy.error().message();
  EspOptions options = esp.options();
  auto unverified = kexec::read_boot_entries(options);
  ASSERT_TRUE(unverified);
  EXPECT_FALSE(unverified->entries[0].accepted);
  options.verify = &*policy;
  auto entries = kexec::read_boot_entries(options);
  ASSERT_TRUE(entries);
  for (const kexec::BootEntry& entry : entries->entries) {
    ASSERT_TRUE(entry.accepted) << entry.id;
    EXPECT_EQ(*entry.accepted, entry.id != "other.efi") << entry.id << ": " << entry.verdict;
  }
  EXPECT_NE(kexec::render_boot_entries_text(*entries).find("refused: "), std::string::npos);
}

TEST(BootEntries, EmptyAndMissingDirectories) {
  TempTree tree;
  fs::create_directories(tree.path("esp/efi/linux"));  // lower case, as a FAT copy may have it
  auto entries = kexec::read_boot_entries({tree.path("esp"), {}, {}});
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->entries.empty());
  EXPECT_FALSE(entries->default_entry);
  auto chosen = kexec::choose_default(*entries);
  ASSERT_FALSE(chosen);
  EXPECT_NE(chosen.error().reason.find("no boot entries"), std::string::npos);
  auto missing = kexec::read_boot_entries({tree.path("nothing"), {}, {}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().stage, kexec::Stage::kRead);
}

// A mount table with the given lines, and udev records "bMAJ:MIN" => partition type.
kexec::MountSources fake_mounts(const TempTree& tree, const std::string& mountinfo,
                                const std::vector<std::pair<std::string, std::string>>& udev) {
  tree.write("proc/mountinfo", mountinfo);
  for (const auto& [device, type] : udev)
    tree.write("udev/" + device, "S:disk/by-partuuid/x\nE:ID_PART_ENTRY_TYPE=" + type + "\n");
  return {tree.root(), "/proc/mountinfo", "/udev"};
}

TEST(FindEsp, AsBootctlLooksForIt) {
  TempTree tree;
  fs::create_directories(tree.path("efi"));
  fs::create_directories(tree.path("boot/efi/EFI"));
  fs::create_directories(tree.path("boot/EFI/Linux"));
  const std::string mounts =
      "22 1 8:3 / / rw - ext4 /dev/sda3 rw\n"
      "30 22 8:9 / /efi rw - vfat /dev/sda9 rw\n"  // holds no EFI/
      "31 22 8:2 / /boot rw - vfat /dev/sda2 rw\n"
      "32 31 8:1 / /boot/efi rw,relatime shared:5 - vfat /dev/sda1 rw\n";
  auto found = kexec::find_esp(fake_mounts(
      tree, mounts,
      {{"b8:1", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"}, {"b8:2", "bc13c2ff-59e6-4262-a352-b275fd6f7172"}}));
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->esp, tree.path("boot/efi"));
  EXPECT_EQ(found->xbootldr, tree.path("boot"));
  EXPECT_NE(found->found_by.find("ESP partition type"), std::string::npos);

  // /boot as the ESP itself; no udev record: accepted, and said so.
  TempTree second;
  fs::create_directories(second.path("boot/EFI"));
  found = kexec::find_esp(fake_mounts(second, "31 22 8:2 / /boot rw - vfat /dev/sda2 rw\n", {}));
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->esp, second.path("boot"));
  EXPECT_TRUE(found->xbootldr.empty());
  EXPECT_NE(found->found_by.find("not checked"), std::string::npos);

  // An automounted /efi: the autofs mount first, the vfat one on top of it.
  TempTree automounted;
  fs::create_directories(automounted.path("efi/EFI"));
  found = kexec::find_esp(fake_mounts(automounted,
                                      "40 22 0:50 / /efi rw - autofs systemd-1 rw\n"
                                      "41 40 8:1 / /efi rw - vfat /dev/sda1 rw\n",
                                      {}));
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->esp, automounted.path("efi"));

  // A vfat /boot whose recorded type is not the ESP's, an ext4 /efi: no ESP.
  TempTree third;
  fs::create_directories(third.path("boot/EFI"));
  fs::create_directories(third.path("efi/EFI"));
  auto none = kexec::find_esp(fake_mounts(
      third,
      "30 22 8:9 / /efi rw - ext4 /dev/sda9 rw\n31 22 8:2 / /boot rw - vfat /dev/sda2 rw\n",
      {{"b8:2", "0fc63daf-8483-4772-8e79-3d69d8477de4"}}));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().stage, kexec::Stage::kMachine);
  EXPECT_NE(none.error().reason.find("/efi a ext4 file system"), std::string::npos)
      << none.error().reason;
  EXPECT_NE(none.error().reason.find("/boot partition type 0fc63daf"), std::string::npos);
  EXPECT_NE(none.error().reason.find("/boot/efi not a mount point"), std::string::npos);
}

}  // namespace
}  // namespace efikexec::testing
