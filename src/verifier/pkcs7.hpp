// SPDX-License-Identifier: MIT
// An Authenticode signature: the PKCS#7 SignedData (RFC 2315 §9) in one WIN_CERTIFICATE, whose
// content is an SpcIndirectDataContent naming the image digest ("Windows Authenticode Portable
// Executable Signature Format" 1.0, "Authenticode-Specific Structures"). Parsed into views of the
// entry's bytes and a fixed number of certificates; nothing here decides trust (verify.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "pe_loader/authenticode.hpp"
#include "x509.hpp"

namespace efikexec::verifier {

// Certificates one SignedData may carry (sbsign: the signer and what --addcert adds).
inline constexpr std::size_t kMaxCarriedCertificates = 16;

struct AuthenticodeSignature {
  std::uint64_t offset = 0;  // of the WIN_CERTIFICATE in the file
  // SpcIndirectDataContent.messageDigest: the signed image hash.
  pe::HashAlgorithm digest_algorithm{};
  ByteView digest;
  // SpcIndirectDataContent without its SEQUENCE header: what the messageDigest attribute covers.
  ByteView signed_content;

  std::array<Certificate, kMaxCarriedCertificates> certificates{};
  std::size_t certificate_count = 0;
  std::size_t signer = 0;  // index of the signer's certificate

  // SignedData.digestAlgorithms, one bit per pe::HashAlgorithm.
  std::uint8_t digest_algorithms = 0;

  // The SignerInfo (RFC 2315 §9.2).
  pe::HashAlgorithm signer_digest_algorithm{};
  // authenticatedAttributes, identifier to end ([0] IMPLICIT), when there is at least one; its
  // signature covers the same bytes with the identifier octet of a SET (RFC 2315 §9.3).
  std::optional<ByteView> signed_attributes;
  std::optional<ByteView> message_digest;   // the messageDigest attribute's OCTET STRING
  bool content_type_matches = true;         // the contentType attribute, when present
  ByteView encrypted_digest;

  std::span<const Certificate> carried() const { return {certificates.data(), certificate_count}; }
  const Certificate& signer_certificate() const { return certificates[signer]; }
};

// Parses bCertificate of a WIN_CERTIFICATE into `out` (large: callers keep one in their
// workspace). Refuses, as the OpenSSL path does: DER that does not parse (every carried
// certificate included); bytes after the DER other than zero padding that ends the entry on 8
// bytes; anything but SignedData with exactly one SignerInfo; content other than
// SpcIndirectDataContent with SPC_PE_IMAGE_DATA; a digest algorithm other than SHA-1/256/384/512
// or a digest of the wrong length; a signer certificate missing from the SignedData.
Result<void> parse_authenticode_signature(const pe::WinCertificate& entry,
                                          AuthenticodeSignature& out);

}  // namespace efikexec::verifier
