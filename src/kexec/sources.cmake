# SPDX-License-Identifier: MIT
# The Linux host layer and the command line.
add_library(efikexec_host STATIC
    ${CMAKE_CURRENT_LIST_DIR}/digest.cpp
    ${CMAKE_CURRENT_LIST_DIR}/file_bytes.cpp
    ${CMAKE_CURRENT_LIST_DIR}/inspect.cpp
    ${CMAKE_CURRENT_LIST_DIR}/report.cpp
    ${CMAKE_CURRENT_LIST_DIR}/cli_commands.cpp
    ${CMAKE_CURRENT_LIST_DIR}/command_inspect.cpp
    ${CMAKE_CURRENT_LIST_DIR}/command_verify.cpp
    ${CMAKE_CURRENT_LIST_DIR}/crypto_openssl.cpp
    ${CMAKE_CURRENT_LIST_DIR}/trust_policy.cpp
    ${CMAKE_CURRENT_LIST_DIR}/verify.cpp
    ${CMAKE_CURRENT_LIST_DIR}/verify_signature.cpp
    ${CMAKE_CURRENT_LIST_DIR}/verified_image.cpp
    ${CMAKE_CURRENT_LIST_DIR}/machine.cpp
    ${CMAKE_CURRENT_LIST_DIR}/identity_memory.cpp
    ${CMAKE_CURRENT_LIST_DIR}/efi_run.cpp
    ${CMAKE_CURRENT_LIST_DIR}/run_report.cpp
    ${CMAKE_CURRENT_LIST_DIR}/command_run_efi.cpp
    ${CMAKE_CURRENT_LIST_DIR}/trampoline.cpp
    ${CMAKE_CURRENT_LIST_DIR}/kexec_plan.cpp
    ${CMAKE_CURRENT_LIST_DIR}/kexec_syscalls.cpp
    ${CMAKE_CURRENT_LIST_DIR}/loader.cpp
    ${CMAKE_CURRENT_LIST_DIR}/command_load.cpp
    ${EFIKEXEC_ARCH_SOURCES})
target_include_directories(efikexec_host PUBLIC ${EFIKEXEC_ARCH_INCLUDE_DIR})
# The two header-only libraries cost more to compile than the code that uses them: once.
target_precompile_headers(efikexec_host PRIVATE <CLI/CLI.hpp> <nlohmann/json.hpp>)
target_link_libraries(efikexec_host PUBLIC efikexec_core CLI11::CLI11
                      nlohmann_json::nlohmann_json)
# libcrypto is chosen per program: shared for the normal build, the archive for efikexec-static.
target_include_directories(efikexec_host PUBLIC ${OPENSSL_INCLUDE_DIR})
# libelf reads the trampoline object when it is placed.
find_library(EFIKEXEC_LIBELF elf REQUIRED)
find_library(EFIKEXEC_LIBELF_ARCHIVE libelf.a)
find_library(EFIKEXEC_LIBZ_ARCHIVE libz.a)
add_library(efikexec_host_shared INTERFACE)
target_link_libraries(efikexec_host_shared INTERFACE efikexec_host OpenSSL::Crypto
                      ${EFIKEXEC_LIBELF})
find_library(EFIKEXEC_LIBCRYPTO_ARCHIVE libcrypto.a)

function(efikexec_cli name)
  add_executable(${name} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/cli_main.cpp)
  target_compile_definitions(${name} PRIVATE EFIKEXEC_VERSION="${PROJECT_VERSION}")
  target_link_libraries(${name} PRIVATE ${ARGN})
endfunction()

efikexec_cli(efikexec efikexec_host_shared)
if(EFIKEXEC_STATIC_CLI AND NOT EFIKEXEC_SANITIZE AND EFIKEXEC_LIBCRYPTO_ARCHIVE)
  # For initramfs boot managers: no shared libraries, and position independent so that no part
  # of the program sits on low RAM addresses the EFI image may claim (see docs/architecture.md).
  efikexec_cli(efikexec-static efikexec_host ${EFIKEXEC_LIBCRYPTO_ARCHIVE}
               ${EFIKEXEC_LIBELF_ARCHIVE} ${EFIKEXEC_LIBZ_ARCHIVE} -static-pie)
endif()
