/* SPDX-License-Identifier: MIT */
/* The CPU state an EFI image relies on across a call (MS x64 ABI callee-saved registers and
 * control words), captured at ExitBootServices() and restored by the trampoline after kexec.
 * One layout, shared by C++ and the assembly (which cannot include C++ headers). */
#ifndef EFIKEXEC_ARCH_CPU_CONTEXT_H
#define EFIKEXEC_ARCH_CPU_CONTEXT_H

#define EFIKEXEC_CTX_RBX 0x00
#define EFIKEXEC_CTX_RBP 0x08
#define EFIKEXEC_CTX_RDI 0x10
#define EFIKEXEC_CTX_RSI 0x18
#define EFIKEXEC_CTX_R12 0x20
#define EFIKEXEC_CTX_R13 0x28
#define EFIKEXEC_CTX_R14 0x30
#define EFIKEXEC_CTX_R15 0x38
#define EFIKEXEC_CTX_RSP 0x40    /* the caller's RSP once the call has returned */
#define EFIKEXEC_CTX_RIP 0x48    /* the return address: where the image resumes */
#define EFIKEXEC_CTX_RFLAGS 0x50
#define EFIKEXEC_CTX_MXCSR 0x58
#define EFIKEXEC_CTX_FCW 0x5c
#define EFIKEXEC_CTX_XMM6 0x60   /* XMM6..XMM15, 16 bytes each */
#define EFIKEXEC_CTX_SIZE 0x100

#ifndef __ASSEMBLER__
#include <stdint.h>

struct efikexec_cpu_context {
  uint64_t rbx, rbp, rdi, rsi, r12, r13, r14, r15;
  uint64_t rsp, rip, rflags;
  uint32_t mxcsr;
  uint16_t fcw;
  uint16_t reserved;
  uint8_t xmm[10][16];
};

#ifdef __cplusplus
static_assert(sizeof(efikexec_cpu_context) == EFIKEXEC_CTX_SIZE);
static_assert(__builtin_offsetof(efikexec_cpu_context, rsp) == EFIKEXEC_CTX_RSP);
static_assert(__builtin_offsetof(efikexec_cpu_context, mxcsr) == EFIKEXEC_CTX_MXCSR);
static_assert(__builtin_offsetof(efikexec_cpu_context, xmm) == EFIKEXEC_CTX_XMM6);
#endif
#endif

#endif
