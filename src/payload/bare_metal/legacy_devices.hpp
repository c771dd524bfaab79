// SPDX-License-Identifier: MIT
// Drivers for the legacy PC devices the shim's Clock and the reset path need on bare metal:
// the CMOS real-time clock (ports 0x70/0x71), PIT channel 2 as the reference that calibrates the
// TSC (ports 0x42/0x43/0x61), and the machine reset (0xCF9, then the keyboard controller).
// Every loop is bounded: a machine without the device gives an answer, never a hang.
#pragma once

#include <cstdint>
#include <optional>

#include "efi_shim/efi_types.hpp"
#include "payload/bare_metal/port_io.hpp"

namespace efikexec::payload {

inline constexpr std::uint16_t kCmosIndexPort = 0x70;
inline constexpr std::uint16_t kCmosDataPort = 0x71;
inline constexpr std::uint16_t kPitChannel2Port = 0x42;
inline constexpr std::uint16_t kPitCommandPort = 0x43;
inline constexpr std::uint16_t kSpeakerGatePort = 0x61;  // bit 0 gate of channel 2, bit 5 its OUT
inline constexpr std::uint16_t kResetControlPort = 0xCF9;
inline constexpr std::uint16_t kKeyboardCommandPort = 0x64;
inline constexpr std::uint32_t kPitHz = 1193182;

// The RTC's date and time (MC146818: BCD or binary, 12 or 24 hours as status register B says),
// read until two reads agree outside an update. False when the clock does not answer or holds no
// valid date. The RTC keeps no time zone: EFI_UNSPECIFIED_TIMEZONE.
bool read_cmos_time(PortIo& ports, EFI_TIME& time);

// The TSC's frequency measured against PIT channel 2 counting `interval_ms` (1..50) ms in mode 0
// (Linux's pit_calibrate_tsc does the same). nullopt when channel 2 never reaches terminal count
// or the result is implausible.
std::optional<std::uint64_t> calibrate_tsc_with_pit(PortIo& ports, CycleCounter& counter,
                                                    unsigned interval_ms = 20);

// Asks the chipset (0xCF9: full reset), then the keyboard controller (pulse the reset line) to
// reset the machine; returns if neither did (the caller then halts).
void request_machine_reset(PortIo& ports, CycleCounter& counter, std::uint64_t cycles_to_wait);

}  // namespace efikexec::payload
