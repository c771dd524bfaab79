// SPDX-License-Identifier: MIT
// The cryptography the freestanding verifier needs, behind a small interface: SHA digests and
// RSASSA-PKCS1-v1_5 signature verification (RFC 8017 §8.2.2). The core never owns or destroys an
// implementation (protected non-virtual destructor, as pe::Hasher): a hosted build passes the
// BearSSL one (bearssl_crypto.hpp), a payload passes its own over the same primitives.
#pragma once

#include <array>
#include <cstddef>

#include "pe_loader/crypto.hpp"
#include "x509.hpp"

namespace efikexec::verifier {

struct Digest {
  pe::HashAlgorithm algorithm{};
  std::array<std::byte, pe::kMaxDigestSize> bytes{};

  ByteView view() const { return {bytes.data(), pe::digest_size(algorithm)}; }
};

class Crypto {
 public:
  // Starts a digest of `algorithm` and returns the hasher that receives its bytes. One digest
  // runs at a time: starting another abandons the one before.
  virtual pe::Hasher& begin_digest(pe::HashAlgorithm algorithm) = 0;
  virtual Digest finish_digest() = 0;
  // True when `signature` is a PKCS#1 v1.5 signature by `key` of the DigestInfo naming
  // `algorithm` and holding `digest`. Keys the implementation cannot handle verify nothing.
  virtual bool rsa_pkcs1_verify(const RsaPublicKey& key, pe::HashAlgorithm algorithm,
                                ByteView digest, ByteView signature) = 0;

 protected:
  Crypto() = default;
  Crypto(const Crypto&) = default;
  Crypto& operator=(const Crypto&) = default;
  ~Crypto() = default;
};

// The digest of one run of bytes.
Digest digest_of(Crypto& crypto, pe::HashAlgorithm algorithm, ByteView bytes);

}  // namespace efikexec::verifier
