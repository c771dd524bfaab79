// SPDX-License-Identifier: MIT
// The load pipeline: verify, run the image to ExitBootServices() in the sandbox, plan the kexec
// segments, and (only if all of that succeeded) call kexec_load once.
#pragma once

#include <optional>
#include <string>

#include "kexec/run/efi_run.hpp"
#include "kexec/handoff/kexec_plan.hpp"
#include "kexec/load/kexec_syscalls.hpp"
#include "kexec/machine/machine.hpp"
#include "kexec/verify/verified_image.hpp"

namespace efikexec::kexec {

struct LoadRequest {
  std::string image_path;
  TrustOptions trust;
  std::optional<std::string> command_line;  // replaces the command line
  std::optional<std::string> append;        // appended to the image's own (or the reused) one
  bool reuse_cmdline = false;               // start from this kernel's /proc/cmdline
  std::string initrd_path;
  std::string machine_spec;                 // see resolve_machine(); empty: this machine
  std::optional<unsigned> profile;          // UKI profile (systemd-stub reads "@N")
  unsigned timeout_seconds = 30;
  bool trace = false;
  bool echo_console = false;
};

// Wall time of each step of prepare_kexec, in seconds (`efikexec load --timings`).
struct LoadTimings {
  double read = 0;    // read the image once and parse it
  double verify = 0;  // trust policy, Authenticode hash and signatures, SBAT
  double setup = 0;   // load options, machine, initrd, trampoline
  double run = 0;     // the sandboxed child, fork to report (the image's share: seconds_in_image)
  double plan = 0;    // trampoline and page tables written, segments planned
};

// What prepare_kexec produced, as far as it got (the console of a failed run is in `run`).
struct LoadResult {
  std::optional<VerifiedImage> image;
  Machine machine;
  std::optional<std::string> load_options;  // what the image got as LoadOptions
  FileBytes initrd;
  RunOutcome run;
  KexecPlan plan;
  LoadTimings timings;
};

// Everything up to the plan; no kexec system call. The error names the stage that stopped.
HostStatus prepare_kexec(const LoadRequest& request, LoadResult& result);
// The one kexec_load of a prepared plan.
HostStatus commit_kexec(LoadResult& result, KexecSyscalls& syscalls);

// This kernel's command line without what belonged to its own boot (initrd=, BOOT_IMAGE=).
std::string reusable_command_line(const std::string& proc_cmdline);

}  // namespace efikexec::kexec
