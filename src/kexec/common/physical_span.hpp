// SPDX-License-Identifier: MIT
// A range of physical addresses: the handoff's pages, a crash kernel's reservation, the runs of
// zeros the trampoline clears.
#pragma once

#include <cstdint>

namespace efikexec::kexec {

struct PhysicalSpan {
  std::uint64_t start;
  std::uint64_t end;  // exclusive
  std::uint64_t size() const { return end - start; }
};

}  // namespace efikexec::kexec
