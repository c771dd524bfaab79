// SPDX-License-Identifier: MIT
// The verifier's cryptography over BearSSL: SHA-1/256/384/512 and RSA PKCS#1 v1.5 verification
// (i31 big integers, moduli up to 4096 bits). Hosted builds only: the
// packaged static archive is built with _FORTIFY_SOURCE and the stack protector, so it needs
// glibc's __memcpy_chk, __memset_chk and __stack_chk_fail, and cannot join the freestanding
// core. A payload compiles the same BearSSL sources freestanding and implements Crypto the same
// way.
#pragma once

#include <bearssl.h>

#include "crypto.hpp"

namespace efikexec::verifier {

class BearSslCrypto final : public Crypto {
 public:
  BearSslCrypto();
  pe::Hasher& begin_digest(pe::HashAlgorithm algorithm) override;
  Digest finish_digest() override;
  bool rsa_pkcs1_verify(const RsaPublicKey& key, pe::HashAlgorithm algorithm, ByteView digest,
                        ByteView signature) override;

 private:
  class Hasher final : public pe::Hasher {
   public:
    void start(pe::HashAlgorithm algorithm);
    void update(ByteView bytes) override;
    Digest finish() const;

   private:
    pe::HashAlgorithm algorithm_{};
    br_hash_compat_context context_;  // whichever algorithm runs
  };
  Hasher hasher_;
};

}  // namespace efikexec::verifier
