# SPDX-License-Identifier: MIT
# The payload (docs/payload.md). Its parsers of untrusted input are core-style and also built
# hosted, for the unit tests and the fuzz targets.
set(EFIKEXEC_PAYLOAD_PARSER_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/protocol.cpp
    ${CMAKE_CURRENT_LIST_DIR}/esp_archive.cpp
    ${CMAKE_CURRENT_LIST_DIR}/boot_params.cpp
    ${CMAKE_CURRENT_LIST_DIR}/page_tables.cpp
    ${CMAKE_CURRENT_LIST_DIR}/firmware_trust.cpp)
# The bare-metal part of the payload only.
set(EFIKEXEC_PAYLOAD_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/main.cpp
    ${CMAKE_CURRENT_LIST_DIR}/machine.cpp
    ${CMAKE_CURRENT_LIST_DIR}/runtime.cpp
    ${PROJECT_SOURCE_DIR}/src/verifier/bearssl_crypto.cpp
    ${PROJECT_SOURCE_DIR}/arch/x86_64/payload/entry.S)
# The run of the UKI on bare metal is its own archive (efikexec_payload_run,
# src/payload/bare_metal/sources.cmake).
