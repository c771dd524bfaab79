# SPDX-License-Identifier: MIT
set(EFIKEXEC_EFI_SHIM_SOURCES)
