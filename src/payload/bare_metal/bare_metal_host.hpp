// SPDX-License-Identifier: MIT
// The shim's host services on bare metal (ring 0, identity map, interrupts off): memory is the
// machine's own, time is the TSC calibrated against the PIT with the CMOS clock for the date,
// randomness is RDRAND/RDSEED, the console is the payload's serial port. ExitBootServices()
// returns to the image, which starts its kernel; ResetSystem() resets the machine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "efi_shim/host.hpp"
#include "payload/bare_metal/legacy_devices.hpp"
#include "payload/bare_metal/machine_map.hpp"
#include "payload/bare_metal/port_io.hpp"
#include "payload/bare_metal/run_uki.hpp"

namespace efikexec::payload {

// Physical memory is virtual memory (the identity map): `back` only checks that the pages are
// ones the shim may hand out (conventional memory of the machine map, and the pages set aside
// for the shim itself).
class IdentityPhysicalMemory final : public efi::PhysicalMemory {
 public:
  // The conventional and boot-services-data ranges of `map` are the backable memory; `map` must
  // outlive this object and not change (the shim keeps its own copy to allocate from).
  explicit IdentityPhysicalMemory(std::span<const efi::MemoryRange> map) : map_(map) {}
  Result<void> back(std::uint64_t address, std::uint64_t size) override;
  std::byte* pointer(std::uint64_t address) override {
    return reinterpret_cast<std::byte*>(address);
  }
  std::uint64_t address_of(const void* pointer) override {
    return reinterpret_cast<std::uint64_t>(pointer);
  }

 private:
  std::span<const efi::MemoryRange> map_;
};

// Monotonic time from a cycle counter of known frequency; the date from the CMOS clock.
class TscClock final : public efi::Clock {
 public:
  // Used when neither the PIT nor CPUID can tell the TSC's frequency.
  static constexpr std::uint64_t kFallbackHz = 1'000'000'000;

  TscClock(PortIo& ports, CycleCounter& counter, std::uint64_t hz);
  std::uint64_t monotonic_ns() override;
  bool wall_clock(EFI_TIME& time) override { return read_cmos_time(ports_, time); }
  void sleep_us(std::uint64_t microseconds) override;
  std::uint64_t hz() const { return hz_; }

 private:
  PortIo& ports_;
  CycleCounter& counter_;
  std::uint64_t hz_;
  std::uint64_t scale_;  // nanoseconds per cycle, as a 32.32 fixed-point number
  std::uint64_t start_;
};

// The TSC frequency: PIT channel 2 first, then CPUID leaves 0x15 (crystal ratio) and 0x16 (base
// MHz); nullopt when none can tell.
std::optional<std::uint64_t> tsc_frequency(PortIo& ports, CycleCounter& counter);

// RDRAND when CPUID.1:ECX[30] says the CPU has it, else RDSEED (CPUID.7.0:EBX[18]); neither:
// every fill fails (the shim's RNG protocol then answers EFI_DEVICE_ERROR).
class CpuRandom final : public efi::Random {
 public:
  CpuRandom();
  bool fill(std::span<std::byte> out) override;
  bool has_rdrand() const { return rdrand_; }
  bool has_rdseed() const { return rdseed_; }

 private:
  bool rdrand_ = false;
  bool rdseed_ = false;
};

class SerialConsoleOutput final : public efi::Console {
 public:
  explicit SerialConsoleOutput(SerialConsole& serial) : serial_(serial) {}
  void write(std::string_view utf8) override { serial_.write(utf8); }

 private:
  SerialConsole& serial_;
};

// ExitBootServices(): says so on the serial console and returns, so the image gets EFI_SUCCESS
// and starts its kernel. ResetSystem() and impossible requests: the reason on the serial
// console, then the machine is reset (and halted should the reset not happen).
class BareMetalRunEnd final : public efi::RunEndSink {
 public:
  // `firmware_reset` (may be null): tried before the ports, see BareMetalMachine.
  BareMetalRunEnd(SerialConsole& serial, PortIo& ports, CycleCounter& counter,
                  std::uint64_t counter_hz, void (*firmware_reset)() = nullptr)
      : serial_(serial),
        ports_(ports),
        counter_(counter),
        counter_hz_(counter_hz),
        firmware_reset_(firmware_reset) {}
  void boot_services_exited(EFI_HANDLE image) override;
  [[noreturn]] void end_run(const char* reason, EFI_STATUS status) override;

 private:
  SerialConsole& serial_;
  PortIo& ports_;
  CycleCounter& counter_;
  std::uint64_t counter_hz_;
  void (*firmware_reset_)();
};

// Writes "0x" and `value` in hex (no allocation, for the serial console).
void write_hex(SerialConsole& serial, std::uint64_t value);

// Stops the CPU for good: interrupts off, HLT forever (ring 0 only).
[[noreturn]] void halt_forever();

}  // namespace efikexec::payload
