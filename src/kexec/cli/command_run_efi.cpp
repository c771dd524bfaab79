// SPDX-License-Identifier: MIT
// `efikexec run-efi IMAGE`: runs any EFI image in the shim on this machine (no kexec) and tells
// how it ended: its status, Exit(), or ExitBootServices() with the captured context and what the
// Linux stub left in boot_params.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kexec/cli/cli_commands.hpp"
#include "kexec/esp/esp_volume.hpp"
#include "kexec/run/efi_run.hpp"
#include "kexec/api/status.hpp"
#include "kexec/run/run_report.hpp"
#include "kexec/verify/verified_image.hpp"
#include "uki/uki.hpp"

namespace efikexec::kexec {

namespace {

struct RunEfiArguments {
  std::string path;
  std::optional<std::string> cmdline;
  std::string initrd;
  std::string image_path;
  std::vector<std::string> boot_files;  // NAME=FILE
  std::string esp;                      // --esp DIR
  std::string machine;
  bool trace = false;
  bool echo = false;
  bool json = false;
  unsigned timeout = 30;
  TrustOptions trust;
};

int run_efi(const RunEfiArguments& args) {
  auto image = open_verified_image(args.path, args.trust);
  if (!image) return report_failure(image.error());
  auto machine = resolve_machine(args.machine);
  if (!machine) return report_failure(machine.error());
  FileBytes initrd;
  if (!args.initrd.empty()) {
    auto read = FileBytes::read(args.initrd);
    if (!read) return report_failure(read.error());
    initrd = std::move(*read);
  }
  std::vector<FileBytes> boot_file_bytes(args.boot_files.size());
  std::vector<RunRequest::BootFile> boot_files;
  for (std::size_t i = 0; i < args.boot_files.size(); ++i) {
    const std::string& spec = args.boot_files[i];
    const std::size_t equals = spec.find('=');
    if (equals == 0 || equals == std::string::npos || equals + 1 == spec.size()) {
      std::cerr << "efikexec: --boot-file takes NAME=FILE, not '" << spec << "'\n";
      return kExitBadInput;
    }
    auto read = FileBytes::read(spec.substr(equals + 1));
    if (!read) return report_failure(read.error());
    boot_file_bytes[i] = std::move(*read);
    boot_files.push_back({spec.substr(0, equals), boot_file_bytes[i].view()});
  }

  RunRequest request;
  request.image = image->opened.bytes.view();
  request.image_name = args.path.substr(args.path.find_last_of('/') + 1);
  request.image_path = args.image_path;
  std::optional<EspSnapshot> esp;
  if (!args.esp.empty()) {
    // The image's path on the ESP: where it lies in it, else --image-path or \EFI\Linux\NAME.
    if (request.image_path.empty())
      request.image_path = path_inside_esp(args.esp, args.path)
                               .value_or("\\EFI\\Linux\\" + request.image_name);
    auto snapshot = read_offered_esp(args.esp, request.image_path, args.trust);
    if (!snapshot) return report_failure(snapshot.error());
    esp = std::move(*snapshot);
    add_esp_files(*esp, boot_files);
  }
  request.boot_files = boot_files;
  request.label =
      uki::Uki::from_image(image->opened.image).kind() == uki::ImageKind::kUki ? "sdstub" : nullptr;
  request.load_options = args.cmdline;
  if (!args.initrd.empty()) request.initrd = initrd.view();
  request.machine = &*machine;
  request.trace = args.trace;
  request.echo_console = args.echo;
  request.timeout_seconds = args.timeout;
  RunOutcome outcome;
  if (auto started = run_efi_image(request, outcome); !started)
    return report_failure(started.error());
  if (args.json) {
    nlohmann::json document = run_outcome_json(outcome);
    if (esp) document["esp"] = esp_snapshot_json(*esp);
    std::cout << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    if (esp) std::cout << render_esp_snapshot(*esp);
    std::cout << render_run_outcome(outcome);
  }
  const bool clean = outcome.end == RunEnd::kExitBootServices ||
                     ((outcome.end == RunEnd::kReturned || outcome.end == RunEnd::kExited) &&
                      outcome.status == 0);
  return clean ? kExitOk : kExitRefused;
}

}  // namespace

void register_run_efi_command(CLI::App& app, CommandLine& command) {
  auto args = std::make_shared<RunEfiArguments>();
  CLI::App* sub = app.add_subcommand(
      "run-efi", "Run an EFI image in the shim on this machine (no kexec) and show how it ended");
  sub->add_option("IMAGE", args->path, "EFI image, EFI-stub kernel or UKI")->required();
  sub->add_option("--cmdline", args->cmdline, "LoadOptions for the image (the kernel command line)");
  sub->add_option("--initrd", args->initrd, "Serve FILE as the initrd (LoadFile2)");
  sub->add_option("--image-path", args->image_path,
                  "The image's path on the shim's boot volume (default \\EFI\\Linux\\NAME)");
  sub->add_option("--boot-file", args->boot_files,
                  "Put FILE on the shim's boot volume as NAME (NAME=FILE; repeatable), e.g. for "
                  "a kernel's initrd=")
      ->allow_extra_args(false);
  sub->add_option("--esp", args->esp,
                  "Serve the add-ons, credentials and extensions of this ESP directory that "
                  "systemd-stub reads (read and verified before the image runs)")
      ->type_name("DIR");
  sub->add_option("--machine", args->machine,
                  "Machine description: a JSON file, or q35[:MIB] for a described QEMU guest "
                  "(default: this machine)");
  sub->add_flag("--trace", args->trace, "Log every service call with arguments and status");
  sub->add_flag("--echo", args->echo, "Copy the image's console output to stderr as it comes");
  sub->add_flag("--json", args->json, "Print a JSON document");
  sub->add_option("--timeout", args->timeout, "Seconds the image may run (default 30)")
      ->check(CLI::Range(1, 3600));
  add_trust_options(*sub, args->trust);
  sub->callback([&command, args] { command.run = [args] { return run_efi(*args); }; });
}

}  // namespace efikexec::kexec
