// SPDX-License-Identifier: MIT
#pragma once

namespace efikexec::uki {

template <class Visit>
void for_each_key_value(std::string_view text, std::string_view separators, Visit&& visit) {
  // systemd-boot reads a NUL-terminated copy: nothing after a NUL exists for it.
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos)
    text = slice(text, 0, nul);
  auto is_blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty()) {
    const std::size_t end = text.find_first_of("\n\r");
    std::string_view line = slice(text, 0, end);
    text = end == std::string_view::npos ? std::string_view{} : slice(text, end + 1);
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t split = line.find_first_of(separators);
    if (split == std::string_view::npos) continue;
    std::string_view value = slice(line, split + 1);
    while (!value.empty() && separators.find(value.front()) != std::string_view::npos)
      value.remove_prefix(1);
    if (!value.empty() && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.size() == 1 ? std::string_view{} : slice(value, 1, value.size() - 2);
    visit(slice(line, 0, split), value);
  }
}

}  // namespace efikexec::uki
