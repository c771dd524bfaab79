// SPDX-License-Identifier: MIT
// From a run that reached ExitBootServices() to what kexec_load(2) takes: the trampoline and
// its page tables written into the pages set aside for them, and the memory the run handed out
// as at most 16 segments (untouched tails left to the kernel's zero fill, long runs of zeros
// to the trampoline).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kexec/crash/crash_dump.hpp"
#include "kexec/run/efi_run.hpp"
#include "kexec/machine/machine.hpp"
#include "kexec/handoff/efi_setup.hpp"
#include "kexec/handoff/liveness.hpp"
#include "kexec/handoff/trampoline.hpp"

namespace efikexec::kexec {

inline constexpr std::size_t kMaxKexecSegments = 16;  // KEXEC_SEGMENT_MAX
// Zero runs shorter than this stay in their segment: each one left out may cost a segment.
inline constexpr std::uint64_t kZeroRunMinimum = 1ULL << 20;

struct HandoffLayout {
  std::uint64_t code_pages;   // the trampoline
  std::uint64_t data_pages;   // its page tables, then the SETUP_EFI page (if any)
  std::uint64_t map_top;      // the identity map covers [0, map_top)
  std::uint64_t efi_setup_pages = 0;  // after the tables: SETUP_EFI (efi_setup.hpp)
  std::uint64_t crash_pages = 0;      // the last data pages: a crash kernel's (CrashPlan)
};
HandoffLayout handoff_layout(const Machine& machine, const Trampoline& trampoline,
                             std::uint64_t crash_pages = 0);

// A crash kernel's part of the plan (crash/crash_dump.hpp): the layout carved out of the
// reservation before the run, the core headers for it, and what goes into boot_params. The
// crash pages of the handoff layout hold the command line (its first page) and the kdump
// initrd that replaces the image's (the rest).
struct CrashPlan {
  const CrashFacts* facts = nullptr;
  CrashLayout layout;
  std::vector<std::byte> headers;
  std::optional<std::string> append;
  ByteView replacement_initrd;
  std::uint64_t command_line_limit = 0;  // the kernel's cmdline_size
};
inline constexpr std::uint64_t kCrashCommandLinePages = 1;

struct PlannedSegment {
  std::uint64_t destination;
  std::uint64_t memsz;
  std::uint64_t bufsz;        // bytes taken from the run's memory; the rest is zero-filled
  std::string contents;       // the memory types it holds
};

struct KexecPlan {
  std::vector<PlannedSegment> segments;
  std::uint64_t entry = 0;
  std::uint64_t trampoline = 0;
  std::uint64_t page_tables = 0;
  std::uint64_t memsz_total = 0;
  std::uint64_t bufsz_total = 0;
  // The run's memory that holds only zeros in runs of at least kZeroRunMinimum: no segment
  // carries it, the trampoline clears it at entry.
  std::vector<PhysicalSpan> zero_ranges;
  std::uint64_t zero_bytes = 0;
  // The run's memory no segment carries: the UKI's sections the next kernel no longer reaches
  // (handoff/liveness.hpp), and their bytes.
  std::vector<LeftOutSpan> left_out;
  std::uint64_t left_out_bytes = 0;
  RuntimeHandover runtime;    // the firmware's runtime services, or why the kernel has none
  std::optional<CrashHandoff> crash;  // a crash kernel's (kexec_load with KEXEC_ON_CRASH)
};

// Writes the trampoline, the tables and (when the machine has them) the firmware's runtime
// services for the next kernel (efi_setup.hpp) into the run's memory and plans the segments:
// what the run allocated, but what the next kernel no longer reaches (liveness.hpp; `image` is
// the verified image the run was given), checked as below. Failures are Stage::kPlan.
// `serial_mark`: the trampoline writes a line on COM1 when entered (benchmarks).
HostResult<KexecPlan> plan_kexec(const Machine& machine, const Trampoline& trampoline,
                                 const HandoffLayout& layout, RunOutcome& run,
                                 const pe::Image& image, bool serial_mark = false, const CrashPlan* crash = nullptr);

// What kexec_load(2) itself checks of the segments (kernel/kexec_core.c,
// sanity_check_segment_list: count, page alignment, no wrap, no overlap, bufsz <= memsz, at most
// half of RAM; a crash kernel's segments and entry inside the reservation), so that a plan the
// kernel would refuse is refused before any system call. Not repeated: destinations below
// KEXEC_DESTINATION_MEMORY_LIMIT (all of x86_64's address space).
HostStatus check_segments_as_the_kernel_does(const KexecPlan& plan, const Machine& machine);

nlohmann::json plan_json(const KexecPlan& plan, const RunOutcome& run);

}  // namespace efikexec::kexec
