/* SPDX-License-Identifier: MIT */
/* The built eft_child.efi, embedded in eft_images as bytes (EFT_CHILD_PATH is set by CMake). */
	.section .rodata.eft_child, "a"
	.balign 16
	.globl eft_child_blob
	.hidden eft_child_blob
eft_child_blob:
	.incbin EFT_CHILD_PATH
	.globl eft_child_blob_end
	.hidden eft_child_blob_end
eft_child_blob_end:
	.section .note.GNU-stack, "", @progbits
