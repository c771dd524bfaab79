// SPDX-License-Identifier: MIT
// The efikexec command line: one subcommand per job, kexec-tools style aliases for load/exec.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "kexec/cli/cli_commands.hpp"
#include "kexec/api/status.hpp"

int main(int argc, char** argv) {
  using namespace efikexec::kexec;
  // kexec-tools' spellings, for scripts written against it; `-p` is `load -p`.
  std::vector<char*> arguments(argv, argv + argc);
  if (argc > 1) {
    const std::string first = argv[1];
    if (first == "-l") arguments[1] = const_cast<char*>("load");
    if (first == "-e") arguments[1] = const_cast<char*>("exec");
    if (first == "-u") arguments[1] = const_cast<char*>("unload");
    if (first == "-p") arguments.insert(arguments.begin() + 1, const_cast<char*>("load"));
  }
  argc = static_cast<int>(arguments.size());
  argv = arguments.data();
  CLI::App app{"efikexec: load EFI images and Unified Kernel Images for kexec by running their "
               "own EFI code up to ExitBootServices()"};
  app.require_subcommand(1);
  app.set_version_flag("--version", EFIKEXEC_VERSION);

  CommandLine command;
  register_commands(app, command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  return run_command(command);
}
