// SPDX-License-Identifier: MIT
#include <nlohmann/json.hpp>

#include "kexec/handoff/kexec_plan.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <set>

#include "handoff_tables.hpp"
#include "kexec/common/digest.hpp"
#include "kexec/common/hex.hpp"
#include "kexec/run/run_report.hpp"

namespace efikexec::kexec {

namespace {

constexpr std::uint64_t kPage = efi::kPageSize;

// A segment's SHA-256, hashed straight from the run's memory file (mapped populated, read
// once): copying first would cost a fresh page per 4 KiB, which dominated dry runs.
std::string segment_sha256(const IdentityMemory& memory, const PlannedSegment& segment) {
  if (segment.bufsz == 0) return sha256_hex({});
  void* bytes = mmap(nullptr, segment.bufsz, PROT_READ, MAP_SHARED | MAP_POPULATE, memory.fd(),
                     static_cast<off_t>(segment.destination));
  if (bytes == MAP_FAILED) return "unreadable";
  std::string digest =
      sha256_hex(ByteView(static_cast<const std::byte*>(bytes), segment.bufsz));
  munmap(bytes, segment.bufsz);
  return digest;
}

struct Extent {
  std::uint64_t start;
  std::uint64_t end;
  std::set<std::string> types;
};

// True when [start, end) is entirely conventional RAM in the map: a gap a segment may cover
// (the next kernel owns that memory anyway; the segment only zeroes it).
bool is_free_ram(const std::vector<efi::MemoryRange>& map, std::uint64_t start, std::uint64_t end) {
  std::uint64_t cursor = start;
  for (const efi::MemoryRange& range : map) {
    if (range.end() <= cursor || range.start >= end) continue;
    if (range.start > cursor || range.type != EfiConventionalMemory) return false;
    cursor = range.end();
    if (cursor >= end) return true;
  }
  return cursor >= end;
}

}  // namespace

HandoffLayout handoff_layout(const Machine& machine, const Trampoline& trampoline,
                             std::uint64_t crash_pages) {
  const std::uint64_t top = arch::identity_map_top(machine.top_of_address_space());
  const std::uint64_t efi_setup = machine.firmware_runtime ? kEfiSetupPages : 0;
  return {efi::bytes_to_pages(trampoline.size()),
          arch::identity_table_pages(top) + efi_setup + crash_pages, top, efi_setup, crash_pages};
}

HostResult<KexecPlan> plan_kexec(const Machine& machine, const Trampoline& trampoline,
                                 const HandoffLayout& layout, RunOutcome& run,
                                 const pe::Image& image, bool serial_mark,
                                 const CrashPlan* crash) {
  KexecPlan plan;
  if (run.memory == nullptr || run.handoff_code == 0 || run.handoff_data == 0)
    return host_fail(Stage::kPlan, "the run did not set aside pages for the handoff");
  // The page tables cover all RAM (write-back) and everything below the top (uncached).
  std::vector<arch::PhysicalRange> ram;
  for (const MachineRange& range : machine.ranges)
    if (range.kind == RangeKind::kRam) ram.push_back({range.start, range.end});
  if (layout.efi_setup_pages + layout.crash_pages > layout.data_pages ||
      (crash != nullptr && layout.crash_pages < kCrashCommandLinePages))
    return host_fail(Stage::kPlan, "the handoff layout has no room for its page tables");
  const std::uint64_t table_pages =
      layout.data_pages - layout.efi_setup_pages - layout.crash_pages;
  std::vector<std::byte> tables(efi::pages_to_bytes(table_pages));
  const arch::TableRoots roots =
      arch::build_identity_tables(tables, run.handoff_data, layout.map_top, ram);
  Trampoline::Parameters parameters{roots.pml4, roots.pml5, run.context, serial_mark};
  if (crash != nullptr) {
    parameters.backup_source = 0;
    parameters.backup_destination = crash->layout.backup.start;
    parameters.backup_size = kCrashBackupSourceSize;
  }
  auto blob = trampoline.place(run.handoff_code, parameters);
  if (!blob) return std::unexpected(std::move(blob.error()));
  std::uint64_t entry_offset = 0;
  if (!trampoline.symbol("efikexec_trampoline_entry", entry_offset))
    return host_fail(Stage::kPlan, "the trampoline object has no entry symbol");
  if (!run.memory->write(run.handoff_data, tables) ||
      !run.memory->write(run.handoff_code, std::as_bytes(std::span(*blob))))
    return host_fail(Stage::kPlan, "cannot write the handoff into the run's memory");
  plan.entry = run.handoff_code + entry_offset;
  plan.trampoline = run.handoff_code;
  plan.page_tables = run.handoff_data;
  const std::uint64_t efi_setup_page =
      layout.efi_setup_pages == 0 ? 0 : run.handoff_data + efi::pages_to_bytes(table_pages);
  auto runtime = hand_over_runtime_services(machine, run, efi_setup_page);
  if (!runtime) return std::unexpected(std::move(runtime.error()));
  plan.runtime = std::move(*runtime);
  if (crash != nullptr) {
    const std::uint64_t crash_page =
        run.handoff_data + efi::pages_to_bytes(table_pages + layout.efi_setup_pages);
    CrashRequest request;
    request.append = crash->append;
    request.command_line_page = crash_page;
    request.command_line_capacity = efi::pages_to_bytes(kCrashCommandLinePages);
    request.command_line_limit = crash->command_line_limit;
    request.initrd = crash->replacement_initrd;
    request.initrd_page = crash_page + request.command_line_capacity;
    auto handed = hand_over_crash(machine, *crash->facts, crash->layout, crash->headers, request, run);
    if (!handed) return std::unexpected(std::move(handed.error()));
    plan.crash = std::move(*handed);
  }

  // Everything the run allocated that the next kernel reaches must be where the image left it;
  // neighbours merge.
  const std::array<PhysicalSpan, 2> handoff = {
      PhysicalSpan{run.handoff_code, run.handoff_code + efi::pages_to_bytes(layout.code_pages)},
      PhysicalSpan{run.handoff_data, run.handoff_data + efi::pages_to_bytes(layout.data_pages)}};
  plan.left_out = dead_after_exit_boot_services(run, image, handoff);
  for (const LeftOutSpan& section : plan.left_out)
    plan.left_out_bytes += section.end - section.start;
  const std::vector<efi::MemoryRange> carried = without_dead(run.final_map, plan.left_out);
  std::vector<Extent> extents;
  for (const efi::MemoryRange& range : carried) {
    if (!range.allocated) continue;
    const std::string type = efi::memory_type_name(range.type);
    if (!extents.empty() && extents.back().end == range.start) {
      extents.back().end = range.end();
      extents.back().types.insert(type);
      continue;
    }
    extents.push_back({range.start, range.end(), {type}});
  }
  // kexec_load takes at most 16 segments (one of them a crash kernel's core headers): close the
  // smallest gaps of free RAM until they fit.
  const std::size_t room = kMaxKexecSegments - (crash != nullptr ? 1 : 0);
  while (extents.size() > room) {
    std::size_t best = extents.size();
    for (std::size_t i = 0; i + 1 < extents.size(); ++i) {
      if (!is_free_ram(carried, extents[i].end, extents[i + 1].start)) continue;
      if (best == extents.size() || extents[i + 1].start - extents[i].end <
                                        extents[best + 1].start - extents[best].end)
        best = i;
    }
    if (best == extents.size())
      return host_fail(Stage::kPlan, "the image's memory lies in more than 16 places separated "
                                     "by firmware ranges");
    extents[best].end = extents[best + 1].end;
    extents[best].types.insert(extents[best + 1].types.begin(), extents[best + 1].types.end());
    extents.erase(extents.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }

  // Long runs of zeros leave their segment for the trampoline to clear: kexec_load would
  // allocate, clear and copy every page of them, and the old kernel copy each again at exec.
  // The longest first, while segments and the trampoline's table have room; never the
  // handoff's own pages, which are rewritten below.
  struct ZeroRun {
    std::size_t extent;
    PhysicalSpan span;
  };
  std::vector<ZeroRun> zero_runs;
  // A crash kernel's backup and core headers lie outside what the run was given; kept out all
  // the same, since the trampoline writes the backup before it clears.
  std::vector<PhysicalSpan> kept(handoff.begin(), handoff.end());
  if (crash != nullptr) {
    kept.push_back(crash->layout.backup);
    kept.push_back(crash->layout.headers);
  }
  for (std::size_t i = 0; i < extents.size(); ++i)
    for (const auto& [start, end] :
         run.memory->zero_runs(extents[i].start, extents[i].end, kZeroRunMinimum)) {
      const PhysicalSpan span{start, end};
      if (std::ranges::none_of(kept, [&](const PhysicalSpan& own) {
            return own.start < span.end && span.start < own.end;
          }))
        zero_runs.push_back({i, span});
    }
  std::ranges::stable_sort(zero_runs, std::ranges::greater{},
                           [](const ZeroRun& zero) { return zero.span.size(); });
  std::vector<ZeroRun> chosen;
  std::size_t segment_count = extents.size();
  for (const ZeroRun& zero : zero_runs) {
    if (chosen.size() == kTrampolineZeroRanges) break;
    const Extent& extent = extents[zero.extent];
    const bool at_start = zero.span.start == extent.start;
    const bool at_end = zero.span.end == extent.end;
    // Inside an extent it splits the segment in two; at an edge it shortens it; covering the
    // whole extent it removes it.
    const std::size_t count = segment_count + (!at_start && !at_end ? 1 : 0) -
                              (at_start && at_end ? 1 : 0);
    if (count > room) continue;
    segment_count = count;
    chosen.push_back(zero);
  }
  std::ranges::sort(chosen, {}, [](const ZeroRun& zero) { return zero.span.start; });
  std::vector<Extent> pieces;
  {
    auto next_zero = chosen.begin();
    for (std::size_t i = 0; i < extents.size(); ++i) {
      std::uint64_t cursor = extents[i].start;
      for (; next_zero != chosen.end() && next_zero->extent == i; ++next_zero) {
        if (next_zero->span.start > cursor)
          pieces.push_back({cursor, next_zero->span.start, extents[i].types});
        cursor = next_zero->span.end;
        plan.zero_ranges.push_back(next_zero->span);
        plan.zero_bytes += next_zero->span.size();
      }
      if (cursor < extents[i].end) pieces.push_back({cursor, extents[i].end, extents[i].types});
    }
  }
  if (!plan.zero_ranges.empty()) {
    parameters.zero_ranges = plan.zero_ranges;
    auto cleared = trampoline.place(run.handoff_code, parameters);
    if (!cleared) return std::unexpected(std::move(cleared.error()));
    if (!run.memory->write(run.handoff_code, std::as_bytes(std::span(*cleared))))
      return host_fail(Stage::kPlan, "cannot write the handoff into the run's memory");
  }

  for (const Extent& extent : pieces) {
    const std::uint64_t data_end = run.memory->end_of_data(extent.start, extent.end);
    PlannedSegment segment;
    segment.destination = extent.start;
    segment.memsz = extent.end - extent.start;
    segment.bufsz = std::min(segment.memsz, (data_end - extent.start + kPage - 1) & ~(kPage - 1));
    for (const std::string& type : extent.types)
      segment.contents += (segment.contents.empty() ? "" : "+") + type;
    plan.memsz_total += segment.memsz;
    plan.bufsz_total += segment.bufsz;
    plan.segments.push_back(std::move(segment));
  }
  if (crash != nullptr) {
    // The core headers lie in the reserved pages above everything the image was given.
    const PhysicalSpan& headers = crash->layout.headers;
    plan.segments.push_back({headers.start, headers.size(), headers.size(), "ElfCoreHeaders"});
    plan.memsz_total += headers.size();
    plan.bufsz_total += headers.size();
    std::sort(plan.segments.begin(), plan.segments.end(),
              [](const PlannedSegment& a, const PlannedSegment& b) {
                return a.destination < b.destination;
              });
  }
  if (auto sane = check_segments_as_the_kernel_does(plan, machine); !sane)
    return std::unexpected(std::move(sane.error()));
  return plan;
}

HostStatus check_segments_as_the_kernel_does(const KexecPlan& plan, const Machine& machine) {
  // kernel/kexec_core.c, sanity_check_segment_list(), in its order.
  if (plan.segments.size() > kMaxKexecSegments)
    return host_fail(Stage::kPlan, "more than 16 kexec segments");
  std::uint64_t previous_end = 0;
  for (const PlannedSegment& segment : plan.segments) {
    if (segment.destination % kPage != 0 || segment.memsz % kPage != 0)
      return host_fail(Stage::kPlan, "a kexec segment is not page-aligned at " +
                                         hex_u64(segment.destination));
    if (segment.memsz > ~std::uint64_t{0} - segment.destination)
      return host_fail(Stage::kPlan, "a kexec segment wraps around the address space");
    // The segments are planned in address order, so overlap is a start below the previous end.
    if (segment.destination < previous_end)
      return host_fail(Stage::kPlan, "kexec segments overlap at " + hex_u64(segment.destination));
    previous_end = segment.destination + segment.memsz;
    if (segment.bufsz > segment.memsz)
      return host_fail(Stage::kPlan, "a kexec segment has more data than memory at " +
                                         hex_u64(segment.destination));
  }
  if (plan.crash) {
    // kernel/kexec_core.c: a crash image's segments (and kimage_crash_alloc: its entry) must lie
    // in crashk_res.
    const PhysicalSpan& reservation = plan.crash->reservation;
    for (const PlannedSegment& segment : plan.segments)
      if (segment.destination < reservation.start ||
          segment.destination + segment.memsz > reservation.end)
        return host_fail(Stage::kPlan, "a crash kernel segment at " +
                                           hex_u64(segment.destination) +
                                           " lies outside the crash kernel reservation");
    if (plan.entry < reservation.start || plan.entry >= reservation.end)
      return host_fail(Stage::kPlan, "the crash kernel's entry lies outside its reservation");
  }
  if (plan.memsz_total > machine.ram_bytes() / 2)
    return host_fail(Stage::kPlan, "the image used " + std::to_string(plan.memsz_total >> 20) +
                                       " MiB, more than half of this machine's RAM, which "
                                       "kexec_load refuses");
  return {};
}

nlohmann::json plan_json(const KexecPlan& plan, const RunOutcome& run) {
  nlohmann::json segments = nlohmann::json::array();
  for (const PlannedSegment& segment : plan.segments)
    segments.push_back({{"destination", hex_u64(segment.destination)},
                        {"memsz", segment.memsz},
                        {"bufsz", segment.bufsz},
                        {"contents", segment.contents},
                        {"sha256", segment_sha256(*run.memory, segment)}});
  nlohmann::json left_out = nlohmann::json::array();
  for (const LeftOutSpan& section : plan.left_out)
    left_out.push_back({{"section", section.name},
                        {"start", hex_u64(section.start)},
                        {"size", section.end - section.start}});
  nlohmann::json zero_ranges = nlohmann::json::array();
  for (const PhysicalSpan& range : plan.zero_ranges)
    zero_ranges.push_back({{"start", hex_u64(range.start)}, {"size", range.size()}});
  nlohmann::json map = nlohmann::json::array();
  for (const efi::MemoryRange& range : run.final_map)
    map.push_back({{"start", hex_u64(range.start)},
                   {"pages", range.pages},
                   {"type", efi::memory_type_name(range.type)},
                   {"attribute", hex_u64(range.attribute)}});
  return {{"entry", hex_u64(plan.entry)},
          {"trampoline", hex_u64(plan.trampoline)},
          {"page_tables", hex_u64(plan.page_tables)},
          {"memsz_total", plan.memsz_total},
          {"bufsz_total", plan.bufsz_total},
          {"segments", segments},
          {"left_out", left_out},
          {"left_out_bytes", plan.left_out_bytes},
          {"zero_ranges", zero_ranges},
          {"zero_bytes", plan.zero_bytes},
          {"runtime_services",
           {{"firmware", plan.runtime.firmware},
            {"description", plan.runtime.description},
            {"setup_efi", plan.runtime.firmware ? nlohmann::json(hex_u64(plan.runtime.setup_data))
                                                : nlohmann::json(nullptr)},
            {"runtime_table", plan.runtime.firmware
                                  ? nlohmann::json(hex_u64(plan.runtime.runtime_services))
                                  : nlohmann::json(nullptr)}}},
          {"crash", plan.crash ? crash_handoff_json(*plan.crash) : nlohmann::json(nullptr)},
          {"memory_map", map},
          {"run", run_outcome_json(run)}};
}

}  // namespace efikexec::kexec
