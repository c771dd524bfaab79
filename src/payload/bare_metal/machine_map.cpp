// SPDX-License-Identifier: MIT
#include "payload/bare_metal/machine_map.hpp"

#include "pe_loader/byte_view.hpp"

namespace efikexec::payload {

namespace {

constexpr std::uint64_t kPage = efi::kPageSize;
constexpr std::uint32_t kE820Ram = 1;
constexpr std::uint32_t kE820Acpi = 3;
constexpr std::uint32_t kE820Nvs = 4;
constexpr std::uint32_t kE820Unusable = 5;
constexpr std::uint32_t kE820Persistent = 7;
// E820_TYPE_RESERVED_KERN: RAM the previous kernel kept for its own setup_data; RAM to us.
constexpr std::uint32_t kE820ReservedKernel = 128;
constexpr std::uint32_t kEfiPersistent = 14;
constexpr std::uint32_t kEfiOemTypes = 0x70000000;

bool is_ram(std::uint32_t e820_type) {
  return e820_type == kE820Ram || e820_type == kE820ReservedKernel;
}

// Where e820 entries overlap, the higher describes the page (the order the host layer's machine
// description uses: RAM, reserved, unusable, persistent, ACPI reclaim, ACPI NVS).
int priority(std::uint32_t efi_type) {
  switch (efi_type) {
    case EfiConventionalMemory: return 0;
    case EfiReservedMemoryType: return 1;
    case EfiUnusableMemory: return 2;
    case kEfiPersistent: return 3;
    case EfiACPIReclaimMemory: return 5;
    case EfiACPIMemoryNVS: return 6;
    default: return 1;
  }
}

std::uint64_t attribute_of(std::uint32_t efi_type) {
  switch (efi_type) {
    case EfiConventionalMemory:
    case EfiLoaderData:
    case EfiACPIReclaimMemory:
    case EfiACPIMemoryNVS:
    case kEfiPersistent: return efi::kRamAttributes;
    default: return 0;
  }
}

// Types a runtime region can have: those firmware marks runtime (UEFI 2.10 §7.2.3: runtime code
// and data, the MMIO the services reach, PAL code, reserved and NVS memory, OEM/OS types), and
// those Linux marks runtime itself so that they survive kexec (efi_mem_reserve(): the ESRT, the
// memory attributes table, the TPM event log and the RNG seed in boot-services, loader or ACPI
// reclaim memory). Only conventional, unusable and persistent memory never are.
bool is_runtime_capable(std::uint32_t type) {
  switch (type) {
    case EfiConventionalMemory:
    case EfiUnusableMemory:
    case kEfiPersistent: return false;
    default: return true;
  }
}

struct Span {
  std::uint64_t start;
  std::uint64_t end;  // exclusive; start < end
};

// An untrusted [address, address + size) clipped to physical memory and made whole pages:
// inward for RAM (a partial page of RAM is not usable), outward for everything else (a partial
// page of firmware memory is still firmware's). Empty when nothing is left.
bool page_span(std::uint64_t address, std::uint64_t size, bool inward, Span& out) {
  if (size == 0 || address >= kPhysicalLimit) return false;
  std::uint64_t end = kPhysicalLimit;
  if (auto sum = checked_add(address, size); sum && *sum < kPhysicalLimit) end = *sum;
  if (inward) {
    out.start = (address + kPage - 1) & ~(kPage - 1);
    out.end = end & ~(kPage - 1);
  } else {
    out.start = address & ~(kPage - 1);
    out.end = (end + kPage - 1) & ~(kPage - 1);
  }
  return out.start < out.end;
}

void insertion_sort(std::span<std::uint64_t> values) {
  for (std::size_t i = 1; i < values.size(); ++i) {
    const std::uint64_t value = values[i];
    std::size_t j = i;
    for (; j > 0 && values[j - 1] > value; --j) values[j] = values[j - 1];
    values[j] = value;
  }
}

using RuntimeSpan = MachineMap::RuntimeSpan;

Result<void> check_runtime(std::span<const EfiRuntimeDescriptor> runtime,
                           efi::FixedVector<RuntimeSpan, MachineMap::kMaxRuntime>& out) {
  for (const EfiRuntimeDescriptor& d : runtime) {
    if (d.physical_start % kPage != 0 || d.virtual_start % kPage != 0)
      return fail(ErrorCode::kBadAlignment, "a runtime region is not page aligned",
                  d.physical_start);
    if (d.pages == 0)
      return fail(ErrorCode::kMalformed, "a runtime region has no pages", d.physical_start);
    auto bytes = checked_mul(d.pages, kPage);
    auto end = bytes ? checked_add(d.physical_start, *bytes) : std::nullopt;
    if (!end || *end > kPhysicalLimit || !checked_add(d.virtual_start, *bytes))
      return fail(ErrorCode::kOverflow, "a runtime region wraps or lies beyond physical memory",
                  d.physical_start);
    // Conventional, unusable or persistent memory is never the firmware's, whatever its
    // attributes say: e820 decides what it is.
    if (!is_runtime_capable(d.type)) continue;
    for (const RuntimeSpan& other : out)
      if (other.start < *end && d.physical_start < other.end)
        return fail(ErrorCode::kOverlap, "two runtime regions overlap", d.physical_start);
    if (!out.push_back({d.physical_start, *end, &d}))
      return fail(ErrorCode::kNoMemory, "more runtime regions than the payload takes");
  }
  return {};
}

constexpr std::uint64_t kFourGiB = std::uint64_t{1} << 32;

bool find_below(const MachineMap& map, std::uint64_t bytes, std::uint64_t floor,
                std::uint64_t ceiling, std::size_t& index, std::uint64_t& address) {
  for (std::size_t i = map.ranges.size(); i-- > 0;) {
    const efi::MemoryRange& range = map.ranges[i];
    if (range.type != EfiConventionalMemory) continue;
    const std::uint64_t top = range.end() < ceiling ? range.end() : ceiling;
    const std::uint64_t bottom = range.start > floor ? range.start : floor;
    if (top <= bottom || top - bottom < bytes) continue;
    index = i;
    address = top - bytes;
    return true;
  }
  return false;
}

}  // namespace

std::uint32_t efi_type_of_e820(std::uint32_t e820_type) {
  switch (e820_type) {
    case kE820Ram:
    case kE820ReservedKernel: return EfiConventionalMemory;
    case kE820Acpi: return EfiACPIReclaimMemory;
    case kE820Nvs: return EfiACPIMemoryNVS;
    case kE820Unusable: return EfiUnusableMemory;
    case kE820Persistent: return kEfiPersistent;
    default: return EfiReservedMemoryType;
  }
}

Result<void> build_machine_map(const BareMetalMachine& machine, MachineMap& map) {
  map.ranges.clear();
  map.bounds.clear();
  if (machine.e820.size() > MachineMap::kMaxE820)
    return fail(ErrorCode::kNoMemory, "more e820 entries than the payload takes",
                machine.e820.size());
  if (machine.in_use.size() > MachineMap::kMaxInUse)
    return fail(ErrorCode::kNoMemory, "more in-use ranges than the payload takes",
                machine.in_use.size());
  if (machine.runtime_map.size() > MachineMap::kMaxRuntime)
    return fail(ErrorCode::kNoMemory, "more runtime regions than the payload takes",
                machine.runtime_map.size());

  map.runtime.clear();
  if (auto checked = check_runtime(machine.runtime_map, map.runtime); !checked) return checked;

  auto add_bounds = [&](const Span& span) {
    (void)map.bounds.push_back(span.start);
    (void)map.bounds.push_back(span.end);
  };
  Span span{};
  for (const E820Range& entry : machine.e820)
    if (page_span(entry.address, entry.size, is_ram(entry.type), span)) add_bounds(span);
  for (const E820Range& used : machine.in_use) {
    if (used.size != 0 && !checked_add(used.address, used.size))
      return fail(ErrorCode::kOverflow, "an in-use range wraps", used.address);
    if (page_span(used.address, used.size, false, span)) add_bounds(span);
  }
  for (const RuntimeSpan& region : map.runtime) add_bounds({region.start, region.end});
  add_bounds({kLegacyAreaStart, kLegacyAreaEnd});
  insertion_sort(map.bounds.span());

  for (std::size_t i = 0; i + 1 < map.bounds.size(); ++i) {
    const std::uint64_t start = map.bounds[i];
    const std::uint64_t end = map.bounds[i + 1];
    if (start == end) continue;
    auto covers = [&](const Span& s) { return s.start <= start && s.end >= end; };

    bool used = false;
    for (const E820Range& range : machine.in_use)
      if (page_span(range.address, range.size, false, span) && covers(span)) used = true;
    const RuntimeSpan* region = nullptr;
    for (const RuntimeSpan& candidate : map.runtime)
      if (candidate.start <= start && candidate.end >= end) region = &candidate;
    std::uint32_t type = 0;
    std::uint64_t attribute = 0;
    std::uint64_t virtual_start = 0;
    if (region != nullptr) {
      if (used)
        return fail(ErrorCode::kOverlap, "a runtime region overlaps memory the payload uses",
                    start);
      type = region->descriptor->type;
      attribute = region->descriptor->attribute | EFI_MEMORY_RUNTIME;
      virtual_start = region->descriptor->virtual_start + (start - region->start);
    } else {
      bool found = false;
      for (const E820Range& entry : machine.e820) {
        if (!page_span(entry.address, entry.size, is_ram(entry.type), span) || !covers(span))
          continue;
        const std::uint32_t candidate = efi_type_of_e820(entry.type);
        if (!found || priority(candidate) > priority(type)) type = candidate;
        found = true;
      }
      if (!found) continue;  // a hole: not the machine's memory
      if (type == EfiConventionalMemory) {
        if (used) type = EfiLoaderData;
        else if (start >= kLegacyAreaStart && end <= kLegacyAreaEnd) type = EfiReservedMemoryType;
      }
      attribute = attribute_of(type);
    }

    const std::uint64_t pages = (end - start) / kPage;
    if (!map.ranges.empty()) {
      efi::MemoryRange& last = map.ranges.back();
      // Runtime pieces join only where their virtual addresses continue too.
      const bool runtime_contiguous =
          region == nullptr ||
          last.virtual_start + efi::pages_to_bytes(last.pages) == virtual_start;
      if (last.end() == start && last.type == type && last.attribute == attribute &&
          runtime_contiguous) {
        last.pages += pages;
        continue;
      }
    }
    if (!map.ranges.push_back({start, pages, type, attribute, false, virtual_start}))
      return fail(ErrorCode::kNoMemory, "the machine's memory map has too many ranges", start);
  }
  return {};
}

Result<std::uint64_t> set_aside(MachineMap& map, std::uint64_t pages) {
  const std::uint64_t bytes = efi::pages_to_bytes(pages);
  std::size_t index = 0;
  std::uint64_t address = 0;
  if (!find_below(map, bytes, efi::MemoryManager::kLowestAllocation, kFourGiB, index, address) &&
      !find_below(map, bytes, kFourGiB, ~std::uint64_t{0}, index, address))
    return fail(ErrorCode::kNoMemory, "no RAM for the shim's own pages", bytes);
  efi::MemoryRange& range = map.ranges[index];
  const efi::MemoryRange taken{address, pages, EfiBootServicesData, range.attribute, false};
  const std::uint64_t above = (range.end() - (address + bytes)) / efi::kPageSize;
  const efi::MemoryRange rest_above{address + bytes, above, EfiConventionalMemory,
                                    range.attribute, false};
  range.pages = (address - range.start) / efi::kPageSize;
  std::size_t at = index;
  if (range.pages == 0) {
    map.ranges[at] = taken;
  } else {
    ++at;
    if (!map.ranges.insert(at, taken))
      return fail(ErrorCode::kNoMemory, "the machine's memory map has too many ranges");
  }
  if (above != 0 && !map.ranges.insert(at + 1, rest_above))
    return fail(ErrorCode::kNoMemory, "the machine's memory map has too many ranges");
  return address;
}

}  // namespace efikexec::payload
