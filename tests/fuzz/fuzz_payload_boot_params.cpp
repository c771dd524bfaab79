// SPDX-License-Identifier: MIT
// The payload's boot_params reader (src/payload/boot_params.hpp) over any page, with the
// setup header's magic forced in half the runs so the fields behind it are reached; then the
// rest of the input as an EFI memory map, a setup_data node and a command line, and the e820
// table the reader accepted through the page table builder.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_assert.hpp"
#include "payload/boot_params.hpp"
#include "payload/page_tables.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace efikexec;
  using namespace efikexec::payload;
  if (size == 0) return 0;
  const bool force_magic = data[0] & 1;
  const bool gigabyte_pages = data[0] & 2;
  ++data;
  --size;
  std::array<std::byte, kBootParamsSize> page{};
  std::memcpy(page.data(), data, size < page.size() ? size : page.size());
  if (force_magic) std::memcpy(page.data() + 0x202, "HdrS", 4);
  auto facts = read_boot_params(ByteView(page.data(), page.size()));
  if (facts) {
    FUZZ_ASSERT(facts->e820_count <= kMaxE820Entries);
    for (const E820Entry& entry : facts->e820_entries()) FUZZ_ASSERT(entry.size != 0);
    // Each table of the pool costs up to 512 entries written per e820 entry that reaches it: 8
    // of them reach running out as surely as the payload's 128, at a sixteenth of the time.
    constexpr std::size_t kPoolTables = 8;
    static auto pool = std::make_unique<PageTable[]>(kPoolTables);
    PageTableBuilder builder({pool.get(), kPoolTables}, false, gigabyte_pages);
    (void)map_e820(builder, facts->e820_entries());
    FUZZ_ASSERT(builder.tables_used() <= kPoolTables);
  }
  const ByteView rest(reinterpret_cast<const std::byte*>(data), size);
  for (std::uint32_t stride : {40u, 48u, static_cast<std::uint32_t>(size ? data[0] : 0)}) {
    auto count = efi_memory_map_count(rest, stride);
    if (!count) continue;
    for (std::size_t i = 0; i < *count && i < 64; ++i) (void)efi_memory_descriptor(rest, stride, i);
  }
  (void)read_setup_data_header(rest);
  auto line = command_line_text(rest);
  if (line) FUZZ_ASSERT(line->size() < size);
  return 0;
}
