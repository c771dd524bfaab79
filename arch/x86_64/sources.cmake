# SPDX-License-Identifier: MIT
set(EFIKEXEC_ARCH_SOURCES)
