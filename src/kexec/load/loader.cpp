// SPDX-License-Identifier: MIT
#include "kexec/load/loader.hpp"

#include <sys/mman.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "kexec/inspect/inspect.hpp"
#include "kexec/common/hex.hpp"
#include "uki/load_options.hpp"
#include "uki/uki.hpp"

namespace efikexec::kexec {

namespace {

HostResult<std::string> read_proc_cmdline() {
  std::ifstream in("/proc/cmdline");
  std::string line;
  if (!std::getline(in, line))
    return host_fail(Stage::kRequest, "cannot read this kernel's command line for --reuse-cmdline",
                     "/proc/cmdline");
  return reusable_command_line(line);
}

// What the image gets as LoadOptions (uki/load_options.hpp), with this kernel's command line
// when asked to reuse it.
HostResult<std::optional<std::string>> build_load_options(const LoadRequest& request,
                                                          const uki::Uki& uki) {
  std::optional<std::string> line = request.command_line;
  if (request.reuse_cmdline) {
    auto reused = read_proc_cmdline();
    if (!reused) return std::unexpected(std::move(reused.error()));
    line = std::move(*reused);
  }
  if (request.profile) {
    if (const std::string problem = profile_problem(uki, *request.profile); !problem.empty())
      return host_fail(Stage::kRequest, problem, request.image_path);
  }
  uki::CommandLineRequest wanted;
  if (line) wanted.command_line = *line;
  if (request.append) wanted.append = *request.append;
  wanted.profile = request.profile;
  auto length = uki::compose_load_options(uki, wanted, {});
  if (!length) return host_fail(Stage::kRequest, length.error().message, request.image_path);
  if (!*length) return std::optional<std::string>();
  std::string options(**length, '\0');
  (void)uki::compose_load_options(uki, wanted, options);
  return std::optional<std::string>(std::move(options));
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

HostStatus prepare_kexec(const LoadRequest& request, LoadResult& result) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point mark = Clock::now();
  auto lap = [&mark] {
    const Clock::time_point now = Clock::now();
    return std::chrono::duration<double>(now - std::exchange(mark, now)).count();
  };
  // Verify before execute: nothing of the image runs unless the policy accepted it. Read and
  // verify are two steps so that their times can be told apart.
  auto opened = open_image(request.image_path);
  if (!opened) return std::unexpected(std::move(opened.error()));
  result.timings.read = lap();
  auto image = verify_opened_image(request.trust, std::move(*opened));
  if (!image) return std::unexpected(std::move(image.error()));
  result.image = std::move(*image);
  result.timings.verify = lap();
  const pe::Image& pe_image = result.image->opened.image;
  const uki::Uki uki = uki::Uki::from_image(pe_image);
  if (!pe_image.is_x86_64())
    return host_fail(Stage::kRequest, "not an x86_64 image", request.image_path);
  if (!request.initrd_path.empty() && uki.kind() == uki::ImageKind::kUki &&
      uki.find(".initrd", request.profile) != nullptr)
    return host_fail(Stage::kRequest,
                     "the UKI carries its own initrd; --initrd is for EFI-stub kernels and UKIs "
                     "without one",
                     request.image_path);
  auto load_options = build_load_options(request, uki);
  if (!load_options) return std::unexpected(std::move(load_options.error()));
  result.load_options = std::move(*load_options);
  auto machine = resolve_machine(request.machine_spec);
  if (!machine) return std::unexpected(std::move(machine.error()));
  result.machine = std::move(*machine);
  if (!request.initrd_path.empty()) {
    auto initrd = FileBytes::read(request.initrd_path);
    if (!initrd) return std::unexpected(std::move(initrd.error()));
    result.initrd = std::move(*initrd);
  }
  Trampoline trampoline;
  if (auto loaded = trampoline.load(); !loaded) return loaded;
  const HandoffLayout layout = handoff_layout(result.machine, trampoline);

  RunRequest run;
  run.image = result.image->opened.bytes.view();
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
  auto started = run_efi_image(run, result.run);
  result.timings.run = lap();
  if (!started) return started;
  if (result.run.end != RunEnd::kExitBootServices)
    return host_fail(Stage::kRun,
                     "the image did not reach ExitBootServices(): " + result.run.message,
                     request.image_path);
  auto plan = plan_kexec(result.machine, trampoline, layout, result.run);
  result.timings.plan = lap();
  if (!plan) return std::unexpected(std::move(plan.error()));
  result.plan = std::move(*plan);
  return {};
}

HostStatus commit_kexec(LoadResult& result, KexecSyscalls& syscalls) {
  // The run's memory, read straight from its memory file: no copy before the kernel's own.
  std::vector<KexecSegment> segments;
  std::vector<std::pair<void*, std::size_t>> mappings;
  HostStatus loaded;
  for (const PlannedSegment& segment : result.plan.segments) {
    void* buffer = nullptr;
    if (segment.bufsz != 0) {
      buffer = mmap(nullptr, segment.bufsz, PROT_READ, MAP_SHARED, result.run.memory->fd(),
                    static_cast<off_t>(segment.destination));
      if (buffer == MAP_FAILED) {
        loaded = host_fail_errno(Stage::kKexec, "cannot map the run's memory for kexec_load", {});
        break;
      }
      mappings.emplace_back(buffer, segment.bufsz);
    }
    segments.push_back({buffer, segment.bufsz, segment.destination, segment.memsz});
  }
  if (loaded) loaded = syscalls.load(result.plan.entry, segments);
  for (auto [address, size] : mappings) munmap(address, size);
  return loaded;
}

}  // namespace efikexec::kexec
