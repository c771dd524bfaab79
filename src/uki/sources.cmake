# SPDX-License-Identifier: MIT
set(EFIKEXEC_UKI_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/cpio.cpp
    ${CMAKE_CURRENT_LIST_DIR}/load_options.cpp
    ${CMAKE_CURRENT_LIST_DIR}/uki.cpp
    ${CMAKE_CURRENT_LIST_DIR}/boot_entries.cpp)
