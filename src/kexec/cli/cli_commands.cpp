// SPDX-License-Identifier: MIT
#include "kexec/cli/cli_commands.hpp"

#include <iostream>

#include "kexec/api/status.hpp"

namespace efikexec::kexec {

void register_commands(CLI::App& app, CommandLine& command) {
  register_inspect_command(app, command);
  register_list_command(app, command);
  register_verify_command(app, command);
  register_run_efi_command(app, command);
  register_load_commands(app, command);
}

int report_failure(const HostError& error) {
  std::cerr << "efikexec: " << error.message() << "\n";
  return efikexec_status_exit_code(status_for(error));
}

int run_command(const CommandLine& command) {
  return command.run ? command.run() : kExitBadInput;
}

}  // namespace efikexec::kexec
