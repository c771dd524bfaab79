// SPDX-License-Identifier: MIT
// The CMOS clock, the PIT calibration of the TSC and the reset sequence, against a fake of the
// port I/O they use; and the shim's Clock built on them.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "payload/bare_metal/bare_metal_host.hpp"
#include "payload/bare_metal/legacy_devices.hpp"

namespace efikexec::payload {
namespace {

// A PC's legacy devices as far as the drivers see them. The cycle counter advances a fixed
// number of cycles per port access, which makes the PIT's terminal count arrive after a
// computable number of cycles.
class FakeDevices final : public PortIo, public CycleCounter {
 public:
  std::uint8_t in8(std::uint16_t port) override {
    cycles += cycles_per_access;
    if (port == kCmosDataPort) {
      if (index == 0x0A) {
        // Status A: "update in progress" for the first `updating_reads` reads.
        if (updating_reads > 0) {
          --updating_reads;
          return 0x80;
        }
        return 0;
      }
      ++cmos_reads;
      const std::uint8_t value = cmos[index];
      // The clock ticks right after this read of the seconds.
      if (index == 0x00 && tick_after_reads > 0 && --tick_after_reads == 0) cmos[0] += 1;
      return value;
    }
    if (port == kSpeakerGatePort) {
      // Bit 5 reads channel 2's OUT, whatever was written there.
      std::uint8_t value = gate & ~0x20;
      if (pit_running && pit_present && cycles >= pit_done_at) value |= 0x20;
      return value;
    }
    if (port == kKeyboardCommandPort) return 0;
    return 0xFF;
  }
  void out8(std::uint16_t port, std::uint8_t value) override {
    cycles += cycles_per_access;
    writes.push_back({port, value});
    if (port == kCmosIndexPort) index = value & 0x7F;
    if (port == kSpeakerGatePort) gate = value;
    if (port == kPitCommandPort) {
      pit_mode = value;
      latch_bytes = 0;
      pit_running = false;
    }
    if (port == kPitChannel2Port) {
      latch |= std::uint32_t{value} << (8 * latch_bytes);
      if (++latch_bytes == 2) {
        // Counting at kPitHz: cycles until terminal count at `hz` cycles per second.
        pit_running = true;
        pit_done_at = cycles + static_cast<std::uint64_t>(
                                   static_cast<double>(latch) / kPitHz * static_cast<double>(hz));
      }
    }
  }
  // Reading the counter takes a cycle too (so a wait on it ends).
  std::uint64_t read() override { return ++cycles; }

  std::array<std::uint8_t, 128> cmos{};
  std::uint8_t index = 0;
  unsigned updating_reads = 0;
  unsigned tick_after_reads = 0;
  unsigned cmos_reads = 0;

  bool pit_present = true;
  std::uint64_t hz = 2'400'000'000;
  std::uint64_t cycles = 1'000'000;
  std::uint64_t cycles_per_access = 1000;
  std::uint8_t gate = 0x10;
  std::uint8_t pit_mode = 0;
  std::uint32_t latch = 0;
  unsigned latch_bytes = 0;
  bool pit_running = false;
  std::uint64_t pit_done_at = 0;
  std::vector<std::pair<std::uint16_t, std::uint8_t>> writes;
};

void set_time(FakeDevices& d, std::uint8_t status_b, std::array<std::uint8_t, 6> fields) {
  d.cmos[0x0B] = status_b;
  d.cmos[0x00] = fields[0];
  d.cmos[0x02] = fields[1];
  d.cmos[0x04] = fields[2];
  d.cmos[0x07] = fields[3];
  d.cmos[0x08] = fields[4];
  d.cmos[0x09] = fields[5];
}

TEST(CmosClock, ReadsBcdIn24HourMode) {
  FakeDevices d;
  set_time(d, 0x02, {0x56, 0x34, 0x23, 0x31, 0x12, 0x26});
  EFI_TIME time{};
  ASSERT_TRUE(read_cmos_time(d, time));
  EXPECT_EQ(time.Year, 2026);
  EXPECT_EQ(time.Month, 12);
  EXPECT_EQ(time.Day, 31);
  EXPECT_EQ(time.Hour, 23);
  EXPECT_EQ(time.Minute, 34);
  EXPECT_EQ(time.Second, 56);
  EXPECT_EQ(time.TimeZone, EFI_UNSPECIFIED_TIMEZONE);
}

TEST(CmosClock, ReadsBinaryAnd12HourMode) {
  FakeDevices d;
  set_time(d, 0x04, {7, 8, 0x80 | 12, 1, 2, 99});  // 12 PM
  EFI_TIME time{};
  ASSERT_TRUE(read_cmos_time(d, time));
  EXPECT_EQ(time.Year, 1999);
  EXPECT_EQ(time.Hour, 12);
  set_time(d, 0x04, {7, 8, 12, 1, 2, 5});  // 12 AM
  ASSERT_TRUE(read_cmos_time(d, time));
  EXPECT_EQ(time.Hour, 0);
  EXPECT_EQ(time.Year, 2005);
  set_time(d, 0x00, {0x00, 0x00, 0x81, 0x01, 0x01, 0x00});  // 1 AM... with PM bit: 13h BCD
  ASSERT_TRUE(read_cmos_time(d, time));
  EXPECT_EQ(time.Hour, 13);
}

TEST(CmosClock, WaitsOutAnUpdateAndRereadsUntilStable) {
  FakeDevices d;
  set_time(d, 0x02, {0x10, 0x00, 0x00, 0x01, 0x01, 0x25});
  d.updating_reads = 5;
  d.tick_after_reads = 1;  // the seconds change during the first read
  EFI_TIME time{};
  ASSERT_TRUE(read_cmos_time(d, time));
  EXPECT_EQ(time.Second, 11);
  EXPECT_GT(d.cmos_reads, 6u * 3) << "read again after the tick";
}

TEST(CmosClock, InvalidOrAbsentClocksAreNotAnswered) {
  FakeDevices d;
  EFI_TIME time{};
  set_time(d, 0x02, {0x5A, 0x00, 0x00, 0x01, 0x01, 0x25});  // not BCD
  EXPECT_FALSE(read_cmos_time(d, time));
  set_time(d, 0x02, {0x00, 0x00, 0x24, 0x01, 0x01, 0x25});  // hour 24
  EXPECT_FALSE(read_cmos_time(d, time));
  set_time(d, 0x02, {0x00, 0x00, 0x00, 0x00, 0x01, 0x25});  // day 0
  EXPECT_FALSE(read_cmos_time(d, time));
  set_time(d, 0x06, {0, 0, 0, 1, 13, 25});                  // month 13
  EXPECT_FALSE(read_cmos_time(d, time));
  FakeDevices busy;
  busy.updating_reads = ~0u;  // update in progress forever: bounded, then no answer
  EXPECT_FALSE(read_cmos_time(busy, time));
}

TEST(PitCalibration, MeasuresTheCounterFrequency) {
  for (std::uint64_t hz : {std::uint64_t{1'000'000'000}, std::uint64_t{2'400'000'000},
                           std::uint64_t{3'700'000'000}}) {
    FakeDevices d;
    d.hz = hz;
    d.cycles_per_access = 500;
    auto measured = calibrate_tsc_with_pit(d, d);
    ASSERT_TRUE(measured.has_value()) << hz;
    // Within the granularity of one port access over 20 ms.
    EXPECT_NEAR(static_cast<double>(*measured), static_cast<double>(hz),
                static_cast<double>(hz) / 1000) << hz;
    EXPECT_EQ(d.pit_mode, 0xB0) << "channel 2, lobyte/hibyte, mode 0, binary";
    EXPECT_EQ(d.latch, kPitHz * 20 / 1000);
    EXPECT_EQ(d.gate, 0x10) << "the gate register is put back";
  }
}

TEST(PitCalibration, NoPitOrNonsenseGivesNoAnswer) {
  FakeDevices d;
  d.pit_present = false;
  d.cycles_per_access = 1;
  EXPECT_FALSE(calibrate_tsc_with_pit(d, d).has_value());
  FakeDevices slow;
  slow.hz = 1'000'000;  // 1 MHz: implausible for a TSC
  slow.cycles_per_access = 1;
  EXPECT_FALSE(calibrate_tsc_with_pit(slow, slow).has_value());
  EXPECT_FALSE(calibrate_tsc_with_pit(slow, slow, 0).has_value());
  EXPECT_FALSE(calibrate_tsc_with_pit(slow, slow, 51).has_value());
}

TEST(PitCalibration, TheClockCountsNanosecondsAtTheMeasuredRate) {
  FakeDevices d;
  d.hz = 2'000'000'000;
  TscClock clock(d, d, 2'000'000'000);
  const std::uint64_t start = clock.monotonic_ns();
  d.cycles += 2'000'000'000;  // one second
  EXPECT_NEAR(static_cast<double>(clock.monotonic_ns() - start), 1e9, 1e3);
  d.cycles += 2'000'000'000ull * 3600 * 24 * 365;  // a year: no overflow
  EXPECT_NEAR(static_cast<double>(clock.monotonic_ns() - start) / 1e9, 1 + 3600.0 * 24 * 365, 1);
  EXPECT_EQ(TscClock(d, d, 0).hz(), TscClock::kFallbackHz);
  set_time(d, 0x02, {0x00, 0x30, 0x12, 0x04, 0x12, 0x26});
  EFI_TIME time{};
  ASSERT_TRUE(clock.wall_clock(time));
  EXPECT_EQ(time.Hour, 12);
}

TEST(MachineReset, AsksTheChipsetThenTheKeyboardController) {
  FakeDevices d;
  request_machine_reset(d, d, 10'000);
  std::vector<std::pair<std::uint16_t, std::uint8_t>> expected = {
      {kResetControlPort, 0x02}, {kResetControlPort, 0x06}, {kKeyboardCommandPort, 0xFE}};
  EXPECT_EQ(d.writes, expected);
}

}  // namespace
}  // namespace efikexec::payload
