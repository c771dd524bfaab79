# SPDX-License-Identifier: MIT
set(EFIKEXEC_EFI_SHIM_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/memory.cpp
    ${CMAKE_CURRENT_LIST_DIR}/text.cpp)
