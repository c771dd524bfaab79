// SPDX-License-Identifier: MIT
// The payload's view of the bare machine: port I/O, the serial console (COM1), the TSC timed
// against the PIT, and the machine reset. Only the payload binary links this (not the tests).
#pragma once

#include <cstdint>
#include <string_view>

#include "payload/bare_metal/run_uki.hpp"
#include "payload/firmware_trust.hpp"

namespace efikexec::payload {

inline void outb(std::uint16_t port, std::uint8_t value) {
  asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
inline std::uint8_t inb(std::uint16_t port) {
  std::uint8_t value;
  asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
inline std::uint64_t rdtsc() {
  std::uint32_t low, high;
  asm volatile("rdtsc" : "=a"(low), "=d"(high));
  return static_cast<std::uint64_t>(high) << 32 | low;
}

// COM1 (0x3f8), 115200 8N1, polled. Every line the payload prints starts "EFIKEXEC-PAYLOAD: ".
class Com1 final : public SerialConsole {
 public:
  Com1();
  void write(std::string_view text) override;
  void hex(std::uint64_t value);
  void decimal(std::uint64_t value);
  // One line: the prefix, `text`, a newline.
  void line(std::string_view text);
};

// TSC ticks per millisecond, measured over 10 ms of PIT channel 2; 0 when the PIT did not count.
std::uint64_t tsc_per_millisecond();

// Resets the machine: through the firmware's ResetSystem() when set_firmware_reset() named it
// (a cold reset), then the keyboard controller pulse, 0xCF9 and a triple fault.
[[noreturn]] void reset_machine();
// The firmware's ResetSystem (virtual: callable once the runtime mappings are loaded), or null.
void set_firmware_reset(EfiResetSystem reset_system);
bool firmware_reset_known();
// A cold reset through that ResetSystem(), once; returns when there is none or it returned.
void reset_through_firmware();

}  // namespace efikexec::payload
