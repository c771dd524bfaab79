// SPDX-License-Identifier: MIT
// The host's cryptography (OpenSSL libcrypto): owning pointers for OpenSSL objects, the digest
// algorithms the core names, a Hasher that computes several digests in one pass, and the X.509
// facts verification and reports need.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "pe_loader/authenticode.hpp"
#include "pe_loader/crypto.hpp"

namespace efikexec::kexec {

struct OpenSslFree {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(PKCS7* p) const { PKCS7_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_SIG* p) const { X509_SIG_free(p); }
  void operator()(ASN1_OBJECT* p) const { ASN1_OBJECT_free(p); }
  void operator()(STACK_OF(X509)* p) const { sk_X509_pop_free(p, X509_free); }
  void operator()(STACK_OF(ASN1_TYPE)* p) const { sk_ASN1_TYPE_pop_free(p, ASN1_TYPE_free); }
};
template <class T>
using OsslPtr = std::unique_ptr<T, OpenSslFree>;

using Bytes = std::vector<std::uint8_t>;

const EVP_MD* evp_md(pe::HashAlgorithm algorithm);
std::optional<pe::HashAlgorithm> hash_algorithm_from_nid(int nid);

Bytes digest_of(pe::HashAlgorithm algorithm, ByteView bytes);

inline ByteView byte_view(const Bytes& bytes) {
  return {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()};
}

// Computes one digest per requested algorithm over the same update() calls, so the image's bytes
// are read once however many algorithms the signatures and databases name.
class MultiHasher final : public pe::Hasher {
 public:
  explicit MultiHasher(std::span<const pe::HashAlgorithm> algorithms);
  void update(ByteView bytes) override;
  // Finishes every digest; nullopt entries are algorithms that were not requested.
  std::array<std::optional<Bytes>, pe::kHashAlgorithmCount> finish();

 private:
  std::array<OsslPtr<EVP_MD_CTX>, pe::kHashAlgorithmCount> contexts_;
};

// The Authenticode digests of an image for each algorithm in `algorithms`, in one pass.
struct ImageDigests {
  std::array<std::optional<Bytes>, pe::kHashAlgorithmCount> by_algorithm;
  const Bytes* get(pe::HashAlgorithm algorithm) const {
    auto& digest = by_algorithm[static_cast<std::size_t>(algorithm)];
    return digest ? &*digest : nullptr;
  }
};
ImageDigests authenticode_digests(const pe::Authenticode& authenticode,
                                  std::span<const pe::HashAlgorithm> algorithms);

// One-line RFC 2253 form of a name ("CN=...,O=...").
std::string x509_name(const X509_NAME* name);
// The certificate's DER encoding as parsed (OpenSSL keeps the original bytes).
Bytes x509_der(X509* certificate);
// The DER TBSCertificate of a certificate, as EFI_CERT_X509_SHAxxx entries hash it (UEFI 2.10
// §32.4.1); empty when the encoding cannot be split.
Bytes x509_tbs_der(X509* certificate);

}  // namespace efikexec::kexec
