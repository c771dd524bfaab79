// SPDX-License-Identifier: MIT
#include "kexec/verify/verify_signature.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

namespace efikexec::kexec {

namespace {

// Authenticode OIDs (Microsoft's 1.3.6.1.4.1.311.2.1 arc).
constexpr const char* kSpcIndirectDataOid = "1.3.6.1.4.1.311.2.1.4";
constexpr const char* kSpcPeImageDataOid = "1.3.6.1.4.1.311.2.1.15";

bool oid_is(const ASN1_OBJECT* object, const char* dotted) {
  OsslPtr<ASN1_OBJECT> expected(OBJ_txt2obj(dotted, 1));
  return object != nullptr && expected && OBJ_cmp(object, expected.get()) == 0;
}

// Element `index` of a parsed SEQUENCE, if it is itself a SEQUENCE.
const ASN1_STRING* sequence_element(const STACK_OF(ASN1_TYPE)* sequence, int index) {
  if (index >= sk_ASN1_TYPE_num(sequence)) return nullptr;
  const ASN1_TYPE* element = sk_ASN1_TYPE_value(sequence, index);
  return element->type == V_ASN1_SEQUENCE ? element->value.sequence : nullptr;
}

OsslPtr<STACK_OF(ASN1_TYPE)> parse_sequence(const ASN1_STRING* der) {
  const unsigned char* p = der->data;
  OsslPtr<STACK_OF(ASN1_TYPE)> items(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, der->length));
  if (items && p != der->data + der->length) items.reset();
  return items;
}

Result<void> parse_indirect_data(const ASN1_STRING* content, std::uint64_t at,
                                 AuthenticodeSignature& out) {
  // SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
  //                                       messageDigest DigestInfo }
  auto items = parse_sequence(content);
  if (!items || sk_ASN1_TYPE_num(items.get()) != 2)
    return fail(ErrorCode::kMalformed, "SpcIndirectDataContent is not a two-element SEQUENCE", at);
  const ASN1_STRING* data = sequence_element(items.get(), 0);
  const ASN1_STRING* digest_info = sequence_element(items.get(), 1);
  if (data == nullptr || digest_info == nullptr)
    return fail(ErrorCode::kMalformed, "SpcIndirectDataContent elements are not SEQUENCEs", at);
  auto attribute = parse_sequence(data);
  if (!attribute || sk_ASN1_TYPE_num(attribute.get()) < 1 ||
      sk_ASN1_TYPE_value(attribute.get(), 0)->type != V_ASN1_OBJECT ||
      !oid_is(sk_ASN1_TYPE_value(attribute.get(), 0)->value.object, kSpcPeImageDataOid))
    return fail(ErrorCode::kUnsupported, "SpcIndirectDataContent data is not SPC_PE_IMAGE_DATA",
                at);

  // DigestInfo has X509_SIG's shape (PKCS#1 / RFC 8017 §9.2).
  const unsigned char* p = digest_info->data;
  OsslPtr<X509_SIG> sig(d2i_X509_SIG(nullptr, &p, digest_info->length));
  if (!sig || p != digest_info->data + digest_info->length)
    return fail(ErrorCode::kMalformed, "SpcIndirectDataContent DigestInfo does not parse", at);
  const X509_ALGOR* algorithm = nullptr;
  const ASN1_OCTET_STRING* digest = nullptr;
  X509_SIG_get0(sig.get(), &algorithm, &digest);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  auto hash = hash_algorithm_from_nid(OBJ_obj2nid(oid));
  if (!hash)
    return fail(ErrorCode::kUnsupported,
                "Authenticode digest algorithm is not SHA-1, SHA-256, SHA-384 or SHA-512", at);
  if (static_cast<std::size_t>(ASN1_STRING_length(digest)) != pe::digest_size(*hash))
    return fail(ErrorCode::kMalformed, "Authenticode digest length does not match its algorithm",
                at);
  out.digest_algorithm = *hash;
  const unsigned char* digest_bytes = ASN1_STRING_get0_data(digest);
  out.digest.assign(digest_bytes, digest_bytes + ASN1_STRING_length(digest));

  // Authenticode's messageDigest covers the SEQUENCE's contents, not its tag and length.
  const unsigned char* body = content->data;
  long body_length = 0;
  int tag = 0, xclass = 0;
  if (ASN1_get_object(&body, &body_length, &tag, &xclass, content->length) & 0x80)
    return fail(ErrorCode::kMalformed, "SpcIndirectDataContent header does not parse", at);
  out.signed_content.assign(body, body + body_length);
  return {};
}

Result<AuthenticodeSignature> parse_signed_data(const pe::WinCertificate& entry) {
  const std::uint64_t at = entry.offset;
  const auto* der = reinterpret_cast<const unsigned char*>(entry.content.data());
  const unsigned char* p = der;
  AuthenticodeSignature out;
  out.offset = at;
  out.pkcs7.reset(d2i_PKCS7(nullptr, &p, static_cast<long>(entry.content.size())));
  if (!out.pkcs7) return fail(ErrorCode::kMalformed, "PKCS#7 SignedData does not parse", at);

  if (auto padding = pe::check_signature_padding(entry, static_cast<std::size_t>(p - der));
      !padding)
    return std::unexpected(padding.error());

  PKCS7* pkcs7 = out.pkcs7.get();
  if (!PKCS7_type_is_signed(pkcs7) || pkcs7->d.sign == nullptr ||
      pkcs7->d.sign->contents == nullptr)
    return fail(ErrorCode::kUnsupported, "PKCS#7 is not SignedData", at);
  const PKCS7* contents = pkcs7->d.sign->contents;
  if (!oid_is(contents->type, kSpcIndirectDataOid) || contents->d.other == nullptr ||
      contents->d.other->type != V_ASN1_SEQUENCE)
    return fail(ErrorCode::kUnsupported, "PKCS#7 content is not SpcIndirectDataContent", at);
  if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(pkcs7)) != 1)
    return fail(ErrorCode::kMalformed, "Authenticode SignedData must have exactly one SignerInfo",
                at);
  // The digests the SignedData itself uses (Authenticode only knows the SHA family). This also
  // keeps PKCS7_verify away from its unknown-digest error path, which leaks in OpenSSL 3.0.
  const STACK_OF(X509_ALGOR)* digest_algorithms = pkcs7->d.sign->md_algs;
  bool digests_ok = sk_X509_ALGOR_num(digest_algorithms) > 0;
  for (int i = 0; digests_ok && i < sk_X509_ALGOR_num(digest_algorithms); ++i)
    digests_ok = hash_algorithm_from_nid(
                     OBJ_obj2nid(sk_X509_ALGOR_value(digest_algorithms, i)->algorithm))
                     .has_value();
  const PKCS7_SIGNER_INFO* signer_info = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(pkcs7), 0);
  digests_ok = digests_ok && signer_info->digest_alg != nullptr &&
               hash_algorithm_from_nid(OBJ_obj2nid(signer_info->digest_alg->algorithm)).has_value();
  if (!digests_ok)
    return fail(ErrorCode::kUnsupported,
                "SignedData digest algorithm is not SHA-1, SHA-256, SHA-384 or SHA-512", at);
  if (auto parsed = parse_indirect_data(contents->d.other->value.sequence, at, out); !parsed)
    return std::unexpected(parsed.error());

  STACK_OF(X509)* signers = PKCS7_get0_signers(pkcs7, nullptr, 0);
  if (signers == nullptr || sk_X509_num(signers) != 1) {
    sk_X509_free(signers);
    return fail(ErrorCode::kMalformed, "signer certificate is not in the SignedData", at);
  }
  out.signer = sk_X509_value(signers, 0);
  sk_X509_free(signers);  // the certificates belong to pkcs7
  out.signer_subject = x509_name(X509_get_subject_name(out.signer));
  out.signer_issuer = x509_name(X509_get_issuer_name(out.signer));
  return out;
}

}  // namespace

Result<AuthenticodeSignature> parse_authenticode_signature(const pe::WinCertificate& entry) {
  auto parsed = parse_signed_data(entry);
  // What OpenSSL queued while it refused these bytes is said by our error: left in the thread's
  // queue it would reach the program's next OpenSSL call, and each refusal would keep its text
  // allocated.
  ERR_clear_error();
  return parsed;
}

bool signer_signature_verifies(const AuthenticodeSignature& signature) {
  OsslPtr<BIO> content(BIO_new_mem_buf(signature.signed_content.data(),
                                       static_cast<int>(signature.signed_content.size())));
  if (!content) return false;
  // NOVERIFY: the chain is checked separately against db and dbx (verify.cpp).
  const int ok = PKCS7_verify(signature.pkcs7.get(), nullptr, nullptr, content.get(), nullptr,
                              PKCS7_NOVERIFY | PKCS7_BINARY);
  ERR_clear_error();
  return ok == 1;
}

}  // namespace efikexec::kexec
