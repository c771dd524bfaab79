/* SPDX-License-Identifier: MIT
 *
 * ExitBootServices() as the image calls it: record the caller's state, then continue in the
 * C++ handler as if it had been called directly. The handler validates the map key; on success
 * it publishes the context and ends the run, and after kexec the trampoline restores exactly
 * this state and returns EFI_SUCCESS to the recorded RIP. */
#include "cpu_context.h"

    .bss
    .balign 16
    .globl efikexec_captured_context
    .hidden efikexec_captured_context
efikexec_captured_context:
    .skip EFIKEXEC_CTX_SIZE

    .data
    .balign 8
/* The EFIAPI ExitBootServices handler; set by the host before any image runs. */
    .globl efikexec_exit_boot_services_handler
    .hidden efikexec_exit_boot_services_handler
efikexec_exit_boot_services_handler:
    .quad 0

    .text
/* EFI_STATUS EFIAPI efikexec_exit_boot_services_entry(EFI_HANDLE ImageHandle, UINTN MapKey)
 * Uses only RAX and R10 (volatile in the MS ABI) so RCX/RDX reach the handler untouched. */
    .globl efikexec_exit_boot_services_entry
    .hidden efikexec_exit_boot_services_entry
    .type efikexec_exit_boot_services_entry, @function
efikexec_exit_boot_services_entry:
    lea     efikexec_captured_context(%rip), %rax
    mov     %rbx, EFIKEXEC_CTX_RBX(%rax)     /* MS ABI callee-saved */
    mov     %rbp, EFIKEXEC_CTX_RBP(%rax)     /* MS ABI callee-saved */
    mov     %rdi, EFIKEXEC_CTX_RDI(%rax)     /* MS ABI callee-saved (volatile in System V) */
    mov     %rsi, EFIKEXEC_CTX_RSI(%rax)     /* MS ABI callee-saved (volatile in System V) */
    mov     %r12, EFIKEXEC_CTX_R12(%rax)     /* MS ABI callee-saved */
    mov     %r13, EFIKEXEC_CTX_R13(%rax)     /* MS ABI callee-saved */
    mov     %r14, EFIKEXEC_CTX_R14(%rax)     /* MS ABI callee-saved */
    mov     %r15, EFIKEXEC_CTX_R15(%rax)     /* MS ABI callee-saved */
    lea     8(%rsp), %r10
    mov     %r10, EFIKEXEC_CTX_RSP(%rax)     /* RSP as the caller sees it after the return */
    mov     (%rsp), %r10
    mov     %r10, EFIKEXEC_CTX_RIP(%rax)     /* the return address */
    pushfq
    pop     %r10
    mov     %r10, EFIKEXEC_CTX_RFLAGS(%rax)  /* DF must be 0 again after the return */
    stmxcsr EFIKEXEC_CTX_MXCSR(%rax)         /* MS ABI: MXCSR control bits are nonvolatile */
    fnstcw  EFIKEXEC_CTX_FCW(%rax)           /* MS ABI: the x87 control word is nonvolatile */
    movdqu  %xmm6,  EFIKEXEC_CTX_XMM6+0x00(%rax)   /* MS ABI: XMM6-XMM15 are callee-saved */
    movdqu  %xmm7,  EFIKEXEC_CTX_XMM6+0x10(%rax)
    movdqu  %xmm8,  EFIKEXEC_CTX_XMM6+0x20(%rax)
    movdqu  %xmm9,  EFIKEXEC_CTX_XMM6+0x30(%rax)
    movdqu  %xmm10, EFIKEXEC_CTX_XMM6+0x40(%rax)
    movdqu  %xmm11, EFIKEXEC_CTX_XMM6+0x50(%rax)
    movdqu  %xmm12, EFIKEXEC_CTX_XMM6+0x60(%rax)
    movdqu  %xmm13, EFIKEXEC_CTX_XMM6+0x70(%rax)
    movdqu  %xmm14, EFIKEXEC_CTX_XMM6+0x80(%rax)
    movdqu  %xmm15, EFIKEXEC_CTX_XMM6+0x90(%rax)
    jmp     *efikexec_exit_boot_services_handler(%rip)
    .size efikexec_exit_boot_services_entry, .-efikexec_exit_boot_services_entry

    .section .note.GNU-stack,"",@progbits
