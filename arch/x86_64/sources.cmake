# SPDX-License-Identifier: MIT
# x86_64: entering and leaving EFI code, the ExitBootServices capture, privileged-instruction
# emulation, the post-handoff runtime stubs, and the kexec trampoline with its tables.
set(EFIKEXEC_ARCH_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR})

# The trampoline is an object of its own: the loader reads it with libelf and places it.
set(EFIKEXEC_TRAMPOLINE_OBJECT ${CMAKE_BINARY_DIR}/trampoline.o)
add_custom_command(
    OUTPUT ${EFIKEXEC_TRAMPOLINE_OBJECT}
    COMMAND ${CMAKE_C_COMPILER} -c -I${CMAKE_CURRENT_LIST_DIR}
            ${CMAKE_CURRENT_LIST_DIR}/trampoline.S -o ${EFIKEXEC_TRAMPOLINE_OBJECT}
    DEPENDS ${CMAKE_CURRENT_LIST_DIR}/trampoline.S ${CMAKE_CURRENT_LIST_DIR}/cpu_context.h
    COMMENT "Assembling the kexec trampoline object")
set(EFIKEXEC_TRAMPOLINE_BLOB ${CMAKE_BINARY_DIR}/trampoline_object.S)
file(WRITE ${EFIKEXEC_TRAMPOLINE_BLOB}
"/* Generated: the trampoline's ELF object, embedded for the loader to read with libelf. */
    .section .rodata
    .balign 16
    .globl efikexec_trampoline_object
    .hidden efikexec_trampoline_object
efikexec_trampoline_object:
    .incbin \"${EFIKEXEC_TRAMPOLINE_OBJECT}\"
    .globl efikexec_trampoline_object_end
    .hidden efikexec_trampoline_object_end
efikexec_trampoline_object_end:
    .section .note.GNU-stack,\"\",@progbits
")
set_source_files_properties(${EFIKEXEC_TRAMPOLINE_BLOB} PROPERTIES
    OBJECT_DEPENDS ${EFIKEXEC_TRAMPOLINE_OBJECT})

set(EFIKEXEC_ARCH_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/efi_call.S
    ${CMAKE_CURRENT_LIST_DIR}/capture.S
    ${CMAKE_CURRENT_LIST_DIR}/runtime_stubs.S
    ${CMAKE_CURRENT_LIST_DIR}/privileged.cpp
    ${CMAKE_CURRENT_LIST_DIR}/handoff_tables.cpp
    ${EFIKEXEC_TRAMPOLINE_OBJECT}
    ${EFIKEXEC_TRAMPOLINE_BLOB})
set_source_files_properties(${EFIKEXEC_TRAMPOLINE_OBJECT} PROPERTIES EXTERNAL_OBJECT FALSE
                            HEADER_FILE_ONLY TRUE GENERATED TRUE)
