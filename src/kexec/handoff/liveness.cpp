// SPDX-License-Identifier: MIT
#include "kexec/handoff/liveness.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "kexec/handoff/efi_setup.hpp"
#include "kexec/run/child_report.hpp"
#include "uki/boot_params_offsets.hpp"
#include "uki/uki.hpp"

namespace efikexec::kexec {

namespace {

constexpr std::uint64_t kPage = efi::kPageSize;
// Longer setup_data chains than any stub writes are the image's doing: nothing is left out then.
constexpr int kMaxSetupDataNodes = 64;
// The DOS header and e_lfanew: what the mapped image must begin with.
constexpr std::size_t kComparedHeaderBytes = 0x40;
constexpr std::uint64_t kRedZone = 128;  // System V x86_64 ABI §3.2.2

// Addresses the next kernel reaches, as [start, end) spans.
class Roots {
 public:
  void add(std::uint64_t start, std::uint64_t size) {
    if (start == 0) return;
    spans_.push_back({start, size > ~std::uint64_t{0} - start ? ~std::uint64_t{0}
                                                               : start + std::max<std::uint64_t>(size, 1)});
  }
  // When the roots cannot all be known, every section stays.
  void add_everything() { spans_.push_back({0, ~std::uint64_t{0}}); }
  bool reach(std::uint64_t start, std::uint64_t end) const {
    return std::ranges::any_of(spans_, [&](const PhysicalSpan& span) {
      return span.start < end && start < span.end;
    });
  }

 private:
  std::vector<PhysicalSpan> spans_;
};

PhysicalSpan span_of(const efi::MemoryManager::Allocation& allocation) {
  return {allocation.start, allocation.start + efi::pages_to_bytes(allocation.pages)};
}

// The map's allocated range that holds `address` (the map merges neighbours of one type).
const efi::MemoryRange* allocated_range_at(const RunOutcome& run, std::uint64_t address) {
  const auto range = std::ranges::find_if(run.final_map, [&](const efi::MemoryRange& r) {
    return r.allocated && address >= r.start && address < r.end();
  });
  return range == run.final_map.end() ? nullptr : &*range;
}

// The allocation `address` lies in: from the run's list, else the map's range.
std::optional<PhysicalSpan> allocation_holding(const RunOutcome& run, std::uint64_t address) {
  for (const efi::MemoryManager::Allocation& allocation : run.allocations)
    if (address >= allocation.start && address - allocation.start < efi::pages_to_bytes(allocation.pages))
      return span_of(allocation);
  if (const efi::MemoryRange* range = allocated_range_at(run, address))
    return PhysicalSpan{range->start, range->end()};
  return std::nullopt;
}

std::uint64_t read_u32(const IdentityMemory& memory, std::uint64_t address, bool& ok) {
  std::array<std::byte, 4> bytes{};
  ok = ok && memory.read(address, bytes);
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data(), 4);
  return value;
}

void add_boot_params(const RunOutcome& run, Roots& roots) {
  if (!run.boot_params) return roots.add_everything();
  const BootParamsFacts& facts = *run.boot_params;
  using namespace uki::boot_params_offsets;
  roots.add(facts.address, kPage);
  roots.add(facts.command_line_address, facts.command_line.size() + 1);
  roots.add(facts.initrd_address, facts.initrd_size);
  roots.add(facts.efi_memory_map, facts.efi_memory_map_size);
  roots.add(facts.efi_system_table, sizeof(EFI_SYSTEM_TABLE));
  bool ok = true;
  roots.add(read_u32(*run.memory, facts.address + kCode32Start, ok), 1);
  roots.add(read_u32(*run.memory, facts.address + kAcpiRsdpAddr, ok) |
                (read_u32(*run.memory, facts.address + kAcpiRsdpAddr + 4, ok) << 32),
            1);
  std::array<std::byte, 8> link{};
  ok = ok && run.memory->read(facts.address + kSetupData, link);
  std::uint64_t node = 0;
  std::memcpy(&node, link.data(), 8);
  for (int followed = 0; ok && node != 0; ++followed) {
    std::array<std::byte, 16> header{};  // struct setup_data: next, type, len
    if (followed == kMaxSetupDataNodes || !in_allocated(run.final_map, node, header.size()) ||
        !run.memory->read(node, header)) {
      ok = false;
      break;
    }
    std::uint32_t length = 0;
    std::memcpy(&length, header.data() + 12, 4);
    roots.add(node, header.size() + length);
    std::memcpy(&node, header.data(), 8);
  }
  if (!ok) roots.add_everything();
}

// The pages of the UKI's payload sections no root reaches (docs in the header).
void add_unreached_uki_sections(const RunOutcome& run, const uki::Uki& uki, const Roots& roots,
                                std::vector<LeftOutSpan>& dead) {
  const pe::Image& image = uki.image();
  const std::uint64_t base = run.top_image_base;
  if (uki.kind() != uki::ImageKind::kUki || base == 0 ||
      !in_allocated(run.final_map, base, image.size_of_image()) ||
      image.file().size() < kComparedHeaderBytes)
    return;
  std::array<std::byte, kComparedHeaderBytes> mapped{};
  if (!run.memory->read(base, mapped) ||
      std::memcmp(mapped.data(), image.file().data(), mapped.size()) != 0)
    return;

  // What of the image stays: its headers, the stub's own sections and the reached payload.
  // The rest, padding between sections and the allocation's last page included, goes.
  std::vector<PhysicalSpan> kept = {{base, base + image.size_of_headers()}};
  std::vector<const pe::Section*> payload;
  for (const pe::Section& section : image.sections()) {
    const std::uint64_t start = base + section.virtual_address;
    const std::uint64_t end = start + section.memory_size();
    if (uki::is_uki_section_name(section.name()) && !roots.reach(start, end))
      payload.push_back(&section);
    else
      kept.push_back({start, end});
  }
  std::ranges::sort(kept, {}, &PhysicalSpan::start);
  const std::uint64_t image_end = (base + image.size_of_image() + kPage - 1) & ~(kPage - 1);
  kept.push_back({image_end, image_end});

  std::uint64_t cursor = base;
  for (const PhysicalSpan& span : kept) {
    const std::uint64_t first = (cursor + kPage - 1) & ~(kPage - 1);
    const std::uint64_t last = span.start & ~(kPage - 1);
    cursor = std::max(cursor, span.end);
    if (first >= last) continue;
    LeftOutSpan section{{}, first, last};
    for (const pe::Section* candidate : payload) {
      const std::uint64_t start = base + candidate->virtual_address;
      if (start < last && first < start + candidate->memory_size())
        section.name += (section.name.empty() ? "" : "+") + std::string(candidate->name());
    }
    if (!section.name.empty()) dead.push_back(std::move(section));
  }
}

// Data allocations no root reaches: what systemd-stub assembled for the Linux stub to copy
// (the combined initrd), the shim's LoadFile2 initrd, pool the stubs never freed.
// One allocation at a time when the run listed them; else the map's ranges, where neighbours
// of one type are merged (one reached allocation keeps its neighbours).
void add_unreached_data(const RunOutcome& run, const Roots& roots, std::vector<LeftOutSpan>& dead) {
  auto consider = [&](std::uint32_t type, std::uint64_t start, std::uint64_t end) {
    if ((type == EfiLoaderData || type == EfiBootServicesCode || type == EfiBootServicesData) &&
        !roots.reach(start, end))
      dead.push_back({efi::memory_type_name(type), start, end});
  };
  if (run.allocations.empty()) {
    for (const efi::MemoryRange& range : run.final_map)
      if (range.allocated) consider(range.type, range.start, range.end());
    return;
  }
  for (const efi::MemoryManager::Allocation& allocation : run.allocations)
    if (const efi::MemoryRange* range = allocated_range_at(run, allocation.start))
      consider(range->type, allocation.start, span_of(allocation).end);
}

// The kernel's compressed payload once the Linux stub decompressed it before
// ExitBootServices() (docs in the header). Each step that cannot be shown keeps it.
void add_spent_compressed_kernel(const RunOutcome& run, const uki::Uki& uki, const Roots& roots,
                                 std::vector<LeftOutSpan>& dead) {
  if (run.allocations.empty()) return;
  const ByteView kernel = uki.kernel();
  const auto header = uki::parse_linux_boot_header(kernel);
  if (!header || header->payload_length < kPage) return;
  const std::uint64_t payload_offset = uki::payload_file_offset(*header);
  const std::uint64_t payload_length = header->payload_length;
  if (!kernel.contains(payload_offset, payload_length)) return;
  // The payload's offset in memory is its file offset only where its section lies in memory
  // as in the file (every x86 bzImage: the handover entry runs it from the file's layout).
  auto kernel_image = pe::Image::parse(kernel);
  if (!kernel_image) return;
  const auto section = std::ranges::find_if(kernel_image->sections(), [&](const pe::Section& s) {
    return s.raw_offset <= payload_offset && payload_offset - s.raw_offset < s.raw_size;
  });
  if (section == kernel_image->sections().end() || section->virtual_address != section->raw_offset ||
      payload_offset + payload_length > std::uint64_t{section->raw_offset} + section->raw_size)
    return;

  // Where the kernel lies: the resumed code is its stub, and the payload's first and last
  // bytes are the verified file's at one page-aligned base of that allocation.
  const std::uint64_t rip = run.context.rip;
  const std::optional<PhysicalSpan> code = allocation_holding(run, rip);
  if (!code) return;
  const std::uint64_t kernel_span = std::max<std::uint64_t>(kernel.size(), kernel_image->size_of_image());
  constexpr std::size_t kCompared = 64;
  const ByteView head = *kernel.subview(payload_offset, kCompared, "");
  const ByteView tail = *kernel.subview(payload_offset + payload_length - kCompared, kCompared, "");
  auto same = [&](std::uint64_t address, ByteView expected) {
    std::array<std::byte, kCompared> bytes{};
    return run.memory->read(address, bytes) &&
           std::memcmp(bytes.data(), expected.data(), kCompared) == 0;
  };
  std::optional<std::uint64_t> base;
  const std::uint64_t lowest = rip > kernel_span ? std::max(code->start, rip - kernel_span) : code->start;
  for (std::uint64_t candidate = (lowest + kPage - 1) & ~(kPage - 1);
       candidate <= rip && candidate < code->end; candidate += kPage)
    if (same(candidate + payload_offset, head) &&
        same(candidate + payload_offset + payload_length - kCompared, tail)) {
      base = candidate;
      break;
    }
  if (!base || *base + payload_offset + payload_length > code->end) return;

  // That the stub decompressed: a LoaderCode allocation of its own, at least the payload's
  // size, which is no image (none of the code's, not the run's image, no MZ header). The legacy
  // flow, which decompresses after ExitBootServices(), allocates none: it runs the kernel in
  // place or relocates it into LoaderData (efi_relocate_kernel).
  const bool decompressed = std::ranges::any_of(run.allocations, [&](const auto& allocation) {
    const PhysicalSpan span = span_of(allocation);
    std::array<std::byte, 2> magic{};
    const efi::MemoryRange* range = allocated_range_at(run, span.start);
    return range != nullptr && range->type == EfiLoaderCode &&
           span.size() >= payload_length && (span.end <= code->start || span.start >= code->end) &&
           !(run.top_image_base >= span.start && run.top_image_base < span.end) &&
           run.memory->read(span.start, magic) && !(magic[0] == std::byte{'M'} && magic[1] == std::byte{'Z'});
  });
  if (!decompressed) return;
  const std::uint64_t start = (*base + payload_offset + kPage - 1) & ~(kPage - 1);
  const std::uint64_t end = (*base + payload_offset + payload_length) & ~(kPage - 1);
  if (start < end && !roots.reach(start, end)) dead.push_back({"compressed kernel", start, end});
}

// What the resumed code's own allocation points into stays, whatever root names it: the
// Linux stub keeps the code it runs after ExitBootServices() to switch paging modes in two
// LoaderData pages that only a variable of its image points to (where CPUID offers LA57).
// Every aligned 8-byte word of the allocation RIP lies in is taken for a pointer. The rest of
// kept memory is not read: the stack above the resumed frame and systemd-stub's data hold
// pointers into what is dead (its buffers, the UKI's sections), which nothing runs again.
// `dead` is in address order, and stays so.
void keep_what_the_resumed_code_points_to(const RunOutcome& run, std::vector<LeftOutSpan>& dead) {
  if (dead.empty()) return;
  const std::optional<PhysicalSpan> code = allocation_holding(run, run.context.rip);
  if (!code) return;

  std::vector<bool> kept(dead.size(), false);
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<std::byte> chunk(kChunk);
  for (std::uint64_t at = code->start & ~std::uint64_t{7}; at < code->end; at += kChunk) {
    const std::size_t length =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, code->end - at)) & ~std::size_t{7};
    if (length == 0 || !run.memory->read(at, std::span(chunk).first(length))) continue;
    for (std::size_t offset = 0; offset < length; offset += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, chunk.data() + offset, 8);
      const auto after = std::ranges::upper_bound(dead, word, {}, &LeftOutSpan::start);
      if (after == dead.begin()) continue;
      const auto index = static_cast<std::size_t>(after - dead.begin()) - 1;
      if (word < dead[index].end) kept[index] = true;
    }
  }
  std::size_t next = 0;
  for (std::size_t i = 0; i < dead.size(); ++i) {
    if (kept[i]) continue;
    if (next != i) dead[next] = std::move(dead[i]);
    ++next;
  }
  dead.resize(next);
}

}  // namespace

std::vector<LeftOutSpan> dead_after_exit_boot_services(const RunOutcome& run,
                                                       const pe::Image& image,
                                                       std::span<const PhysicalSpan> handoff) {
  if (run.memory == nullptr) return {};
  Roots roots;
  for (const PhysicalSpan& span : handoff) roots.add(span.start, span.size());
  const efikexec_cpu_context& context = run.context;
  for (std::uint64_t value : {context.rip, context.rsp, context.rbx, context.rbp, context.rdi,
                              context.rsi, context.r12, context.r13, context.r14, context.r15})
    roots.add(value, 1);
  // The stack the image resumes on, and the red zone below it.
  if (context.rsp > kRedZone) roots.add(context.rsp - kRedZone, kRedZone);
  add_boot_params(run, roots);
  if (auto system_table = read_system_table_pointers(run)) {
    roots.add(system_table->firmware_vendor, 1);
    roots.add(system_table->runtime_services, sizeof(EFI_RUNTIME_SERVICES));
    roots.add(system_table->array, system_table->count * sizeof(EFI_CONFIGURATION_TABLE));
    for (std::uint64_t table : system_table->tables) roots.add(table, 1);
  } else {
    roots.add_everything();
  }
  std::vector<LeftOutSpan> dead;
  const uki::Uki uki = uki::Uki::from_image(image);
  add_unreached_uki_sections(run, uki, roots, dead);
  add_unreached_data(run, roots, dead);
  std::ranges::sort(dead, {}, &LeftOutSpan::start);
  keep_what_the_resumed_code_points_to(run, dead);
  // After the scan: what the stub's image holds that looks like a pointer into its payload is
  // the finished decompressor's state, or no pointer at all (its strings read as addresses).
  add_spent_compressed_kernel(run, uki, roots, dead);
  std::ranges::sort(dead, {}, &LeftOutSpan::start);
  // Neighbouring allocations left out are one span.
  std::vector<LeftOutSpan> merged;
  for (LeftOutSpan& section : dead) {
    if (!merged.empty() && merged.back().end == section.start && merged.back().name == section.name)
      merged.back().end = section.end;
    else
      merged.push_back(std::move(section));
  }
  return merged;
}

std::vector<efi::MemoryRange> without_dead(const std::vector<efi::MemoryRange>& map,
                                           std::span<const LeftOutSpan> dead) {
  std::vector<efi::MemoryRange> out;
  for (const efi::MemoryRange& range : map) {
    std::uint64_t cursor = range.start;
    auto emit = [&](std::uint64_t start, std::uint64_t end, bool free) {
      if (start >= end) return;
      efi::MemoryRange piece = range;
      piece.start = start;
      piece.pages = efi::bytes_to_pages(end - start);
      if (free) {
        piece.type = EfiConventionalMemory;
        piece.allocated = false;
      }
      out.push_back(piece);
    };
    if (range.allocated)
      for (const LeftOutSpan& section : dead) {
        const std::uint64_t start = std::max(section.start, cursor);
        const std::uint64_t end = std::min(section.end, range.end());
        if (start >= end) continue;
        emit(cursor, start, false);
        emit(start, end, true);
        cursor = end;
      }
    emit(cursor, range.end(), false);
  }
  return out;
}

}  // namespace efikexec::kexec
