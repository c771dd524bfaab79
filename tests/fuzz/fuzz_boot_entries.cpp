// SPDX-License-Identifier: MIT
// The Boot Loader Specification Type #2 rules over untrusted text: .osrel and .profile sections,
// loader.conf, entry file names, efivarfs strings, and the patterns and versions they carry.
// Invariants: every view points into the input, the version order and the entry order are
// antisymmetric, a glob without special characters is case-insensitive equality, and the
// default is an index of the list.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_assert.hpp"
#include "uki/boot_entries.hpp"

using namespace efikexec;

namespace {

bool inside(std::string_view field, std::string_view input) {
  return field.empty() ||
         (field.data() >= input.data() && field.data() + field.size() <= input.data() + input.size());
}

int sign(int value) { return value < 0 ? -1 : (value > 0 ? 1 : 0); }

// A file name's bytes (255 UTF-16 characters as UTF-8) and a profile suffix.
constexpr std::size_t kIdBytes = 3 * 255 + 4;
// Longer patterns are legal but no different: past an ID's length plus its stars none matches.
constexpr std::size_t kPatternBytes = 1024;

std::array<char, 4096> g_id;
std::array<char, 4096> g_title;
std::array<char, 3 * 2048 + 1> g_decoded;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  uki::for_each_key_value(input, "=", [&](std::string_view key, std::string_view value) {
    FUZZ_ASSERT(inside(key, input) && inside(value, input));
  });
  const auto names = uki::os_release_names(input);
  if (names) {
    FUZZ_ASSERT(inside(names->title, input));
    if (names->version) FUZZ_ASSERT(inside(*names->version, input));
    if (names->sort_key) FUZZ_ASSERT(inside(*names->sort_key, input));
  }
  const uki::ProfileFields fields = uki::profile_fields(input);
  if (const auto pattern = uki::loader_conf_default(input)) FUZZ_ASSERT(inside(*pattern, input));

  // The input as a file name.
  if (const auto counter = uki::parse_boot_counter(input)) {
    FUZZ_ASSERT(counter->prefix_length < size && input[counter->prefix_length] == '+');
    FUZZ_ASSERT(counter->tries_left >= 0 && counter->tries_done >= 0);
  }
  (void)uki::is_type2_file_name(input);
  auto labels = uki::type2_labels(input.substr(0, 1024), size % 300, fields,
                                  names ? names->title : std::string_view("t"), g_id, g_title);
  if (labels) {
    for (char c : labels->id) FUZZ_ASSERT(!(c >= 'A' && c <= 'Z'));
  }

  // The input as an efivarfs string.
  const ByteView bytes(reinterpret_cast<const std::byte*>(data), size < 4096 ? size : 4096);
  if (auto text = uki::decode_loader_string(bytes, g_decoded))
    FUZZ_ASSERT(text->size() <= bytes.size() / 2 * 3);

  // Two strings: before and after the first newline.
  const std::size_t split = input.find('\n');
  const std::string_view a = input.substr(0, split);
  const std::string_view b = split == std::string_view::npos ? std::string_view{} : input.substr(split + 1);
  FUZZ_ASSERT(sign(uki::compare_versions(a, b)) == -sign(uki::compare_versions(b, a)));
  FUZZ_ASSERT(uki::compare_versions(a, a) == 0);
  // The glob costs pattern length times text length: give it what the product does (a pattern
  // from an efivar or a loader.conf line, an entry ID from a file name) and not 256 KiB twice.
  const std::string_view pattern = a.substr(0, kPatternBytes);
  const std::string_view id = b.substr(0, kIdBytes);
  const std::string_view input_id = input.substr(0, kIdBytes);
  const bool matched = uki::glob_match(pattern, id);
  if (!uki::is_glob(pattern)) FUZZ_ASSERT(matched == uki::equal_ignoring_case(pattern, id));
  FUZZ_ASSERT(uki::glob_match("*", id));

  uki::EntryOrder x, y;
  x.id = a;
  y.id = b;
  x.version = names ? names->version : std::nullopt;
  y.sort_key = names ? names->sort_key : std::nullopt;
  x.tries_left = static_cast<int>(size % 3) - 1;
  y.tries_left = static_cast<int>(size % 5) - 1;
  FUZZ_ASSERT(sign(uki::compare_entries(x, y)) == -sign(uki::compare_entries(y, x)));

  const std::string_view ids[] = {pattern.substr(0, kIdBytes), id, input_id};
  const auto pick =
      uki::select_default_entry(ids, {pattern, id, input.substr(0, kPatternBytes), id});
  FUZZ_ASSERT(pick && pick->index < 3);
  return 0;
}
