// SPDX-License-Identifier: MIT
// X.509 v1/v3 certificates (RFC 5280 §4.1), read for what chain verification needs: the signed
// TBSCertificate, issuer and subject Names (kept as their DER encodings and compared as bytes),
// the RSA public key, the signature and its algorithm, and the basicConstraints / keyUsage
// extensions. Every part is a view into the certificate's bytes.
#pragma once

#include <cstdint>
#include <optional>

#include "der.hpp"
#include "pe_loader/crypto.hpp"

namespace efikexec::verifier {

// RFC 8017 §3.1: big-endian magnitudes without leading zero octets.
struct RsaPublicKey {
  ByteView modulus;
  ByteView exponent;
};

struct Certificate {
  ByteView der;            // the whole Certificate
  ByteView tbs;            // tbsCertificate, identifier to end: what the signature covers
  std::uint32_t version = 0;  // 0 = v1, 2 = v3
  ByteView serial;         // serialNumber contents, as encoded
  ByteView issuer;         // Name, identifier to end
  ByteView subject;
  std::optional<RsaPublicKey> rsa_key;  // nothing for other key types
  ByteView tbs_signature_algorithm;     // AlgorithmIdentifier inside tbsCertificate
  ByteView signature_algorithm;         // AlgorithmIdentifier outside it (must be the same)
  std::optional<pe::HashAlgorithm> signature_digest;  // when it is RSA PKCS#1 v1.5 with SHA
  ByteView signature;      // signatureValue without its unused-bits octet (empty when not whole octets)
  bool has_basic_constraints = false;
  bool ca = false;
  bool has_key_usage = false;
  bool key_cert_sign = false;
  // An extension that cannot be decoded, a critical one the verifier does not know, or a
  // version past v3: the certificate parses (as OpenSSL's d2i_X509 would) but can take no part
  // in a chain.
  bool unusable_extension = false;
  std::uint64_t offset = 0;  // of the Certificate's identifier octet
};

// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280
// §4.1.1.2): the algorithm's OID element, once the parameters are checked as check_any does.
Result<der::Element> algorithm_identifier(const der::Element& identifier);

// Parses one Certificate element (X.690 SEQUENCE) read by a der::Reader.
Result<Certificate> parse_certificate(const der::Element& element);
// Parses `bytes`, which must be exactly one DER Certificate; `base` is the offset of bytes[0].
Result<Certificate> parse_certificate(ByteView bytes, std::uint64_t base = 0);

// How OpenSSL's X509_check_ca rates a certificate as an issuer: 1 with basicConstraints cA
// TRUE, 0 with cA FALSE; without basicConstraints, 3 for a self-issued v1 certificate, and by
// keyUsage keyCertSign (4) when keyUsage is present; 0 otherwise.
int ca_rating(const Certificate& certificate);
// True when `issuer` names `subject`'s issuer and may sign certificates (no keyUsage, or one
// with keyCertSign): the structural half of "issued by"; the signature is checked apart.
bool may_have_issued(const Certificate& issuer, const Certificate& subject);

}  // namespace efikexec::verifier
