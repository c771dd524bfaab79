// SPDX-License-Identifier: MIT
#include "privileged.hpp"

namespace efikexec::arch {

namespace {

constexpr int kRax = 0;
constexpr int kRcx = 1;
constexpr int kRdx = 2;

}  // namespace

TrapResult emulate_privileged_instruction(TrapRegisters& registers, const std::uint8_t* code,
                                          std::size_t available) {
  std::size_t length = 0;
  std::uint8_t rex = 0;
  if (available > 0 && (code[0] & 0xf0) == 0x40) {
    rex = code[0];
    length = 1;
  }
  if (available <= length) return {TrapOutcome::kUnsupported, "unreadable instruction"};

  // HLT: the Linux EFI stub's efi_exit()/error() after a failure.
  if (code[length] == 0xf4 && rex == 0) return {TrapOutcome::kHalted, "hlt"};

  if (code[length] != 0x0f || available < length + 2)
    return {TrapOutcome::kUnsupported, "privileged or faulting instruction"};
  const std::uint8_t opcode = code[length + 1];

  // RDMSR of MSR_AMD64_SEV: Linux stub >= 6.1.82 (sev_get_status) and systemd-stub >= 254
  // (is_confidential_vm) on hosts whose CPUID reports SEV. Not an SEV guest: all zero.
  if (opcode == 0x32) {
    if (static_cast<std::uint32_t>(registers.gpr[kRcx]) != kMsrAmd64Sev)
      return {TrapOutcome::kUnsupported, "rdmsr of an MSR other than MSR_AMD64_SEV"};
    registers.gpr[kRax] = 0;
    registers.gpr[kRdx] = 0;
    registers.rip += length + 2;
    return {TrapOutcome::kEmulated, "rdmsr MSR_AMD64_SEV"};
  }

  // MOV from CR0: Linux stub >= 6.1.82, has_fpu() on the KASLR seed path.
  if (opcode == 0x20) {
    if (available < length + 3) return {TrapOutcome::kUnsupported, "mov from control register"};
    const std::uint8_t modrm = code[length + 2];
    const unsigned control = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
    const unsigned target = (modrm & 7) | ((rex & 1) ? 8 : 0);
    if ((modrm >> 6) != 3 || control != 0)
      return {TrapOutcome::kUnsupported, "mov from a control register other than CR0"};
    registers.gpr[target] = kEmulatedCr0;
    registers.rip += length + 3;
    return {TrapOutcome::kEmulated, "mov %cr0"};
  }
  return {TrapOutcome::kUnsupported, "privileged or faulting instruction"};
}

}  // namespace efikexec::arch
