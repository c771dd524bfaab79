/* SPDX-License-Identifier: MIT
 *
 * Entering EFI code from the host (System V ABI) and leaving it again, either by the image's
 * return or by its call to Exit(), which unwinds to the StartImage that entered it. Saving the
 * host stack pointer in a frame (rather than setjmp) keeps this a few instructions, as efilite
 * does. */
#include "cpu_context.h"

    .text

/* EFI_STATUS efikexec_efi_call(void* entry, void* image_handle, void* system_table,
 *                              uint64_t stack_top, uint64_t* frame)
 * System V arguments: RDI entry, RSI handle, RDX system table, RCX stack top (0: stay on the
 * current stack, as a nested StartImage does), R8 frame (receives the host RSP). */
    .globl efikexec_efi_call
    .hidden efikexec_efi_call
    .type efikexec_efi_call, @function
efikexec_efi_call:
    push    %rbp                /* System V callee-saved */
    push    %rbx                /* System V callee-saved; also holds the frame below */
    push    %r12                /* System V callee-saved */
    push    %r13                /* System V callee-saved */
    push    %r14                /* System V callee-saved */
    push    %r15                /* System V callee-saved */
    sub     $8, %rsp
    stmxcsr (%rsp)              /* System V: MXCSR control bits are callee-saved */
    fnstcw  4(%rsp)             /* System V: the x87 control word is callee-saved */
    mov     %rsp, (%r8)         /* Exit() comes back to this RSP */
    test    %rcx, %rcx
    jnz     1f
    mov     %rsp, %rcx
1:  and     $-16, %rcx
    lea     -48(%rcx), %rsp     /* 32 bytes of MS ABI shadow space, then the frame pointer; */
    mov     %r8, 32(%rsp)       /* above the shadow space the callee must leave it alone */
    mov     %rdi, %rax
    mov     %rsi, %rcx          /* MS ABI argument 1: ImageHandle */
                                /* MS ABI argument 2 (RDX): SystemTable, already in place */
    xor     %ebx, %ebx          /* no host values (stack or heap addresses) reach the image */
    xor     %ebp, %ebp
    xor     %esi, %esi
    xor     %edi, %edi
    xor     %r8d, %r8d
    xor     %r9d, %r9d
    xor     %r10d, %r10d
    xor     %r11d, %r11d
    xor     %r12d, %r12d
    xor     %r13d, %r13d
    xor     %r14d, %r14d
    xor     %r15d, %r15d
    call    *%rax               /* RSP was 16-byte aligned: the entry sees 8 (mod 16) */
    mov     32(%rsp), %rbx
    mov     (%rbx), %rsp
    jmp     efikexec_efi_return
    .size efikexec_efi_call, .-efikexec_efi_call

/* void efikexec_efi_exit(uint64_t* frame, EFI_STATUS status) -- does not return: resumes the
 * efikexec_efi_call that saved `frame`, which returns `status`. */
    .globl efikexec_efi_exit
    .hidden efikexec_efi_exit
    .type efikexec_efi_exit, @function
efikexec_efi_exit:
    mov     (%rdi), %rsp
    mov     %rsi, %rax
    /* fall through */
efikexec_efi_return:
    ldmxcsr (%rsp)              /* restore the host's control words saved on entry */
    fldcw   4(%rsp)
    add     $8, %rsp
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %rbx
    pop     %rbp
    ret
    .size efikexec_efi_exit, .-efikexec_efi_exit

    .section .note.GNU-stack,"",@progbits
