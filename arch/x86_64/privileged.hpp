// SPDX-License-Identifier: MIT
// Ring 3 realities: before ExitBootServices() the image runs as a user process, so the few
// privileged instructions real stubs execute fault. This decodes the faulting instruction and
// answers the ones listed in the design's field notes; anything else ends the run.
#pragma once

#include <cstddef>
#include <cstdint>

namespace efikexec::arch {

// General registers in x86 encoding order (RAX=0 ... R15=15), plus RIP.
struct TrapRegisters {
  std::uint64_t gpr[16];
  std::uint64_t rip;
};

enum class TrapOutcome {
  kEmulated,     // registers updated, RIP advanced: resume the image
  kHalted,       // HLT: the Linux stub's error path; the run ends
  kUnsupported,  // anything else; the run ends naming the instruction
};

struct TrapResult {
  TrapOutcome outcome;
  const char* instruction;  // static description, for the report
};

// `code` holds the bytes at RIP (as many as are readable, up to 15).
TrapResult emulate_privileged_instruction(TrapRegisters& registers, const std::uint8_t* code,
                                          std::size_t available);

// The CR0 value reported to the image: PE, MP, ET, NE, WP and PG set, EM and TS clear, so the
// Linux stub's has_fpu() check passes and it never writes CR0.
inline constexpr std::uint64_t kEmulatedCr0 = 0x80010033;
inline constexpr std::uint32_t kMsrAmd64Sev = 0xc0010131;

}  // namespace efikexec::arch
