// SPDX-License-Identifier: MIT
// `efikexec list`: the UKIs of the ESP as systemd-boot would show them (Type #2 entries).
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "kexec/api/status.hpp"
#include "kexec/cli/cli_commands.hpp"
#include "kexec/esp/boot_entries.hpp"
#include "kexec/esp/esp_volume.hpp"

namespace efikexec::kexec {

namespace {

struct ListArguments {
  EspOptions esp;
  TrustOptions trust;  // --efivars also names where the loader variables are
  bool verify = false;
  bool json = false;
};

int run_list(const ListArguments& args) {
  EspOptions esp = args.esp;
  esp.efivars_directory = args.trust.efivars_directory;
  std::optional<TrustPolicy> policy;
  if (args.verify) {
    auto built = build_trust_policy(args.trust);
    if (!built) return report_failure(built.error());
    policy = std::move(*built);
    esp.verify = &*policy;
  }
  auto entries = read_boot_entries(esp);
  if (!entries) return report_failure(entries.error());
  if (args.json)
    std::cout << boot_entries_json(*entries).dump(2, ' ', false,
                                                  nlohmann::json::error_handler_t::replace)
              << "\n";
  else
    std::cout << render_boot_entries_text(*entries);
  return kExitOk;
}

}  // namespace

int choose_boot_entry(const BootEntryRequest& choice, LoadRequest& request, std::ostream& log) {
  if (!choice.entry && !choice.use_default) {
    if (request.image_path.empty())
      return report_failure({Stage::kRequest, "load needs IMAGE, --entry ID or --default"});
    // The ESP the image is offered: --esp, else the one bootctl would find when the image
    // lies on it; none otherwise.
    if (!choice.esp.esp.empty()) {
      request.esp_directory = choice.esp.esp;
    } else if (auto found = find_esp()) {
      if (path_inside_esp(found->esp, request.image_path)) request.esp_directory = found->esp;
    }
    return kExitOk;
  }
  EspOptions esp = choice.esp;
  esp.efivars_directory = request.trust.efivars_directory;
  auto entries = read_boot_entries(esp);
  if (!entries) return report_failure(entries.error());
  auto chosen = choice.entry ? choose_entry(*entries, *choice.entry) : choose_default(*entries);
  if (!chosen) return report_failure(chosen.error());
  const BootEntry& entry = *chosen->entry;
  // systemd-boot starts a profile N > 0 with "@N" as its options; profile 0 with none.
  const std::optional<unsigned> profile =
      entry.profile > 0 ? std::optional<unsigned>(entry.profile) : std::nullopt;
  if (request.profile && request.profile.value_or(0) != entry.profile)
    return report_failure({Stage::kRequest, "--profile " + std::to_string(*request.profile) +
                                                " contradicts boot entry " + entry.id +
                                                ", which is profile " +
                                                std::to_string(entry.profile)});
  request.image_path = entry.path;
  // systemd-stub reads the partition it was started from.
  request.esp_directory =
      entry.partition == "esp" ? entries->location.esp : entries->location.xbootldr;
  if (!request.profile) request.profile = profile;
  log << "efikexec: boot entry " << entry.id << " (" << chosen->why << "): " << entry.path
      << (entry.profile > 0 ? " profile " + std::to_string(entry.profile) : std::string()) << "\n";
  return kExitOk;
}

void add_esp_options(CLI::App& sub, EspOptions& esp) {
  sub.add_option("--esp", esp.esp,
                 "The ESP's directory (default: /efi, /boot or /boot/efi, found as bootctl does)")
      ->type_name("DIR");
  sub.add_option("--xbootldr", esp.xbootldr,
                 "An XBOOTLDR partition's directory whose EFI/Linux is read too")
      ->type_name("DIR");
}

void register_list_command(CLI::App& app, CommandLine& command) {
  auto args = std::make_shared<ListArguments>();
  CLI::App* sub = app.add_subcommand(
      "list", "List the UKIs in EFI/Linux of the ESP as systemd-boot orders them, and its default");
  add_esp_options(*sub, args->esp);
  add_trust_options(*sub, args->trust);
  sub->add_flag("--verify", args->verify,
                "Show each UKI's verdict under the trust options (as `verify` gives it)")
      ->excludes("--no-verify");
  sub->add_flag("--json", args->json, "Print a stable JSON document");
  sub->callback([&command, args] { command.run = [args] { return run_list(*args); }; });
}

}  // namespace efikexec::kexec
