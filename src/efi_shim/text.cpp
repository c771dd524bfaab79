// SPDX-License-Identifier: MIT
#include "efi_shim/text.hpp"

#include "pe_loader/decimal.hpp"

namespace efikexec::efi {

Text& Text::chr(char c) {
  if (length_ < kCapacity) buffer_[length_++] = c;
  return *this;
}

Text& Text::str(std::string_view s) {
  for (char c : s) chr(c);
  return *this;
}

Text& Text::dec(std::uint64_t value) {
  // A named Decimal: a temporary in the range expression would die before the loop reads it.
  const Decimal digits(value);
  for (const char digit : digits.view()) chr(digit);
  return *this;
}

Text& Text::hex(std::uint64_t value) {
  str("0x");
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    unsigned nibble = (value >> shift) & 15;
    if (nibble != 0 || started || shift == 0) {
      started = true;
      chr("0123456789abcdef"[nibble]);
    }
  }
  return *this;
}

Text& Text::guid(const EFI_GUID& g) {
  auto fixed = [this](std::uint64_t value, int digits) {
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
      chr("0123456789abcdef"[(value >> shift) & 15]);
  };
  fixed(g.Data1, 8);
  chr('-');
  fixed(g.Data2, 4);
  chr('-');
  fixed(g.Data3, 4);
  chr('-');
  fixed(g.Data4[0], 2);
  fixed(g.Data4[1], 2);
  chr('-');
  for (int i = 2; i < 8; ++i) fixed(g.Data4[i], 2);
  return *this;
}

Text& Text::ucs2(const CHAR16* s, std::size_t max_chars) {
  if (s == nullptr) return str("NULL");
  chr('"');
  for (std::size_t i = 0; i < max_chars && s[i] != 0; ++i) {
    CHAR16 c = s[i];
    if (c == '\\') str("\\\\");
    else if (c == '\n') str("\\n");
    else if (c == '\r') str("\\r");
    else chr(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  chr('"');
  return *this;
}

const char* status_name(EFI_STATUS status) {
  switch (status) {
    case EFI_SUCCESS: return "Success";
    case EFI_LOAD_ERROR: return "LoadError";
    case EFI_INVALID_PARAMETER: return "InvalidParameter";
    case EFI_UNSUPPORTED: return "Unsupported";
    case EFI_BAD_BUFFER_SIZE: return "BadBufferSize";
    case EFI_BUFFER_TOO_SMALL: return "BufferTooSmall";
    case EFI_NOT_READY: return "NotReady";
    case EFI_DEVICE_ERROR: return "DeviceError";
    case EFI_WRITE_PROTECTED: return "WriteProtected";
    case EFI_OUT_OF_RESOURCES: return "OutOfResources";
    case EFI_NOT_FOUND: return "NotFound";
    case EFI_ACCESS_DENIED: return "AccessDenied";
    case EFI_TIMEOUT: return "Timeout";
    case EFI_NOT_STARTED: return "NotStarted";
    case EFI_ALREADY_STARTED: return "AlreadyStarted";
    case EFI_ABORTED: return "Aborted";
    case EFI_SECURITY_VIOLATION: return "SecurityViolation";
    default: return nullptr;
  }
}

Text& Text::status(EFI_STATUS value) {
  const char* name = status_name(value);
  return name ? str(name) : hex(value);
}

}  // namespace efikexec::efi
