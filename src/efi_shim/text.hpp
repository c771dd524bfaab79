// SPDX-License-Identifier: MIT
// Formatting into a fixed buffer for traces and logs: the core has no printf. Output longer than
// the buffer is cut, never overflowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "efi_shim/efi_types.hpp"

namespace efikexec::efi {

class Text {
 public:
  static constexpr std::size_t kCapacity = 1024;

  Text& str(std::string_view s);
  Text& chr(char c);
  Text& dec(std::uint64_t value);
  Text& hex(std::uint64_t value);  // 0x-prefixed
  Text& guid(const EFI_GUID& guid);
  // A UCS-2 string from image memory, at most `max_chars`, non-ASCII shown as '?'.
  Text& ucs2(const CHAR16* s, std::size_t max_chars = 256);
  Text& status(EFI_STATUS status);

  std::string_view view() const { return {buffer_, length_}; }
  void clear() { length_ = 0; }

 private:
  char buffer_[kCapacity];
  std::size_t length_ = 0;
};

// The name OVMF traces use for a status ("Success", "NotFound", ...).
const char* status_name(EFI_STATUS status);

}  // namespace efikexec::efi
