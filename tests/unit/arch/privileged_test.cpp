// SPDX-License-Identifier: MIT
// The privileged-instruction emulator over synthetic code: the development machines have no
// SEV, so the real stubs never take the rdmsr path here.
#include <gtest/gtest.h>

#include "privileged.hpp"

namespace efikexec::arch {
namespace {

TrapRegisters registers_at(std::uint64_t rip) {
  TrapRegisters r{};
  for (int i = 0; i < 16; ++i) r.gpr[i] = 0x1111111111111111ull * (i + 1);
  r.rip = rip;
  return r;
}

TEST(Privileged, AnswersRdmsrOfTheSevStatusMsrWithZero) {
  const std::uint8_t code[] = {0x0f, 0x32};
  TrapRegisters r = registers_at(0x1000);
  r.gpr[1] = kMsrAmd64Sev;
  TrapResult result = emulate_privileged_instruction(r, code, sizeof code);
  EXPECT_EQ(result.outcome, TrapOutcome::kEmulated);
  EXPECT_EQ(r.gpr[0], 0u);
  EXPECT_EQ(r.gpr[2], 0u);
  EXPECT_EQ(r.rip, 0x1002u);
}

TEST(Privileged, RefusesOtherMsrs) {
  const std::uint8_t code[] = {0x0f, 0x32};
  TrapRegisters r = registers_at(0x1000);
  r.gpr[1] = 0xc0000080;  // EFER
  EXPECT_EQ(emulate_privileged_instruction(r, code, sizeof code).outcome,
            TrapOutcome::kUnsupported);
  EXPECT_EQ(r.rip, 0x1000u);
}

TEST(Privileged, ReadsCr0IntoAnyRegister) {
  const std::uint8_t to_rax[] = {0x0f, 0x20, 0xc0};        // mov %cr0,%rax
  const std::uint8_t to_r9[] = {0x41, 0x0f, 0x20, 0xc1};   // mov %cr0,%r9
  TrapRegisters r = registers_at(0x2000);
  ASSERT_EQ(emulate_privileged_instruction(r, to_rax, sizeof to_rax).outcome,
            TrapOutcome::kEmulated);
  EXPECT_EQ(r.gpr[0], kEmulatedCr0);
  EXPECT_EQ(r.rip, 0x2003u);
  ASSERT_EQ(emulate_privileged_instruction(r, to_r9, sizeof to_r9).outcome,
            TrapOutcome::kEmulated);
  EXPECT_EQ(r.gpr[9], kEmulatedCr0);
  EXPECT_EQ(r.rip, 0x2007u);
  EXPECT_EQ(r.gpr[1], 0x2222222222222222ull) << "only the target register changes";
  EXPECT_EQ(kEmulatedCr0 & ((1u << 2) | (1u << 3)), 0u) << "EM and TS clear";
}

TEST(Privileged, RefusesOtherControlRegistersAndWrites) {
  const std::uint8_t read_cr4[] = {0x0f, 0x20, 0xe0};   // mov %cr4,%rax
  const std::uint8_t write_cr0[] = {0x0f, 0x22, 0xc0};  // mov %rax,%cr0
  const std::uint8_t read_cr8[] = {0x44, 0x0f, 0x20, 0xc0};
  TrapRegisters r = registers_at(0);
  EXPECT_EQ(emulate_privileged_instruction(r, read_cr4, 3).outcome, TrapOutcome::kUnsupported);
  EXPECT_EQ(emulate_privileged_instruction(r, write_cr0, 3).outcome, TrapOutcome::kUnsupported);
  EXPECT_EQ(emulate_privileged_instruction(r, read_cr8, 4).outcome, TrapOutcome::kUnsupported);
}

TEST(Privileged, HltEndsTheRun) {
  const std::uint8_t code[] = {0xf4};
  TrapRegisters r = registers_at(0);
  EXPECT_EQ(emulate_privileged_instruction(r, code, 1).outcome, TrapOutcome::kHalted);
}

TEST(Privileged, EverythingElseIsUnsupported) {
  const std::uint8_t cli[] = {0xfa};
  const std::uint8_t out[] = {0xe6, 0x43};
  const std::uint8_t truncated[] = {0x0f};
  TrapRegisters r = registers_at(0);
  EXPECT_EQ(emulate_privileged_instruction(r, cli, 1).outcome, TrapOutcome::kUnsupported);
  EXPECT_EQ(emulate_privileged_instruction(r, out, 2).outcome, TrapOutcome::kUnsupported);
  EXPECT_EQ(emulate_privileged_instruction(r, truncated, 1).outcome, TrapOutcome::kUnsupported);
  EXPECT_EQ(emulate_privileged_instruction(r, cli, 0).outcome, TrapOutcome::kUnsupported);
}

}  // namespace
}  // namespace efikexec::arch
