# SPDX-License-Identifier: MIT
# What `cmake --install` puts where (docs/c-api.md "Install layout"). Both package files locate
# the prefix relative to themselves, so an installed tree can be moved (DESTDIR, a temp prefix).
install(TARGETS efikexec_shared efikexec_static EXPORT efikexecTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/efikexec.h
              ${PROJECT_SOURCE_DIR}/include/efikexec-kexec-tools.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS efikexec RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
if(TARGET efikexec-static)
  install(TARGETS efikexec-static RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
endif()
install(FILES ${EFIKEXEC_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

set(EFIKEXEC_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/efikexec)
install(EXPORT efikexecTargets NAMESPACE efikexec:: DESTINATION ${EFIKEXEC_PACKAGE_DIR})
configure_package_config_file(${EFIKEXEC_CMAKE_DIR}/efikexecConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/efikexecConfig.cmake INSTALL_DESTINATION ${EFIKEXEC_PACKAGE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/efikexecConfigVersion.cmake
    COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/efikexecConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/efikexecConfigVersion.cmake
        DESTINATION ${EFIKEXEC_PACKAGE_DIR})

# pkg-config: ${pcfiledir} makes the prefix relative to where the .pc file ends up.
file(RELATIVE_PATH EFIKEXEC_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" EFIKEXEC_PC_TO_PREFIX "${EFIKEXEC_PC_TO_PREFIX}")
configure_file(${EFIKEXEC_CMAKE_DIR}/efikexec.pc.in ${CMAKE_CURRENT_BINARY_DIR}/efikexec.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/efikexec.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
