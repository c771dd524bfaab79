// SPDX-License-Identifier: MIT
// The report the run's child writes through shared memory, and the parent's reading of it. The
// child ran the image's code, so every byte here may have been written by the image: the reader
// bounds every string, clamps every count, and accepts a memory range only inside the machine's
// RAM and the memory the parent itself created for the run. A report that breaks a rule is an
// error, never a plan.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "cpu_context.h"
#include "efi_shim/memory.hpp"
#include "kexec/run/confinement.hpp"
#include "kexec/run/efi_run.hpp"

namespace efikexec::kexec {

inline constexpr std::size_t kReportMessageSize = 2048;
inline constexpr std::size_t kReportConsoleSize = 1 << 20;
inline constexpr std::size_t kReportTraceSize = 16 << 20;

// Written by the child, read by the parent once the child is gone.
struct ChildReport {
  std::uint32_t ended;
  RunEnd end;
  std::uint64_t status;
  double seconds;
  char message[kReportMessageSize];
  std::uint32_t confinement_skipped;
  std::uint8_t confinement_errno[static_cast<std::size_t>(ConfinementStep::kCount)];
  efikexec_cpu_context context;
  std::uint64_t system_table;
  std::uint64_t image_handle;
  std::uint64_t handoff_code;
  std::uint64_t handoff_data;
  std::uint32_t range_count;
  efi::MemoryRange ranges[efi::MemoryManager::kMaxRanges];
  std::uint64_t console_used;
  std::uint64_t trace_used;
  char console[kReportConsoleSize];
  char trace[kReportTraceSize];
};

// What the parent knows without asking the child.
struct ReportLimits {
  std::span<const std::pair<std::uint64_t, std::uint64_t>> ram;  // the machine's RAM, [start, end)
  std::uint64_t memory_top = 0;  // the run's memory file covers [0, memory_top)
  std::uint64_t handoff_code_pages = 0;  // what the parent asked the child to set aside
  std::uint64_t handoff_data_pages = 0;
};

// The console output and the trace (bounded by their buffers); always readable.
void read_child_output(const ChildReport& report, RunOutcome& outcome);

// How the run ended, from a report the child marked finished: end, status, message, time, the
// skipped confinement steps and, for ExitBootServices(), the context, the final map and the
// handoff's pages. False (with `error`, outcome untouched but for the above) when a rule is broken.
HostStatus read_child_report(const ChildReport& report, const ReportLimits& limits,
                             RunOutcome& outcome);

}  // namespace efikexec::kexec
