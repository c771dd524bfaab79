// SPDX-License-Identifier: MIT
#include "bearssl_crypto.hpp"

#include <cstring>

namespace efikexec::verifier {

namespace {

// BearSSL's i31 code handles moduli up to BR_MAX_RSA_SIZE bits (an internal constant: 4096).
constexpr std::size_t kMaxRsaBits = 4096;

const br_hash_class* hash_class(pe::HashAlgorithm algorithm) {
  switch (algorithm) {
    case pe::HashAlgorithm::kSha1: return &br_sha1_vtable;
    case pe::HashAlgorithm::kSha256: return &br_sha256_vtable;
    case pe::HashAlgorithm::kSha384: return &br_sha384_vtable;
    case pe::HashAlgorithm::kSha512: return &br_sha512_vtable;
  }
  return &br_sha256_vtable;
}

// BearSSL names a DigestInfo's algorithm by its OID with a leading length octet.
const unsigned char* hash_oid(pe::HashAlgorithm algorithm) {
  switch (algorithm) {
    case pe::HashAlgorithm::kSha1: return BR_HASH_OID_SHA1;
    case pe::HashAlgorithm::kSha256: return BR_HASH_OID_SHA256;
    case pe::HashAlgorithm::kSha384: return BR_HASH_OID_SHA384;
    case pe::HashAlgorithm::kSha512: return BR_HASH_OID_SHA512;
  }
  return BR_HASH_OID_SHA256;
}

}  // namespace

BearSslCrypto::BearSslCrypto() { hasher_.start(pe::HashAlgorithm::kSha256); }

void BearSslCrypto::Hasher::start(pe::HashAlgorithm algorithm) {
  algorithm_ = algorithm;
  hash_class(algorithm)->init(&context_.vtable);
}

void BearSslCrypto::Hasher::update(ByteView bytes) {
  context_.vtable->update(&context_.vtable, bytes.data(), bytes.size());
}

Digest BearSslCrypto::Hasher::finish() const {
  Digest digest;
  digest.algorithm = algorithm_;
  context_.vtable->out(&context_.vtable, digest.bytes.data());
  return digest;
}

pe::Hasher& BearSslCrypto::begin_digest(pe::HashAlgorithm algorithm) {
  hasher_.start(algorithm);
  return hasher_;
}

Digest BearSslCrypto::finish_digest() { return hasher_.finish(); }

bool BearSslCrypto::rsa_pkcs1_verify(const RsaPublicKey& key, pe::HashAlgorithm algorithm,
                                     ByteView digest, ByteView signature) {
  if (digest.size() != pe::digest_size(algorithm) || key.modulus.size() * 8 > kMaxRsaBits ||
      signature.size() != key.modulus.size())
    return false;
  // br_rsa_public_key names non-const buffers but only reads them.
  br_rsa_public_key public_key{
      reinterpret_cast<unsigned char*>(const_cast<std::byte*>(key.modulus.data())),
      key.modulus.size(),
      reinterpret_cast<unsigned char*>(const_cast<std::byte*>(key.exponent.data())),
      key.exponent.size()};
  unsigned char recovered[pe::kMaxDigestSize];
  const br_rsa_pkcs1_vrfy verify = br_rsa_pkcs1_vrfy_get_default();
  if (verify(reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
             hash_oid(algorithm), digest.size(), &public_key, recovered) != 1)
    return false;
  return std::memcmp(recovered, digest.data(), digest.size()) == 0;
}

}  // namespace efikexec::verifier
