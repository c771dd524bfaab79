// SPDX-License-Identifier: MIT
// The payload's reading of what the kernel that loaded it handed over (untrusted): the e820
// table, the runtime map and the firmware-table pointers. The input is cut into entries; the
// same bytes are also physical memory for the firmware-table search. Invariants: the map is
// sorted, disjoint and page aligned, nothing the payload uses is conventional memory, every
// conventional page is e820 RAM, the shim's memory manager accepts the map, and the table search
// reads a bounded amount of memory.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_assert.hpp"
#include "payload/bare_metal/firmware_tables.hpp"
#include "payload/bare_metal/machine_map.hpp"

using namespace efikexec;
using namespace efikexec::payload;

namespace {

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  template <class T>
  T take() {
    T value{};
    const std::size_t count = sizeof(T) < size_ - at_ ? sizeof(T) : size_ - at_;
    std::memcpy(&value, data_ + at_, count);
    at_ += count;
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// The input as physical memory at a fixed base, counting reads.
class InputMemory final : public PhysicalReader {
 public:
  static constexpr std::uint64_t kBase = 0x7f000000;
  InputMemory(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool read(std::uint64_t address, std::span<std::byte> out) override {
    ++reads;
    if (address < kBase || address - kBase > size_ || out.size() > size_ - (address - kBase))
      return false;
    std::memcpy(out.data(), data_ + (address - kBase), out.size());
    return true;
  }
  unsigned reads = 0;

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

class NoBacking final : public efi::PhysicalMemory {
 public:
  Result<void> back(std::uint64_t, std::uint64_t) override { return {}; }
  std::byte* pointer(std::uint64_t address) override { return reinterpret_cast<std::byte*>(address); }
  std::uint64_t address_of(const void* pointer) override {
    return reinterpret_cast<std::uint64_t>(pointer);
  }
};

MachineMap g_map;
efi::MemoryManager g_manager;

// Whether e820 RAM entries (together) cover [start, end).
bool covered_by_ram(const std::vector<E820Range>& e820, std::uint64_t start, std::uint64_t end) {
  std::uint64_t cursor = start;
  while (cursor < end) {
    std::uint64_t reach = cursor;
    for (const E820Range& entry : e820) {
      if (entry.type != 1 && entry.type != 128) continue;
      const std::uint64_t entry_end = entry.size > ~std::uint64_t{0} - entry.address
                                          ? ~std::uint64_t{0}
                                          : entry.address + entry.size;
      if (entry.address <= cursor && entry_end > reach) reach = entry_end;
    }
    if (reach == cursor) return false;
    cursor = reach;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader input(data, size);
  std::vector<E820Range> e820(input.take<std::uint8_t>() % 140);
  std::vector<E820Range> in_use(input.take<std::uint8_t>() % 8);
  std::vector<EfiRuntimeDescriptor> runtime(input.take<std::uint8_t>() % 40);
  // Small addresses and sizes most of the time, so entries meet and overlap.
  auto address = [&] {
    const std::uint64_t raw = input.take<std::uint64_t>();
    return (raw & 1) ? raw : (raw >> 1) % (std::uint64_t{1} << 33);
  };
  for (E820Range& entry : e820) entry = {address(), address(), input.take<std::uint8_t>()};
  for (E820Range& entry : in_use) entry = {address(), address() % (1 << 24), 0};
  for (EfiRuntimeDescriptor& entry : runtime)
    entry = {input.take<std::uint8_t>(), address() & ~std::uint64_t{0xfff}, address(),
             input.take<std::uint16_t>(), input.take<std::uint64_t>()};
  const BareMetalMachine machine{e820, in_use, runtime, InputMemory::kBase + input.take<std::uint8_t>(),
                                 InputMemory::kBase + input.take<std::uint16_t>() % 4096,
                                 InputMemory::kBase + input.take<std::uint16_t>() % 4096};

  if (build_machine_map(machine, g_map)) {
    const auto ranges = g_map.ranges.span();
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const efi::MemoryRange& range = ranges[i];
      FUZZ_ASSERT(range.start % efi::kPageSize == 0 && range.pages > 0);
      FUZZ_ASSERT(range.end() <= kPhysicalLimit && range.end() > range.start);
      if (i > 0) FUZZ_ASSERT(ranges[i - 1].end() <= range.start);
      if (range.type == EfiConventionalMemory) {
        FUZZ_ASSERT(covered_by_ram(e820, range.start, range.end()));
        FUZZ_ASSERT(range.end() <= kLegacyAreaStart || range.start >= kLegacyAreaEnd);
        for (const E820Range& used : in_use)
          FUZZ_ASSERT(used.size == 0 || used.address + used.size <= range.start ||
                      used.address >= range.end());
      }
      if ((range.attribute & EFI_MEMORY_RUNTIME) == 0) FUZZ_ASSERT(range.virtual_start == 0);
    }
    NoBacking memory;
    FUZZ_ASSERT(g_manager.init(ranges, memory).has_value());
    if (auto taken = set_aside(g_map, 1 + input.take<std::uint8_t>())) {
      FUZZ_ASSERT(*taken >= efi::MemoryManager::kLowestAllocation);
      FUZZ_ASSERT(g_manager.init(g_map.ranges.span(), memory).has_value());
    }
  }

  InputMemory memory(data, size);
  const FirmwareTables tables = find_firmware_tables(machine, memory);
  FUZZ_ASSERT(memory.reads <= 1 + 2 * kMaxSetupData + 1 + kMaxConfigurationTables * 4 + 8);
  efi::ConfigurationTableEntry entries[4];
  FUZZ_ASSERT(configuration_tables(tables, entries) <= 4);
  return 0;
}
