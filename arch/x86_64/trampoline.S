/* SPDX-License-Identifier: MIT
 *
 * The kexec entry: resumes the EFI image right after its ExitBootServices() call, on the bare
 * CPU, in the state UEFI promises at that point (UEFI 2.10 §2.3.4; docs/architecture.md).
 *
 * Built as an ELF object of its own and placed by the loader with libelf: it reads the symbols
 * below and applies the object's relocations for the physical address the blob lands at, then
 * fills the data the symbols name (context, page-table roots, IDT). No purgatory runs before it.
 *
 * Entered by the old kernel's relocate_kernel in 64-bit mode on that kernel's identity page
 * tables, with CR0 = PG|PE, CR4 = PAE (+LA57), RFLAGS = 0, and RSP inside its control page. */
#include "cpu_context.h"

#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_TS (1 << 3)
#define CR0_NE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define CR4_LA57 (1 << 12)
#define RFLAGS_TF (1 << 8)
#define RFLAGS_IF (1 << 9)
#define RFLAGS_DF (1 << 10)
#define KERNEL_CS 0x38          /* the selectors OVMF hands images: flat code and data */
#define KERNEL_DS 0x30

    .text
    .code64
    .globl efikexec_trampoline_start
efikexec_trampoline_start:

    .globl efikexec_trampoline_entry
efikexec_trampoline_entry:
    cli                         /* Linux's 64-bit boot protocol: interrupts off (neither the */
    cld                         /* >= 6.6 stub nor startup_64 turns them off again)          */

    /* Benchmarks only (`load --serial-mark`): one line on COM1 the moment the old kernel jumps
     * here, for a host to timestamp. The call pushes onto relocate_kernel's stack in its control
     * page, which stays mapped; RAX, RCX, RDX and RSI are scratch here: each is loaded from the
     * context or set below before the image sees it. */
    cmpb    $0, efikexec_trampoline_serial_mark(%rip)
    je      8f
    lea     mark_message(%rip), %rsi
    call    serial_write
8:

    /* Our own identity tables over all RAM and the MMIO the early kernel touches, in the
     * paging mode the CPU is in: LA57 cannot change in long mode, and a PML5 whose first
     * entry points at the PML4 serves 5-level paging with the same mappings. */
    mov     %cr4, %rax
    mov     efikexec_trampoline_pml4(%rip), %rbx
    test    $CR4_LA57, %eax
    jz      1f
    mov     efikexec_trampoline_pml5(%rip), %rbx
1:  mov     %rbx, %cr3

    /* Crash kernels only (`load -p`): the old kernel's first 640 KiB go to the backup in the
     * reservation before the crash kernel, which gets them as RAM, can reuse them; its vmcore
     * reads them from there (what kexec-tools' purgatory does). Both are mapped by our tables;
     * RCX, RSI and RDI are scratch here, loaded from the context below; DF is clear (cld). */
    mov     efikexec_trampoline_backup_size(%rip), %rcx
    test    %rcx, %rcx
    jz      7f
    mov     efikexec_trampoline_backup_source(%rip), %rsi
    mov     efikexec_trampoline_backup_destination(%rip), %rdi
    rep movsb
7:

    /* SSE before the XMM registers and MXCSR are restored (EDK2 also sets OSFXSR). */
    or      $(CR4_OSFXSR | CR4_OSXMMEXCPT), %rax
    mov     %rax, %cr4
    mov     %cr0, %rax
    and     $~(CR0_EM | CR0_TS), %rax
    or      $(CR0_MP | CR0_NE), %rax
    mov     %rax, %cr0

    /* The image's memory that holds only zeros travels in no segment (kexec_load would
     * allocate, clear and copy each page, and the old kernel copy it again at exec): it is
     * cleared here, through our tables, which map all RAM write-back. Only zeros go where the
     * plan found zeros, so relocate_kernel's pages that happen to lie there (it is done with
     * them) may be overwritten. RAX, RCX, RDX, RSI and RDI are scratch here: each is loaded
     * from the context or set below before the image sees it; DF is clear (cld). */
    mov     efikexec_trampoline_zero_count(%rip), %rdx
    lea     efikexec_trampoline_zero_ranges(%rip), %rsi
    xor     %eax, %eax
9:  test    %rdx, %rdx
    jz      10f
    mov     (%rsi), %rdi        /* start, page-aligned */
    mov     8(%rsi), %rcx       /* bytes, whole pages */
    shr     $3, %rcx
    rep stosq
    add     $16, %rsi
    dec     %rdx
    jmp     9b
10:

    lgdt    efikexec_trampoline_gdt_pointer(%rip)
    lidt    efikexec_trampoline_idt_pointer(%rip)
    lea     2f(%rip), %rax
    pushq   $KERNEL_CS
    push    %rax
    lretq                       /* reload CS from our GDT */
2:  mov     $KERNEL_DS, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     %eax, %fs
    mov     %eax, %gs

    lea     efikexec_trampoline_context(%rip), %rax
    fninit
    fldcw   EFIKEXEC_CTX_FCW(%rax)           /* MS ABI: x87 control word is nonvolatile */
    ldmxcsr EFIKEXEC_CTX_MXCSR(%rax)         /* MS ABI: MXCSR control bits are nonvolatile */
    movdqu  EFIKEXEC_CTX_XMM6+0x00(%rax), %xmm6    /* MS ABI: XMM6-XMM15 are callee-saved */
    movdqu  EFIKEXEC_CTX_XMM6+0x10(%rax), %xmm7
    movdqu  EFIKEXEC_CTX_XMM6+0x20(%rax), %xmm8
    movdqu  EFIKEXEC_CTX_XMM6+0x30(%rax), %xmm9
    movdqu  EFIKEXEC_CTX_XMM6+0x40(%rax), %xmm10
    movdqu  EFIKEXEC_CTX_XMM6+0x50(%rax), %xmm11
    movdqu  EFIKEXEC_CTX_XMM6+0x60(%rax), %xmm12
    movdqu  EFIKEXEC_CTX_XMM6+0x70(%rax), %xmm13
    movdqu  EFIKEXEC_CTX_XMM6+0x80(%rax), %xmm14
    movdqu  EFIKEXEC_CTX_XMM6+0x90(%rax), %xmm15
    mov     EFIKEXEC_CTX_RBX(%rax), %rbx     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_RBP(%rax), %rbp     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_RDI(%rax), %rdi     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_RSI(%rax), %rsi     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_R12(%rax), %r12     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_R13(%rax), %r13     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_R14(%rax), %r14     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_R15(%rax), %r15     /* MS ABI callee-saved */
    mov     EFIKEXEC_CTX_RSP(%rax), %rsp     /* the caller's stack, in a kexec segment */
    mov     EFIKEXEC_CTX_RFLAGS(%rax), %rcx
    and     $~(RFLAGS_TF | RFLAGS_IF | RFLAGS_DF), %rcx
    push    %rcx
    popfq                       /* the caller's flags, with interrupts off and DF = 0 */
    mov     EFIKEXEC_CTX_RIP(%rax), %rcx
    xor     %eax, %eax          /* RAX = EFI_SUCCESS: ExitBootServices() returns success */
    xor     %edx, %edx
    jmp     *%rcx

/* Every exception ends here: say so on COM1 (no set-up needed on PC UARTs for polling), stop. */
    .globl efikexec_trampoline_fault
efikexec_trampoline_fault:
    cli
    lea     fault_message(%rip), %rsi
    call    serial_write
5:  hlt
    jmp     5b

/* Writes the NUL-terminated text at RSI to COM1, polling: a PC UART needs no set-up for that, and
 * where none answers the status port reads 0xFF, so the wait ends at once. Clobbers RAX, RCX,
 * RDX and RSI (no ABI: both callers treat them as scratch). */
serial_write:
3:  movzbl  (%rsi), %ecx
    test    %cl, %cl
    jz      6f
    mov     $0x3fd, %dx         /* line status: wait for an empty transmit register */
4:  inb     %dx, %al
    test    $0x20, %al
    jz      4b
    mov     %cl, %al
    mov     $0x3f8, %dx
    outb    %al, %dx
    inc     %rsi
    jmp     3b
6:  ret

fault_message:
    .asciz  "\r\nefikexec: exception in the kexec trampoline; halted\r\n"
mark_message:
    .asciz  "\r\nEFIKEXEC-TRAMPOLINE: entered\r\n"

    .balign 16
    .globl efikexec_trampoline_gdt
efikexec_trampoline_gdt:
    .quad   0                   /* 0x00 null */
    .quad   0, 0, 0, 0, 0       /* 0x08-0x28 unused */
    .quad   0x00cf92000000ffff  /* 0x30 flat data */
    .quad   0x00af9a000000ffff  /* 0x38 64-bit code */
efikexec_trampoline_gdt_end:

    .balign 16
    .globl efikexec_trampoline_gdt_pointer
efikexec_trampoline_gdt_pointer:
    .word   efikexec_trampoline_gdt_end - efikexec_trampoline_gdt - 1
    .quad   efikexec_trampoline_gdt          /* relocated for the placement address */

    .balign 16
    .globl efikexec_trampoline_idt_pointer
efikexec_trampoline_idt_pointer:
    .word   efikexec_trampoline_idt_end - efikexec_trampoline_idt - 1
    .quad   efikexec_trampoline_idt          /* relocated for the placement address */

    .balign 8
    .globl efikexec_trampoline_pml4
efikexec_trampoline_pml4:
    .quad   0                   /* filled by the loader: physical address of the PML4 */
    .globl efikexec_trampoline_pml5
efikexec_trampoline_pml5:
    .quad   0                   /* filled by the loader: physical address of the PML5 */
    .globl efikexec_trampoline_backup_source
efikexec_trampoline_backup_source:
    .quad   0                   /* filled by the loader (crash kernels): what to back up, */
    .globl efikexec_trampoline_backup_destination
efikexec_trampoline_backup_destination:
    .quad   0                   /* where to,                                               */
    .globl efikexec_trampoline_backup_size
efikexec_trampoline_backup_size:
    .quad   0                   /* and how many bytes (0: no backup)                       */
    .globl efikexec_trampoline_zero_count
efikexec_trampoline_zero_count:
    .quad   0                   /* filled by the loader: how many zero ranges follow */
    .globl efikexec_trampoline_zero_ranges
efikexec_trampoline_zero_ranges:
    .skip   16 * 16             /* filled by the loader: {start, bytes} pairs to clear */
    .globl efikexec_trampoline_serial_mark
efikexec_trampoline_serial_mark:
    .byte   0                   /* filled by the loader: 1 writes the entry line on COM1 */

    .balign 16
    .globl efikexec_trampoline_context
efikexec_trampoline_context:
    .skip   EFIKEXEC_CTX_SIZE   /* filled by the loader: the captured context */

    .balign 16
    .globl efikexec_trampoline_idt
efikexec_trampoline_idt:
    .skip   32 * 16             /* filled by the loader: 32 exception gates to ..._fault */
efikexec_trampoline_idt_end:

    .globl efikexec_trampoline_end
efikexec_trampoline_end:

    .section .note.GNU-stack,"",@progbits
