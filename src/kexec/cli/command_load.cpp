// SPDX-License-Identifier: MIT
// `efikexec load`, `exec` and `unload` (kexec-tools aliases -l, -e, -u).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "kexec/cli/cli_commands.hpp"
#include "kexec/load/loader.hpp"
#include "kexec/api/status.hpp"
#include "kexec/common/hex.hpp"
#include "kexec/run/run_report.hpp"

namespace efikexec::kexec {

namespace {

struct LoadArguments {
  LoadRequest request;
  std::optional<std::string> dry_run;  // "" : plan on stdout; else a file
  bool json = false;
  bool verbose = false;
  bool timings = false;
  BootEntryRequest boot_entry;  // --entry / --default instead of IMAGE
};

std::string mib(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

void print_verdict(const LoadResult& result) {
  const VerifiedImage& image = *result.image;
  const std::string& path = image.opened.path;
  if (image.verified)
    std::cout << "efikexec: verified " << path << ": " << image.verdict.reason << "\n";
  else
    std::cout << "efikexec: " << path << ": NOT verified (--no-verify)\n";
}

// The payload path: what kexec_file_load gets (nothing of the image ran).
void print_payload_transcript(const LoadResult& result) {
  const PayloadLoad& p = *result.payload;
  std::cout << "efikexec: handoff: payload (kexec_file_load), lockdown "
            << lockdown_mode_name(result.lockdown) << "; the image was not run here\n";
  print_verdict(result);
  std::cout << "efikexec: payload " << p.payload.path << " (" << p.payload.size << " bytes)\n"
            << "efikexec: bundle " << p.bundle.size << " bytes: UKI " << p.bundle.uki_size
            << " bytes at 0";
  if (p.bundle.initrd_size != 0)
    std::cout << ", initrd " << p.bundle.initrd_size << " bytes at " << p.bundle.initrd_offset;
  if (p.bundle.esp_size != 0)
    std::cout << ", ESP archive " << p.bundle.esp_size << " bytes at " << p.bundle.esp_offset;
  std::cout << "\n"
            << "efikexec: payload command line: " << p.command_line << "\n";
  // The payload verifies every add-on again after kexec: its verdict is the one that counts.
  if (result.esp) std::cout << render_esp_snapshot(*result.esp);
}

void print_transcript(const LoadResult& result) {
  if (result.payload) return print_payload_transcript(result);
  std::cout << "efikexec: handoff: trampoline (kexec_load), lockdown "
            << lockdown_mode_name(result.lockdown) << "\n";
  print_verdict(result);
  const RunOutcome& run = result.run;
  std::cout << "efikexec: ran the image to ExitBootServices() in "
            << static_cast<int>(run.seconds_in_image * 1000) << " ms";
  if (result.load_options) std::cout << " with LoadOptions \"" << *result.load_options << "\"";
  std::cout << "\n";
  for (const std::string& step : run.confinement_skipped)
    std::cout << "efikexec: confinement step skipped (not allowed on this machine): " << step
              << "\n";
  if (result.esp) std::cout << render_esp_snapshot(*result.esp);
  std::cout << render_variables_set(run);
  if (run.boot_params) {
    std::cout << "efikexec: the kernel's command line: " << run.boot_params->command_line << "\n"
              << "efikexec: its initrd: " << run.boot_params->initrd_size << " bytes at "
              << hex_u64(run.boot_params->initrd_address) << "\n";
  }
  std::cout << "efikexec: handoff: resumes " << hex_u64(run.context.rip) << " with stack "
            << hex_u64(run.context.rsp) << "; trampoline " << hex_u64(result.plan.trampoline)
            << ", page tables " << hex_u64(result.plan.page_tables) << "\n";
  std::cout << "efikexec: " << result.plan.segments.size() << " segments, "
            << mib(result.plan.memsz_total) << " (" << mib(result.plan.bufsz_total)
            << " of data), entry " << hex_u64(result.plan.entry) << "\n";
  for (const PlannedSegment& segment : result.plan.segments)
    std::cout << "  " << hex_u64(segment.destination) << " " << mib(segment.memsz) << " ("
              << mib(segment.bufsz) << " data) " << segment.contents << "\n";
  if (!result.plan.zero_ranges.empty()) {
    std::cout << "efikexec: zeros in no segment, cleared by the trampoline at "
              << (result.plan.crash ? "the crash: " : "exec: ") << mib(result.plan.zero_bytes)
              << "\n";
    for (const PhysicalSpan& range : result.plan.zero_ranges)
      std::cout << "  " << hex_u64(range.start) << " " << mib(range.size()) << "\n";
  }
  if (!result.plan.left_out.empty()) {
    std::cout << "efikexec: left out, no longer reached after ExitBootServices(): "
              << mib(result.plan.left_out_bytes) << "\n";
    for (const LeftOutSpan& section : result.plan.left_out)
      std::cout << "  " << hex_u64(section.start) << " " << mib(section.end - section.start) << " "
                << section.name << "\n";
  }
  std::cout << "efikexec: " << result.plan.runtime.description << "\n";
  if (const auto& crash = result.plan.crash) {
    std::cout << "efikexec: crash kernel in the " << mib(crash->reservation.size())
              << " reservation at " << hex_u64(crash->reservation.start) << "; core headers ("
              << crash->elfcorehdr_size << " bytes) at " << hex_u64(crash->elfcorehdr)
              << ", the first 640 KiB backed up at " << hex_u64(crash->backup.start)
              << " at the crash\n"
              << "efikexec: the crash kernel's command line: " << crash->command_line << "\n";
    if (crash->initrd)
      std::cout << "efikexec: the crash kernel's initrd (--initrd, in place of the image's): "
                << crash->initrd->size() << " bytes at " << hex_u64(crash->initrd->start) << "\n";
  }
}

// One line on stderr for --timings (bench/load-bench.sh reads it): each step's wall time, the
// image's own time inside the run, and the peak RSS of this process and of the sandboxed child.
void print_timings(const LoadResult& result, double commit, double total) {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  const LoadTimings& t = result.timings;
  std::fprintf(stderr,
               "efikexec: timings: read_ms=%.1f verify_ms=%.1f setup_ms=%.1f run_ms=%.1f "
               "image_ms=%.1f plan_ms=%.1f commit_ms=%.1f total_ms=%.1f peak_rss_kib=%ld "
               "child_peak_rss_kib=%ld\n",
               t.read * 1e3, t.verify * 1e3, t.setup * 1e3, t.run * 1e3,
               result.run.seconds_in_image * 1e3, t.plan * 1e3, commit * 1e3, total * 1e3,
               self.ru_maxrss, children.ru_maxrss);
}

int load_and_report(const LoadArguments& args, LoadResult& result, const HostStatus& prepared);

int run_load(const LoadArguments& args) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  LoadRequest request = args.request;
  if (int status = choose_boot_entry(args.boot_entry, request, args.json ? std::cerr : std::cout);
      status != kExitOk)
    return status;
  LoadResult result;
  const HostStatus prepared = prepare_kexec(request, result);
  const Clock::time_point prepared_at = Clock::now();
  const int status = load_and_report(args, result, prepared);
  if (args.timings) {
    const Clock::time_point end = Clock::now();
    print_timings(result, std::chrono::duration<double>(end - prepared_at).count(),
                  std::chrono::duration<double>(end - start).count());
  }
  return status;
}

// After prepare_kexec (`prepared`): why it stopped, or the transcript and then the plan (dry
// run) or the one kexec_load.
int load_and_report(const LoadArguments& args, LoadResult& result, const HostStatus& prepared) {
  if (args.verbose && !result.run.console.empty()) std::cerr << result.run.console;
  if (args.verbose)
    for (const std::string& line : result.run.trace) std::cerr << line << "\n";
  if (!prepared) {
    const int status = report_failure(prepared.error());
    if (!result.run.console.empty() && !args.verbose)
      std::cerr << "efikexec: the image's last console output:\n" << result.run.console
                << (result.run.console.back() == '\n' ? "" : "\n");
    std::cerr << "efikexec: nothing was loaded\n";
    return status;
  }
  if (!args.json) print_transcript(result);
  if (args.dry_run) {
    const std::string plan =
        load_json(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    if (args.dry_run->empty() || *args.dry_run == "-") {
      std::cout << plan << "\n";
    } else {
      std::ofstream out(*args.dry_run);
      out << plan << "\n";
      if (!out) return report_failure({Stage::kWrite, "cannot write the plan", *args.dry_run});
      if (!args.json) std::cout << "efikexec: dry run: plan written to " << *args.dry_run << "\n";
    }
    return kExitOk;
  }
  auto syscalls = linux_kexec_syscalls();
  if (auto committed = commit_kexec(result, *syscalls); !committed) {
    const int status = report_failure(committed.error());
    std::cerr << "efikexec: nothing was loaded; a previously loaded image stays in place\n";
    return status;
  }
  if (args.json)
    std::cout << load_json(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  else
    std::cout << (result.plan.crash ? "efikexec: loaded as the crash kernel: a panic boots it\n"
                                    : "efikexec: loaded: 'efikexec exec' boots it\n");
  return kExitOk;
}

int run_exec() { return report_failure(linux_kexec_syscalls()->execute()); }

int run_unload(Handoff requested, KexecSlot slot) {
  auto decision = decide_handoff(requested, {});
  if (!decision) return report_failure(decision.error());
  if (auto unloaded = unload_kexec(decision->handoff, *linux_kexec_syscalls(), slot); !unloaded)
    return report_failure(unloaded.error());
  return kExitOk;
}

// --handoff for load and unload.
void add_handoff_option(CLI::App& sub, Handoff& handoff) {
  static const std::map<std::string, Handoff> kNames = {{"auto", Handoff::kAuto},
                                                        {"trampoline", Handoff::kTrampoline},
                                                        {"payload", Handoff::kPayload}};
  sub.add_option("--handoff", handoff,
                 "auto (default: payload when the kernel is in lockdown, else trampoline), "
                 "trampoline (kexec_load) or payload (kexec_file_load of the signed payload)")
      ->transform(CLI::CheckedTransformer(kNames, CLI::ignore_case).description(""))
      ->option_text("auto|trampoline|payload");
}

}  // namespace

void register_load_commands(CLI::App& app, CommandLine& command) {
  auto args = std::make_shared<LoadArguments>();
  CLI::App* load = app.add_subcommand(
      "load", "Verify an EFI image or UKI, run it to ExitBootServices() and load it for kexec "
              "(alias -l)");
  LoadRequest& r = args->request;
  auto* image = load->add_option("IMAGE", r.image_path, "Signed UKI or EFI-stub kernel");
  auto* entry = load->add_option("--entry", args->boot_entry.entry,
                                 "Load the ESP's boot entry ID[@PROFILE] (a glob; see list)")
                    ->excludes(image);
  load->add_flag("--default", args->boot_entry.use_default,
                 "Load the boot entry systemd-boot would boot by default (see list)")
      ->excludes(image)
      ->excludes(entry);
  add_esp_options(*load, args->boot_entry.esp);
  auto* line = load->add_option("--command-line", r.command_line,
                                "Use S as the command line (LoadOptions)");
  load->add_option("--append", r.append,
                   "Append S to the image's own command line (or the reused one)");
  load->add_flag("--reuse-cmdline", r.reuse_cmdline,
                 "Start from this kernel's command line (/proc/cmdline)")
      ->excludes(line);
  load->add_option("--initrd", r.initrd_path,
                   "Serve FILE as the initrd (LoadFile2); with -p, a kdump initrd that replaces "
                   "a UKI's own");
  load->add_flag("-p,--load-panic", r.crash,
                 "Load the crash kernel, booted when this kernel panics (kdump): the image runs "
                 "inside the crashkernel= reservation; elfcorehdr= and --append reach its "
                 "command line (docs/kdump.md)");
  load->add_option("--profile", r.profile, "Boot profile N of a multi-profile UKI");
  load->add_option("--machine", r.machine_spec,
                   "Machine description for dry runs: a JSON file, or q35[:MIB]");
  load->add_option("--timeout", r.timeout_seconds, "Seconds the image may run (default 30)")
      ->check(CLI::Range(1, 3600));
  load->add_flag("--trace", r.trace, "Record every service call the image makes (see -v)");
  load->add_flag("-v,--verbose", args->verbose, "Show the image's console output and trace");
  load->add_option("--dry-run", args->dry_run,
                   "Plan only, no kexec system call: write the plan as JSON to PLAN (stdout "
                   "when PLAN is omitted or -)")
      ->expected(0, 1)
      ->type_name("PLAN");
  load->add_flag("--json", args->json,
                 "Print only JSON: the plan (--dry-run) or what was loaded, with the handoff");
  load->add_flag("--timings", args->timings,
                 "Print each step's wall time and the peak RSS on stderr (one line)");
  load->add_flag("--serial-mark", r.serial_mark,
                 "Benchmarks: the trampoline writes \"EFIKEXEC-TRAMPOLINE: entered\" on COM1 "
                 "when the old kernel jumps to it (trampoline handoff only)");
  add_handoff_option(*load, r.handoff);
  load->add_option("--payload", r.payload_path,
                   std::string("The signed payload for the payload handoff (default ") +
                       default_payload_path() + ")")
      ->type_name("FILE");
  add_trust_options(*load, r.trust);
  load->callback([&command, args] { command.run = [args] { return run_load(*args); }; });

  CLI::App* exec = app.add_subcommand("exec", "Boot the loaded image now (alias -e)");
  exec->callback([&command] { command.run = [] { return run_exec(); }; });
  CLI::App* unload = app.add_subcommand("unload", "Unload the loaded image (alias -u)");
  auto unload_handoff = std::make_shared<Handoff>(Handoff::kAuto);
  auto unload_crash = std::make_shared<bool>(false);
  add_handoff_option(*unload, *unload_handoff);
  unload->add_flag("-p,--load-panic", *unload_crash, "Unload the crash kernel instead");
  unload->callback([&command, unload_handoff, unload_crash] {
    command.run = [unload_handoff, unload_crash] {
      return run_unload(*unload_handoff, *unload_crash ? KexecSlot::kCrash : KexecSlot::kNormal);
    };
  });
}

}  // namespace efikexec::kexec
