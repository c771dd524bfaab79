// SPDX-License-Identifier: MIT
// What an image gets as LoadOptions for a boot request (`--command-line`, `--append`,
// `--profile`), built the same way wherever the image runs (the confined run, the payload):
// systemd-stub takes LoadOptions as the command line (when Secure Boot does not lock it to
// .cmdline) and reads a leading "@N" as the profile; an EFI-stub kernel takes them as its
// command line.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "uki/uki.hpp"

namespace efikexec::uki {

struct CommandLineRequest {
  std::optional<std::string_view> command_line;  // replaces the image's own
  std::optional<std::string_view> append;        // appended to the replaced one, else to .cmdline
  std::optional<unsigned> profile;
};

// A section's text without the NULs, newlines and spaces tools leave at its end.
std::string_view section_text_view(ByteView bytes);

// Writes the LoadOptions text into `out` when it fits and returns its length (an empty `out`
// asks for the length only); nullopt when the request sets no LoadOptions (the image keeps its
// own command line). kNotFound when the profile does not exist.
Result<std::optional<std::size_t>> compose_load_options(const Uki& uki,
                                                        const CommandLineRequest& request,
                                                        std::span<char> out);

}  // namespace efikexec::uki
