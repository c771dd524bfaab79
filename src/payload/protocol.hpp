// SPDX-License-Identifier: MIT
// The payload protocol v1 (docs/payload.md): what user space hands the payload through
// kexec_file_load. The "initrd" is the BUNDLE (the UKI's bytes, zero padding to a multiple of
// 4096, then an extra initrd, zero padding to a multiple of 4096, then the ESP's files the stub
// reads as a newc cpio archive), the command line says how to cut it and how to run the UKI:
//
//   efikexec.uki_size=<U> [efikexec.initrd_size=<I>] [efikexec.profile=<N>]
//   [efikexec.cmdline=append|replace] [efikexec.esp_size=<E> efikexec.esp_image=<PATH>]
//   [ -- <command-line text, verbatim>]
//
// PATH is the UKI's path on the ESP, `/`-separated, printable ASCII without spaces.
//
// Nothing in it can change what is trusted: it only cuts the bundle and chooses how the
// already verified UKI runs. Untrusted text: every rule is checked, every refusal names it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "pe_loader/byte_view.hpp"

namespace efikexec::payload {

inline constexpr std::uint64_t kBundleAlignment = 4096;
inline constexpr std::size_t kMaxEspImagePath = 1024;  // FileVolume::kMaxPathChars

// What efikexec.esp_image= may hold (user space checks it too, before the kexec): printable
// ASCII without spaces, and `/` as the only separator.
constexpr bool esp_image_character(char c) { return c > ' ' && c <= '~' && c != '\\'; }

struct ProtocolRequest {
  std::uint64_t uki_size = 0;
  std::uint64_t initrd_size = 0;            // 0: no extra initrd
  std::optional<std::uint32_t> profile;
  bool replace_command_line = false;        // efikexec.cmdline=replace
  std::string_view command_line;            // after " -- ", verbatim; may be empty
  std::uint64_t esp_size = 0;               // 0: no ESP files
  std::string_view esp_image;               // the UKI's path on the ESP (with esp_size)
};

// Parses the protocol command line. The error's offset is the byte offset of the token at
// fault.
Result<ProtocolRequest> parse_protocol_command_line(std::string_view text);

struct Bundle {
  ByteView uki;
  ByteView extra_initrd;  // empty when initrd_size is 0
  ByteView esp_archive;   // empty when esp_size is 0
};

// Cuts the ramdisk the kernel placed into the UKI and the extra initrd; the sizes must fit it.
Result<Bundle> split_bundle(ByteView ramdisk, const ProtocolRequest& request);

}  // namespace efikexec::payload
