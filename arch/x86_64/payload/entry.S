/* SPDX-License-Identifier: MIT
 *
 * The payload's boot code (docs/payload.md). The kernel part of the image starts here, loaded by
 * kexec_file_load anywhere at kernel_alignment; after `kexec -e` purgatory jumps to offset 0x200
 * in 64-bit mode: RSI = boot_params, RSP on purgatory's stack, CR4 = PAE (| LA57) only (SSE
 * off), IDT limit 0, GDT in purgatory, an identity map of RAM only, IF = 0.
 *
 * In order: apply the image's own R_X86_64_RELATIVE relocations (the payload is linked at 0 as a
 * static PIE), zero .bss (the file's tail, e.g. an appended signature, lands there), switch to
 * our stack, load our GDT and reload every segment register, build and load our IDT, turn on
 * SSE, and call payload_main(boot_params, load address, end of the loaded image). Nothing here
 * returns to purgatory: purgatory's state is never restored, so no register of the caller is
 * preserved except RSI, which is read once (into R15).
 */
#define PAYLOAD_CODE_SELECTOR 0x08
#define PAYLOAD_DATA_SELECTOR 0x10
#define PAYLOAD_STACK_SIZE (128 * 1024)  /* the deepest path needs about 40 KiB, estimated from -fstack-usage frames */

        .section .head.text, "ax"
        .code64

/* Offset 0: the 32-bit entry of the boot protocol. The payload is 64-bit only (xloadflags say
 * XLF_KERNEL_64, no 32-bit entry is offered): halt. These bytes decode the same in both modes. */
        .globl payload_image_start
payload_image_start:
1:      hlt
        jmp     1b

/* A PE entry point for firmware that starts the file as an EFI application: it is not one.
 * MS ABI: returns EFI_UNSUPPORTED in RAX, touches nothing else. */
        .globl payload_efi_entry
payload_efi_entry:
        movabs  $0x8000000000000003, %rax
        ret

        .org    0x200
/* Offset 0x200: the 64-bit entry. */
        .globl payload_entry64
payload_entry64:
        cli
        cld
        /* RSI = boot_params (boot protocol); R15 keeps it across the code below (we call no C
         * code before payload_main, which receives it in RDI). */
        movq    %rsi, %r15
        /* RBX = where the image runs: the link address of payload_image_start is 0. */
        leaq    payload_image_start(%rip), %rbx

        /* Relocate: for each Elf64_Rela {r_offset, r_info, r_addend} in .rela.dyn, only type
         * R_X86_64_RELATIVE (8) exists in the image (the build checks it):
         * *(base + r_offset) = base + r_addend. Any other type: halt. */
        leaq    __rela_start(%rip), %rcx
        leaq    __rela_end(%rip), %rdx
2:      cmpq    %rdx, %rcx
        jae     3f
        cmpl    $8, 8(%rcx)
        jne     payload_halt
        movq    0(%rcx), %rax
        movq    16(%rcx), %r8
        addq    %rbx, %r8
        movq    %r8, (%rbx,%rax)
        addq    $24, %rcx
        jmp     2b
3:
        /* Zero .bss: [__bss_start, __bss_end), page aligned by the linker script. */
        leaq    __bss_start(%rip), %rdi
        leaq    __bss_end(%rip), %rcx
        subq    %rdi, %rcx
        xorl    %eax, %eax
        rep stosb

        /* Our stack (in .bss), 16-byte aligned as the SysV ABI wants before a call. */
        leaq    payload_stack_top(%rip), %rsp

        /* Our GDT: its base is only known now. */
        leaq    payload_gdt(%rip), %rax
        movq    %rax, payload_gdt_pointer+2(%rip)
        lgdt    payload_gdt_pointer(%rip)
        /* Reload CS with a far return to the next instruction, then the data segments. */
        pushq   $PAYLOAD_CODE_SELECTOR
        leaq    4f(%rip), %rax
        pushq   %rax
        lretq
4:      movl    $PAYLOAD_DATA_SELECTOR, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        movl    %eax, %fs
        movl    %eax, %gs

        /* Our IDT: 32 interrupt gates (the exceptions), each to a 16-byte stub of
         * payload_exception_stubs. A gate is {offset 15:0, selector, IST 0 | type 0xE (64-bit
         * interrupt gate) | present, DPL 0, offset 31:16, offset 63:32, reserved}. */
        leaq    payload_exception_stubs(%rip), %rax
        leaq    payload_idt(%rip), %rdi
        movl    $32, %ecx
5:      movq    %rax, %rdx
        movw    %dx, 0(%rdi)
        movw    $PAYLOAD_CODE_SELECTOR, 2(%rdi)
        movw    $0x8e00, 4(%rdi)
        shrq    $16, %rdx
        movw    %dx, 6(%rdi)
        shrq    $16, %rdx
        movl    %edx, 8(%rdi)
        movl    $0, 12(%rdi)
        addq    $16, %rax
        addq    $16, %rdi
        decl    %ecx
        jnz     5b
        leaq    payload_idt(%rip), %rax
        movq    %rax, payload_idt_pointer+2(%rip)
        lidt    payload_idt_pointer(%rip)

        /* SSE for the compiled code: CR0.MP = 1, CR0.EM = 0, CR0.TS = 0; CR4.OSFXSR and
         * CR4.OSXMMEXCPT = 1 (the other CR4 bits, PAE and LA57, stay as they are). */
        movq    %cr0, %rax
        andq    $~((1 << 2) | (1 << 3)), %rax
        orq     $(1 << 1), %rax
        movq    %rax, %cr0
        movq    %cr4, %rax
        orq     $((1 << 9) | (1 << 10)), %rax
        movq    %rax, %cr4
        /* The control words the UEFI x64 convention requires of a caller of the firmware
         * (UEFI 2.10 §2.3.4.2), which the payload also calls (GetVariable): x87 FCW 0x037F
         * (fninit), MXCSR 0x1F80 (every SSE exception masked, round to nearest). */
        fninit
        pushq   $0x1f80
        ldmxcsr (%rsp)
        addq    $8, %rsp

        /* payload_main(boot_params, image base, image end) (SysV: RDI, RSI, RDX). It never
         * returns (it resets the machine itself); should it, we halt: nothing of purgatory's
         * state is kept to return to. */
        movq    %r15, %rdi
        movq    %rbx, %rsi
        leaq    __image_end(%rip), %rdx
        call    payload_main
        .globl payload_halt
payload_halt:
        cli
6:      hlt
        jmp     6b

        .text
/* The exception stubs, 16 bytes each so that vector N's is at payload_exception_stubs + 16 N.
 * The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for vectors 8, 10-14, 17, 21, 29 and 30, an error
 * code; the others push a 0 in its place. Then the vector, and to payload_exception_common. */
        .balign 16
        .globl payload_exception_stubs
payload_exception_stubs:
        vector = 0
        .rept 32
        .balign 16
        .if !(vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30)
        pushq   $0
        .endif
        pushq   $vector
        jmp     payload_exception_common
        vector = vector + 1
        .endr

/* Stack: vector, error code, RIP, CS, RFLAGS, RSP, SS. payload_exception(frame, CR2) prints them
 * and resets the machine; it never returns. No register is preserved: nothing resumes. */
payload_exception_common:
        movq    %rsp, %rdi
        movq    %cr2, %rsi
        andq    $-16, %rsp
        call    payload_exception
        jmp     payload_halt

/* payload_load_cr3(root): SysV, RDI = the physical address of the new top-level table (PML4,
 * or PML5 under CR4.LA57). Loading CR3 flushes the TLB (no global pages are in use). No
 * general-purpose register is written, so every callee-saved one (RBX, RBP, R12-R15) survives. */
        .globl payload_load_cr3
payload_load_cr3:
        movq    %rdi, %cr3
        ret

/* payload_triple_fault(): an empty IDT and an exception: the CPU shuts down and the chipset
 * resets (the last resort of payload_reset). */
        .globl payload_triple_fault
payload_triple_fault:
        lidt    payload_empty_idt_pointer(%rip)
        int3
        jmp     payload_halt

        .data
        .balign 16
/* Null, 64-bit code (0x08: L, P, DPL 0, execute/read), data (0x10: P, DPL 0, read/write). */
payload_gdt:
        .quad   0
        .quad   0x00af9a000000ffff
        .quad   0x00cf92000000ffff
payload_gdt_end:
        .balign 16
payload_gdt_pointer:
        .word   payload_gdt_end - payload_gdt - 1
        .quad   0
        .balign 16
payload_idt_pointer:
        .word   32 * 16 - 1
        .quad   0
        .balign 16
payload_empty_idt_pointer:
        .word   0
        .quad   0

        .bss
        .balign 4096
payload_idt:
        .skip   32 * 16
        .balign 4096
        .globl payload_stack_bottom
payload_stack_bottom:
        .skip   PAYLOAD_STACK_SIZE
        .globl payload_stack_top
payload_stack_top:

        .section .note.GNU-stack, "", @progbits
