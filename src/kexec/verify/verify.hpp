// SPDX-License-Identifier: MIT
// Is an image allowed to run? Authenticode against a trust policy, the way UEFI Secure Boot
// (EDK2 DxeImageVerificationLib) and shim decide, plus shim's SBAT revocation level. This is
// the one entry point `efikexec verify` and `efikexec load` call before any image code runs.
#pragma once

#include <string>
#include <vector>

#include "kexec/verify/trust_policy.hpp"
#include "pe_loader/pe_image.hpp"

namespace efikexec::kexec {

class StreamedDigests;

enum class SignatureStatus : std::uint8_t {
  kTrusted,       // digest matches, signer signature verifies, chains to db
  kHashMismatch,  // signs a different image hash
  kBadSignature,  // the signer's signature or the messageDigest attribute does not verify
  kUnknownSigner, // does not chain to any db certificate
  kRevoked,       // a certificate of its chain (or the signature's own) is in dbx
};
const char* signature_status_name(SignatureStatus status);

struct SignatureVerdict {
  std::size_t index = 0;
  std::uint64_t offset = 0;  // of its WIN_CERTIFICATE
  std::string signer;        // subject of the signing certificate
  std::string issuer;
  pe::HashAlgorithm digest_algorithm{};
  SignatureStatus status = SignatureStatus::kUnknownSigner;
  std::string detail;  // how it chains to db, or why it does not count
};

struct VerifyVerdict {
  bool accepted = false;
  ErrorCode code = ErrorCode::kUntrusted;  // when refused
  std::string reason;                      // one line: why refused, or what accepted it
  std::string authenticode_sha256;         // hex, once the image hash was computed
  std::vector<SignatureVerdict> signatures;

  // Refused because the input is malformed (exit 2) rather than untrusted (exit 1).
  bool malformed() const;
};

// Verifies a parsed image (its bytes are the ones that will run) against `policy`. Every
// WIN_CERTIFICATE must parse; the image is accepted when its hash is in db or one signature is
// trusted, nothing matches dbx (image hash, or any certificate of any signature by DER or TBS
// hash), and, with an SBAT level, no SBAT component of the image or its .linux is below it.
// With `streamed` (the observer of the image's snapshot), its digests are used when they cover
// exactly the regions and algorithms this verification hashes; else the image is hashed here.
VerifyVerdict verify_image(const pe::Image& image, const TrustPolicy& policy,
                           StreamedDigests* streamed = nullptr);

// The digest algorithms `policy` compares an image's hash in (SHA-256, which every verdict
// reports, and those of its db and dbx hash entries): what to hash while the image is read.
std::vector<pe::HashAlgorithm> policy_hash_algorithms(const TrustPolicy& policy);

// The SBAT rows an image carries: its own `.sbat`, and the `.sbat` of its `.linux` when that is
// a PE image. Views into the image's bytes. More than one `.sbat` in one PE is malformed.
struct SbatSection {
  std::string owner;  // "image" or ".linux"
  std::vector<pe::SbatEntry> entries;
};
Result<std::vector<SbatSection>> read_sbat_sections(const pe::Image& image);

}  // namespace efikexec::kexec
