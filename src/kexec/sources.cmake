# SPDX-License-Identifier: MIT
# The Linux host layer, a folder per pipeline stage (docs/architecture.md), and the command line
# as its own target: the libraries carry no CLI object and link no argument parser.
set(EFIKEXEC_HOST_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(efikexec_host STATIC
    ${EFIKEXEC_HOST_DIR}/common/digest.cpp
    ${EFIKEXEC_HOST_DIR}/common/host_error.cpp
    ${EFIKEXEC_HOST_DIR}/common/hex.cpp
    ${EFIKEXEC_HOST_DIR}/image/opened_image.cpp
    ${EFIKEXEC_HOST_DIR}/image/file_bytes.cpp
    ${EFIKEXEC_HOST_DIR}/inspect/inspect.cpp
    ${EFIKEXEC_HOST_DIR}/esp/boot_entries.cpp
    ${EFIKEXEC_HOST_DIR}/esp/esp_volume.cpp
    ${EFIKEXEC_HOST_DIR}/verify/crypto_openssl.cpp
    ${EFIKEXEC_HOST_DIR}/verify/trust_policy.cpp
    ${EFIKEXEC_HOST_DIR}/verify/verify.cpp
    ${EFIKEXEC_HOST_DIR}/verify/verify_signature.cpp
    ${EFIKEXEC_HOST_DIR}/verify/streamed_digests.cpp
    ${EFIKEXEC_HOST_DIR}/verify/verified_image.cpp
    ${EFIKEXEC_HOST_DIR}/machine/machine.cpp
    ${EFIKEXEC_HOST_DIR}/machine/identity_memory.cpp
    ${EFIKEXEC_HOST_DIR}/machine/firmware_runtime.cpp
    ${EFIKEXEC_HOST_DIR}/machine/lockdown.cpp
    ${EFIKEXEC_HOST_DIR}/run/child_report.cpp
    ${EFIKEXEC_HOST_DIR}/run/confinement.cpp
    ${EFIKEXEC_HOST_DIR}/run/efi_run.cpp
    ${EFIKEXEC_HOST_DIR}/run/run_report.cpp
    ${EFIKEXEC_HOST_DIR}/handoff/trampoline.cpp
    ${EFIKEXEC_HOST_DIR}/handoff/kexec_plan.cpp
    ${EFIKEXEC_HOST_DIR}/handoff/liveness.cpp
    ${EFIKEXEC_HOST_DIR}/handoff/efi_setup.cpp
    ${EFIKEXEC_HOST_DIR}/crash/crash_dump.cpp
    ${EFIKEXEC_HOST_DIR}/load/kexec_syscalls.cpp
    ${EFIKEXEC_HOST_DIR}/load/loader.cpp
    ${EFIKEXEC_HOST_DIR}/load/payload.cpp
    ${EFIKEXEC_ARCH_SOURCES})
target_include_directories(efikexec_host PUBLIC ${EFIKEXEC_ARCH_INCLUDE_DIR})
# Where `load` finds the payload when no --payload is given (load/payload.hpp).
set_source_files_properties(${EFIKEXEC_HOST_DIR}/load/payload.cpp PROPERTIES COMPILE_DEFINITIONS
                            EFIKEXEC_PAYLOAD_INSTALL_PATH="${EFIKEXEC_PAYLOAD_INSTALL_FULL_PATH}")
# nlohmann-json costs more to compile than the code that uses it: once.
target_precompile_headers(efikexec_host PRIVATE <nlohmann/json.hpp>)
# A thread reads `verify`'s snapshot while the caller hashes it (image/file_bytes.cpp).
find_package(Threads REQUIRED)
target_link_libraries(efikexec_host PUBLIC efikexec_core nlohmann_json::nlohmann_json
                      Threads::Threads)
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

# What a failed stage means to a caller (a C API status, an exit status): shared by the C API,
# the libraries and the programs.
add_library(efikexec_api_status OBJECT ${EFIKEXEC_HOST_DIR}/api/status.cpp)
# Headers only: it needs none of the host layer's code.
target_include_directories(efikexec_api_status PRIVATE ${PROJECT_SOURCE_DIR}/include
                           ${PROJECT_SOURCE_DIR}/src)

# The commands: the only code that parses arguments (CLI11) and turns errors into exit statuses.
add_library(efikexec_cli_commands STATIC
    ${EFIKEXEC_HOST_DIR}/cli/cli_commands.cpp
    ${EFIKEXEC_HOST_DIR}/cli/command_inspect.cpp
    ${EFIKEXEC_HOST_DIR}/cli/command_list.cpp
    ${EFIKEXEC_HOST_DIR}/cli/command_verify.cpp
    ${EFIKEXEC_HOST_DIR}/cli/command_run_efi.cpp
    ${EFIKEXEC_HOST_DIR}/cli/command_load.cpp)
target_precompile_headers(efikexec_cli_commands PRIVATE <CLI/CLI.hpp> <nlohmann/json.hpp>)
target_link_libraries(efikexec_cli_commands PUBLIC efikexec_host CLI11::CLI11)

function(efikexec_cli name)
  add_executable(${name} ${EFIKEXEC_HOST_DIR}/cli/cli_main.cpp)
  target_compile_definitions(${name} PRIVATE EFIKEXEC_VERSION="${PROJECT_VERSION}")
  target_link_libraries(${name} PRIVATE efikexec_cli_commands efikexec_api_status ${ARGN})
endfunction()

efikexec_cli(efikexec efikexec_host_shared)
if(EFIKEXEC_STATIC_CLI AND NOT EFIKEXEC_SANITIZE AND EFIKEXEC_LIBCRYPTO_ARCHIVE)
  # For initramfs boot managers: no shared libraries, and position independent so that no part
  # of the program sits on low RAM addresses the EFI image may claim (see docs/architecture.md).
  efikexec_cli(efikexec-static efikexec_host ${EFIKEXEC_LIBCRYPTO_ARCHIVE}
               ${EFIKEXEC_LIBELF_ARCHIVE} ${EFIKEXEC_LIBZ_ARCHIVE} -static-pie)
endif()
