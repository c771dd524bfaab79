// SPDX-License-Identifier: MIT
// The load pipeline: verify, then one of two handoffs (docs/architecture.md). The trampoline:
// run the image to ExitBootServices() in the sandbox, plan the kexec segments, and (only if all
// of that succeeded) call kexec_load once. The payload, for kernels in lockdown: run nothing,
// check the signed payload, build its bundle and command line (payload.hpp), and call
// kexec_file_load once.
#pragma once

#include <optional>
#include <string>

#include "kexec/esp/esp_volume.hpp"
#include "kexec/run/efi_run.hpp"
#include "kexec/handoff/kexec_plan.hpp"
#include "kexec/load/kexec_syscalls.hpp"
#include "kexec/load/payload.hpp"
#include "kexec/machine/lockdown.hpp"
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
  bool serial_mark = false;  // the trampoline's line on COM1 at entry (benchmarks)
  Handoff handoff = Handoff::kAuto;
  std::string payload_path;  // empty: default_payload_path()
  std::string system_root;   // where the lockdown mode is read (machine/lockdown.hpp); "" this system
  // The ESP whose add-ons, credentials and extensions the image is offered (esp/esp_volume.hpp);
  // none: the boot volume holds only the image.
  std::optional<std::string> esp_directory;
  // Load a crash kernel (`load -p`, docs/kdump.md): the image runs inside the crashkernel=
  // reservation, `append` is added to the command line it leaves in boot_params (with
  // elfcorehdr=), and `initrd_path` replaces a UKI's own initrd.
  bool crash = false;
};

// Wall time of each step of prepare_kexec, in seconds (`efikexec load --timings`).
struct LoadTimings {
  double read = 0;    // read the image once and parse it
  double verify = 0;  // trust policy, Authenticode hash and signatures, SBAT
  double setup = 0;   // load options, machine, initrd, trampoline
  double run = 0;     // the sandboxed child, fork to report (the image's share: seconds_in_image)
  double plan = 0;    // trampoline and page tables written, segments planned
};

// What the payload handoff hands to kexec_file_load.
struct PayloadLoad {
  PayloadImage payload;
  Bundle bundle;
  std::string command_line;
};

// What prepare_kexec produced, as far as it got (the console of a failed run is in `run`).
struct LoadResult {
  LockdownMode lockdown = LockdownMode::kNone;
  Handoff handoff = Handoff::kTrampoline;  // the path taken (never kAuto once decided)
  std::optional<PayloadLoad> payload;      // on the payload path
  std::optional<VerifiedImage> image;
  Machine machine;
  std::optional<std::string> load_options;  // what the image got as LoadOptions
  FileBytes initrd;
  std::optional<EspSnapshot> esp;  // what the ESP offered the image, with verdicts
  RunOutcome run;
  KexecPlan plan;
  LoadTimings timings;
};

// Everything up to the plan (or the payload's bundle); no kexec system call. The error names the
// stage that stopped. Under lockdown without a payload it stops before anything is read or run.
HostStatus prepare_kexec(const LoadRequest& request, LoadResult& result);
// The one kexec_load of a prepared plan, or the one kexec_file_load of the payload. On failure
// the kernel keeps what was loaded before.
HostStatus commit_kexec(LoadResult& result, KexecSyscalls& syscalls);

// The path `requested` takes on the kernel whose lockdown mode is read under `system_root`.
// A crash kernel goes through kexec_load only: under lockdown that is an error naming why.
struct HandoffDecision {
  LockdownMode lockdown = LockdownMode::kNone;
  Handoff handoff = Handoff::kTrampoline;
};
HostResult<HandoffDecision> decide_handoff(Handoff requested, const std::string& system_root);

// Unloads through the call the path's kernel accepts: kexec_file_load(KEXEC_FILE_UNLOAD) on
// the payload path (a kernel in lockdown refuses kexec_load), kexec_load otherwise.
HostStatus unload_kexec(Handoff handoff, KexecSyscalls& syscalls,
                        KexecSlot slot = KexecSlot::kNormal);

// What a load would do or did, as JSON: the trampoline's plan (handoff/kexec_plan.hpp) or the
// payload's call, with "handoff" and "lockdown" (`load --dry-run`, efikexec_plan).
nlohmann::json load_json(const LoadResult& result);

// This kernel's command line without what belonged to its own boot (initrd=, BOOT_IMAGE=).
std::string reusable_command_line(const std::string& proc_cmdline);

}  // namespace efikexec::kexec
