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
// The variables the image set during the run, as far as the report keeps them.
inline constexpr std::size_t kReportVariables = 64;
inline constexpr std::size_t kReportVariableNameChars = 64;  // terminator not counted
inline constexpr std::size_t kReportVariableData = 512;      // the first bytes of the data

// One variable the image set: its name (UCS-2, cut to kReportVariableNameChars, terminated), the
// first bytes of its data and its full size.
struct ReportVariable {
  std::uint16_t name[kReportVariableNameChars + 1];
  std::uint8_t name_cut;  // 1: the name was longer
  std::uint8_t guid[16];  // EFI_GUID as the store holds it
  std::uint32_t attributes;
  std::uint32_t size;       // of the whole data
  std::uint32_t data_used;  // bytes of `data` copied: min(size, kReportVariableData)
  std::uint8_t data[kReportVariableData];
};

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
  std::uint64_t top_image_base;  // where LoadImage() mapped the image given to the run
  std::uint64_t handoff_code;
  std::uint64_t handoff_data;
  std::uint32_t range_count;
  efi::MemoryRange ranges[efi::MemoryManager::kMaxRanges];
  std::uint32_t allocation_count;
  std::uint32_t allocations_complete;  // 1: every live allocation is listed
  efi::MemoryManager::Allocation allocations[efi::MemoryManager::kMaxAllocations];
  std::uint32_t variable_count;
  std::uint32_t variables_cut;  // 1: the image set more than kReportVariables
  ReportVariable variables[kReportVariables];
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
// [start, start + size) inside one allocated range of the map (size 0: one byte at start): where
// the parent may read or write what the run left.
bool in_allocated(const std::vector<efi::MemoryRange>& map, std::uint64_t start,
                  std::uint64_t size);

void read_child_output(const ChildReport& report, RunOutcome& outcome);

// How the run ended, from a report the child marked finished: end, status, message, time, the
// skipped confinement steps and, for ExitBootServices(), the context, the final map and the
// handoff's pages, and the variables the image set. False (with `error`, outcome untouched but for the above) when a rule is broken.
HostStatus read_child_report(const ChildReport& report, const ReportLimits& limits,
                             RunOutcome& outcome);

}  // namespace efikexec::kexec
