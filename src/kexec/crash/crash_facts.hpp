// SPDX-License-Identifier: MIT
// What the running kernel says about its crashkernel= reservation and its memory, for a crash
// kernel load (crash_dump.hpp). A machine description file may carry them ("crash") for dry runs.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kexec/common/physical_span.hpp"

namespace efikexec::kexec {

struct CrashNote {
  std::uint64_t address;  // physical
  std::uint64_t size;
};

struct CrashFacts {
  // "Crash kernel" in /proc/iomem: the reservation the crash kernel must fit in (the largest,
  // when crashkernel=...,high also made a low one), and every one of them (left out of the dump).
  PhysicalSpan reservation{};
  std::vector<PhysicalSpan> reservations;
  std::vector<PhysicalSpan> system_ram;    // top-level "System RAM" of /proc/iomem
  std::vector<CrashNote> cpu_notes;        // /sys/devices/system/cpu/cpuN/crash_notes
  std::optional<CrashNote> vmcoreinfo;     // /sys/kernel/vmcoreinfo
  // From /proc/kcore: the direct map's base (KASLR moves it) and the kernel's text mapping.
  std::optional<std::uint64_t> page_offset;
  struct KernelText {
    std::uint64_t virtual_address;
    std::uint64_t physical_address;
    std::uint64_t size;
  };
  std::optional<KernelText> kernel_text;
};

}  // namespace efikexec::kexec
