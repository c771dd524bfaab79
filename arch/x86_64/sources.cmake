# SPDX-License-Identifier: MIT
# x86_64: entering and leaving EFI code, the ExitBootServices capture, privileged-instruction
# emulation, the post-handoff runtime stubs.
set(EFIKEXEC_ARCH_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/efi_call.S
    ${CMAKE_CURRENT_LIST_DIR}/capture.S
    ${CMAKE_CURRENT_LIST_DIR}/runtime_stubs.S
    ${CMAKE_CURRENT_LIST_DIR}/privileged.cpp)
set(EFIKEXEC_ARCH_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR})
