# SPDX-License-Identifier: MIT
set(EFIKEXEC_EFI_SHIM_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/boot_services.cpp
    ${CMAKE_CURRENT_LIST_DIR}/builtin_protocols.cpp
    ${CMAKE_CURRENT_LIST_DIR}/crc32.cpp
    ${CMAKE_CURRENT_LIST_DIR}/device_path.cpp
    ${CMAKE_CURRENT_LIST_DIR}/events.cpp
    ${CMAKE_CURRENT_LIST_DIR}/file_volume.cpp
    ${CMAKE_CURRENT_LIST_DIR}/guids.cpp
    ${CMAKE_CURRENT_LIST_DIR}/images.cpp
    ${CMAKE_CURRENT_LIST_DIR}/memory.cpp
    ${CMAKE_CURRENT_LIST_DIR}/protocols.cpp
    ${CMAKE_CURRENT_LIST_DIR}/runtime_services.cpp
    ${CMAKE_CURRENT_LIST_DIR}/shim.cpp
    ${CMAKE_CURRENT_LIST_DIR}/text.cpp
    ${CMAKE_CURRENT_LIST_DIR}/variables.cpp)
