// SPDX-License-Identifier: MIT
// A test payload's stand-in for the bare-metal run (tests/qemu/test-payload.sh, linked with
// link-payload.sh --object in place of the real one): it reads the last byte of every e820 RAM
// range through the payload's own page tables, says so, then reads an address no e820 range
// covers. The payload's exception handler must report the page fault (vector 14, CR2 = that
// address) on COM1 and reset the machine.
#include <cstdint>

#include "payload/bare_metal/run_uki.hpp"

namespace efikexec::payload {

namespace {
void write_hex(SerialConsole& console, std::uint64_t value) {
  char text[18] = {'0', 'x'};
  int n = 2;
  for (int shift = 60; shift >= 0; shift -= 4) {
    const unsigned nibble = (value >> shift) & 0xf;
    if (n == 2 && nibble == 0 && shift != 0) continue;
    text[n++] = "0123456789abcdef"[nibble];
  }
  console.write({text, static_cast<std::size_t>(n)});
}
}  // namespace

Error run_uki_on_bare_metal(const BareMetalMachine& machine, const BareMetalRequest&,
                            SerialConsole& console) {
  std::uint64_t highest = 0;
  for (const E820Range& range : machine.e820) {
    if (range.type != 1) continue;
    const std::uint64_t last = range.address + range.size - 1;
    const std::uint8_t byte = *reinterpret_cast<volatile const std::uint8_t*>(last);
    asm volatile("" : : "r"(byte));
    if (last > highest) highest = last;
  }
  console.write("EFIKEXEC-PAYLOAD: test run: every e820 RAM range is mapped\n");
  // 512 GiB above the highest RAM byte: in no e820 range, so not in the payload's page tables.
  const std::uint64_t unmapped = ((highest >> 21) << 21) + (512ull << 30);
  console.write("EFIKEXEC-PAYLOAD: test run: reading ");
  write_hex(console, unmapped);
  console.write("\n");
  const std::uint8_t byte = *reinterpret_cast<volatile const std::uint8_t*>(unmapped);
  asm volatile("" : : "r"(byte));
  return Error{ErrorCode::kBadState, "test run: the read of an unmapped address returned"};
}

}  // namespace efikexec::payload
