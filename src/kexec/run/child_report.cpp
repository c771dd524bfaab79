// SPDX-License-Identifier: MIT
#include "kexec/run/child_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
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
  // The allocations one by one: only a complete list that agrees with the map is taken (the
  // handoff then carries less; without it, it carries the merged ranges).
  const std::uint32_t allocation_count = once(report.allocation_count);
  if (once(report.allocations_complete) == 1 &&
      allocation_count <= efi::MemoryManager::kMaxAllocations) {
    for (std::uint32_t i = 0; i < allocation_count; ++i) {
      const efi::MemoryManager::Allocation allocation = once(report.allocations[i]);
      if (allocation.pages == 0 || allocation.pages > (~std::uint64_t{0} >> 12) ||
          !in_allocated(*map, allocation.start, efi::pages_to_bytes(allocation.pages))) {
        outcome.allocations.clear();
        break;
      }
      outcome.allocations.push_back(allocation);
    }
  }
  outcome.final_map = std::move(*map);
  outcome.context = context;
  outcome.system_table = system_table;
  outcome.image_handle = once(report.image_handle);
  outcome.top_image_base = once(report.top_image_base);
  outcome.handoff_code = code;
  outcome.handoff_data = data;
  return {};
}

// UCS-2 as UTF-8; false if a character is a control character or a surrogate (not text).
bool printable_ucs2(std::span<const std::uint16_t> chars, std::string& out) {
  for (const std::uint16_t c : chars) {
    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || (c >= 0xd800 && c < 0xe000)) return false;
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      out += static_cast<char>(0xe0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return true;
}

std::string guid_text(const std::uint8_t (&g)[16]) {
  char text[40];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3], g[2],
                g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
                g[15]);
  return text;
}

// The data as text: a whole NUL-terminated UCS-2 string of printable characters, nothing after.
std::optional<std::string> data_text(std::span<const std::uint8_t> data, std::uint32_t size) {
  if (data.size() != size || size < 2 || size % 2 != 0) return std::nullopt;
  std::vector<std::uint16_t> chars(size / 2);
  std::memcpy(chars.data(), data.data(), size);
  if (chars.back() != 0) return std::nullopt;
  chars.pop_back();
  std::string text;
  if (!printable_ucs2(chars, text)) return std::nullopt;
  return text;
}

HostResult<std::vector<ImageVariable>> read_variables(const ChildReport& report) {
  const std::uint32_t count = once(report.variable_count);
  if (count > kReportVariables)
    return host_fail(Stage::kRun, "it lists " + std::to_string(count) +
                                      " variables set, more than it has room for (" +
                                      std::to_string(kReportVariables) + ")");
  std::vector<ImageVariable> variables;
  variables.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const ReportVariable entry = once(report.variables[i]);
    const std::string what = "variable " + std::to_string(i) + " set by the image";
    const std::uint16_t* end = std::find(std::begin(entry.name), std::end(entry.name), 0);
    if (end == std::end(entry.name)) return host_fail(Stage::kRun, what + " has no name terminator");
    if (end == std::begin(entry.name)) return host_fail(Stage::kRun, what + " has no name");
    if (entry.name_cut > 1 || entry.data_used > kReportVariableData ||
        entry.data_used > entry.size ||
        (entry.size > entry.data_used && entry.data_used < kReportVariableData))
      return host_fail(Stage::kRun, what + " has corrupt sizes or flags");
    ImageVariable variable;
    // A name that is not printable text keeps its printable characters ('?' for the others).
    for (const std::uint16_t* c = std::begin(entry.name); c != end; ++c)
      if (!printable_ucs2({c, 1}, variable.name)) variable.name += '?';
    if (entry.name_cut == 1) variable.name += "...";
    variable.guid = guid_text(entry.guid);
    variable.attributes = entry.attributes;
    variable.size = entry.size;
    const std::span<const std::uint8_t> data{entry.data, entry.data_used};
    variable.text = data_text(data, entry.size);
    if (!variable.text) {
      static constexpr char kDigits[] = "0123456789abcdef";
      for (const std::uint8_t byte : data) {
        variable.hex += kDigits[byte >> 4];
        variable.hex += kDigits[byte & 0xf];
      }
      variable.data_cut = entry.size > entry.data_used;
    }
    variables.push_back(std::move(variable));
  }
  return variables;
}

}  // namespace

bool in_allocated(const std::vector<efi::MemoryRange>& map, std::uint64_t start,
                  std::uint64_t size) {
  for (const efi::MemoryRange& range : map)
    if (range.allocated && start >= range.start && start < range.end() &&
        std::max<std::uint64_t>(size, 1) <= range.end() - start)
      return true;
  return false;
}


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
  auto variables = read_variables(report);
  if (!variables) return std::unexpected(std::move(variables.error()));
  const std::uint32_t variables_cut = once(report.variables_cut);
  if (variables_cut > 1) return host_fail(Stage::kRun, "its mark for variables left out is corrupt");
  RunOutcome read;
  if (end == RunEnd::kExitBootServices)
    if (auto handoff = read_handoff(report, limits, read); !handoff) return handoff;
  outcome.end = end;
  outcome.status = once(report.status);
  outcome.seconds_in_image = seconds;
  outcome.message = bounded_text(report.message, kReportMessageSize);
  outcome.confinement_skipped = skipped_confinement_steps(skipped, skipped_errno);
  outcome.variables_set = std::move(*variables);
  outcome.variables_cut = variables_cut == 1;
  if (end == RunEnd::kExitBootServices) {
    outcome.final_map = std::move(read.final_map);
    outcome.allocations = std::move(read.allocations);
    outcome.context = read.context;
    outcome.system_table = read.system_table;
    outcome.image_handle = read.image_handle;
    outcome.top_image_base = read.top_image_base;
    outcome.handoff_code = read.handoff_code;
    outcome.handoff_data = read.handoff_data;
  }
  return {};
}

}  // namespace efikexec::kexec
