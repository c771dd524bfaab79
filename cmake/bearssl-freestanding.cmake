# SPDX-License-Identifier: MIT
# BearSSL 0.6 built freestanding for the payload (efikexec_bearssl_freestanding): only the
# sources the verifier's cryptography needs (SHA-1/224/256/384/512, RSA PKCS#1 v1.5
# verification with i62/i31 big integers), compiled without the stack protector,
# _FORTIFY_SOURCE or the red zone. The sources come from Debian's source package, fetched and
# checked at configure time by cmake/fetch-bearssl.sh, or from EFIKEXEC_BEARSSL_SOURCE_DIR.
set(EFIKEXEC_BEARSSL_SOURCE_DIR "" CACHE PATH
    "An unpacked BearSSL 0.6 source tree (default: Debian's source package, fetched at configure time)")
if(EFIKEXEC_BEARSSL_SOURCE_DIR)
  set(EFIKEXEC_BEARSSL_DIR ${EFIKEXEC_BEARSSL_SOURCE_DIR})
else()
  execute_process(COMMAND ${PROJECT_SOURCE_DIR}/cmake/fetch-bearssl.sh
                          ${PROJECT_BINARY_DIR}/bearssl
                  RESULT_VARIABLE EFIKEXEC_BEARSSL_FETCH)
  if(NOT EFIKEXEC_BEARSSL_FETCH EQUAL 0)
    message(FATAL_ERROR "BearSSL's source package could not be fetched (cmake/fetch-bearssl.sh); "
            "pass -DEFIKEXEC_BEARSSL_SOURCE_DIR=<unpacked bearssl 0.6> or -DEFIKEXEC_PAYLOAD=OFF")
  endif()
  set(EFIKEXEC_BEARSSL_DIR ${PROJECT_BINARY_DIR}/bearssl/src)
endif()
if(NOT EXISTS ${EFIKEXEC_BEARSSL_DIR}/inc/bearssl.h)
  message(FATAL_ERROR "${EFIKEXEC_BEARSSL_DIR} is not a BearSSL source tree")
endif()

# The closure of br_sha{1,256,384,512}_vtable and br_rsa_pkcs1_vrfy_get_default (BR_INT128 on
# x86_64 selects the i62 code); outside BearSSL they need memcpy, memmove, memset and memcmp.
set(EFIKEXEC_BEARSSL_FILES
    codec/ccopy.c codec/dec32be.c codec/dec64be.c codec/enc32be.c codec/enc64be.c
    hash/sha1.c hash/sha2small.c hash/sha2big.c
    int/i31_add.c int/i31_bitlen.c int/i31_decmod.c int/i31_decode.c int/i31_encode.c
    int/i31_modpow.c int/i31_montmul.c int/i31_muladd.c int/i31_ninv31.c int/i31_sub.c
    int/i31_tmont.c int/i32_div32.c int/i62_modpow2.c
    rsa/rsa_default_pkcs1_vrfy.c rsa/rsa_i62_pkcs1_vrfy.c rsa/rsa_i62_pub.c
    rsa/rsa_pkcs1_sig_unpad.c)
list(TRANSFORM EFIKEXEC_BEARSSL_FILES PREPEND ${EFIKEXEC_BEARSSL_DIR}/src/)
add_library(efikexec_bearssl_freestanding STATIC ${EFIKEXEC_BEARSSL_FILES})
target_include_directories(efikexec_bearssl_freestanding SYSTEM PUBLIC ${EFIKEXEC_BEARSSL_DIR}/inc)
target_include_directories(efikexec_bearssl_freestanding PRIVATE ${EFIKEXEC_BEARSSL_DIR}/src)
target_compile_options(efikexec_bearssl_freestanding PRIVATE -O2 ${EFIKEXEC_PAYLOAD_FLAGS} -w)
