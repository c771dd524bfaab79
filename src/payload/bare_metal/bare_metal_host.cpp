// SPDX-License-Identifier: MIT
#include "payload/bare_metal/bare_metal_host.hpp"

#include <cpuid.h>

#include "pe_loader/byte_view.hpp"

namespace efikexec::payload {

Result<void> IdentityPhysicalMemory::back(std::uint64_t address, std::uint64_t size) {
  auto end = checked_add(address, size);
  if (!end) return fail(ErrorCode::kOverflow, "memory range wraps", address);
  std::uint64_t cursor = address;
  while (cursor < *end) {
    const efi::MemoryRange* holding = nullptr;
    for (const efi::MemoryRange& range : map_)
      if (cursor >= range.start && cursor < range.end() &&
          (range.type == EfiConventionalMemory || range.type == EfiBootServicesData))
        holding = &range;
    if (holding == nullptr)
      return fail(ErrorCode::kOutOfRange, "memory outside the machine's RAM", cursor);
    cursor = holding->end();
  }
  return {};
}

TscClock::TscClock(PortIo& ports, CycleCounter& counter, std::uint64_t hz)
    : ports_(ports), counter_(counter), hz_(hz != 0 ? hz : kFallbackHz) {
  // (10^9 << 32) / hz: exact enough for any hz between 10 MHz and 100 GHz, and fits 64 bits.
  scale_ = (std::uint64_t{1'000'000'000} << 32) / hz_;
  start_ = counter_.read();
}

std::uint64_t TscClock::monotonic_ns() {
  const unsigned __int128 cycles = counter_.read() - start_;
  return static_cast<std::uint64_t>((cycles * scale_) >> 32);
}

void TscClock::sleep_us(std::uint64_t microseconds) {
  const std::uint64_t start = monotonic_ns();
  const std::uint64_t wait = microseconds * 1000;
  while (monotonic_ns() - start < wait) asm volatile("pause");
}

std::optional<std::uint64_t> tsc_frequency(PortIo& ports, CycleCounter& counter) {
  if (auto measured = calibrate_tsc_with_pit(ports, counter)) return measured;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  // Leaf 0x15: TSC = crystal (ECX Hz) * EBX / EAX.
  if (max_leaf >= 0x15) {
    __cpuid_count(0x15, 0, eax, ebx, ecx, edx);
    if (eax != 0 && ebx != 0 && ecx != 0) return std::uint64_t{ecx} * ebx / eax;
  }
  // Leaf 0x16: the processor's base frequency in MHz (the TSC's on the CPUs that have it).
  if (max_leaf >= 0x16) {
    __cpuid_count(0x16, 0, eax, ebx, ecx, edx);
    if ((eax & 0xFFFF) != 0) return std::uint64_t{eax & 0xFFFF} * 1'000'000;
  }
  return std::nullopt;
}

CpuRandom::CpuRandom() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) rdrand_ = (ecx & (1u << 30)) != 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    rdseed_ = (ebx & (1u << 18)) != 0;
  }
}

bool CpuRandom::fill(std::span<std::byte> out) {
  if (!rdrand_ && !rdseed_) return false;
  std::size_t done = 0;
  while (done < out.size()) {
    std::uint64_t value = 0;
    bool ok = false;
    // Intel's guidance: RDRAND may fail transiently (retry 10 times); RDSEED more often.
    for (unsigned attempt = 0; attempt < (rdrand_ ? 10u : 100u) && !ok; ++attempt) {
      unsigned char carry;
      if (rdrand_)
        asm volatile("rdrand %0; setc %1" : "=r"(value), "=qm"(carry) : : "cc");
      else
        asm volatile("rdseed %0; setc %1" : "=r"(value), "=qm"(carry) : : "cc");
      ok = carry != 0;
      if (!ok && !rdrand_) asm volatile("pause");
    }
    if (!ok) return false;
    for (unsigned i = 0; i < 8 && done < out.size(); ++i)
      out[done++] = static_cast<std::byte>(value >> (8 * i));
  }
  return true;
}

void write_hex(SerialConsole& serial, std::uint64_t value) {
  char text[18] = {'0', 'x'};
  std::size_t length = 2;
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    const unsigned digit = (value >> shift) & 0xF;
    if (digit == 0 && !started && shift != 0) continue;
    started = true;
    text[length++] = "0123456789abcdef"[digit];
  }
  serial.write({text, length});
}

void BareMetalRunEnd::boot_services_exited(EFI_HANDLE image) {
  (void)image;
  serial_.write("efikexec: ExitBootServices() succeeded; the UKI starts its kernel\r\n");
}

void BareMetalRunEnd::end_run(const char* reason, EFI_STATUS status) {
  serial_.write("efikexec: ");
  serial_.write(reason);
  serial_.write(" (status ");
  write_hex(serial_, status);
  serial_.write("): resetting the machine\r\n");
  if (firmware_reset_ != nullptr) {
    serial_.write("efikexec: reset through the firmware's ResetSystem()\r\n");
    firmware_reset_();
  }
  request_machine_reset(ports_, counter_, counter_hz_ / 10);
  serial_.write("efikexec: the machine did not reset; halted\r\n");
  halt_forever();
}

void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}

}  // namespace efikexec::payload
