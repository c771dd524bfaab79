# SPDX-License-Identifier: MIT
# The library that C programs link: the C API and the kexec-tools entry over the host layer, as
# libefikexec.so (only efikexec_* exported, versioned) and libefikexec.a (every object it needs
# in one archive), plus the install rules: headers, CLI, man page, pkg-config and CMake package.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EFIKEXEC_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})

# Compiled once, linked into both libraries and into the C API's unit tests.
add_library(efikexec_c_api OBJECT
    ${PROJECT_SOURCE_DIR}/src/kexec/api/c_api.cpp
    ${PROJECT_SOURCE_DIR}/src/kexec/api/kexec_tools_entry.cpp)
target_compile_definitions(efikexec_c_api PRIVATE EFIKEXEC_VERSION="${PROJECT_VERSION}")
target_link_libraries(efikexec_c_api PUBLIC efikexec_api_status efikexec_host_shared)

set(EFIKEXEC_INSTALL_INCLUDES $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)

# The target `efikexec` is the CLI; the libraries are efikexec_shared and efikexec_static, both
# named efikexec on disk and in the package (efikexec::efikexec, efikexec::efikexec_static).
add_library(efikexec_shared SHARED $<TARGET_OBJECTS:efikexec_c_api>
    $<TARGET_OBJECTS:efikexec_api_status>)
target_link_libraries(efikexec_shared PRIVATE efikexec_host OpenSSL::Crypto ${EFIKEXEC_LIBELF})
target_include_directories(efikexec_shared INTERFACE ${EFIKEXEC_INSTALL_INCLUDES})
# The version script keeps the C++ host layer (and its copies of nlohmann code) private,
# so the ABI is exactly include/efikexec.h and include/efikexec-kexec-tools.h.
target_link_options(efikexec_shared PRIVATE
    -Wl,--version-script=${EFIKEXEC_CMAKE_DIR}/efikexec.map -Wl,--no-undefined)
set_target_properties(efikexec_shared PROPERTIES
    OUTPUT_NAME efikexec EXPORT_NAME efikexec
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
    LINK_DEPENDS ${EFIKEXEC_CMAKE_DIR}/efikexec.map)

# A static archive must carry everything a C program needs from efikexec itself: the C API, the
# host layer, the core and the arch code. Its other needs (libcrypto, libelf, libstdc++) are
# the consumer's link line (efikexec.pc Libs.private; the CMake target's interface).
add_library(efikexec_static STATIC $<TARGET_OBJECTS:efikexec_c_api>
    $<TARGET_OBJECTS:efikexec_api_status>
    $<TARGET_OBJECTS:efikexec_host> $<TARGET_OBJECTS:efikexec_core>)
set_target_properties(efikexec_static PROPERTIES OUTPUT_NAME efikexec EXPORT_NAME efikexec_static)
target_include_directories(efikexec_static INTERFACE ${EFIKEXEC_INSTALL_INCLUDES})
target_link_libraries(efikexec_static INTERFACE crypto elf z stdc++ m)

include(${EFIKEXEC_CMAKE_DIR}/efikexec-man.cmake)
include(${EFIKEXEC_CMAKE_DIR}/efikexec-install.cmake)
