// SPDX-License-Identifier: MIT
// The parent's reading of the run's report (src/kexec/run/child_report.cpp): the child ran the
// image, so the report's bytes are the image's to choose. Whatever they are, the reader returns
// a verdict; what it accepts is bounded and lies in the machine's RAM and the run's memory.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_assert.hpp"
#include "kexec/run/child_report.hpp"
#include "kexec/run/efi_run.hpp"

using namespace efikexec;
using namespace efikexec::kexec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The report up to its console buffer is what the child may shape; the rest stays zero.
  static auto* report = new ChildReport{};
  constexpr std::size_t kHead = offsetof(ChildReport, console);
  std::memset(static_cast<void*>(report), 0, kHead);
  std::memcpy(static_cast<void*>(report), data, std::min(size, kHead));
  // A claim of the whole 16 MiB trace costs a 16 MiB walk per run (78 runs/s): claims are kept
  // within 64 KiB here, which leaves every rule of the reader reachable but the clamp to the
  // buffers' size, and confinement_test.cpp claims ~0 of both.
  constexpr std::uint64_t kClaimLimit = 64 << 10;
  report->console_used %= kClaimLimit + 1;
  report->trace_used %= kClaimLimit + 1;
  static constexpr std::pair<std::uint64_t, std::uint64_t> kRam[] = {
      {0x1000, 0x9f000}, {0x100000, 0x3f000000}};
  const ReportLimits limits{kRam, std::uint64_t{1} << 32, 1, 2};
  RunOutcome outcome;
  read_child_output(*report, outcome);
  FUZZ_ASSERT(outcome.console.size() <= kReportConsoleSize);
  if (auto read = read_child_report(*report, limits, outcome); !read) {
    FUZZ_ASSERT(!read.error().reason.empty());
    return 0;
  }
  FUZZ_ASSERT(outcome.message.size() <= kReportMessageSize);
  for (char c : outcome.message) FUZZ_ASSERT(static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t');
  FUZZ_ASSERT(outcome.end != RunEnd::kTimeout);
  FUZZ_ASSERT(outcome.final_map.size() <= efi::MemoryManager::kMaxRanges);
  FUZZ_ASSERT(outcome.variables_set.size() <= kReportVariables);
  for (const ImageVariable& variable : outcome.variables_set) {
    FUZZ_ASSERT(!variable.name.empty() && variable.name.size() <= 3 * kReportVariableNameChars + 3);
    FUZZ_ASSERT(variable.guid.size() == 36);
    FUZZ_ASSERT(variable.hex.size() <= 2 * kReportVariableData);
    FUZZ_ASSERT(variable.text.has_value() == variable.hex.empty() || variable.size == 0);
    for (const std::string* text : {&variable.name, variable.text ? &*variable.text : nullptr})
      if (text != nullptr)
        for (char c : *text) FUZZ_ASSERT(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  }
  std::uint64_t previous_end = 0;
  for (const efi::MemoryRange& range : outcome.final_map) {
    FUZZ_ASSERT(range.start >= previous_end && range.end() > range.start);
    previous_end = range.end();
    if (!range.allocated) continue;
    bool in_ram = false;
    for (auto [start, end] : kRam) in_ram |= range.start >= start && range.end() <= end;
    FUZZ_ASSERT(in_ram && range.end() <= limits.memory_top);
  }
  return 0;
}
