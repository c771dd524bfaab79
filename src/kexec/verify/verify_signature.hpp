// SPDX-License-Identifier: MIT
// One Authenticode signature: the PKCS#7 SignedData of a WIN_CERTIFICATE, whose content is an
// SpcIndirectDataContent naming the image digest ("Windows Authenticode Portable Executable
// Signature Format" 1.0, "Authenticode-Specific Structures"). Parsing is OpenSSL's (d2i_PKCS7,
// d2i_ASN1_SEQUENCE_ANY, d2i_X509_SIG); nothing here decides trust.
#pragma once

#include <cstdint>
#include <string>

#include "kexec/verify/crypto_openssl.hpp"

namespace efikexec::kexec {

struct AuthenticodeSignature {
  OsslPtr<PKCS7> pkcs7;
  std::uint64_t offset = 0;                  // of the WIN_CERTIFICATE in the file
  pe::HashAlgorithm digest_algorithm{};      // SpcIndirectDataContent.messageDigest.digestAlgorithm
  Bytes digest;                              // ... .digest: the signed image hash
  Bytes signed_content;                      // SpcIndirectDataContent without its SEQUENCE header:
                                             // what the messageDigest attribute covers
  X509* signer = nullptr;                    // owned by pkcs7's certificate list
  std::string signer_subject;
  std::string signer_issuer;
};

// Parses bCertificate of a WIN_CERTIFICATE at file offset `offset`. Refuses: DER that does not
// parse; bytes after the DER other than zero padding that ends the entry on 8 bytes
// (CVE-2013-3900 class); anything but SignedData with exactly one SignerInfo; content other than
// SpcIndirectDataContent with SPC_PE_IMAGE_DATA; a digest algorithm other than SHA-1/256/384/512
// or a digest whose length is not that algorithm's; a signer certificate missing from the
// SignedData.
Result<AuthenticodeSignature> parse_authenticode_signature(const pe::WinCertificate& entry);

// Checks the signer's signature over the authenticated attributes, and that their
// messageDigest is the digest of signed_content (PKCS7_verify without chain building).
bool signer_signature_verifies(const AuthenticodeSignature& signature);

}  // namespace efikexec::kexec
