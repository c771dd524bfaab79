// SPDX-License-Identifier: MIT
#include "x509.hpp"

#include "oids.hpp"

namespace efikexec::verifier {

namespace {

// Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue).
Result<void> check_name(const der::Element& name) {
  EFIKEXEC_TRY(rdns, der::Reader::into(name, "X.509 Name is not a SEQUENCE"));
  while (!rdns.at_end()) {
    EFIKEXEC_TRY(rdn, rdns.enter(der::kSet, "X.509 RelativeDistinguishedName is not a SET"));
    if (rdn.at_end()) return fail(ErrorCode::kMalformed, "X.509 empty RDN", name.offset);
    while (!rdn.at_end()) {
      EFIKEXEC_TRY(pair, rdn.enter(der::kSequence, "X.509 AttributeTypeAndValue"));
      EFIKEXEC_TRY(type, pair.expect(der::kObjectIdentifier, "X.509 attribute type"));
      (void)type;
      EFIKEXEC_TRY(value, pair.next("X.509 attribute value"));
      (void)value;
      if (auto done = pair.finish("X.509 AttributeTypeAndValue has extra elements"); !done)
        return done;
    }
  }
  return {};
}

// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }.
Result<der::Element> algorithm_oid(const der::Element& identifier) {
  EFIKEXEC_TRY(fields, der::Reader::into(identifier, "AlgorithmIdentifier is not a SEQUENCE"));
  EFIKEXEC_TRY(oid, fields.expect(der::kObjectIdentifier, "AlgorithmIdentifier without an OID"));
  if (!fields.at_end()) {
    EFIKEXEC_TRY(parameters, fields.next("AlgorithmIdentifier parameters"));
    (void)parameters;
  }
  if (auto done = fields.finish("AlgorithmIdentifier has extra elements"); !done)
    return std::unexpected(done.error());
  return oid;
}

// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7); RSAPublicKey (RFC 8017 A.1.1).
Result<void> parse_key(const der::Element& spki, Certificate& out) {
  EFIKEXEC_TRY(fields, der::Reader::into(spki, "SubjectPublicKeyInfo is not a SEQUENCE"));
  EFIKEXEC_TRY(algorithm, fields.expect(der::kSequence, "SubjectPublicKeyInfo algorithm"));
  EFIKEXEC_TRY(key_bits, fields.expect(der::kBitString, "SubjectPublicKeyInfo subjectPublicKey"));
  if (auto done = fields.finish("SubjectPublicKeyInfo has extra elements"); !done) return done;
  EFIKEXEC_TRY(oid, algorithm_oid(algorithm));
  unsigned unused = 0;
  EFIKEXEC_TRY(key, der::bit_string(key_bits, "SubjectPublicKeyInfo key bits", &unused));
  if (!der::is_oid(oid, oid::kRsaEncryption)) return {};  // another key type: kept, never used
  if (unused != 0) return fail(ErrorCode::kMalformed, "RSA key bits", key_bits.offset);
  EFIKEXEC_TRY(rsa, der::read_single(key, key_bits.contents_offset() + 1, "RSAPublicKey"));
  EFIKEXEC_TRY(numbers, der::Reader::into(rsa, "RSAPublicKey is not a SEQUENCE"));
  EFIKEXEC_TRY(modulus, numbers.expect(der::kInteger, "RSAPublicKey modulus"));
  EFIKEXEC_TRY(exponent, numbers.expect(der::kInteger, "RSAPublicKey publicExponent"));
  if (auto done = numbers.finish("RSAPublicKey has extra elements"); !done) return done;
  EFIKEXEC_TRY(n, der::unsigned_integer(modulus, "RSAPublicKey modulus"));
  EFIKEXEC_TRY(e, der::unsigned_integer(exponent, "RSAPublicKey publicExponent"));
  out.rsa_key = RsaPublicKey{n, e};
  return {};
}

// One Extension (RFC 5280 §4.1.2.9): basicConstraints and keyUsage are read; other critical
// extensions are accepted only when OpenSSL's verifier knows them too.
Result<void> parse_extension(der::Reader& extensions, Certificate& out) {
  EFIKEXEC_TRY(extension, extensions.enter(der::kSequence, "X.509 Extension is not a SEQUENCE"));
  EFIKEXEC_TRY(id, extension.expect(der::kObjectIdentifier, "X.509 Extension extnID"));
  bool critical = false;
  EFIKEXEC_TRY(flag, extension.optional(der::kBoolean, "X.509 Extension critical"));
  if (flag) {
    EFIKEXEC_TRY(value, der::boolean(*flag, "X.509 Extension critical"));
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
      auto is_ca = ca && *ca ? der::boolean(**ca, "basicConstraints cA") : Result<bool>(false);
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
  EFIKEXEC_TRY(outer_oid, algorithm_oid(outer_algorithm));
  out.signature_digest = oid::rsa_signature_digest(outer_oid);
  EFIKEXEC_TRY(signature_bytes, der::bit_string(signature, "X.509 signatureValue"));
  out.signature = signature_bytes;

  // TBSCertificate (RFC 5280 §4.1.2).
  EFIKEXEC_TRY(fields, der::Reader::into(tbs, "X.509 tbsCertificate"));
  EFIKEXEC_TRY(version, fields.optional(der::context_constructed(0), "X.509 version"));
  if (version) {
    EFIKEXEC_TRY(inner, der::Reader::into(*version, "X.509 version"));
    EFIKEXEC_TRY(number, inner.expect(der::kInteger, "X.509 version"));
    if (auto done = inner.finish("X.509 version has extra elements"); !done)
      return std::unexpected(done.error());
    EFIKEXEC_TRY(value, der::small_integer(number, "X.509 version"));
    if (value > 2) return fail(ErrorCode::kUnsupported, "X.509 version above v3", number.offset);
    out.version = value;
  }
  EFIKEXEC_TRY(serial, fields.expect(der::kInteger, "X.509 serialNumber"));
  if (serial.contents.empty())
    return fail(ErrorCode::kMalformed, "X.509 serialNumber is empty", serial.offset);
  out.serial = serial.contents;
  EFIKEXEC_TRY(inner_algorithm, fields.expect(der::kSequence, "X.509 tbsCertificate signature"));
  EFIKEXEC_TRY(inner_oid, algorithm_oid(inner_algorithm));
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
