// SPDX-License-Identifier: MIT
#include "kexec/load/loader.hpp"

#include <sys/mman.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

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

// --command-line, or this kernel's own for --reuse-cmdline; none: the image keeps its own.
HostResult<std::optional<std::string>> replacement_command_line(const LoadRequest& request) {
  std::optional<std::string> line = request.command_line;
  if (request.reuse_cmdline) {
    auto reused = read_proc_cmdline();
    if (!reused) return std::unexpected(std::move(reused.error()));
    line = std::move(*reused);
  }
  return line;
}

// The payload's command line: the text, and whether it replaces the image's own
// (--command-line, --reuse-cmdline, with --append added to them) or is appended to it (--append
// alone). Empty `mode`: the image keeps its own.
HostStatus requested_command_line(const LoadRequest& request, PayloadArguments& arguments) {
  auto line = replacement_command_line(request);
  if (!line) return std::unexpected(std::move(line.error()));
  if (*line) {
    arguments.mode = PayloadCommandLineMode::kReplace;
    arguments.text = **line;
    if (request.append)
      arguments.text = (*line)->empty() ? *request.append : **line + " " + *request.append;
  } else if (request.append) {
    arguments.mode = PayloadCommandLineMode::kAppend;
    arguments.text = *request.append;
  }
  return {};
}

// What the image gets as LoadOptions (uki/load_options.hpp).
HostResult<std::optional<std::string>> build_load_options(const LoadRequest& request,
                                                          const uki::Uki& uki) {
  auto line = replacement_command_line(request);
  if (!line) return std::unexpected(std::move(line.error()));
  uki::CommandLineRequest wanted;
  if (*line) wanted.command_line = **line;
  if (request.append) wanted.append = *request.append;
  wanted.profile = request.profile;
  auto length = uki::compose_load_options(uki, wanted, {});
  if (!length) return host_fail(Stage::kRequest, length.error().message, request.image_path);
  if (!*length) return std::optional<std::string>();
  std::string options(**length, '\0');
  (void)uki::compose_load_options(uki, wanted, options);
  return std::optional<std::string>(std::move(options));
}

// With --esp: the files of the ESP the stub would read, add-ons verified, into result.esp; the
// image's path on the volume. Both handoffs offer the same snapshot.
HostResult<std::string> offer_esp(const LoadRequest& request, const std::string& image_name,
                                  LoadResult& result) {
  if (!request.esp_directory) return std::string();
  std::string image_path = path_inside_esp(*request.esp_directory, request.image_path)
                               .value_or("\\EFI\\Linux\\" + image_name);
  auto esp = read_offered_esp(*request.esp_directory, image_path, request.trust);
  if (!esp) return std::unexpected(std::move(esp.error()));
  result.esp = std::move(*esp);
  return image_path;
}

std::string file_name_of(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}

// The payload path after verification: nothing of the image runs here.
HostStatus prepare_payload(const LoadRequest& request, PayloadImage payload, LoadResult& result) {
  PayloadArguments arguments;
  arguments.uki_size = result.image->opened.bytes.size();
  arguments.profile = request.profile;
  // The payload applies the profile and the command line to the UKI after kexec.
  if (auto text = requested_command_line(request, arguments); !text) return text;
  if (!request.initrd_path.empty()) {
    auto initrd = FileBytes::read(request.initrd_path);
    if (!initrd) return std::unexpected(std::move(initrd.error()));
    result.initrd = std::move(*initrd);
    arguments.initrd_size = result.initrd.size();
  }
  // The ESP's files travel in the bundle; the payload verifies the add-ons again itself.
  auto image_path = offer_esp(request, file_name_of(request.image_path), result);
  if (!image_path) return std::unexpected(std::move(image_path.error()));
  std::vector<std::byte> archive;
  if (result.esp) {
    archive = esp_archive(*result.esp);
    arguments.esp_size = archive.size();
    arguments.esp_image = slash_path(*image_path);
  }
  auto line = payload_command_line(arguments, payload.header.cmdline_size);
  if (!line) return std::unexpected(std::move(line.error()));
  // The UKI's bytes from the snapshot that was verified, never read again from its file.
  auto bundle = make_bundle(result.image->opened.bytes.view(), result.initrd.view(),
                            ByteView(archive.data(), archive.size()));
  if (!bundle) return std::unexpected(std::move(bundle.error()));
  result.payload = PayloadLoad{std::move(payload), std::move(*bundle), std::move(*line)};
  return {};
}

// The payload under `decision`, or why there is none. Under lockdown with the default payload
// missing, the refusal says what is wrong and what to do, before anything else is read.
HostResult<std::optional<PayloadImage>> find_payload(const LoadRequest& request,
                                                     const HandoffDecision& decision) {
  if (decision.handoff != Handoff::kPayload) return std::nullopt;
  const bool named = !request.payload_path.empty();
  const std::string path = named ? request.payload_path : default_payload_path();
  auto payload = open_payload(path);
  if (payload) return std::optional<PayloadImage>(std::move(*payload));
  if (named || payload.error().stage != Stage::kRead)
    return std::unexpected(std::move(payload.error()));
  const std::string what_to_do =
      "install the efikexec payload, signed with a key this kernel trusts, at this path, or "
      "name one with --payload FILE (docs/payload.md); nothing was run";
  if (decision.lockdown == LockdownMode::kNone || decision.lockdown == LockdownMode::kUnknown)
    return host_fail(Stage::kRead,
                     "no payload for the payload handoff (" + payload.error().reason + "): " +
                         what_to_do,
                     path);
  return host_fail(
      Stage::kKexec,
      std::string("this kernel is in lockdown [") + lockdown_mode_name(decision.lockdown) +
          "], so it refuses kexec_load; efikexec then loads through its signed payload with "
          "kexec_file_load, and there is none (" + payload.error().reason + "): " + what_to_do,
      path);
}

// A crash load's facts, the pages it carves out of the reservation, the core headers for them,
// and the machine as the image sees it.
struct CrashPrepared {
  CrashFacts facts;
  CrashLayout layout;
  std::vector<std::byte> headers;
  Machine view;
  std::uint64_t need = 0;  // the image's least need in the reservation (crash_need_estimate)
};

std::string crash_reservation_words(const CrashFacts& facts) {
  return std::to_string(facts.reservation.size() >> 20) + " MiB crash kernel reservation at " +
         hex_u64(facts.reservation.start);
}

// The setup header of the kernel: a UKI's .linux, or the EFI-stub kernel itself.
std::optional<uki::LinuxBootHeader> kernel_header(const uki::Uki& uki) {
  auto header = uki::parse_linux_boot_header(uki.kernel());
  if (!header) return std::nullopt;
  return *header;
}

// What the image needs at least inside the reservation: its own image and the kernel's
// init_size (where the stub puts the kernel), the initrds, and the handoff's pages. A lower
// bound: the stubs' copies and alignment come on top, and a reservation the run outgrows fails
// the run with the reservation named.
std::uint64_t crash_need_estimate(const uki::Uki& uki, const LoadResult& result,
                                  const CrashLayout& layout) {
  std::uint64_t need = uki.image().size_of_image() + result.initrd.size() +
                       (layout.headers.end - layout.backup.start);
  if (auto header = kernel_header(uki)) need += header->init_size;
  if (const pe::Section* initrd = uki.find(".initrd")) need += initrd->memory_size();
  return need;
}

HostResult<CrashPrepared> prepare_crash(const LoadRequest& request, LoadResult& result,
                                        const uki::Uki& uki) {
  CrashPrepared crash;
  if (result.machine.crash) {
    crash.facts = *result.machine.crash;
  } else if (request.machine_spec.empty()) {
    auto facts = discover_crash_facts();
    if (!facts) return std::unexpected(std::move(facts.error()));
    crash.facts = std::move(*facts);
  } else {
    return host_fail(Stage::kMachine,
                     "the machine description has no \"crash\" facts for a crash kernel load",
                     request.machine_spec);
  }
  auto layout = plan_crash_layout(crash.facts);
  if (!layout) return std::unexpected(std::move(layout.error()));
  crash.layout = *layout;
  auto headers = build_elf_core_headers(crash.facts, crash.layout);
  if (!headers) return std::unexpected(std::move(headers.error()));
  crash.headers = std::move(*headers);
  const std::uint64_t need = crash_need_estimate(uki, result, crash.layout);
  crash.need = need;
  if (need > crash.facts.reservation.size())
    return host_fail(Stage::kRequest,
                     "the " + crash_reservation_words(crash.facts) + " is too small for this "
                     "image, which needs at least " + std::to_string((need + (1 << 20) - 1) >> 20) +
                     " MiB there (its image, the kernel's init_size, the initrds and the crash "
                     "handoff's pages): boot with a larger crashkernel=",
                     request.image_path);
  crash.view = crash_machine_view(result.machine, crash.facts, crash.layout);
  return crash;
}

}  // namespace

HostResult<HandoffDecision> decide_handoff(Handoff requested, const std::string& system_root) {
  auto lockdown = read_lockdown(system_root);
  if (!lockdown) return std::unexpected(std::move(lockdown.error()));
  return HandoffDecision{*lockdown, choose_handoff(requested, *lockdown)};
}

HostStatus unload_kexec(Handoff handoff, KexecSyscalls& syscalls, KexecSlot slot) {
  if (slot == KexecSlot::kCrash) {
    if (handoff == Handoff::kPayload)
      return host_fail(Stage::kKexec,
                       "this kernel is in lockdown, which refuses kexec_load, and efikexec loads "
                       "crash kernels only through kexec_load (docs/kdump.md)");
    return syscalls.unload(slot);
  }
  return handoff == Handoff::kPayload ? syscalls.file_unload() : syscalls.unload(slot);
}

nlohmann::json load_json(const LoadResult& result) {
  nlohmann::json document;
  if (result.payload) {
    const PayloadLoad& p = *result.payload;
    document = {{"call", "kexec_file_load"},
                {"payload", {{"path", p.payload.path}, {"size", p.payload.size}}},
                {"bundle",
                 {{"size", p.bundle.size},
                  {"uki_size", p.bundle.uki_size},
                  {"initrd_offset", p.bundle.initrd_offset},
                  {"initrd_size", p.bundle.initrd_size},
                  {"esp_offset", p.bundle.esp_offset},
                  {"esp_size", p.bundle.esp_size}}},
                {"command_line", p.command_line}};
  } else {
    document = plan_json(result.plan, result.run);
  }
  if (result.esp) document["esp"] = esp_snapshot_json(*result.esp);
  document["handoff"] = handoff_name(result.handoff);
  document["lockdown"] = lockdown_mode_name(result.lockdown);
  return document;
}

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
  auto decision = decide_handoff(request.handoff, request.system_root);
  if (!decision) return std::unexpected(std::move(decision.error()));
  result.lockdown = decision->lockdown;
  result.handoff = decision->handoff;
  if (request.crash && decision->handoff == Handoff::kPayload)
    return host_fail(Stage::kKexec,
                     std::string("a crash kernel (load -p) is loaded with kexec_load, which this "
                                 "kernel refuses in lockdown [") +
                         lockdown_mode_name(decision->lockdown) +
                         "]; the payload handoff does not load crash kernels (docs/kdump.md)",
                     request.image_path);
  auto payload = find_payload(request, *decision);
  if (!payload) return std::unexpected(std::move(payload.error()));
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
  const bool own_initrd =
      uki.kind() == uki::ImageKind::kUki && uki.find(".initrd", request.profile) != nullptr;
  if (!request.initrd_path.empty() && own_initrd && !request.crash)
    return host_fail(Stage::kRequest,
                     "the UKI carries its own initrd; --initrd is for EFI-stub kernels and UKIs "
                     "without one",
                     request.image_path);
  if (request.profile)
    if (const std::string problem = profile_problem(uki, *request.profile); !problem.empty())
      return host_fail(Stage::kRequest, problem, request.image_path);
  if (*payload) {
    auto prepared = prepare_payload(request, std::move(**payload), result);
    result.timings.setup = lap();
    return prepared;
  }
  // A crash kernel's --append goes into boot_params after the run (crash/crash_dump.hpp), so
  // that a stub which ignores LoadOptions under Secure Boot cannot drop it.
  LoadRequest options_request = request;
  if (request.crash) options_request.append.reset();
  auto load_options = build_load_options(options_request, uki);
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
  // A crash kernel: the initrd replaces a UKI's own after the run (the stubs before 262 refuse
  // an initrd a loader offers next to theirs); the image sees RAM only in the reservation.
  const bool replace_initrd = request.crash && own_initrd && !request.initrd_path.empty();
  std::optional<CrashPrepared> crash;
  if (request.crash) {
    auto prepared = prepare_crash(request, result, uki);
    if (!prepared) return std::unexpected(std::move(prepared.error()));
    crash = std::move(*prepared);
  }
  const HandoffLayout layout = handoff_layout(
      result.machine, trampoline,
      crash ? kCrashCommandLinePages + (replace_initrd ? efi::bytes_to_pages(result.initrd.size()) : 0)
            : 0);

  RunRequest run;
  run.image = result.image->opened.bytes.view();
  run.image_name = file_name_of(request.image_path);
  run.label = uki.kind() == uki::ImageKind::kUki ? "sdstub" : nullptr;
  auto image_path = offer_esp(request, run.image_name, result);
  if (!image_path) return std::unexpected(std::move(image_path.error()));
  run.image_path = std::move(*image_path);
  if (result.esp) add_esp_files(*result.esp, run.boot_files);
  run.load_options = result.load_options;
  if (!request.initrd_path.empty() && !replace_initrd) run.initrd = result.initrd.view();
  run.machine = crash ? &crash->view : &result.machine;
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
                     "the image did not reach ExitBootServices(): " + result.run.message +
                         (crash ? " (it ran inside the " + crash_reservation_words(crash->facts) +
                                      " with nothing outside it, and needs at least " +
                                      std::to_string((crash->need + (1 << 20) - 1) >> 20) +
                                      " MiB there, more for the stubs' copies: a larger "
                                      "crashkernel= may be what it needs)"
                                : std::string()),
                     request.image_path);
  std::optional<CrashPlan> crash_plan;
  if (crash) {
    crash_plan = CrashPlan{&crash->facts, crash->layout, std::move(crash->headers),
                           request.append, ByteView()};
    if (replace_initrd) crash_plan->replacement_initrd = result.initrd.view();
    // Kernels before 2.06 of the boot protocol have no cmdline_size: 255 bytes then.
    const auto header = kernel_header(uki);
    crash_plan->command_line_limit =
        header && header->protocol_version >= 0x206 ? header->cmdline_size : 255;
  }
  auto plan = plan_kexec(result.machine, trampoline, layout, result.run, pe_image,
                         request.serial_mark,
                         crash_plan ? &*crash_plan : nullptr);
  result.timings.plan = lap();
  if (!plan) return std::unexpected(std::move(plan.error()));
  result.plan = std::move(*plan);
  return {};
}

HostStatus commit_kexec(LoadResult& result, KexecSyscalls& syscalls) {
  if (result.payload)
    return syscalls.file_load(result.payload->payload.fd.get(), result.payload->bundle.fd.get(),
                              result.payload->command_line);
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
  if (loaded)
    loaded = syscalls.load(result.plan.entry, segments,
                           result.plan.crash ? KexecSlot::kCrash : KexecSlot::kNormal);
  for (auto [address, size] : mappings) munmap(address, size);
  return loaded;
}

}  // namespace efikexec::kexec
