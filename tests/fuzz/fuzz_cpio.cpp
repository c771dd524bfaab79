// SPDX-License-Identifier: MIT
// The cpio members of an initrd read back from the run's memory (what the image left there).
// Invariants: every member lies inside the input, in input order, its name is a view into it.
#include <array>
#include <cstddef>
#include <cstdint>

#include "fuzz_assert.hpp"
#include "uki/cpio.hpp"

using namespace efikexec;

namespace {
std::array<uki::CpioMember, 64> g_members;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(reinterpret_cast<const std::byte*>(data), size);
  auto listed = uki::list_cpio_members(input, g_members);
  const std::size_t count = listed ? *listed : g_members.size();
  std::uint64_t previous_end = 0;
  const auto* begin = reinterpret_cast<const char*>(data);
  for (std::size_t i = 0; i < count; ++i) {
    const uki::CpioMember& member = g_members[i];
    FUZZ_ASSERT(member.offset >= previous_end);
    FUZZ_ASSERT(member.name.data() >= begin && member.name.data() + member.name.size() < begin + size);
    FUZZ_ASSERT(member.offset + 110 + member.name.size() + 1 + member.size <= size + 3);
    previous_end = member.offset + 110;
  }
  return 0;
}
