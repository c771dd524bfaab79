// SPDX-License-Identifier: MIT
#pragma once

namespace efikexec::uki {

template <class Visit>
void for_each_os_release_field(std::string_view text, Visit&& visit) {
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = slice(text, 0, end);
    text = end == std::string_view::npos ? std::string_view{} : slice(text, end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\0'))
      line.remove_suffix(1);
    std::size_t equals = line.find('=');
    if (line.empty() || line.front() == '#' || equals == std::string_view::npos || equals == 0)
      continue;
    std::string_view value = slice(line, equals + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = slice(value, 1, value.size() - 2);
    visit(slice(line, 0, equals), value);
  }
}

}  // namespace efikexec::uki
