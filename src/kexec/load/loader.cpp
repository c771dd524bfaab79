// SPDX-License-Identifier: MIT
#include "kexec/load/loader.hpp"

#include <sys/mman.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "kexec/inspect/inspect.hpp"
#include "kexec/common/report.hpp"
#include "uki/uki.hpp"

namespace efikexec::kexec {

namespace {

bool read_proc_cmdline(std::string& out, std::string& error) {
  std::ifstream in("/proc/cmdline");
  if (!std::getline(in, out)) {
    error = "cannot read /proc/cmdline for --reuse-cmdline";
    return false;
  }
  out = reusable_command_line(out);
  return true;
}

// What the image gets as LoadOptions: systemd-stub takes them as the command line (when
// Secure Boot does not lock it to .cmdline) and reads a leading "@N" as the profile; an EFI-stub
// kernel takes them as its command line.
bool build_load_options(const LoadRequest& request, const uki::Uki& uki,
                        std::optional<std::string>& options, std::string& error) {
  std::optional<std::string> line = request.command_line;
  if (request.reuse_cmdline) {
    std::string reused;
    if (!read_proc_cmdline(reused, error)) return false;
    line = reused;
  }
  if (request.append) {
    std::string base;
    if (line) {
      base = *line;
    } else if (const pe::Section* own = uki.find(".cmdline", request.profile)) {
      base = section_text(uki.image().section_data(*own));
    }
    line = base.empty() ? *request.append : base + " " + *request.append;
  }
  if (request.profile) {
    if (const std::string problem = profile_problem(uki, *request.profile); !problem.empty()) {
      error = request.image_path + ": " + problem;
      return false;
    }
    // "@N" only for a UKI that has profiles (systemd-stub >= 257 reads it). A UKI without
    // .profile sections is its own profile 0, and stubs before 257 would take "@0" for the
    // kernel's command line.
    if (uki.profile_count() > 0) {
      const std::string selector = "@" + std::to_string(*request.profile);
      line = line ? selector + " " + *line : selector;
    }
  }
  options = line;
  return true;
}

}  // namespace

std::string reusable_command_line(const std::string& proc_cmdline) {
  std::istringstream words(proc_cmdline);
  std::string word, out;
  while (words >> word) {
    if (word.rfind("initrd=", 0) == 0 || word.rfind("BOOT_IMAGE=", 0) == 0) continue;
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

int prepare_kexec(const LoadRequest& request, LoadResult& result) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point mark = Clock::now();
  auto lap = [&mark] {
    const Clock::time_point now = Clock::now();
    return std::chrono::duration<double>(now - std::exchange(mark, now)).count();
  };
  // Verify before execute: nothing of the image runs unless the policy accepted it. Read and
  // verify are two steps so that their times can be told apart.
  TrustOptions read_only = request.trust;
  read_only.no_verify = true;
  if (int status = open_verified_image(request.image_path, read_only, result.image, result.error);
      status != kExitOk)
    return status;
  result.timings.read = lap();
  if (!request.trust.no_verify) {
    if (int status = verify_opened_image(request.trust, result.image, result.error);
        status != kExitOk)
      return status;
  }
  result.timings.verify = lap();
  const uki::Uki uki = uki::Uki::from_image(*result.image.image);
  if (!result.image.image->is_x86_64()) {
    result.error = request.image_path + ": not an x86_64 image";
    return kExitBadInput;
  }
  if (!request.initrd_path.empty() && uki.kind() == uki::ImageKind::kUki &&
      uki.find(".initrd", request.profile) != nullptr) {
    result.error = request.image_path + ": the UKI carries its own initrd; --initrd is for "
                   "EFI-stub kernels and UKIs without one";
    return kExitBadInput;
  }
  if (!build_load_options(request, uki, result.load_options, result.error)) return kExitBadInput;
  if (!resolve_machine(request.machine_spec, result.machine, result.error)) return kExitBadInput;
  if (!request.initrd_path.empty() &&
      !FileBytes::read(request.initrd_path, result.initrd, result.error))
    return kExitBadInput;
  Trampoline trampoline;
  if (!trampoline.load(result.error)) return kExitRefused;
  const HandoffLayout layout = handoff_layout(result.machine, trampoline);

  RunRequest run;
  run.image = result.image.bytes.view();
  run.image_name = request.image_path.substr(request.image_path.find_last_of('/') + 1);
  run.label = uki.kind() == uki::ImageKind::kUki ? "sdstub" : nullptr;
  run.load_options = result.load_options;
  if (!request.initrd_path.empty()) run.initrd = result.initrd.view();
  run.machine = &result.machine;
  run.trace = request.trace;
  run.echo_console = request.echo_console;
  run.timeout_seconds = request.timeout_seconds;
  run.handoff_code_pages = layout.code_pages;
  run.handoff_data_pages = layout.data_pages;
  result.timings.setup = lap();
  const bool started = run_efi_image(run, result.run, result.error);
  result.timings.run = lap();
  if (!started) return kExitRefused;
  if (result.run.end != RunEnd::kExitBootServices) {
    result.error = request.image_path + ": the image did not reach ExitBootServices(): " +
                   result.run.message;
    return kExitRefused;
  }
  const bool planned =
      plan_kexec(result.machine, trampoline, layout, result.run, result.plan, result.error);
  result.timings.plan = lap();
  return planned ? kExitOk : kExitRefused;
}

int commit_kexec(LoadResult& result, KexecSyscalls& syscalls) {
  // The run's memory, read straight from its memory file: no copy before the kernel's own.
  std::vector<KexecSegment> segments;
  std::vector<std::pair<void*, std::size_t>> mappings;
  bool mapped = true;
  for (const PlannedSegment& segment : result.plan.segments) {
    void* buffer = nullptr;
    if (segment.bufsz != 0) {
      buffer = mmap(nullptr, segment.bufsz, PROT_READ, MAP_SHARED, result.run.memory->fd(),
                    static_cast<off_t>(segment.destination));
      if (buffer == MAP_FAILED) {
        mapped = false;
        break;
      }
      mappings.emplace_back(buffer, segment.bufsz);
    }
    segments.push_back({buffer, segment.bufsz, segment.destination, segment.memsz});
  }
  bool loaded = mapped && syscalls.load(result.plan.entry, segments, result.error);
  if (!mapped) result.error = "cannot map the run's memory for kexec_load";
  for (auto [address, size] : mappings) munmap(address, size);
  return loaded ? kExitOk : kExitRefused;
}

}  // namespace efikexec::kexec
