// SPDX-License-Identifier: MIT
// The freestanding Secure Boot verifier: is an image allowed to run, decided without the host.
// It takes db and dbx as the EFI_SIGNATURE_LISTs their variables hold (UEFI 2.10 §32.4.1) and
// an optional SBAT revocation level, and reaches the same verdict as the host's OpenSSL path
// (src/kexec/verify.hpp) with the same precedence: a malformed image or signature first, then
// dbx by image hash, then any revoked signature, then acceptance by a trusted signature or a db
// image hash, then SBAT. It allocates nothing: the caller provides a Workspace.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "crypto.hpp"
#include "pe_loader/pe_image.hpp"
#include "pe_loader/sbat.hpp"
#include "pkcs7.hpp"

namespace efikexec::verifier {

struct Policy {
  ByteView db;   // EFI_SIGNATURE_LISTs: X.509 certificates and image hashes that allow
  ByteView dbx;  // image hashes, certificates and certificate TBS hashes that revoke
  std::optional<std::span<const pe::SbatLevelEntry>> sbat_level;  // parsed SbatLevel rows
};

// The verdict categories both verifiers share.
enum class Outcome : std::uint8_t {
  kAccepted,
  kHashMismatch,   // a signature signs another image hash (and none is trusted)
  kBadSignature,   // the signer's signature or messageDigest does not verify
  kUnknownSigner,  // nothing chains to db and the image hash is not in db (also: unsigned)
  kRevoked,        // dbx names the image hash or a certificate of a signature
  kSbatRevoked,    // a .sbat generation is below the level (or .sbat is missing under one)
  kMalformed,      // the image, a signature or the policy does not parse
};
const char* outcome_name(Outcome outcome);

// Bounds a chain walk (signer, intermediates, anchor); OpenSSL's default is far deeper, real
// Secure Boot chains have two or three certificates.
inline constexpr std::size_t kMaxChainLength = 8;
// Bounds the issuer candidates one chain walk may check by signature: certificates that all
// name one another (same subject, cross-signed) would otherwise make the walk exponential in
// kMaxChainLength. A walk that runs out finds no chain.
inline constexpr std::size_t kMaxIssuerChecks = 64;
inline constexpr std::size_t kNoSignature = ~std::size_t{0};

struct Verdict {
  Outcome outcome = Outcome::kMalformed;
  ErrorCode code = ErrorCode::kUntrusted;  // the code the host path gives, when refused
  const char* reason = "";                 // static: the rule that decided
  std::uint64_t offset = Error::kNoOffset; // file offset at fault, for malformed input
  std::size_t signature = kNoSignature;    // the signature that decided, if one did

  bool accepted() const { return outcome == Outcome::kAccepted; }
};

// Scratch memory for one verification (about 17 KiB); a payload keeps one statically.
struct Workspace {
  AuthenticodeSignature signature;
  std::array<Certificate, kMaxChainLength> chain;  // signer first
  std::array<pe::SbatEntry, pe::kMaxSbatEntries> sbat_rows;
  std::array<Outcome, pe::kMaxCertificates> signature_outcomes;
};

// The chain walk of verify_image: from `signer` to any EFI_CERT_X509 certificate of the
// signature lists `anchors`, through the certificates a signature carries. Fills `chain`
// (signer first, anchor last) and returns its length, or 0 when there is no chain.
std::size_t find_chain(const Certificate& signer, ByteView anchors,
                       std::span<const Certificate> carried, Crypto& crypto,
                       std::span<Certificate, kMaxChainLength> chain);

// Checks that `policy` can be used at all: db and dbx are well-formed signature lists whose
// EFI_CERT_X509 entries are certificates (a database that cannot be read entirely is never
// used partly).
Result<void> validate_policy(const Policy& policy);

Verdict verify_image(const pe::Image& image, const Policy& policy, Crypto& crypto,
                     Workspace& workspace);

}  // namespace efikexec::verifier
