// SPDX-License-Identifier: MIT
#include "x509.hpp"

#include "oids.hpp"

namespace efikexec::verifier {

namespace {

// A Unicode scalar value: no surrogate, at most U+10FFFF.
bool is_scalar(std::uint32_t code) { return code <= 0x10ffff && (code < 0xd800 || code > 0xdfff); }

// Well-formed UTF-8 (RFC 3629 §3): shortest forms of scalar values only.
bool is_utf8(ByteView text) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    const std::uint8_t lead = bytes[i];
    std::size_t count = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) count = 1, code = lead;
    else if ((lead & 0xe0) == 0xc0) count = 2, code = lead & 0x1f;
    else if ((lead & 0xf0) == 0xe0) count = 3, code = lead & 0x0f;
    else if ((lead & 0xf8) == 0xf0) count = 4, code = lead & 0x07;
    else return false;
    if (count > text.size() - i) return false;
    for (std::size_t k = 1; k < count; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) return false;
      code = (code << 6) | (bytes[i + k] & 0x3f);
    }
    static constexpr std::uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[count] || !is_scalar(code)) return false;
    i += count;
  }
  return true;
}

// Names are compared in a canonical UTF-8 form by OpenSSL, which decodes each string value
// while parsing: a UTF8String, BMPString or UniversalString that does not decode to Unicode
// scalar values makes the certificate unreadable there, so it is refused here too.
Result<void> check_name_string(const der::Element& value) {
  constexpr std::uint8_t kUtf8String = 0x0c;
  constexpr std::uint8_t kUniversalString = 0x1c;
  constexpr std::uint8_t kBmpString = 0x1e;
  // The universal types OpenSSL's DirectoryString-like X509_NAME_ENTRY value admits
  // (B_ASN1_PRINTABLE, with the types it counts as unknown): by tag number.
  static constexpr std::uint32_t kAllowed =
      1u << 3 | 1u << 7 | 1u << 8 | 1u << 9 | 1u << 11 | 1u << 12 | 1u << 13 | 1u << 14 |
      1u << 15 | 1u << 16 | 1u << 18 | 1u << 19 | 1u << 20 | 1u << 22 | 1u << 28 | 1u << 29 |
      1u << 30;
  const unsigned number = value.tag & 0x1f;
  if ((value.tag & 0xc0) != 0 || (kAllowed & (1u << number)) == 0 ||
      value.constructed() != (number == 16))
    return fail(ErrorCode::kMalformed, "X.509 Name value has a type names do not use",
                value.offset);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(value.contents.data());
  bool valid = true;
  if (value.tag == kUtf8String) valid = is_utf8(value.contents);
  for (std::size_t i = 0; value.tag == kBmpString && valid && i + 1 < value.contents.size(); i += 2)
    valid = is_scalar(static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]));
  for (std::size_t i = 0; value.tag == kUniversalString && valid && i + 3 < value.contents.size();
       i += 4)
    valid = is_scalar(static_cast<std::uint32_t>(bytes[i]) << 24 | bytes[i + 1] << 16 |
                      bytes[i + 2] << 8 | bytes[i + 3]);
  if (!valid) return fail(ErrorCode::kMalformed, "X.509 Name string is not Unicode", value.offset);
  return {};
}

// Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue).
Result<void> check_name(const der::Element& name) {
  EFIKEXEC_TRY(rdns, der::Reader::into(name, "X.509 Name is not a SEQUENCE"));
  while (!rdns.at_end()) {
    EFIKEXEC_TRY(rdn, rdns.enter(der::kSet, "X.509 RelativeDistinguishedName is not a SET"));
    if (rdn.at_end()) return fail(ErrorCode::kMalformed, "X.509 empty RDN", name.offset);
    while (!rdn.at_end()) {
      EFIKEXEC_TRY(pair, rdn.enter(der::kSequence, "X.509 AttributeTypeAndValue"));
      EFIKEXEC_TRY(type, pair.expect(der::kObjectIdentifier, "X.509 attribute type"));
      if (auto valid = der::check_any(type); !valid) return valid;
      EFIKEXEC_TRY(value, pair.next("X.509 attribute value"));
      if (auto valid = der::check_any(value); !valid) return valid;
      if (auto valid = check_name_string(value); !valid) return valid;
      if (auto done = pair.finish("X.509 AttributeTypeAndValue has extra elements"); !done)
        return done;
    }
  }
  return {};
}

// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1), or
// nothing when the key bits do not hold one: like OpenSSL, the certificate still parses, and
// its key verifies nothing.
std::optional<RsaPublicKey> rsa_public_key(ByteView key, std::uint64_t at) {
  auto rsa = der::read_single(key, at, "RSAPublicKey");
  auto numbers = rsa ? der::Reader::into(*rsa, "RSAPublicKey") : Result<der::Reader>();
  if (!rsa || !numbers || rsa->tag != der::kSequence) return std::nullopt;
  auto modulus = numbers->expect(der::kInteger, "RSAPublicKey modulus");
  auto exponent = numbers->expect(der::kInteger, "RSAPublicKey publicExponent");
  if (!modulus || !exponent || !numbers->at_end()) return std::nullopt;
  auto n = der::unsigned_integer(*modulus, "RSAPublicKey modulus");
  auto e = der::unsigned_integer(*exponent, "RSAPublicKey publicExponent");
  if (!n || !e) return std::nullopt;
  return RsaPublicKey{*n, *e};
}

// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
Result<void> parse_key(const der::Element& spki, Certificate& out) {
  EFIKEXEC_TRY(fields, der::Reader::into(spki, "SubjectPublicKeyInfo is not a SEQUENCE"));
  EFIKEXEC_TRY(algorithm, fields.expect(der::kSequence, "SubjectPublicKeyInfo algorithm"));
  EFIKEXEC_TRY(key_bits, fields.expect(der::kBitString, "SubjectPublicKeyInfo subjectPublicKey"));
  if (auto done = fields.finish("SubjectPublicKeyInfo has extra elements"); !done) return done;
  EFIKEXEC_TRY(oid, algorithm_identifier(algorithm));
  unsigned unused = 0;
  EFIKEXEC_TRY(key, der::bit_string(key_bits, "SubjectPublicKeyInfo key bits", &unused));
  if (!der::is_oid(oid, oid::kRsaEncryption) || unused != 0) return {};  // no usable RSA key
  out.rsa_key = rsa_public_key(key, key_bits.contents_offset() + 1);
  return {};
}

// One Extension (RFC 5280 §4.1.2.9): basicConstraints and keyUsage are read; other critical
// extensions are accepted only when OpenSSL's verifier knows them too.
Result<void> parse_extension(der::Reader& extensions, Certificate& out) {
  EFIKEXEC_TRY(extension, extensions.enter(der::kSequence, "X.509 Extension is not a SEQUENCE"));
  EFIKEXEC_TRY(id, extension.expect(der::kObjectIdentifier, "X.509 Extension extnID"));
  if (auto valid = der::check_any(id); !valid) return valid;
  bool critical = false;
  EFIKEXEC_TRY(flag, extension.optional(der::kBoolean, "X.509 Extension critical"));
  if (flag) {
    EFIKEXEC_TRY(value, der::boolean(*flag, "X.509 Extension critical", true));
    critical = value;
  }
  EFIKEXEC_TRY(value, extension.expect(der::kOctetString, "X.509 Extension extnValue"));
  if (auto done = extension.finish("X.509 Extension has extra elements"); !done) return done;

  const std::optional<std::uint8_t> arc = oid::id_ce_arc(id);
  auto inner = der::read_single(value.contents, value.contents_offset(), "X.509 extension value");
  switch (arc.value_or(0)) {
    case oid::kBasicConstraints: {
      // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPT }
      out.has_basic_constraints = true;
      auto fields = inner ? der::Reader::into(*inner, "basicConstraints") : Result<der::Reader>();
      if (!inner || !fields || inner->tag != der::kSequence) {
        out.unusable_extension = true;
        return {};
      }
      auto ca = fields->optional(der::kBoolean, "basicConstraints cA");
      auto is_ca = ca && *ca ? der::boolean(**ca, "basicConstraints cA", true) : Result<bool>(false);
      auto path = is_ca ? fields->optional(der::kInteger, "pathLenConstraint")
                        : Result<std::optional<der::Element>>();
      if (!ca || !is_ca || !path || !fields->at_end()) out.unusable_extension = true;
      else out.ca = *is_ca;
      return {};
    }
    case oid::kKeyUsage: {
      // KeyUsage ::= BIT STRING; keyCertSign is bit 5.
      out.has_key_usage = true;
      auto bits = inner ? der::bit_string(*inner, "keyUsage") : Result<ByteView>();
      if (!inner || !bits) {
        out.unusable_extension = true;
        return {};
      }
      out.key_cert_sign =
          !bits->empty() && (static_cast<std::uint8_t>(bits->data()[0]) & 0x04) != 0;
      return {};
    }
    case oid::kSubjectKeyIdentifier:
    case oid::kSubjectAltName:
    case oid::kNameConstraints:
    case oid::kCertificatePolicies:
    case oid::kPolicyConstraints:
    case oid::kAuthorityKeyIdentifier:
    case oid::kExtKeyUsage:
    case oid::kInhibitAnyPolicy: return {};
    default:
      if (critical) out.unusable_extension = true;
      return {};
  }
}

}  // namespace

Result<der::Element> algorithm_identifier(const der::Element& identifier) {
  EFIKEXEC_TRY(fields, der::Reader::into(identifier, "AlgorithmIdentifier is not a SEQUENCE"));
  EFIKEXEC_TRY(oid, fields.expect(der::kObjectIdentifier, "AlgorithmIdentifier without an OID"));
  if (auto valid = der::check_any(oid); !valid) return std::unexpected(valid.error());
  if (!fields.at_end()) {
    EFIKEXEC_TRY(parameters, fields.next("AlgorithmIdentifier parameters"));
    if (auto valid = der::check_any(parameters); !valid) return std::unexpected(valid.error());
  }
  if (auto done = fields.finish("AlgorithmIdentifier has extra elements"); !done)
    return std::unexpected(done.error());
  return oid;
}

Result<Certificate> parse_certificate(const der::Element& element) {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  Certificate out;
  out.der = element.encoding;
  out.offset = element.offset;
  if (element.tag != der::kSequence)
    return fail(ErrorCode::kMalformed, "X.509 Certificate is not a SEQUENCE", element.offset);
  EFIKEXEC_TRY(certificate, der::Reader::into(element, "X.509 Certificate"));
  EFIKEXEC_TRY(tbs, certificate.expect(der::kSequence, "X.509 tbsCertificate"));
  EFIKEXEC_TRY(outer_algorithm, certificate.expect(der::kSequence, "X.509 signatureAlgorithm"));
  EFIKEXEC_TRY(signature, certificate.expect(der::kBitString, "X.509 signatureValue"));
  if (auto done = certificate.finish("X.509 Certificate has extra elements"); !done)
    return std::unexpected(done.error());
  out.tbs = tbs.encoding;
  out.signature_algorithm = outer_algorithm.encoding;
  EFIKEXEC_TRY(outer_oid, algorithm_identifier(outer_algorithm));
  out.signature_digest = oid::rsa_signature_digest(outer_oid);
  unsigned unused_bits = 0;
  EFIKEXEC_TRY(signature_bytes, der::bit_string(signature, "X.509 signatureValue", &unused_bits));
  // A signature that is not whole octets verifies nothing (OpenSSL's ASN1_item_verify).
  if (unused_bits == 0) out.signature = signature_bytes;

  // TBSCertificate (RFC 5280 §4.1.2).
  EFIKEXEC_TRY(fields, der::Reader::into(tbs, "X.509 tbsCertificate"));
  EFIKEXEC_TRY(version, fields.optional(der::context_constructed(0), "X.509 version"));
  if (version) {
    EFIKEXEC_TRY(inner, der::Reader::into(*version, "X.509 version"));
    EFIKEXEC_TRY(number, inner.expect(der::kInteger, "X.509 version"));
    if (auto done = inner.finish("X.509 version has extra elements"); !done)
      return std::unexpected(done.error());
    if (auto valid = der::check_any(number); !valid) return std::unexpected(valid.error());
    // Versions past v3 (or negative) parse, as in OpenSSL, but the certificate is not used.
    auto value = der::small_integer(number, "X.509 version");
    if (!value || *value > 2) out.unusable_extension = true;
    out.version = value ? *value : 0;
  }
  EFIKEXEC_TRY(serial, fields.expect(der::kInteger, "X.509 serialNumber"));
  if (auto valid = der::check_any(serial); !valid) return std::unexpected(valid.error());
  out.serial = serial.contents;
  EFIKEXEC_TRY(inner_algorithm, fields.expect(der::kSequence, "X.509 tbsCertificate signature"));
  EFIKEXEC_TRY(inner_oid, algorithm_identifier(inner_algorithm));
  (void)inner_oid;
  out.tbs_signature_algorithm = inner_algorithm.encoding;
  EFIKEXEC_TRY(issuer, fields.expect(der::kSequence, "X.509 issuer"));
  if (auto name = check_name(issuer); !name) return std::unexpected(name.error());
  out.issuer = issuer.encoding;
  EFIKEXEC_TRY(validity, fields.enter(der::kSequence, "X.509 validity"));
  for (const char* what : {"X.509 notBefore", "X.509 notAfter"}) {
    EFIKEXEC_TRY(time, validity.next(what));
    if (time.tag != der::kUtcTime && time.tag != der::kGeneralizedTime)
      return fail(ErrorCode::kMalformed, what, time.offset);
  }
  if (auto done = validity.finish("X.509 validity has extra elements"); !done)
    return std::unexpected(done.error());
  EFIKEXEC_TRY(subject, fields.expect(der::kSequence, "X.509 subject"));
  if (auto name = check_name(subject); !name) return std::unexpected(name.error());
  out.subject = subject.encoding;
  EFIKEXEC_TRY(spki, fields.expect(der::kSequence, "X.509 subjectPublicKeyInfo"));
  if (auto key = parse_key(spki, out); !key) return std::unexpected(key.error());
  for (unsigned unique : {1u, 2u}) {
    EFIKEXEC_TRY(id, fields.optional(der::context_primitive(unique), "X.509 unique identifier"));
    (void)id;
  }
  EFIKEXEC_TRY(extensions, fields.optional(der::context_constructed(3), "X.509 extensions"));
  if (extensions) {
    EFIKEXEC_TRY(wrapper, der::Reader::into(*extensions, "X.509 extensions"));
    EFIKEXEC_TRY(list, wrapper.enter(der::kSequence, "X.509 Extensions is not a SEQUENCE"));
    if (auto done = wrapper.finish("X.509 extensions have extra elements"); !done)
      return std::unexpected(done.error());
    while (!list.at_end())
      if (auto parsed = parse_extension(list, out); !parsed) return std::unexpected(parsed.error());
  }
  if (auto done = fields.finish("X.509 tbsCertificate has extra elements"); !done)
    return std::unexpected(done.error());
  return out;
}

Result<Certificate> parse_certificate(ByteView bytes, std::uint64_t base) {
  auto element = der::read_single(bytes, base, "X.509 Certificate truncated");
  if (!element) return std::unexpected(element.error());
  return parse_certificate(*element);
}

int ca_rating(const Certificate& certificate) {
  if (certificate.has_basic_constraints) return certificate.ca ? 1 : 0;
  if (certificate.version == 0 && der::same_bytes(certificate.issuer, certificate.subject)) return 3;
  if (certificate.has_key_usage) return certificate.key_cert_sign ? 4 : 0;
  return 0;
}

bool may_have_issued(const Certificate& issuer, const Certificate& subject) {
  if (!der::same_bytes(issuer.subject, subject.issuer)) return false;
  return !issuer.has_key_usage || issuer.key_cert_sign;
}

}  // namespace efikexec::verifier
