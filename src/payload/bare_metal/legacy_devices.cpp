// SPDX-License-Identifier: MIT
#include "payload/bare_metal/legacy_devices.hpp"

namespace efikexec::payload {

namespace {

constexpr std::uint8_t kRtcSeconds = 0x00;
constexpr std::uint8_t kRtcMinutes = 0x02;
constexpr std::uint8_t kRtcHours = 0x04;
constexpr std::uint8_t kRtcDay = 0x07;
constexpr std::uint8_t kRtcMonth = 0x08;
constexpr std::uint8_t kRtcYear = 0x09;
constexpr std::uint8_t kRtcStatusA = 0x0A;  // bit 7: update in progress
constexpr std::uint8_t kRtcStatusB = 0x0B;  // bit 1: 24-hour mode, bit 2: binary (not BCD)
constexpr unsigned kUpdateWaits = 100000;
constexpr unsigned kReadAttempts = 10;

std::uint8_t cmos(PortIo& ports, std::uint8_t reg) {
  ports.out8(kCmosIndexPort, reg);
  return ports.in8(kCmosDataPort);
}

struct RtcFields {
  std::uint8_t second, minute, hour, day, month, year;
  bool operator==(const RtcFields&) const = default;
};

bool wait_for_no_update(PortIo& ports) {
  for (unsigned i = 0; i < kUpdateWaits; ++i)
    if ((cmos(ports, kRtcStatusA) & 0x80) == 0) return true;
  return false;
}

RtcFields read_fields(PortIo& ports) {
  return {cmos(ports, kRtcSeconds), cmos(ports, kRtcMinutes), cmos(ports, kRtcHours),
          cmos(ports, kRtcDay),     cmos(ports, kRtcMonth),   cmos(ports, kRtcYear)};
}

bool from_bcd(std::uint8_t value, std::uint8_t& out) {
  if ((value & 0x0F) > 9 || (value >> 4) > 9) return false;
  out = static_cast<std::uint8_t>((value >> 4) * 10 + (value & 0x0F));
  return true;
}

}  // namespace

bool read_cmos_time(PortIo& ports, EFI_TIME& time) {
  RtcFields fields{};
  bool stable = false;
  for (unsigned attempt = 0; attempt < kReadAttempts && !stable; ++attempt) {
    if (!wait_for_no_update(ports)) return false;
    fields = read_fields(ports);
    if (!wait_for_no_update(ports)) return false;
    stable = read_fields(ports) == fields;
  }
  if (!stable) return false;
  const std::uint8_t status_b = cmos(ports, kRtcStatusB);
  const bool binary = (status_b & 0x04) != 0;
  const bool hours_24 = (status_b & 0x02) != 0;
  const bool pm = !hours_24 && (fields.hour & 0x80) != 0;
  fields.hour &= 0x7F;
  if (!binary) {
    for (std::uint8_t* field : {&fields.second, &fields.minute, &fields.hour, &fields.day,
                                &fields.month, &fields.year})
      if (!from_bcd(*field, *field)) return false;
  }
  if (!hours_24) {
    if (fields.hour < 1 || fields.hour > 12) return false;
    fields.hour = static_cast<std::uint8_t>(fields.hour % 12 + (pm ? 12 : 0));
  }
  if (fields.second > 59 || fields.minute > 59 || fields.hour > 23 || fields.day < 1 ||
      fields.day > 31 || fields.month < 1 || fields.month > 12 || fields.year > 99)
    return false;
  time = EFI_TIME{};
  // The century register is not at a fixed index (ACPI's FADT names it): years 70-99 are the
  // 1900s, as Linux's mc146818 driver reads them without it.
  time.Year = static_cast<UINT16>(fields.year + (fields.year < 70 ? 2000 : 1900));
  time.Month = fields.month;
  time.Day = fields.day;
  time.Hour = fields.hour;
  time.Minute = fields.minute;
  time.Second = fields.second;
  time.TimeZone = EFI_UNSPECIFIED_TIMEZONE;
  return true;
}

std::optional<std::uint64_t> calibrate_tsc_with_pit(PortIo& ports, CycleCounter& counter,
                                                    unsigned interval_ms) {
  if (interval_ms < 1 || interval_ms > 50) return std::nullopt;
  const std::uint32_t latch = kPitHz * interval_ms / 1000;  // <= 59659: fits 16 bits
  // Port I/O takes about a microsecond on real hardware; this bound is seconds, not forever.
  constexpr std::uint64_t kMaxPolls = 50'000'000;
  const std::uint8_t gate = ports.in8(kSpeakerGatePort);
  // Gate of channel 2 on, speaker off; channel 2, low then high byte, mode 0, binary.
  ports.out8(kSpeakerGatePort, static_cast<std::uint8_t>((gate & ~0x02) | 0x01));
  ports.out8(kPitCommandPort, 0xB0);
  ports.out8(kPitChannel2Port, static_cast<std::uint8_t>(latch & 0xFF));
  ports.out8(kPitChannel2Port, static_cast<std::uint8_t>(latch >> 8));
  const std::uint64_t start = counter.read();
  bool reached = false;
  for (std::uint64_t poll = 0; poll < kMaxPolls && !reached; ++poll)
    reached = (ports.in8(kSpeakerGatePort) & 0x20) != 0;
  const std::uint64_t end = counter.read();
  ports.out8(kSpeakerGatePort, gate);
  if (!reached || end <= start) return std::nullopt;
  const std::uint64_t hz = (end - start) * kPitHz / latch;
  // A TSC below 10 MHz or above 100 GHz is a measurement gone wrong.
  if (hz < 10'000'000 || hz > 100'000'000'000) return std::nullopt;
  return hz;
}

void request_machine_reset(PortIo& ports, CycleCounter& counter, std::uint64_t cycles_to_wait) {
  auto wait = [&] {
    const std::uint64_t start = counter.read();
    while (counter.read() - start < cycles_to_wait) {
    }
  };
  // Reset control register: "system reset" (bit 1) then "reset CPU" (bit 2) with it: full reset.
  ports.out8(kResetControlPort, 0x02);
  ports.out8(kResetControlPort, 0x06);
  wait();
  // The keyboard controller's "pulse output line 0" (the CPU reset line), once its input
  // buffer is empty (bit 1 of its status).
  for (unsigned i = 0; i < 100000 && (ports.in8(kKeyboardCommandPort) & 0x02) != 0; ++i) {
  }
  ports.out8(kKeyboardCommandPort, 0xFE);
  wait();
}

}  // namespace efikexec::payload
