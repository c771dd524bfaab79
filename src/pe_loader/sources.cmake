# SPDX-License-Identifier: MIT
set(EFIKEXEC_PE_LOADER_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/error.cpp
    ${CMAKE_CURRENT_LIST_DIR}/pe_image.cpp
    ${CMAKE_CURRENT_LIST_DIR}/authenticode.cpp
    ${CMAKE_CURRENT_LIST_DIR}/sbat.cpp
    ${CMAKE_CURRENT_LIST_DIR}/signature_list.cpp)
