// SPDX-License-Identifier: MIT
// The Boot Loader Specification Type #2 rules as systemd-boot has them: version order (the
// cases of systemd's own strverscmp_improved tests and rpm's), boot counting, naming, sorting,
// pattern matching and the default entry.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "uki/boot_entries.hpp"

namespace efikexec::testing {
namespace {

using uki::compare_versions;

int sign(int value) { return value < 0 ? -1 : (value > 0 ? 1 : 0); }

TEST(CompareVersions, OrdersSystemdsList) {
  // Each is newer than all before it (systemd's test-string-util order).
  const std::vector<std::string> versions = {
      "~1",     "",        "ab",     "abb",      "abc",   "0001",   "002",     "12",
      "122",    "122.9",   "123~rc1", "123",     "123-a", "123-a.1", "123-a1", "123-a1.1",
      "123-3",  "123-3.1", "123^patch1", "123^1", "123.a-1", "123.1-1", "123a-1", "124"};
  for (std::size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(compare_versions(versions[i], versions[i]), 0) << versions[i];
    for (std::size_t j = i + 1; j < versions.size(); ++j) {
      EXPECT_LT(compare_versions(versions[i], versions[j]), 0) << versions[i] << " < " << versions[j];
      EXPECT_GT(compare_versions(versions[j], versions[i]), 0) << versions[j] << " > " << versions[i];
    }
  }
}

TEST(CompareVersions, Pairs) {
  struct Case {
    const char* older;
    const char* newer;
  };
  const Case newer[] = {{"123.45-67.88", "123.45-67.89"}, {"123.45-67.89", "123.45-67.89a"},
                        {"123.45-67.ab", "123.45-67.89"}, {"123.45-67.9", "123.45-67.89"},
                        {"123.45-67", "123.45-67.89"},    {"123.45-66.89", "123.45-67.89"},
                        {"123.45-9.99", "123.45-67.89"},  {"123.42-99.99", "123.45-67.89"},
                        {"123-99.99", "123.45-67.89"},    {"123^45-67.89", "123.45-67.89"},
                        {"123^aa1-99.99", "123^aa2-67.89"}, {"123^aa2-67.89", "123aa2-67.89"},
                        {"123.aa2-67.89", "123aa2-67.89"}, {"123.aa2-67.89", "123.ab2-67.89"},
                        {"6.1.0-30-amd64", "6.12.9-amd64"}, {"6.12.9-amd64", "7.2.0-amd64"}};
  for (const Case& c : newer) {
    EXPECT_LT(compare_versions(c.older, c.newer), 0) << c.older << " < " << c.newer;
    EXPECT_GT(compare_versions(c.newer, c.older), 0) << c.newer << " > " << c.older;
  }
  EXPECT_EQ(compare_versions("123_aa2-67.89", "123aa+2-67.89"), 0);  // invalid characters
  EXPECT_GT(compare_versions("123.", "123"), 0);
  EXPECT_LT(compare_versions("12_3", "123"), 0);
  EXPECT_GT(compare_versions("12_3", "12"), 0);
  EXPECT_GT(compare_versions("12_3", "12.3"), 0);
  EXPECT_GT(compare_versions("123.0", "123"), 0);
  EXPECT_GT(compare_versions("123_0", "123"), 0);
  EXPECT_LT(compare_versions("123..0", "123.0"), 0);
  for (auto [a, b] : {std::pair{"0_", "0"}, {"_0_", "0"}, {"_0", "0"}, {"0", "0___"}, {"", "_"},
                      {"_", ""}, {"_", "_"}, {"~", "~"}})
    EXPECT_EQ(compare_versions(a, b), 0) << a << " == " << b;
  EXPECT_GT(compare_versions("", "~"), 0);
  EXPECT_LT(compare_versions("~", ""), 0);
}

TEST(CompareVersions, RpmCases) {
  struct Case {
    const char* a;
    const char* b;
    int expected;
  };
  const Case cases[] = {
      {"1.0", "2.0", -1},      {"2.0.1", "2.0", 1},       {"2.0.1a", "2.0.1", 1},
      {"5.5p1", "5.5p2", -1},  {"5.5p10", "5.5p1", 1},    {"10xyz", "10.1xyz", 1},
      {"xyz10", "xyz10.1", -1}, {"xyz.4", "8", -1},       {"2", "xyz.4", 1},
      {"5.6p1", "6.5p1", -1},  {"6.0.rc1", "6.0", 1},     {"10b2", "10a1", 1},
      {"1.0a", "1.0aa", -1},   {"10.0001", "10.1", 0},    {"10.0001", "10.0039", -1},
      {"4.999.9", "5.0", -1},  {"20101122", "20101121", 1}, {"2.0", "2_0", -1},
      {"a+", "a_", 0},         {"+_", "_+", 0},           {"1.0~rc1", "1.0", -1},
      {"1.0~rc1~git123", "1.0~rc1", -1}, {"1.0^", "1.0", 1}, {"1.0^git1", "1.01", -1},
      {"1.0^20160101", "1.0.1", -1}, {"1.0^20160102", "1.0^20160101^git1", 1},
      {"1.0~rc1^git1", "1.0~rc1", 1}, {"1.0^git1~pre", "1.0^git1", -1},
      {"1b.fc17", "1.fc17", 1}, {"1.1.\xce\xb1", "1.1.\xce\xb2", 0}};
  for (const Case& c : cases)
    EXPECT_EQ(sign(compare_versions(c.a, c.b)), c.expected) << c.a << " vs " << c.b;
}

TEST(BootCounter, ParsesSystemdsSuffix) {
  auto counter = uki::parse_boot_counter("linux+3.efi");
  ASSERT_TRUE(counter);
  EXPECT_EQ(counter->tries_left, 3);
  EXPECT_EQ(counter->tries_done, 0);
  EXPECT_EQ(counter->prefix_length, 5u);
  counter = uki::parse_boot_counter("a+b+2-1.EFI");  // the last '+', suffix in any case
  ASSERT_TRUE(counter);
  EXPECT_EQ(counter->tries_left, 2);
  EXPECT_EQ(counter->tries_done, 1);
  EXPECT_EQ(counter->prefix_length, 3u);
  counter = uki::parse_boot_counter("x+0-4.efi");
  ASSERT_TRUE(counter);
  EXPECT_EQ(counter->tries_left, 0);
  EXPECT_EQ(counter->tries_done, 4);
  counter = uki::parse_boot_counter("x+2147483647-2147483647.efi");
  ASSERT_TRUE(counter);
  EXPECT_EQ(counter->tries_left, 2147483647);
}

TEST(BootCounter, AnythingElseIsNoCounter) {
  for (const char* name :
       {"linux.efi", "linux+.efi", "linux+-1.efi", "linux+3-.efi", "linux+3-1-2.efi",
        "linux+3x.efi", "linux+3.efi.bak", "linux+3.conf", "linux+2147483648.efi",
        "linux+1-2147483648.efi", "linux+99999999999999999999999.efi", "+3.efi+", "linux+3"})
    EXPECT_FALSE(uki::parse_boot_counter(name)) << name;
  EXPECT_TRUE(uki::parse_boot_counter("+3.efi"));
  EXPECT_TRUE(uki::parse_boot_counter("entry+3.conf", ".conf"));
}

TEST(Type2FileName, AsSystemdBootFiltersThem) {
  EXPECT_TRUE(uki::is_type2_file_name("debian-6.1.efi"));
  EXPECT_TRUE(uki::is_type2_file_name("DEBIAN.EFI"));
  EXPECT_TRUE(uki::is_type2_file_name(".efi") == false);
  EXPECT_FALSE(uki::is_type2_file_name(".hidden.efi"));
  EXPECT_FALSE(uki::is_type2_file_name("auto-x.efi"));
  EXPECT_FALSE(uki::is_type2_file_name("AUTO-x.efi"));
  EXPECT_FALSE(uki::is_type2_file_name("linux.efi.extra.d"));
  EXPECT_FALSE(uki::is_type2_file_name("linux.conf"));
  EXPECT_FALSE(uki::is_type2_file_name(""));
  EXPECT_TRUE(uki::is_type2_file_name("x.addon.efi"));  // systemd-boot lists these too
}

TEST(KeyValue, ReadsLinesAsSystemdBoot) {
  std::vector<std::pair<std::string, std::string>> seen;
  uki::for_each_key_value(
      "  ID=debian\r# comment\n\nNAME=\"Debian GNU/Linux\"\nnoequals\nA==b\n"
      "Q='x'\nH=\"half\nE=\n\tT = 1 \nX=\"\nAFTER\0NUL=1\n",
      "=", [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"ID", "debian"}, {"NAME", "Debian GNU/Linux"}, {"A", "b"}, {"Q", "x"}, {"H", "\"half"},
      {"E", ""},        {"T ", " 1"},                 {"X", ""}};
  EXPECT_EQ(seen, expected);
}

TEST(KeyValue, LoaderConfDefault) {
  EXPECT_EQ(uki::loader_conf_default("timeout 3\ndefault  debian-*\n"), "debian-*");
  EXPECT_EQ(uki::loader_conf_default("default a\ndefault\tb\n"), "b");
  EXPECT_EQ(uki::loader_conf_default("default a\ndefault @other\n"), "a");  // ignored
  EXPECT_EQ(uki::loader_conf_default("default @SAVED\n"), "@SAVED");
  EXPECT_EQ(uki::loader_conf_default("#default a\ndefaults b\n"), std::nullopt);
  EXPECT_EQ(uki::loader_conf_default("default=a\n"), std::nullopt);
}

TEST(OsRelease, PicksTitleVersionAndSortKey) {
  auto names = uki::os_release_names(
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=Debian\nVERSION_ID=12\nID=debian\n");
  ASSERT_TRUE(names);
  EXPECT_EQ(names->title, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(names->version, "12");
  EXPECT_EQ(names->sort_key, "debian");
  names = uki::os_release_names("IMAGE_ID=img\nIMAGE_VERSION=7\nID=os\nVERSION=1 (x)\nBUILD_ID=b\n");
  ASSERT_TRUE(names);
  EXPECT_EQ(names->title, "img");
  EXPECT_EQ(names->version, "7");
  EXPECT_EQ(names->sort_key, "img");
  names = uki::os_release_names("NAME=n\nBUILD_ID=b\n");
  ASSERT_TRUE(names);
  EXPECT_EQ(names->title, "n");
  EXPECT_EQ(names->version, "b");
  EXPECT_EQ(names->sort_key, std::nullopt);
  names = uki::os_release_names("ID=a\nID=b\n");  // the last one wins
  ASSERT_TRUE(names);
  EXPECT_EQ(names->title, "b");
  EXPECT_EQ(names->version, std::nullopt);
  EXPECT_FALSE(uki::os_release_names("VERSION=1\nHOME_URL=x\n"));
  EXPECT_FALSE(uki::os_release_names(""));
}

std::pair<std::string, std::string> labels(std::string_view file, unsigned profile,
                                           uki::ProfileFields fields, std::string_view title) {
  char id[64], name[64];
  auto made = uki::type2_labels(file, profile, fields, title, id, name);
  EXPECT_TRUE(made);
  if (!made) return {};
  return {std::string(made->id), std::string(made->title)};
}

TEST(Type2Labels, AsSystemdBootNamesProfiles) {
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(labels("Debian.EFI", 0, {}, "Debian"), (P{"debian.efi", "Debian"}));
  EXPECT_EQ(labels("d.efi", 0, {"main", "Default"}, "Debian"), (P{"d.efi", "Debian (Default)"}));
  EXPECT_EQ(labels("d.efi", 1, {"Rescue", std::nullopt}, "Debian"), (P{"d.efi@rescue", "Debian (Rescue)"}));
  EXPECT_EQ(labels("d.efi", 1, {"rescue", "Rescue shell"}, "Debian"),
            (P{"d.efi@rescue", "Debian (Rescue shell)"}));
  EXPECT_EQ(labels("d.efi", 2, {}, "Debian"), (P{"d.efi@2", "Debian (Profile #3)"}));
  char small[4], title[64];
  auto made = uki::type2_labels("long-name.efi", 0, {}, "t", small, title);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code, ErrorCode::kNoMemory);
  EXPECT_EQ(uki::profile_fields("ID=rescue\nTITLE=\"Rescue\"\n").title, "Rescue");
}

TEST(Glob, MatchesAsEfiFnmatch) {
  using uki::glob_match;
  EXPECT_TRUE(glob_match("debian.efi", "debian.efi"));
  EXPECT_TRUE(glob_match("DEBIAN.efi", "debian.EFI"));  // case folded
  EXPECT_FALSE(glob_match("debian", "debian.efi"));
  EXPECT_TRUE(glob_match("debian*", "debian.efi"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*.efi", "a.efi"));
  EXPECT_FALSE(glob_match("*.efi", "a.efi@1"));
  EXPECT_TRUE(glob_match("*@*", "a.efi@rescue"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("[ab]x", "bx"));
  EXPECT_TRUE(glob_match("[a-c]x", "Bx"));
  EXPECT_FALSE(glob_match("[a-c]x", "dx"));
  EXPECT_TRUE(glob_match("[]]", "]"));
  EXPECT_TRUE(glob_match("[a-]", "-"));
  EXPECT_TRUE(glob_match("[a-c-f]", "-"));  // ranges do not chain
  EXPECT_FALSE(glob_match("[a-c-f]", "e"));
  EXPECT_TRUE(glob_match("\\*", "*"));
  EXPECT_FALSE(glob_match("\\*", "x"));
  EXPECT_FALSE(glob_match("\\", ""));
  EXPECT_FALSE(glob_match("[ab", "a"));
  EXPECT_TRUE(glob_match("***a", "bba"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  // No backtracking: a long hostile pattern ends quickly.
  const std::string text(20000, 'a');
  EXPECT_FALSE(glob_match(std::string(200, '*') + "a*a*a*a*a*a*a*a*b", text));
}

TEST(DecodeLoaderString, Utf16ToUtf8) {
  auto decode = [](std::vector<std::uint8_t> bytes) -> Result<std::string> {
    char out[32];
    auto text = uki::decode_loader_string(
        ByteView(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), out);
    if (!text) return std::unexpected(text.error());
    return std::string(*text);
  };
  EXPECT_EQ(decode({'a', 0, 'B', 0, 0, 0, 'x', 0}).value(), "aB");  // ends at the NUL
  EXPECT_EQ(decode({'a', 0, '*', 0}).value(), "a*");                // or at the end
  EXPECT_EQ(decode({0xe9, 0x00}).value(), "\xc3\xa9");
  EXPECT_EQ(decode({0x3d, 0xd8, 0x00, 0xde}).value(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(decode({}).value(), "");
  EXPECT_EQ(decode({'a', 0, 'b'}).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(decode({0x00, 0xdc}).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(decode({0x00, 0xd8, 'a', 0}).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(decode({0x00, 0xd8}).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(decode(std::vector<std::uint8_t>(80, 'a')).error().code, ErrorCode::kNoMemory);
}

uki::EntryOrder entry(std::string_view id, std::optional<std::string_view> sort_key,
                      std::optional<std::string_view> version, int left = -1, int done = -1) {
  uki::EntryOrder order;
  order.id = id;
  order.sort_key = sort_key;
  order.version = version;
  order.tries_left = left;
  order.tries_done = done;
  return order;
}

std::vector<std::string> sorted(std::vector<uki::EntryOrder> entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return uki::compare_entries(a, b) < 0;
  });
  std::vector<std::string> ids;
  for (const auto& e : entries) ids.emplace_back(e.id);
  return ids;
}

TEST(CompareEntries, AsSystemdBootSorts) {
  using V = std::vector<std::string>;
  // Newest version first within a sort key; sort keys ascending; entries without a key last.
  EXPECT_EQ(sorted({entry("a-5.efi", "a", "5"), entry("a-10.efi", "a", "10"),
                    entry("b.efi", "b", "1"), entry("old-2.efi", std::nullopt, "9"),
                    entry("old-10.efi", std::nullopt, "1")}),
            (V{"a-10.efi", "a-5.efi", "b.efi", "old-10.efi", "old-2.efi"}));
  // No tries left: last, whatever else says. Same id: more tries left first, then fewer done.
  EXPECT_EQ(sorted({entry("x+0-3.efi", "a", "9", 0, 3), entry("y.efi", "z", "1")}),
            (V{"y.efi", "x+0-3.efi"}));
  EXPECT_EQ(sorted({entry("x.efi", "a", "1", 1, 2), entry("x.efi", "a", "1", 3, 0),
                    entry("x.efi", "a", "1", 1, 1)}),
            (V{"x.efi", "x.efi", "x.efi"}));
  auto a = entry("x.efi", "a", "1", 1, 2), b = entry("x.efi", "a", "1", 3, 0),
       c = entry("x.efi", "a", "1", 1, 1);
  EXPECT_LT(uki::compare_entries(b, a), 0);
  EXPECT_LT(uki::compare_entries(c, a), 0);
  EXPECT_EQ(uki::compare_entries(a, entry("x.efi", "a", "1")), 0);
  // Same version: the id by version order, newest first.
  EXPECT_EQ(sorted({entry("linux-6.1.efi", "d", "12"), entry("linux-6.12.efi", "d", "12")}),
            (V{"linux-6.12.efi", "linux-6.1.efi"}));
  // Profiles of one UKI stay together, by number.
  auto p0 = entry("u.efi", "d", "12"), p1 = entry("u.efi@rescue", "d", "12"),
       p2 = entry("u.efi@2", "d", "12");
  p1.id_without_profile = "u.efi";
  p1.profile = 1;
  p2.id_without_profile = "u.efi";
  p2.profile = 2;
  EXPECT_EQ(sorted({p2, p1, p0}), (V{"u.efi", "u.efi@rescue", "u.efi@2"}));
  // Machine ids group installations of one OS.
  auto m1 = entry("m1.efi", "d", "1"), m2 = entry("m2.efi", "d", "2");
  m1.machine_id = "bbb";
  m2.machine_id = "aaa";
  EXPECT_EQ(sorted({m1, m2}), (V{"m2.efi", "m1.efi"}));
}

TEST(SelectDefault, FollowsSystemdBootsOrder) {
  const std::vector<std::string_view> ids = {"new.efi", "new.efi@rescue", "old.efi", "bad+0-3.efi"};
  auto pick = [&](uki::LoaderSettings settings) { return uki::select_default_entry(ids, settings); };
  auto first = pick({});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->index, 0u);
  EXPECT_EQ(first->source, uki::DefaultSource::kFirst);

  auto conf = pick({.default_config = "OLD*"});
  EXPECT_EQ(conf->index, 2u);
  EXPECT_EQ(conf->source, uki::DefaultSource::kLoaderConf);

  auto variable = pick({.default_efivar = "*@rescue", .default_config = "old*"});
  EXPECT_EQ(variable->index, 1u);
  EXPECT_EQ(variable->source, uki::DefaultSource::kEfiVariable);

  auto oneshot = pick({.oneshot = "old.efi", .default_efivar = "new.efi"});
  EXPECT_EQ(oneshot->index, 2u);
  EXPECT_EQ(oneshot->source, uki::DefaultSource::kOneShot);

  // A pattern that matches nothing falls through to the next source.
  auto fallthrough = pick({.oneshot = "gone.efi", .default_efivar = "gone2", .default_config = "old.efi"});
  EXPECT_EQ(fallthrough->source, uki::DefaultSource::kLoaderConf);

  auto saved = pick({.default_config = "@saved", .saved = "new.efi@rescue"});
  EXPECT_EQ(saved->index, 1u);
  EXPECT_EQ(saved->source, uki::DefaultSource::kSavedByConf);
  auto saved_var = pick({.default_efivar = "@Saved", .default_config = "old*", .saved = "old.efi"});
  EXPECT_EQ(saved_var->source, uki::DefaultSource::kSavedByVariable);
  // @saved without a last booted entry: the next source.
  auto no_saved = pick({.default_efivar = "@saved", .default_config = "old*"});
  EXPECT_EQ(no_saved->source, uki::DefaultSource::kLoaderConf);
  auto both_saved = pick({.default_efivar = "@saved", .default_config = "@saved", .saved = "gone"});
  EXPECT_EQ(both_saved->source, uki::DefaultSource::kFirst);

  EXPECT_FALSE(uki::select_default_entry({}, {.default_config = "*"}));
}

}  // namespace
}  // namespace efikexec::testing
