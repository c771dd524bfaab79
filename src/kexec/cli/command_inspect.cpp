// SPDX-License-Identifier: MIT
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kexec/cli/cli_commands.hpp"
#include "kexec/inspect/inspect.hpp"
#include "kexec/api/status.hpp"
#include "kexec/image/opened_image.hpp"

namespace efikexec::kexec {

namespace {

struct InspectArguments {
  std::string path;
  bool json = false;
  std::optional<unsigned> profile;
  std::vector<std::string> extracts;  // SECTION=OUT
};

int extract_sections(const InspectArguments& args, const uki::Uki& uki) {
  for (const std::string& request : args.extracts) {
    const std::size_t equals = request.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == request.size()) {
      std::cerr << "efikexec: --extract wants SECTION=OUT, got '" << request << "'\n";
      return kExitBadInput;
    }
    const std::string name = request.substr(0, equals);
    const std::string out = request.substr(equals + 1);
    const pe::Section* section = uki.find(name, args.profile);
    if (section == nullptr) {
      std::cerr << "efikexec: " << args.path << ": no section '" << name << "'\n";
      return kExitBadInput;
    }
    if (auto written = write_file_atomically(out, uki.image().section_data(*section), args.path);
        !written)
      return report_failure(written.error());
  }
  return kExitOk;
}

int run_inspect(const InspectArguments& args) {
  auto opened = open_image(args.path);
  if (!opened) return report_failure(opened.error());
  const uki::Uki uki = uki::Uki::from_image(opened->image);
  if (args.profile) {
    if (const std::string problem = profile_problem(uki, *args.profile); !problem.empty()) {
      std::cerr << "efikexec: " << args.path << ": " << problem << "\n";
      return kExitBadInput;
    }
  }
  if (int status = extract_sections(args, uki); status != kExitOk) return status;
  const nlohmann::json report = inspect_image(args.path, uki, {args.profile});
  if (args.json)
    std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  else
    std::cout << render_inspect_text(report);
  return kExitOk;
}

}  // namespace

void register_inspect_command(CLI::App& app, CommandLine& command) {
  auto args = std::make_shared<InspectArguments>();
  CLI::App* sub = app.add_subcommand("inspect", "Show what an EFI image or UKI is");
  sub->add_option("FILE", args->path, "EFI image, EFI-stub kernel or UKI")->required();
  sub->add_flag("--json", args->json, "Print a stable JSON document");
  sub->add_option("--profile", args->profile, "Show the UKI as profile N sees it");
  sub->add_option("--extract", args->extracts, "Write section SECTION to file OUT")
      ->type_name("SECTION=OUT")
      ->allow_extra_args(false);
  sub->callback([&command, args] { command.run = [args] { return run_inspect(*args); }; });
}

}  // namespace efikexec::kexec
