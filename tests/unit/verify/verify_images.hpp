// SPDX-License-Identifier: MIT
// The synthetic images the verification tests sign (shared by the fixture tool and the tests).
#pragma once

#include <string_view>

#include "support/pe_builder.hpp"

namespace efikexec::testing {

inline constexpr std::string_view kAppSbat =
    "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
    "efikexec-test,1,efikexec,efikexec-test,1,https://example.invalid/efikexec\n";
inline constexpr std::string_view kKernelSbat =
    "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
    "linux,1,The Linux Developers,linux,6.1,https://linux.org\n";

inline Bytes text_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

// An EFI application: code, data, .sbat (optional) and a 100-byte overlay, so the file size is
// not a multiple of 8 and sbsign must pad before the certificate table.
inline Bytes verify_app_image(bool with_sbat = true) {
  PeBuilder builder;
  builder.section(".text", Bytes(300, 0xc3), 0x60000020)
      .section(".data", Bytes(700, 0x5a), 0xc0000040);
  if (with_sbat) builder.section(".sbat", text_bytes(kAppSbat));
  return builder.overlay(Bytes(100, 0x7e)).build();
}

// A UKI-shaped image whose .linux is itself a PE with its own .sbat.
inline Bytes verify_uki_image() {
  Bytes kernel = PeBuilder()
                     .section(".text", Bytes(512, 0x90), 0x60000020)
                     .section(".sbat", text_bytes(kKernelSbat))
                     .build();
  return PeBuilder()
      .section(".text", Bytes(256, 0xc3), 0x60000020)
      .section(".osrel", text_bytes("ID=efikexec\n"))
      .section(".cmdline", text_bytes("console=ttyS0"))
      .section(".sbat", text_bytes(kAppSbat))
      .section(".linux", kernel)
      .build();
}

// A UKI-shaped image with a `.linux` of `size` pseudo-random bytes (a file read in many chunks).
inline Bytes verify_large_image(std::size_t size) {
  Bytes kernel(size);
  std::uint32_t state = 0x12345678;
  for (auto& byte : kernel) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<std::uint8_t>(state >> 24);
  }
  return PeBuilder()
      .section(".text", Bytes(256, 0xc3), 0x60000020)
      .section(".sbat", text_bytes(kAppSbat))
      .section(".linux", std::move(kernel))
      .build();
}

}  // namespace efikexec::testing
