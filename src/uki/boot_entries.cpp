// SPDX-License-Identifier: MIT
#include "uki/boot_entries.hpp"

#include <climits>

#include "pe_loader/decimal.hpp"

namespace efikexec::uki {

namespace {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool is_version_char(char c) {
  return is_digit(c) || is_alpha(c) || c == '~' || c == '-' || c == '^' || c == '.';
}

template <class T>
int three_way(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Compares two runs of bytes as strncmp over the shorter length.
int compare_prefix(std::string_view a, std::string_view b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

// strcmp with an absent string before every present one (systemd's strcmp_ptr).
int compare_optional(std::optional<std::string_view> a, std::optional<std::string_view> b) {
  if (!a || !b) return three_way(a.has_value(), b.has_value());
  const int r = a->compare(*b);
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

bool ends_with_ignoring_case(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         equal_ignoring_case(slice(text, text.size() - suffix.size()), suffix);
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equal_ignoring_case(slice(text, 0, prefix.size()), prefix);
}

// One decimal number of at least one digit, at most INT_MAX; advances `text` past it.
std::optional<int> take_counter(std::string_view& text) {
  std::size_t used = 0;
  std::uint64_t value = 0;
  while (used < text.size() && is_digit(text[used])) {
    value = value * 10 + static_cast<std::uint64_t>(text[used] - '0');
    if (value > INT_MAX) return std::nullopt;
    ++used;
  }
  if (used == 0) return std::nullopt;
  text.remove_prefix(used);
  return static_cast<int>(value);
}

// efi_fnmatch's step: matches `pattern` against the start of `text` up to the pattern's first
// '*' (then `*rest` is the pattern after the stars and `*rest_text` the text there), or to the
// end of both.
struct PrefixMatch {
  bool matched;
  bool star;
  std::string_view rest;
  std::string_view rest_text;
};

PrefixMatch match_prefix(std::string_view p, std::string_view h) {
  std::size_t i = 0, j = 0;
  auto at = [](std::string_view s, std::size_t k) { return k < s.size() ? lower(s[k]) : '\0'; };
  for (;; ++i, ++j) {
    const char c = at(p, i);
    const char t = at(h, j);
    if (i >= p.size()) return {j >= h.size(), false, {}, {}};
    switch (c) {
      case '\\':
        ++i;
        if (i >= p.size() || j >= h.size() || at(p, i) != t) return {false, false, {}, {}};
        break;
      case '?':
        if (j >= h.size()) return {false, false, {}, {}};
        break;
      case '*':
        while (i < p.size() && p[i] == '*') ++i;
        return {true, true, slice(p, i), slice(h, j)};
      case '[': {
        if (j >= h.size()) return {false, false, {}, {}};
        bool first = true, can_range = true, match = false;
        for (;; first = false) {
          ++i;
          if (i >= p.size()) return {false, false, {}, {}};
          if (p[i] == '\\') {
            ++i;
            if (i >= p.size()) return {false, false, {}, {}};
            if (at(p, i) == t) match = true;
            can_range = true;
            continue;
          }
          if (p[i] == ']' && !first) break;
          if (p[i] == '-' && can_range && !first && at(p, i + 1) != ']') {
            const char low = at(p, i - 1);
            ++i;
            if (i < p.size() && p[i] == '\\') ++i;
            if (i >= p.size()) return {false, false, {}, {}};
            if (low <= t && t <= at(p, i)) match = true;
            can_range = false;  // ranges do not chain: [a-c-f] is [-acf]
            continue;
          }
          if (at(p, i) == t) match = true;
          can_range = true;
        }
        if (!match) return {false, false, {}, {}};
        break;
      }
      default:
        if (j >= h.size() || c != t) return {false, false, {}, {}};
    }
  }
}

template <class Visit>
void for_each_os_key(std::string_view text, Visit&& visit) {
  for_each_key_value(text, "=", visit);
}

// Appends to a caller's buffer; remembers when something did not fit.
class Writer {
 public:
  explicit Writer(std::span<char> out) : out_(out) {}
  Writer& add(std::string_view text) {
    for (char c : text) {
      if (used_ == out_.size()) {
        overflow_ = true;
        return *this;
      }
      out_[used_++] = c;
    }
    return *this;
  }
  Writer& add(unsigned value) {
    add(Decimal(value).view());
    return *this;
  }
  bool overflow() const { return overflow_; }
  std::span<char> written() const { return out_.first(used_); }
  std::string_view view() const { return {out_.data(), used_}; }

 private:
  std::span<char> out_;
  std::size_t used_ = 0;
  bool overflow_ = false;
};

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  auto at = [](std::string_view s, std::size_t k) { return k < s.size() ? s[k] : '\0'; };
  // systemd reads C strings: an embedded NUL ends the version.
  if (const std::size_t nul = a.find('\0'); nul != std::string_view::npos) a = slice(a, 0, nul);
  if (const std::size_t nul = b.find('\0'); nul != std::string_view::npos) b = slice(b, 0, nul);
  for (;;) {
    while (i < a.size() && !is_version_char(a[i])) ++i;
    while (j < b.size() && !is_version_char(b[j])) ++j;
    // '~' (pre-release) is older than anything, even the end of the string.
    if (at(a, i) == '~' || at(b, j) == '~') {
      if (const int r = three_way(at(a, i) != '~', at(b, j) != '~'); r != 0) return r;
      ++i, ++j;
    }
    if (i >= a.size() || j >= b.size())
      return three_way(static_cast<unsigned char>(at(a, i)), static_cast<unsigned char>(at(b, j)));
    for (char separator : {'-', '^', '.'}) {
      if (at(a, i) == separator || at(b, j) == separator) {
        if (const int r = three_way(at(a, i) != separator, at(b, j) != separator); r != 0) return r;
        ++i, ++j;
      }
    }
    std::size_t end_a = i, end_b = j;
    if (is_digit(at(a, i)) || is_digit(at(b, j))) {
      while (is_digit(at(a, end_a))) ++end_a;
      while (is_digit(at(b, end_b))) ++end_b;
      // A number is newer than letters (or nothing) in the same place.
      if (const int r = three_way(end_a != i, end_b != j); r != 0) return r;
      while (at(a, i) == '0') ++i;
      while (at(b, j) == '0') ++j;
      if (const int r = three_way(end_a - i, end_b - j); r != 0) return r;
      if (const int r = compare_prefix(slice(a, i), slice(b, j), end_a - i); r != 0) return r;
    } else {
      while (is_alpha(at(a, end_a))) ++end_a;
      while (is_alpha(at(b, end_b))) ++end_b;
      const std::size_t shorter = end_a - i < end_b - j ? end_a - i : end_b - j;
      if (const int r = compare_prefix(slice(a, i), slice(b, j), shorter); r != 0) return r;
      if (const int r = three_way(end_a - i, end_b - j); r != 0) return r;
    }
    i = end_a;
    j = end_b;
  }
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Split at the stars: the first piece must match the start of the text, the others are looked
  // for in order, the last one at the very end.
  for (bool first = true;;) {
    const PrefixMatch step = match_prefix(pattern, text);
    if (first) {
      if (!step.matched) return false;
      if (!step.star) return true;
      first = false;
    }
    if (step.star) {
      pattern = step.rest;
      text = step.rest_text;
    } else {
      if (step.matched || text.empty()) return step.matched;
      text.remove_prefix(1);  // let the star take one more character
    }
  }
}

bool is_glob(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") != std::string_view::npos;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

void ascii_lower_case(std::span<char> text) {
  for (char& c : text) c = lower(c);
}

std::optional<BootCounter> parse_boot_counter(std::string_view file_name,
                                              std::string_view suffix) {
  const std::size_t plus = file_name.rfind('+');
  if (plus == std::string_view::npos) return std::nullopt;
  std::string_view rest = slice(file_name, plus + 1);
  const std::optional<int> left = take_counter(rest);
  if (!left) return std::nullopt;
  int done = 0;
  if (!rest.empty() && rest.front() == '-') {
    rest.remove_prefix(1);
    const std::optional<int> value = take_counter(rest);
    if (!value) return std::nullopt;
    done = *value;
  }
  // A counter in the middle of the name is none.
  if (!equal_ignoring_case(rest, suffix)) return std::nullopt;
  return BootCounter{*left, done, plus};
}

bool is_type2_file_name(std::string_view file_name) {
  if (file_name.empty() || file_name.front() == '.') return false;
  return ends_with_ignoring_case(file_name, ".efi") && !starts_with_ignoring_case(file_name, "auto-");
}

std::optional<OsReleaseNames> os_release_names(std::string_view osrel) {
  std::optional<std::string_view> pretty_name, image_id, name, id, image_version, version,
      version_id, build_id;
  for_each_os_key(osrel, [&](std::string_view key, std::string_view value) {
    if (key == "PRETTY_NAME") pretty_name = value;
    else if (key == "IMAGE_ID") image_id = value;
    else if (key == "NAME") name = value;
    else if (key == "ID") id = value;
    else if (key == "IMAGE_VERSION") image_version = value;
    else if (key == "VERSION") version = value;
    else if (key == "VERSION_ID") version_id = value;
    else if (key == "BUILD_ID") build_id = value;
  });
  auto first = [](std::initializer_list<std::optional<std::string_view>> choices) {
    for (const auto& choice : choices)
      if (choice) return choice;
    return std::optional<std::string_view>{};
  };
  const std::optional<std::string_view> title = first({pretty_name, image_id, name, id});
  if (!title) return std::nullopt;
  return OsReleaseNames{*title, first({image_version, version, version_id, build_id}),
                        first({image_id, id})};
}

ProfileFields profile_fields(std::string_view profile_section) {
  ProfileFields fields;
  for_each_os_key(profile_section, [&](std::string_view key, std::string_view value) {
    if (key == "ID") fields.id = value;
    else if (key == "TITLE") fields.title = value;
  });
  return fields;
}

Result<Type2Labels> type2_labels(std::string_view file_name, unsigned profile,
                                 const ProfileFields& fields, std::string_view os_title,
                                 std::span<char> id_out, std::span<char> title_out) {
  Writer id(id_out);
  id.add(file_name);
  if (profile > 0) {
    id.add("@");
    if (fields.id) id.add(*fields.id);
    else id.add(profile);
  }
  Writer title(title_out);
  title.add(os_title);
  if (fields.title) title.add(" (").add(*fields.title).add(")");
  else if (profile > 0 && fields.id) title.add(" (").add(*fields.id).add(")");
  else if (profile > 0) title.add(" (Profile #").add(profile + 1).add(")");
  if (id.overflow() || title.overflow())
    return fail(ErrorCode::kNoMemory, "boot entry id or title longer than its buffer");
  ascii_lower_case(id.written());
  return Type2Labels{id.view(), title.view()};
}

int compare_entries(const EntryOrder& a, const EntryOrder& b) {
  if (const int r = three_way(a.tries_left == 0, b.tries_left == 0); r != 0) return r;
  // Entries with a sort key (new style) before those without (old style: by id only).
  if (const int r = three_way(!a.sort_key, !b.sort_key); r != 0) return r;
  if (a.sort_key && b.sort_key) {
    if (const int r = compare_optional(a.sort_key, b.sort_key); r != 0) return r;
    if (const int r = compare_optional(a.machine_id, b.machine_id); r != 0) return r;
    if (const int r = compare_versions(a.version.value_or(""), b.version.value_or("")); r != 0)
      return -r;
  }
  if (const int r = compare_versions(a.id_without_profile.value_or(a.id),
                                     b.id_without_profile.value_or(b.id));
      r != 0)
    return -r;
  // Profiles of one UKI by number. systemd-boot compares them only when both are profiles > 0,
  // leaving profile 0 wherever its sort puts it; here it comes first, so the order is total.
  if (a.id_without_profile || b.id_without_profile)
    if (const int r = three_way(a.profile, b.profile); r != 0) return r;
  if (a.tries_left < 0 || b.tries_left < 0) return 0;
  if (const int r = three_way(a.tries_left, b.tries_left); r != 0) return -r;
  return three_way(a.tries_done, b.tries_done);
}

std::optional<std::string_view> loader_conf_default(std::string_view loader_conf) {
  std::optional<std::string_view> pattern;
  for_each_key_value(loader_conf, " \t", [&](std::string_view key, std::string_view value) {
    if (key != "default") return;
    if (!value.empty() && value.front() == '@' && !equal_ignoring_case(value, "@saved")) return;
    pattern = value;
  });
  return pattern;
}

Result<std::string_view> decode_loader_string(ByteView data, std::span<char> out) {
  if (data.size() % 2 != 0)
    return fail(ErrorCode::kMalformed, "a UCS-2 string variable of odd size", data.size());
  Writer writer(out);
  for (std::uint64_t offset = 0; offset < data.size(); offset += 2) {
    auto unit = data.read<Le16>(offset, "");
    if (!unit) return std::unexpected(unit.error());
    std::uint32_t c = *unit;
    if (c == 0) break;
    if (c >= 0xdc00 && c < 0xe000)
      return fail(ErrorCode::kMalformed, "a lone low surrogate in a UCS-2 string", offset);
    if (c >= 0xd800 && c < 0xdc00) {
      auto low = data.read<Le16>(offset + 2, "");
      if (!low || *low < 0xdc00 || *low >= 0xe000)
        return fail(ErrorCode::kMalformed, "a high surrogate without its low one", offset);
      c = 0x10000 + ((c - 0xd800) << 10) + (*low - 0xdc00);
      offset += 2;
    }
    char bytes[4];
    std::size_t n = 0;
    if (c < 0x80) {
      bytes[n++] = static_cast<char>(c);
    } else if (c < 0x800) {
      bytes[n++] = static_cast<char>(0xc0 | (c >> 6));
      bytes[n++] = static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      bytes[n++] = static_cast<char>(0xe0 | (c >> 12));
      bytes[n++] = static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      bytes[n++] = static_cast<char>(0x80 | (c & 0x3f));
    } else {
      bytes[n++] = static_cast<char>(0xf0 | (c >> 18));
      bytes[n++] = static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      bytes[n++] = static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      bytes[n++] = static_cast<char>(0x80 | (c & 0x3f));
    }
    writer.add(std::string_view(bytes, n));
  }
  if (writer.overflow()) return fail(ErrorCode::kNoMemory, "a UCS-2 string longer than its buffer");
  return writer.view();
}

const char* default_source_name(DefaultSource source) {
  switch (source) {
    case DefaultSource::kOneShot: return "LoaderEntryOneShot";
    case DefaultSource::kEfiVariable: return "LoaderEntryDefault";
    case DefaultSource::kSavedByVariable: return "LoaderEntryLastBooted (LoaderEntryDefault @saved)";
    case DefaultSource::kLoaderConf: return "loader.conf default";
    case DefaultSource::kSavedByConf: return "LoaderEntryLastBooted (loader.conf default @saved)";
    case DefaultSource::kFirst: return "first entry";
  }
  return "unknown";
}

std::optional<DefaultPick> select_default_entry(std::span<const std::string_view> sorted_ids,
                                                const LoaderSettings& settings) {
  if (sorted_ids.empty()) return std::nullopt;
  auto find = [&](std::optional<std::string_view> pattern,
                  DefaultSource source) -> std::optional<DefaultPick> {
    if (!pattern) return std::nullopt;
    for (std::size_t i = 0; i < sorted_ids.size(); ++i)
      if (glob_match(*pattern, sorted_ids[i])) return DefaultPick{i, source, *pattern};
    return std::nullopt;
  };
  auto is_saved = [](std::optional<std::string_view> value) {
    return value && equal_ignoring_case(*value, "@saved");
  };
  if (auto pick = find(settings.oneshot, DefaultSource::kOneShot)) return pick;
  const bool saved_by_variable = is_saved(settings.default_efivar);
  if (auto pick = saved_by_variable ? find(settings.saved, DefaultSource::kSavedByVariable)
                                    : find(settings.default_efivar, DefaultSource::kEfiVariable))
    return pick;
  if (is_saved(settings.default_config)) {
    // Already tried when the variable asked for it too.
    if (!saved_by_variable)
      if (auto pick = find(settings.saved, DefaultSource::kSavedByConf)) return pick;
  } else if (auto pick = find(settings.default_config, DefaultSource::kLoaderConf)) {
    return pick;
  }
  return DefaultPick{0, DefaultSource::kFirst, {}};
}

}  // namespace efikexec::uki
