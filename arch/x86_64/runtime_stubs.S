/* SPDX-License-Identifier: MIT
 *
 * The runtime services the next kernel finds after kexec: position-independent code copied
 * into a page typed EfiRuntimeServicesCode, every slot of the runtime table pointing at it.
 * Each service answers EFI_UNSUPPORTED; for SetVirtualAddressMap() that makes Linux clear
 * EFI_RUNTIME_SERVICES and boot on safely. Forwarding to the real firmware is a later step. */

    .section .rodata
    .globl efikexec_runtime_stub_start
    .hidden efikexec_runtime_stub_start
    .globl efikexec_runtime_stub_end
    .hidden efikexec_runtime_stub_end
efikexec_runtime_stub_start:
    movabs  $0x8000000000000003, %rax   /* EFI_UNSUPPORTED; MS ABI: status in RAX */
    ret
efikexec_runtime_stub_end:

    .section .note.GNU-stack,"",@progbits
