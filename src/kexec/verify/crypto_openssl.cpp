// SPDX-License-Identifier: MIT
#include "kexec/verify/crypto_openssl.hpp"

#include <openssl/asn1.h>
#include <openssl/objects.h>

namespace efikexec::kexec {

const EVP_MD* evp_md(pe::HashAlgorithm algorithm) {
  switch (algorithm) {
    case pe::HashAlgorithm::kSha1: return EVP_sha1();
    case pe::HashAlgorithm::kSha256: return EVP_sha256();
    case pe::HashAlgorithm::kSha384: return EVP_sha384();
    case pe::HashAlgorithm::kSha512: return EVP_sha512();
  }
  return nullptr;
}

std::optional<pe::HashAlgorithm> hash_algorithm_from_nid(int nid) {
  switch (nid) {
    case NID_sha1: return pe::HashAlgorithm::kSha1;
    case NID_sha256: return pe::HashAlgorithm::kSha256;
    case NID_sha384: return pe::HashAlgorithm::kSha384;
    case NID_sha512: return pe::HashAlgorithm::kSha512;
    default: return std::nullopt;
  }
}

Bytes digest_of(pe::HashAlgorithm algorithm, ByteView bytes) {
  Bytes digest(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, evp_md(algorithm), nullptr);
  digest.resize(length);
  return digest;
}

MultiHasher::MultiHasher(std::span<const pe::HashAlgorithm> algorithms) {
  for (pe::HashAlgorithm algorithm : algorithms) {
    auto& context = contexts_[static_cast<std::size_t>(algorithm)];
    if (context) continue;
    context.reset(EVP_MD_CTX_new());
    if (context && EVP_DigestInit_ex(context.get(), evp_md(algorithm), nullptr) != 1)
      context.reset();
  }
}

void MultiHasher::update(ByteView bytes) {
  for (auto& context : contexts_)
    if (context) EVP_DigestUpdate(context.get(), bytes.data(), bytes.size());
}

std::array<std::optional<Bytes>, pe::kHashAlgorithmCount> MultiHasher::finish() {
  std::array<std::optional<Bytes>, pe::kHashAlgorithmCount> digests;
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    if (!contexts_[i]) continue;
    Bytes digest(EVP_MAX_MD_SIZE);
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(contexts_[i].get(), digest.data(), &length) != 1) continue;
    digest.resize(length);
    digests[i] = std::move(digest);
  }
  return digests;
}

ImageDigests authenticode_digests(const pe::Authenticode& authenticode,
                                  std::span<const pe::HashAlgorithm> algorithms) {
  MultiHasher hasher(algorithms);
  authenticode.hash(hasher);
  return {hasher.finish()};
}

std::string x509_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
    return {};
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

Bytes x509_der(X509* certificate) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(certificate, &der);
  if (length <= 0) return {};
  Bytes bytes(der, der + length);
  OPENSSL_free(der);
  return bytes;
}

Bytes x509_tbs_der(X509* certificate) {
  // Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, ... } (RFC 5280 §4.1): step into
  // the outer SEQUENCE and take the first element whole, header included.
  const Bytes der = x509_der(certificate);
  const unsigned char* p = der.data();
  long length = 0;
  int tag = 0, xclass = 0;
  if (ASN1_get_object(&p, &length, &tag, &xclass, static_cast<long>(der.size())) & 0x80)
    return {};
  const unsigned char* tbs = p;
  const long available = static_cast<long>(der.data() + der.size() - tbs);
  if (ASN1_get_object(&p, &length, &tag, &xclass, available) & 0x80 || tag != V_ASN1_SEQUENCE)
    return {};
  const auto tbs_size = static_cast<std::size_t>(p - tbs) + static_cast<std::size_t>(length);
  if (tbs_size > static_cast<std::size_t>(available)) return {};
  return Bytes(tbs, tbs + tbs_size);
}

}  // namespace efikexec::kexec
