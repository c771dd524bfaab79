# SPDX-License-Identifier: MIT
# The freestanding Secure Boot verifier (part of the core; docs/payload-verifier.md).
set(EFIKEXEC_VERIFIER_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/der.cpp
    ${CMAKE_CURRENT_LIST_DIR}/oids.cpp
    ${CMAKE_CURRENT_LIST_DIR}/x509.cpp
    ${CMAKE_CURRENT_LIST_DIR}/pkcs7.cpp
    ${CMAKE_CURRENT_LIST_DIR}/verify.cpp)
# Its cryptography over BearSSL, for hosted builds (the packaged archive is not freestanding).
set(EFIKEXEC_VERIFIER_BEARSSL_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/bearssl_crypto.cpp)
