// SPDX-License-Identifier: MIT
// `efikexec inspect`: what an EFI image is, as one JSON document that the human output renders.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "uki/uki.hpp"

namespace efikexec::kexec {

struct InspectOptions {
  std::optional<unsigned> profile;  // view the UKI as this profile sees it
};

// The report of a parsed image (see docs/cli.md for the schema).
nlohmann::json inspect_image(const std::string& path, const uki::Uki& uki,
                             const InspectOptions& options);

// Renders a report made by inspect_image for people.
std::string render_inspect_text(const nlohmann::json& report);

// Section text as UKIs store it: trailing NULs and whitespace dropped.
std::string section_text(ByteView bytes);

// Why --profile N cannot be used with this image ("" when it can): N beyond the UKI's profiles
// (naming the ones it has), or an image that is no UKI at all.
std::string profile_problem(const uki::Uki& uki, unsigned profile);

}  // namespace efikexec::kexec
