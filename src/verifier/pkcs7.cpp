// SPDX-License-Identifier: MIT
#include "pkcs7.hpp"

#include "oids.hpp"

namespace efikexec::verifier {

namespace {

// Rule violations are reported at the WIN_CERTIFICATE, as the OpenSSL path reports them; DER
// framing errors at their own file offset.
Result<pe::HashAlgorithm> sha_algorithm(const der::Element& identifier, std::uint64_t at) {
  EFIKEXEC_TRY(oid, algorithm_identifier(identifier));
  auto algorithm = oid::digest_algorithm(oid);
  if (!algorithm)
    return fail(ErrorCode::kUnsupported,
                "SignedData digest algorithm is not SHA-1, SHA-256, SHA-384 or SHA-512", at);
  return *algorithm;
}

// SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
//                                       messageDigest DigestInfo }
Result<void> parse_indirect_data(const der::Element& content, std::uint64_t at,
                                 AuthenticodeSignature& out) {
  if (content.tag != der::kSequence)
    return fail(ErrorCode::kMalformed, "SpcIndirectDataContent is not a two-element SEQUENCE", at);
  EFIKEXEC_TRY(fields, der::Reader::into(content, "SpcIndirectDataContent"));
  EFIKEXEC_TRY(data, fields.expect(der::kSequence, "SpcIndirectDataContent elements are not SEQUENCEs"));
  EFIKEXEC_TRY(digest_info,
               fields.expect(der::kSequence, "SpcIndirectDataContent elements are not SEQUENCEs"));
  if (auto done = fields.finish("SpcIndirectDataContent is not a two-element SEQUENCE"); !done)
    return done;
  // SpcAttributeTypeAndOptionalValue ::= SEQUENCE { type OID, value ANY OPTIONAL }; any flaw
  // in it is "not SPC_PE_IMAGE_DATA", as the OpenSSL path reports it.
  auto is_pe_image_data = [&]() -> Result<bool> {
    EFIKEXEC_TRY(attribute, der::Reader::into(data, "SpcAttributeTypeAndOptionalValue"));
    EFIKEXEC_TRY(type, attribute.next("SpcAttributeTypeAndOptionalValue type"));
    if (auto valid = der::check_any(type); !valid) return std::unexpected(valid.error());
    if (!attribute.at_end()) {
      EFIKEXEC_TRY(value, attribute.next("SpcAttributeTypeAndOptionalValue value"));
      if (auto valid = der::check_any(value); !valid) return std::unexpected(valid.error());
    }
    if (auto done = attribute.finish("SpcAttributeTypeAndOptionalValue"); !done)
      return std::unexpected(done.error());
    return der::is_oid(type, oid::kSpcPeImageData);
  };
  if (auto pe_image = is_pe_image_data(); !pe_image || !*pe_image)
    return fail(ErrorCode::kUnsupported, "SpcIndirectDataContent data is not SPC_PE_IMAGE_DATA",
                at);

  // DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }
  EFIKEXEC_TRY(info, der::Reader::into(digest_info, "DigestInfo"));
  EFIKEXEC_TRY(algorithm, info.expect(der::kSequence, "DigestInfo digestAlgorithm"));
  EFIKEXEC_TRY(digest, info.expect(der::kOctetString, "DigestInfo digest"));
  if (auto done = info.finish("DigestInfo has extra elements"); !done) return done;
  EFIKEXEC_TRY(oid, algorithm_identifier(algorithm));
  auto hash = oid::digest_algorithm(oid);
  if (!hash)
    return fail(ErrorCode::kUnsupported,
                "Authenticode digest algorithm is not SHA-1, SHA-256, SHA-384 or SHA-512", at);
  if (digest.contents.size() != pe::digest_size(*hash))
    return fail(ErrorCode::kMalformed, "Authenticode digest length does not match its algorithm",
                at);
  out.digest_algorithm = *hash;
  out.digest = digest.contents;
  out.signed_content = content.contents;
  return {};
}

// Attribute ::= SEQUENCE { type OID, values SET OF ANY }: contentType and messageDigest.
Result<void> parse_signed_attributes(const der::Element& attributes, AuthenticodeSignature& out) {
  // An empty set counts as none, as in OpenSSL's PKCS7_signatureVerify.
  if (!attributes.contents.empty()) out.signed_attributes = attributes.encoding;
  EFIKEXEC_TRY(list, der::Reader::into(attributes, "authenticatedAttributes"));
  while (!list.at_end()) {
    EFIKEXEC_TRY(attribute, list.enter(der::kSequence, "Attribute is not a SEQUENCE"));
    EFIKEXEC_TRY(type, attribute.expect(der::kObjectIdentifier, "Attribute type"));
    EFIKEXEC_TRY(values, attribute.enter(der::kSet, "Attribute values are not a SET"));
    if (auto done = attribute.finish("Attribute has extra elements"); !done) return done;
    if (auto valid = der::check_any(type); !valid) return valid;
    for (bool first = true; !values.at_end(); first = false) {
      EFIKEXEC_TRY(value, values.next("Attribute value"));
      if (auto valid = der::check_any(value); !valid) return valid;
      if (!first) continue;
      // PKCS#9 (RFC 2985 §5.3.1-2): the first value of the first messageDigest counts.
      if (der::is_oid(type, oid::kMessageDigest) && !out.message_digest &&
          value.tag == der::kOctetString)
        out.message_digest = value.contents;
      else if (der::is_oid(type, oid::kContentType))
        out.content_type_matches = der::is_oid(value, oid::kSpcIndirectData);
    }
  }
  return {};
}

// SignerInfo ::= SEQUENCE { version, issuerAndSerialNumber, digestAlgorithm,
//   authenticatedAttributes [0] IMPLICIT OPTIONAL, digestEncryptionAlgorithm, encryptedDigest,
//   unauthenticatedAttributes [1] IMPLICIT OPTIONAL }
Result<void> parse_signer_info(const der::Element& signer_info, std::uint64_t at,
                               AuthenticodeSignature& out) {
  EFIKEXEC_TRY(fields, der::Reader::into(signer_info, "SignerInfo is not a SEQUENCE"));
  EFIKEXEC_TRY(version, fields.expect(der::kInteger, "SignerInfo version"));
  if (auto valid = der::check_any(version); !valid) return valid;
  EFIKEXEC_TRY(issuer_serial, fields.enter(der::kSequence, "SignerInfo issuerAndSerialNumber"));
  EFIKEXEC_TRY(issuer, issuer_serial.expect(der::kSequence, "issuerAndSerialNumber issuer"));
  EFIKEXEC_TRY(serial, issuer_serial.expect(der::kInteger, "issuerAndSerialNumber serial"));
  if (auto done = issuer_serial.finish("issuerAndSerialNumber has extra elements"); !done)
    return done;
  if (auto valid = der::check_any(serial); !valid) return valid;
  EFIKEXEC_TRY(digest_algorithm, fields.expect(der::kSequence, "SignerInfo digestAlgorithm"));
  EFIKEXEC_TRY(attributes, fields.optional(der::context_constructed(0), "authenticatedAttributes"));
  EFIKEXEC_TRY(encryption, fields.expect(der::kSequence, "SignerInfo digestEncryptionAlgorithm"));
  EFIKEXEC_TRY(encryption_oid, algorithm_identifier(encryption));
  (void)encryption_oid;
  EFIKEXEC_TRY(encrypted, fields.expect(der::kOctetString, "SignerInfo encryptedDigest"));
  EFIKEXEC_TRY(unsigned_attributes,
               fields.optional(der::context_constructed(1), "unauthenticatedAttributes"));
  (void)unsigned_attributes;
  if (auto done = fields.finish("SignerInfo has extra elements"); !done) return done;
  if (attributes)
    if (auto parsed = parse_signed_attributes(*attributes, out); !parsed) return parsed;
  out.encrypted_digest = encrypted.contents;

  // The signer's certificate, found by issuer and serial number among those carried.
  bool found = false;
  for (std::size_t i = 0; i < out.certificate_count && !found; ++i) {
    const Certificate& candidate = out.certificates[i];
    if (der::same_bytes(candidate.issuer, issuer.encoding) &&
        der::same_bytes(candidate.serial, serial.contents)) {
      out.signer = i;
      found = true;
    }
  }
  EFIKEXEC_TRY(signer_digest, sha_algorithm(digest_algorithm, at));
  out.signer_digest_algorithm = signer_digest;
  if (!found) return fail(ErrorCode::kMalformed, "signer certificate is not in the SignedData", at);
  return {};
}

Result<void> parse_signed_data(der::Reader& signed_data, std::uint64_t at,
                               AuthenticodeSignature& out) {
  EFIKEXEC_TRY(version, signed_data.expect(der::kInteger, "SignedData version"));
  if (auto valid = der::check_any(version); !valid) return valid;
  EFIKEXEC_TRY(digest_algorithms, signed_data.enter(der::kSet, "SignedData digestAlgorithms"));
  EFIKEXEC_TRY(content_info, signed_data.enter(der::kSequence, "SignedData contentInfo"));
  EFIKEXEC_TRY(certificates,
               signed_data.optional(der::context_constructed(0), "SignedData certificates"));
  EFIKEXEC_TRY(crls, signed_data.optional(der::context_constructed(1), "SignedData crls"));
  (void)crls;
  EFIKEXEC_TRY(signer_infos, signed_data.enter(der::kSet, "SignedData signerInfos"));
  if (auto done = signed_data.finish("SignedData has extra elements"); !done) return done;

  // Every carried certificate must parse (d2i_PKCS7 parses them all).
  if (certificates) {
    EFIKEXEC_TRY(list, der::Reader::into(*certificates, "SignedData certificates"));
    while (!list.at_end()) {
      EFIKEXEC_TRY(element, list.next("SignedData certificate"));
      if (out.certificate_count == kMaxCarriedCertificates)
        return fail(ErrorCode::kNoMemory, "SignedData carries too many certificates",
                    element.offset);
      EFIKEXEC_TRY(certificate, parse_certificate(element));
      out.certificates[out.certificate_count++] = certificate;
    }
  }

  // ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY OPTIONAL }
  EFIKEXEC_TRY(content_type, content_info.expect(der::kObjectIdentifier, "contentInfo contentType"));
  if (auto valid = der::check_any(content_type); !valid) return valid;
  EFIKEXEC_TRY(content, content_info.optional(der::context_constructed(0), "contentInfo content"));
  if (auto done = content_info.finish("contentInfo has extra elements"); !done) return done;
  std::optional<der::Element> indirect;
  if (content) {
    EFIKEXEC_TRY(inner, der::Reader::into(*content, "contentInfo content"));
    EFIKEXEC_TRY(value, inner.next("contentInfo content"));
    if (auto done = inner.finish("contentInfo content has extra elements"); !done) return done;
    indirect = value;
  }

  std::size_t signer_count = 0;
  std::optional<der::Element> signer_info;
  while (!signer_infos.at_end()) {
    EFIKEXEC_TRY(element, signer_infos.expect(der::kSequence, "SignerInfo is not a SEQUENCE"));
    if (signer_count++ == 0) signer_info = element;
  }

  if (!der::is_oid(content_type, oid::kSpcIndirectData) || !indirect ||
      indirect->tag != der::kSequence)
    return fail(ErrorCode::kUnsupported, "PKCS#7 content is not SpcIndirectDataContent", at);
  if (signer_count != 1)
    return fail(ErrorCode::kMalformed, "Authenticode SignedData must have exactly one SignerInfo",
                at);
  bool any_digest = false;
  while (!digest_algorithms.at_end()) {
    EFIKEXEC_TRY(identifier, digest_algorithms.expect(der::kSequence, "digestAlgorithms entry"));
    EFIKEXEC_TRY(algorithm, sha_algorithm(identifier, at));
    out.digest_algorithms |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(algorithm));
    any_digest = true;
  }
  if (!any_digest)
    return fail(ErrorCode::kUnsupported,
                "SignedData digest algorithm is not SHA-1, SHA-256, SHA-384 or SHA-512", at);
  if (auto parsed = parse_indirect_data(*indirect, at, out); !parsed) return parsed;
  return parse_signer_info(*signer_info, at, out);
}

}  // namespace

Result<void> parse_authenticode_signature(const pe::WinCertificate& entry,
                                          AuthenticodeSignature& out) {
  const std::uint64_t at = entry.offset;
  out = AuthenticodeSignature{};
  out.offset = at;
  // The entry's bytes start 8 bytes after its header's offset.
  der::Reader outer(entry.content, at + 8);
  auto content_info = outer.next("PKCS#7 SignedData does not parse");
  if (!content_info || content_info->tag != der::kSequence)
    return fail(ErrorCode::kMalformed, "PKCS#7 SignedData does not parse", at);

  if (auto padding = pe::check_signature_padding(entry, content_info->encoding.size()); !padding)
    return padding;

  // ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
  auto parse = [&]() -> Result<void> {
    EFIKEXEC_TRY(fields, der::Reader::into(*content_info, "ContentInfo"));
    EFIKEXEC_TRY(type, fields.expect(der::kObjectIdentifier, "ContentInfo contentType"));
    if (auto valid = der::check_any(type); !valid) return valid;
    EFIKEXEC_TRY(explicit_content, fields.optional(der::context_constructed(0), "ContentInfo content"));
    if (auto done = fields.finish("ContentInfo has extra elements"); !done) return done;
    if (!der::is_oid(type, oid::kSignedData) || !explicit_content)
      return fail(ErrorCode::kUnsupported, "PKCS#7 is not SignedData", at);
    EFIKEXEC_TRY(wrapper, der::Reader::into(*explicit_content, "ContentInfo content"));
    EFIKEXEC_TRY(signed_data, wrapper.enter(der::kSequence, "SignedData is not a SEQUENCE"));
    if (auto done = wrapper.finish("ContentInfo content has extra elements"); !done) return done;
    return parse_signed_data(signed_data, at, out);
  };
  return parse();
}

}  // namespace efikexec::verifier
