// SPDX-License-Identifier: MIT
// Trust anchors from the firmware (src/payload/firmware_trust.hpp) over any firmware: the first
// part of the input is a page of "runtime services data" the system table and the runtime
// services table are looked for in (at an offset and a virtual address the input chooses), the
// rest the firmware's db, dbx and SbatLevelRT as a fake GetVariable returns them, composed with
// a built-in db under each trust source; and the input's descriptors through map_runtime.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_assert.hpp"
#include "payload/firmware_trust.hpp"
#include "payload/page_tables.hpp"

namespace {

using namespace efikexec;
using namespace efikexec::payload;

struct Variables {
  ByteView values[3];  // db, dbx, SbatLevelRT
  bool present[3];
};
Variables g_variables;

__attribute__((ms_abi)) std::uint64_t fake_get_variable(const char16_t* name, const pe::Guid*,
                                                        std::uint32_t*, std::uint64_t* size,
                                                        void* data) {
  const int which = name[0] == u'S' ? 2 : name[2] == u'x' ? 1 : 0;
  if (!g_variables.present[which]) return kEfiNotFound;
  const ByteView value = g_variables.values[which];
  if (*size < value.size()) {
    *size = value.size();
    return kEfiBufferTooSmall;
  }
  if (!value.empty()) std::memcpy(data, value.data(), value.size());
  *size = value.size();
  return kEfiSuccess;
}

ByteView take(const std::uint8_t*& data, std::size_t& size) {
  if (size < 2) return {};
  std::size_t length = data[0] | std::size_t{data[1]} << 8;
  data += 2;
  size -= 2;
  if (length > size) length = size;
  const ByteView view(reinterpret_cast<const std::byte*>(data), length);
  data += length;
  size -= length;
  return view;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint8_t flags = data[0];
  const std::uint16_t table_offset = static_cast<std::uint16_t>((data[1] | data[2] << 8) & 0xfff);
  data += 3;
  size -= 3;

  // The tables: one page, "physical" here, at a virtual address elsewhere.
  alignas(4096) static std::array<std::byte, 4096> page;
  page.fill(std::byte{0});
  const std::size_t page_bytes = size < page.size() ? size : page.size();
  std::memcpy(page.data(), data, page_bytes);
  const std::uint64_t physical = reinterpret_cast<std::uint64_t>(page.data());
  const EfiMemoryDescriptor map[] = {{6, physical, 0xfffffffeffb40000, 1, kEfiMemoryWriteBack}};
  auto found = find_get_variable(physical + table_offset, map);
  // Nothing in the page is code: a GetVariable pointer is never accepted.
  FUZZ_ASSERT(!found);
  data += page_bytes;
  size -= page_bytes;

  // The variables, composed under each source with a built-in db of one hash.
  for (int i = 0; i < 3; ++i) {
    g_variables.present[i] = flags & (1 << i);
    g_variables.values[i] = take(data, size);
  }
  std::array<std::uint8_t, 28 + 48> builtin_db{};
  const std::uint8_t sha256[16] = {0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
                                   0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28};
  std::memcpy(builtin_db.data(), sha256, 16);
  builtin_db[16] = sizeof builtin_db;
  builtin_db[24] = 48;
  const BuiltinTrust builtin{ByteView(reinterpret_cast<const std::byte*>(builtin_db.data()),
                                      builtin_db.size()),
                             {}, take(data, size)};
  static std::array<std::byte, 8192> db, dbx, sbat_text;
  static std::array<pe::SbatLevelEntry, 2 * pe::kMaxSbatEntries> entries;
  static std::array<pe::SbatLevelEntry, pe::kMaxSbatEntries> builtin_entries;
  const TrustStorage storage{db, dbx, sbat_text, entries, builtin_entries};
  for (TrustSource source : {TrustSource::kBuiltin, TrustSource::kFirmware, TrustSource::kBoth}) {
    TrustReport report;
    auto policy = compose_trust(source, builtin, (flags & 8) ? nullptr : &fake_get_variable,
                                storage, report);
    if (!policy) continue;
    FUZZ_ASSERT(report.db_entries != 0);
    FUZZ_ASSERT(policy->db.size() <= db.size() && policy->dbx.size() <= dbx.size());
    FUZZ_ASSERT(verifier::validate_policy(*policy).has_value());
    if (source == TrustSource::kBuiltin) FUZZ_ASSERT(!report.firmware_read);
  }

  // The rest as runtime descriptors, mapped.
  static auto pool = std::make_unique<PageTable[]>(32);
  PageTableBuilder builder({pool.get(), 32}, flags & 16, false);
  EfiMemoryDescriptor descriptors[8];
  std::size_t count = 0;
  while (size >= 32 && count < 8) {
    std::uint64_t fields[4];
    std::memcpy(fields, data, sizeof fields);
    descriptors[count++] = {6, fields[0], fields[1], fields[2] & 0xffff, fields[3]};
    data += 32;
    size -= 32;
  }
  (void)map_runtime(builder, {descriptors, count});
  FUZZ_ASSERT(builder.tables_used() <= 32);
  return 0;
}
