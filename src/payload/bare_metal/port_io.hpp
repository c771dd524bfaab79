// SPDX-License-Identifier: MIT
// The legacy PC devices the payload reaches through port I/O (the CMOS real-time clock, the PIT,
// the reset registers), behind an interface so that their drivers are tested against fakes.
#pragma once

#include <cstdint>

namespace efikexec::payload {

class PortIo {
 public:
  virtual std::uint8_t in8(std::uint16_t port) = 0;
  virtual void out8(std::uint16_t port, std::uint8_t value) = 0;

 protected:
  ~PortIo() = default;
};

// A free-running cycle counter (the TSC on bare metal).
class CycleCounter {
 public:
  virtual std::uint64_t read() = 0;

 protected:
  ~CycleCounter() = default;
};

// The real ones: `in`/`out` need ring 0 (or IOPL), RDTSC works anywhere unless CR4.TSD is set.
class X86PortIo final : public PortIo {
 public:
  std::uint8_t in8(std::uint16_t port) override {
    std::uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
  }
  void out8(std::uint16_t port, std::uint8_t value) override {
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
  }
};

class TscCounter final : public CycleCounter {
 public:
  std::uint64_t read() override {
    std::uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (std::uint64_t{high} << 32) | low;
  }
};

}  // namespace efikexec::payload
