// SPDX-License-Identifier: MIT
// A run of an image in the shim, for people and as JSON (run-efi, and load's dry-run plan).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "kexec/run/efi_run.hpp"

namespace efikexec::kexec {

nlohmann::json run_outcome_json(const RunOutcome& outcome);
// Console output, then (with --trace) the calls, the handoff facts, and a last line
// "ended: <how> (<message>)".
std::string render_run_outcome(const RunOutcome& outcome);
// One line per variable the image set: "efikexec: the image set NAME (GUID): VALUE", the value
// as text, or its first bytes in hex; empty when it set none.
std::string render_variables_set(const RunOutcome& outcome);

}  // namespace efikexec::kexec
