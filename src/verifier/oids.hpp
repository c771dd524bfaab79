// SPDX-License-Identifier: MIT
// The object identifiers the verifier recognises, as their DER contents octets (X.690 §8.19).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "der.hpp"
#include "pe_loader/crypto.hpp"

namespace efikexec::verifier::oid {

using Oid9 = std::array<std::uint8_t, 9>;

// PKCS#7 (RFC 2315 §14): 1.2.840.113549.1.7.2 signedData.
inline constexpr Oid9 kSignedData = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
// PKCS#9 (RFC 2985 §5.3): contentType 1.2.840.113549.1.9.3, messageDigest ...9.4.
inline constexpr Oid9 kContentType = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03};
inline constexpr Oid9 kMessageDigest = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04};
// Authenticode: SPC_INDIRECT_DATA_OBJID 1.3.6.1.4.1.311.2.1.4, SPC_PE_IMAGE_DATAOBJ ...2.1.15.
inline constexpr std::array<std::uint8_t, 10> kSpcIndirectData = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                                                  0x82, 0x37, 0x02, 0x01, 0x04};
inline constexpr std::array<std::uint8_t, 10> kSpcPeImageData = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                                                 0x82, 0x37, 0x02, 0x01, 0x0f};
// PKCS#1 (RFC 8017 App. C): rsaEncryption 1.2.840.113549.1.1.1, shaXWithRSAEncryption 1.1.5/11-13.
inline constexpr Oid9 kRsaEncryption = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
inline constexpr Oid9 kSha1WithRsa = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05};
inline constexpr Oid9 kSha256WithRsa = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
inline constexpr Oid9 kSha384WithRsa = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c};
inline constexpr Oid9 kSha512WithRsa = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d};
// Digests: sha1 1.3.14.3.2.26 (OIW); sha256/384/512 2.16.840.1.101.3.4.2.1-3 (NIST).
inline constexpr std::array<std::uint8_t, 5> kSha1 = {0x2b, 0x0e, 0x03, 0x02, 0x1a};
inline constexpr Oid9 kSha256 = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
inline constexpr Oid9 kSha384 = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
inline constexpr Oid9 kSha512 = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
// X.509 extensions (RFC 5280 §4.2.1): id-ce 2.5.29.N.
inline constexpr std::uint8_t kIdCePrefix0 = 0x55;
inline constexpr std::uint8_t kIdCePrefix1 = 0x1d;
inline constexpr std::uint8_t kSubjectKeyIdentifier = 14;
inline constexpr std::uint8_t kKeyUsage = 15;
inline constexpr std::uint8_t kSubjectAltName = 17;
inline constexpr std::uint8_t kBasicConstraints = 19;
inline constexpr std::uint8_t kNameConstraints = 30;
inline constexpr std::uint8_t kCertificatePolicies = 32;
inline constexpr std::uint8_t kPolicyConstraints = 36;
inline constexpr std::uint8_t kAuthorityKeyIdentifier = 35;
inline constexpr std::uint8_t kExtKeyUsage = 37;
inline constexpr std::uint8_t kInhibitAnyPolicy = 54;

// The SHA family member a digest OID names (the only digests Authenticode and db use).
std::optional<pe::HashAlgorithm> digest_algorithm(const der::Element& oid);
// The digest of an RSA PKCS#1 v1.5 signature algorithm OID.
std::optional<pe::HashAlgorithm> rsa_signature_digest(const der::Element& oid);
// The arc N of an id-ce 2.5.29.N OID (single-octet arcs only), or nothing.
std::optional<std::uint8_t> id_ce_arc(const der::Element& oid);

}  // namespace efikexec::verifier::oid
