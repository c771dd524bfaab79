# SPDX-License-Identifier: MIT
# Running a verified UKI on bare metal (the payload after kexec_file_load): the machine map, the
# ring-0 host services and the run. Built twice: freestanding with the core's freestanding flags
# (efikexec_payload_run, linked into the payload) and hosted (efikexec_payload_run_hosted, for
# the unit tests). The ring-0 call into EFI code and the runtime stubs are the arch files the
# confined run uses.
set(EFIKEXEC_PAYLOAD_RUN_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/bare_metal_host.cpp
    ${CMAKE_CURRENT_LIST_DIR}/firmware_tables.cpp
    ${CMAKE_CURRENT_LIST_DIR}/legacy_devices.cpp
    ${CMAKE_CURRENT_LIST_DIR}/machine_map.cpp
    ${CMAKE_CURRENT_LIST_DIR}/run_uki.cpp
    ${PROJECT_SOURCE_DIR}/arch/x86_64/efi_call.S
    ${PROJECT_SOURCE_DIR}/arch/x86_64/runtime_stubs.S)

function(efikexec_payload_run_library name core)
  add_library(${name} STATIC ${EFIKEXEC_PAYLOAD_RUN_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/arch/x86_64)
  target_link_libraries(${name} PUBLIC ${core})
  target_compile_options(${name} PRIVATE
                         $<$<COMPILE_LANGUAGE:CXX>:${EFIKEXEC_CORE_FLAGS} ${ARGN}>)
endfunction()

efikexec_payload_run_library(efikexec_payload_run efikexec_core_freestanding
                             ${EFIKEXEC_FREESTANDING_FLAGS})
efikexec_payload_run_library(efikexec_payload_run_hosted efikexec_core)
