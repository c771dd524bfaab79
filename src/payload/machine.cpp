// SPDX-License-Identifier: MIT
#include "machine.hpp"

#include "pe_loader/decimal.hpp"

extern "C" [[noreturn]] void payload_triple_fault();

namespace efikexec::payload {

namespace {
constexpr std::uint16_t kCom1 = 0x3f8;
constexpr std::uint16_t kPitChannel2 = 0x42;
constexpr std::uint16_t kPitCommand = 0x43;
constexpr std::uint16_t kPortB = 0x61;
constexpr std::uint32_t kPitHz = 1193182;

EfiResetSystem g_firmware_reset = nullptr;
}  // namespace

void set_firmware_reset(EfiResetSystem reset_system) { g_firmware_reset = reset_system; }

bool firmware_reset_known() { return g_firmware_reset != nullptr; }

Com1::Com1() {
  outb(kCom1 + 1, 0x00);  // no interrupts
  outb(kCom1 + 3, 0x80);  // DLAB: divisor follows
  outb(kCom1 + 0, 0x01);  // 115200 baud
  outb(kCom1 + 1, 0x00);
  outb(kCom1 + 3, 0x03);  // 8 bits, no parity, one stop bit
  outb(kCom1 + 2, 0xc7);  // FIFO on, cleared
  outb(kCom1 + 4, 0x03);  // DTR, RTS
}

void Com1::write(std::string_view text) {
  for (char c : text) {
    if (c == '\n') write("\r");
    for (int spin = 0; spin < 100000 && !(inb(kCom1 + 5) & 0x20); ++spin) {
    }
    outb(kCom1, static_cast<std::uint8_t>(c));
  }
}

void Com1::hex(std::uint64_t value) {
  char digits[18] = {'0', 'x'};
  int n = 2;
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    const unsigned nibble = (value >> shift) & 0xf;
    if (!nibble && !started && shift) continue;
    started = true;
    digits[n++] = "0123456789abcdef"[nibble];
  }
  write({digits, static_cast<std::size_t>(n)});
}

void Com1::decimal(std::uint64_t value) { write(Decimal(value).view()); }

void Com1::line(std::string_view text) {
  write("EFIKEXEC-PAYLOAD: ");
  write(text);
  write("\n");
}

std::uint64_t tsc_per_millisecond() {
  // PIT channel 2, mode 0 (interrupt on terminal count), gate on, speaker off: OUT2 (port 0x61
  // bit 5) goes high when the count of 10 ms runs out.
  constexpr std::uint32_t kCount = kPitHz / 100;
  outb(kPortB, static_cast<std::uint8_t>((inb(kPortB) & ~0x02) | 0x01));
  outb(kPitCommand, 0xb0);  // channel 2, lobyte/hibyte, mode 0, binary
  outb(kPitChannel2, kCount & 0xff);
  outb(kPitChannel2, kCount >> 8);
  const std::uint64_t start = rdtsc();
  std::uint64_t spins = 0;
  while (!(inb(kPortB) & 0x20)) {
    if (++spins > 100000000) return 0;
  }
  return (rdtsc() - start) / 10;
}

void reset_through_firmware() {
  // The firmware knows its machine's reset best (UEFI 2.10 §8.5.1); it does not return.
  if (g_firmware_reset != nullptr) {
    const EfiResetSystem reset = g_firmware_reset;
    g_firmware_reset = nullptr;  // a fault inside it ends up here again: use the ports then
    reset(kEfiResetCold, kEfiSuccess, 0, nullptr);
  }
}

void reset_machine() {
  reset_through_firmware();
  // The keyboard controller's reset line: wait for its input buffer, then pulse.
  for (int spin = 0; spin < 100000 && (inb(0x64) & 0x02); ++spin) {
  }
  outb(0x64, 0xfe);
  for (int spin = 0; spin < 1000000; ++spin) asm volatile("pause");
  // The reset control register: hard reset.
  outb(0xcf9, 0x02);
  outb(0xcf9, 0x06);
  for (int spin = 0; spin < 1000000; ++spin) asm volatile("pause");
  payload_triple_fault();
}

}  // namespace efikexec::payload
