// SPDX-License-Identifier: MIT
// Each subcommand registers its options and the function that runs it.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "kexec/common/host_error.hpp"
#include "kexec/esp/boot_entries.hpp"
#include "kexec/load/loader.hpp"
#include "kexec/verify/trust_policy.hpp"

namespace efikexec::kexec {

struct CommandLine {
  std::function<int()> run;  // set by the subcommand the user chose
};

void register_commands(CLI::App& app, CommandLine& command);
int run_command(const CommandLine& command);

// One per command file.
void register_inspect_command(CLI::App& app, CommandLine& command);
void register_list_command(CLI::App& app, CommandLine& command);
void register_run_efi_command(CLI::App& app, CommandLine& command);
void register_load_commands(CLI::App& app, CommandLine& command);
void register_verify_command(CLI::App& app, CommandLine& command);

// Prints "efikexec: MESSAGE" on stderr and returns the error's exit status (api/status.hpp).
int report_failure(const HostError& error);

// --esp and --xbootldr, for `list` and `load --entry/--default`.
void add_esp_options(CLI::App& sub, EspOptions& esp);

// `load --entry ID` / `load --default`: the boot entry of the ESP the request names, as its image
// path and profile. The request's own IMAGE when neither is given. Returns an exit status.
struct BootEntryRequest {
  std::optional<std::string> entry;
  bool use_default = false;
  EspOptions esp;
};
int choose_boot_entry(const BootEntryRequest& choice, LoadRequest& request, std::ostream& log);

// --db, --dbx, --sbat-level, --efivars and --no-verify, for every command that verifies.
void add_trust_options(CLI::App& sub, TrustOptions& trust);

}  // namespace efikexec::kexec
