// SPDX-License-Identifier: MIT
#include "kexec/run/child_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <vector>

namespace efikexec::kexec {

namespace {

// Every field is read once, into the parent's own memory, before it is checked.
template <typename T>
T once(const T& field) {
  T value;
  std::memcpy(&value, &field, sizeof value);
  return value;
}

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// A string the child wrote: up to its first NUL within the buffer, control characters replaced.
std::string bounded_text(const char* buffer, std::size_t capacity) {
  std::string text(buffer, capacity);
  text.resize(strnlen(text.data(), capacity));
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') c = '?';
  return text;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

bool known_end(RunEnd end) {
  switch (end) {
    case RunEnd::kExitBootServices:
    case RunEnd::kReturned:
    case RunEnd::kExited:
    case RunEnd::kReset:
    case RunEnd::kHalted:
    case RunEnd::kFault:
    case RunEnd::kSetupFailed:
      return true;
    case RunEnd::kTimeout:  // only the parent knows that
      break;
  }
  return false;
}

// [start, start + size) inside one allocated range of the map (size 0: one byte at start).
bool in_allocated(const std::vector<efi::MemoryRange>& map, std::uint64_t start,
                  std::uint64_t size) {
  for (const efi::MemoryRange& range : map)
    if (range.allocated && start >= range.start && start < range.end() &&
        std::max<std::uint64_t>(size, 1) <= range.end() - start)
      return true;
  return false;
}

bool inside_ram(const ReportLimits& limits, std::uint64_t start, std::uint64_t end) {
  for (auto [ram_start, ram_end] : limits.ram)
    if (start >= ram_start && end <= ram_end) return true;
  return false;
}

HostResult<std::vector<efi::MemoryRange>> read_final_map(const ChildReport& report,
                                                         const ReportLimits& limits) {
  std::vector<efi::MemoryRange> map;
  const std::uint32_t count = once(report.range_count);
  if (count > efi::MemoryManager::kMaxRanges)
    return host_fail(Stage::kRun, "it lists " + std::to_string(count) + " memory ranges, more than the shim keeps (" +
            std::to_string(efi::MemoryManager::kMaxRanges) + ")");
  map.reserve(count);
  std::uint64_t previous_end = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    efi::MemoryRange range = once(report.ranges[i]);
    // bool is read as a byte: anything but 0 or 1 is not a bool the shim wrote.
    std::uint8_t allocated;
    std::memcpy(&allocated, &report.ranges[i].allocated, 1);
    const std::string name = "memory range " + std::to_string(i);
    if (allocated > 1)
      return host_fail(Stage::kRun, name + " has a corrupt allocation flag");
    range.allocated = allocated == 1;
    if (range.start % efi::kPageSize != 0 || range.pages == 0 ||
        range.pages > (~std::uint64_t{0} - range.start) / efi::kPageSize)
      return host_fail(Stage::kRun, name + " (" + hex(range.start) + ", " + std::to_string(range.pages) +
              " pages) is not a range of whole pages");
    if (range.start < previous_end)
      return host_fail(Stage::kRun, name + " at " + hex(range.start) + " overlaps or precedes the one before it");
    previous_end = range.end();
    if (range.allocated &&
        (range.end() > limits.memory_top || !inside_ram(limits, range.start, range.end())))
      return host_fail(Stage::kRun, name + " (" + hex(range.start) + "-" + hex(range.end() - 1) +
              ") is allocated outside the machine's RAM or the run's memory");
    map.push_back(range);
  }
  return map;
}

HostStatus read_handoff(const ChildReport& report, const ReportLimits& limits,
                        RunOutcome& outcome) {
  auto map = read_final_map(report, limits);
  if (!map) return std::unexpected(std::move(map.error()));
  const std::uint64_t code = once(report.handoff_code);
  const std::uint64_t data = once(report.handoff_data);
  const efikexec_cpu_context context = once(report.context);
  const std::uint64_t system_table = once(report.system_table);
  for (auto [address, pages, what] : {std::tuple{code, limits.handoff_code_pages, "trampoline"},
                                      std::tuple{data, limits.handoff_data_pages, "page tables"}}) {
    if (pages == 0) continue;
    if (address % efi::kPageSize != 0 || !in_allocated(*map, address, efi::pages_to_bytes(pages)))
      return host_fail(Stage::kRun, std::string("the pages set aside for the ") + what + " (" + hex(address) +
              ") are not allocated memory of the run");
  }
  if (!in_allocated(*map, system_table, sizeof(EFI_SYSTEM_TABLE)))
    return host_fail(Stage::kRun, "the system table (" + hex(system_table) + ") is not in the run's memory");
  // The handoff resumes the image at rip on the stack at rsp: both must be the run's memory.
  if (!in_allocated(*map, context.rip, 1) || context.rsp < 8 ||
      !in_allocated(*map, context.rsp - 8, 8))
    return host_fail(Stage::kRun, "the captured context (rip " + hex(context.rip) + ", rsp " + hex(context.rsp) +
            ") points outside the run's memory");
  outcome.final_map = std::move(*map);
  outcome.context = context;
  outcome.system_table = system_table;
  outcome.image_handle = once(report.image_handle);
  outcome.handoff_code = code;
  outcome.handoff_data = data;
  return {};
}

}  // namespace

void read_child_output(const ChildReport& report, RunOutcome& outcome) {
  const std::uint64_t console = std::min<std::uint64_t>(once(report.console_used),
                                                        kReportConsoleSize);
  const std::uint64_t trace = std::min<std::uint64_t>(once(report.trace_used), kReportTraceSize);
  outcome.console.assign(report.console, console);
  outcome.trace = split_lines({report.trace, trace});
}

HostStatus read_child_report(const ChildReport& report, const ReportLimits& limits,
                             RunOutcome& outcome) {
  const RunEnd end = once(report.end);
  if (!known_end(end))
    return host_fail(Stage::kRun, "it ends in an unknown way (" +
                                      std::to_string(static_cast<int>(end)) + ")");
  const double seconds = once(report.seconds);
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e6)
    return host_fail(Stage::kRun, "its run time is not a time");
  const std::uint32_t skipped = once(report.confinement_skipped);
  if (skipped >= (1u << static_cast<std::uint32_t>(ConfinementStep::kCount)))
    return host_fail(Stage::kRun, "it names confinement steps that do not exist");
  std::uint8_t skipped_errno[sizeof report.confinement_errno];
  std::memcpy(skipped_errno, report.confinement_errno, sizeof skipped_errno);
  RunOutcome read;
  if (end == RunEnd::kExitBootServices)
    if (auto handoff = read_handoff(report, limits, read); !handoff) return handoff;
  outcome.end = end;
  outcome.status = once(report.status);
  outcome.seconds_in_image = seconds;
  outcome.message = bounded_text(report.message, kReportMessageSize);
  outcome.confinement_skipped = skipped_confinement_steps(skipped, skipped_errno);
  if (end == RunEnd::kExitBootServices) {
    outcome.final_map = std::move(read.final_map);
    outcome.context = read.context;
    outcome.system_table = read.system_table;
    outcome.image_handle = read.image_handle;
    outcome.handoff_code = read.handoff_code;
    outcome.handoff_data = read.handoff_data;
  }
  return {};
}

}  // namespace efikexec::kexec
