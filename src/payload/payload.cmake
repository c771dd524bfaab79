# SPDX-License-Identifier: MIT
# The Secure Boot payload: efikexec-payload.efi, a PE (signable with sbsign) that is also a
# 64-bit bzImage for kexec_file_load (docs/payload.md). Built from the freestanding core,
# BearSSL built freestanding (cmake/bearssl-freestanding.cmake) and arch/x86_64/payload/.
include(GNUInstallDirs)
include(${CMAKE_CURRENT_LIST_DIR}/sources.cmake)

# Where the payload is installed, relative to the prefix, and as an absolute path (the CLI's
# default --payload). Defined even when this build does not make the payload: a distribution
# may build and sign it separately and install it there.
set(EFIKEXEC_PAYLOAD_INSTALL_PATH "${CMAKE_INSTALL_LIBDIR}/efikexec/efikexec-payload.efi")
cmake_path(ABSOLUTE_PATH EFIKEXEC_PAYLOAD_INSTALL_PATH BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}"
           OUTPUT_VARIABLE EFIKEXEC_PAYLOAD_INSTALL_FULL_PATH)
message(STATUS "efikexec payload path: ${EFIKEXEC_PAYLOAD_INSTALL_FULL_PATH}")

# The parsers, hosted: unit tests and fuzz targets.
add_library(efikexec_payload_parsers STATIC ${EFIKEXEC_PAYLOAD_PARSER_SOURCES})
target_link_libraries(efikexec_payload_parsers PUBLIC efikexec_core)
target_compile_options(efikexec_payload_parsers PRIVATE ${EFIKEXEC_CORE_FLAGS})

if(NOT EFIKEXEC_PAYLOAD)
  return()
endif()

# Trust anchors built into the payload: certificates (PEM/DER) or .esl files, ;-separated.
set(EFIKEXEC_PAYLOAD_DB "" CACHE STRING
    "db of the payload: X.509 certificates (PEM or DER) or EFI_SIGNATURE_LIST files, ;-separated")
set(EFIKEXEC_PAYLOAD_DBX "" CACHE STRING
    "dbx of the payload: X.509 certificates or EFI_SIGNATURE_LIST files, ;-separated")
set(EFIKEXEC_PAYLOAD_SBAT_LEVEL "" CACHE FILEPATH "SbatLevel text built into the payload")
# Where the payload takes its anchors from (docs/payload.md): the built-in ones, the firmware's
# db/dbx/SbatLevelRT read through its runtime services, or both.
set(EFIKEXEC_PAYLOAD_TRUST "builtin" CACHE STRING
    "trust anchors of the payload: builtin, firmware or both")
set_property(CACHE EFIKEXEC_PAYLOAD_TRUST PROPERTY STRINGS builtin firmware both)
if(NOT EFIKEXEC_PAYLOAD_TRUST MATCHES "^(builtin|firmware|both)$")
  message(FATAL_ERROR "EFIKEXEC_PAYLOAD_TRUST is builtin, firmware or both, not '${EFIKEXEC_PAYLOAD_TRUST}'")
endif()

set(EFIKEXEC_PAYLOAD_FLAGS -ffreestanding -fno-stack-protector -U_FORTIFY_SOURCE -mno-red-zone
    -fno-asynchronous-unwind-tables -fno-sanitize=all -fPIE -fvisibility=hidden)
include(${PROJECT_SOURCE_DIR}/cmake/bearssl-freestanding.cmake)

# efikexec_payload_target(NAME SOURCES...): a library compiled the payload's way.
function(efikexec_payload_target name)
  add_library(${name} STATIC ${ARGN})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR}/src)
  target_include_directories(${name} SYSTEM PRIVATE ${GNU_EFI_INCLUDE_DIRS}
    $<TARGET_PROPERTY:efikexec_bearssl_freestanding,INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_definitions(${name} PRIVATE GNU_EFI_USE_MS_ABI)
  target_compile_options(${name} PRIVATE ${EFIKEXEC_PAYLOAD_FLAGS}
    $<$<COMPILE_LANGUAGE:CXX>:${EFIKEXEC_CORE_FLAGS} -fno-threadsafe-statics>)
endfunction()
# The payload's own code, linked whole; the bare-metal run is the freestanding archive
# efikexec_payload_run (src/payload/bare_metal/sources.cmake), apart so that a test payload can
# link another run_uki_on_bare_metal in its place (link-payload.sh --object).
efikexec_payload_target(efikexec_payload_objects ${EFIKEXEC_PAYLOAD_SOURCES}
                        ${EFIKEXEC_PAYLOAD_PARSER_SOURCES})
# The mem* functions must not be compiled into calls to themselves.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/runtime.cpp PROPERTIES COMPILE_OPTIONS
                            "-fno-builtin;-fno-tree-loop-distribute-patterns")

set(EFIKEXEC_PAYLOAD_LINK ${PROJECT_SOURCE_DIR}/arch/x86_64/payload/link-payload.sh)
set(EFIKEXEC_PAYLOAD_LINK_DEPENDS ${EFIKEXEC_PAYLOAD_LINK}
    ${PROJECT_SOURCE_DIR}/arch/x86_64/payload/payload.ld
    ${PROJECT_SOURCE_DIR}/arch/x86_64/payload/payload-trust.py
    ${PROJECT_SOURCE_DIR}/arch/x86_64/payload/make-payload-image.py
    efikexec_payload_objects efikexec_payload_run efikexec_core_freestanding
    efikexec_bearssl_freestanding)
# The archives, the payload's own first (linked whole): link-payload.sh's arguments after --.
set(EFIKEXEC_PAYLOAD_ARCHIVES $<TARGET_FILE:efikexec_payload_objects>
    $<TARGET_FILE:efikexec_payload_run> $<TARGET_FILE:efikexec_core_freestanding> $<TARGET_FILE:efikexec_bearssl_freestanding>)
set(trust_arguments --trust ${EFIKEXEC_PAYLOAD_TRUST})
foreach(file IN LISTS EFIKEXEC_PAYLOAD_DB)
  list(APPEND trust_arguments --db ${file})
endforeach()
foreach(file IN LISTS EFIKEXEC_PAYLOAD_DBX)
  list(APPEND trust_arguments --dbx ${file})
endforeach()
if(EFIKEXEC_PAYLOAD_SBAT_LEVEL)
  list(APPEND trust_arguments --sbat-level ${EFIKEXEC_PAYLOAD_SBAT_LEVEL})
endif()
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/efikexec-payload.efi
  COMMAND ${EFIKEXEC_PAYLOAD_LINK} --cc ${CMAKE_CXX_COMPILER}
          --out ${PROJECT_BINARY_DIR}/efikexec-payload.efi ${trust_arguments} --
          ${EFIKEXEC_PAYLOAD_ARCHIVES}
  DEPENDS ${EFIKEXEC_PAYLOAD_LINK_DEPENDS} ${EFIKEXEC_PAYLOAD_DB} ${EFIKEXEC_PAYLOAD_DBX}
          ${EFIKEXEC_PAYLOAD_SBAT_LEVEL}
  COMMENT "Linking the payload efikexec-payload.efi" VERBATIM)
add_custom_target(efikexec_payload ALL DEPENDS ${PROJECT_BINARY_DIR}/efikexec-payload.efi)
cmake_path(GET EFIKEXEC_PAYLOAD_INSTALL_PATH PARENT_PATH payload_install_directory)
install(FILES ${PROJECT_BINARY_DIR}/efikexec-payload.efi DESTINATION ${payload_install_directory})
