# SPDX-License-Identifier: MIT
# efikexec(8), rendered at build time from the CLI's own --help output, so the page and the
# help cannot disagree (cmake/efikexec-man.sh).
set(EFIKEXEC_MAN_PAGE ${CMAKE_BINARY_DIR}/efikexec.8)
add_custom_command(
    OUTPUT ${EFIKEXEC_MAN_PAGE}
    COMMAND ${EFIKEXEC_CMAKE_DIR}/efikexec-man.sh $<TARGET_FILE:efikexec> ${PROJECT_VERSION}
            ${EFIKEXEC_MAN_PAGE}
    DEPENDS efikexec ${EFIKEXEC_CMAKE_DIR}/efikexec-man.sh
    COMMENT "Rendering efikexec(8) from efikexec --help")
add_custom_target(efikexec_man ALL DEPENDS ${EFIKEXEC_MAN_PAGE})
