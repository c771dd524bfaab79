// SPDX-License-Identifier: MIT
#include "kexec/verify/verify.hpp"

#include <algorithm>
#include <array>
#include <span>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "kexec/common/digest.hpp"
#include "kexec/common/host_error.hpp"
#include "kexec/common/hex.hpp"
#include "kexec/verify/streamed_digests.hpp"
#include "kexec/verify/verify_signature.hpp"
#include "pe_loader/authenticode.hpp"
#include "pe_loader/sbat.hpp"

namespace efikexec::kexec {

namespace {

VerifyVerdict refuse(ErrorCode code, std::string reason) {
  VerifyVerdict verdict;
  verdict.code = code;
  verdict.reason = std::move(reason);
  return verdict;
}

std::string hex_of(const Bytes& bytes) { return hex(byte_view(bytes)); }

// A store of certificates used as trust anchors the way firmware uses db: any certificate of
// the chain may be the anchor (X509_V_FLAG_PARTIAL_CHAIN, as EDK2's Pkcs7Verify and shim), expiry
// is ignored (X509_V_FLAG_NO_CHECK_TIME: firmware has no trusted clock), and any purpose is
// accepted (code-signing EKU or none, as shim and sbverify).
OsslPtr<X509_STORE> make_store(const std::vector<TrustedCertificate>& certificates) {
  OsslPtr<X509_STORE> store(X509_STORE_new());
  if (!store) return store;
  for (const TrustedCertificate& trusted : certificates)
    X509_STORE_add_cert(store.get(), trusted.certificate.get());
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
  X509_STORE_set_purpose(store.get(), X509_PURPOSE_ANY);
  ERR_clear_error();
  return store;
}

// The verified chain from the signer to an anchor of `store`, or null.
OsslPtr<STACK_OF(X509)> build_chain(X509_STORE* store, const AuthenticodeSignature& signature) {
  OsslPtr<X509_STORE_CTX> context(X509_STORE_CTX_new());
  OsslPtr<STACK_OF(X509)> chain;
  if (store != nullptr && context &&
      X509_STORE_CTX_init(context.get(), store, signature.signer,
                          signature.pkcs7->d.sign->cert) == 1 &&
      X509_verify_cert(context.get()) == 1)
    chain.reset(X509_STORE_CTX_get1_chain(context.get()));
  ERR_clear_error();
  return chain;
}

const TrustedCertificate* find_certificate(const std::vector<TrustedCertificate>& list,
                                           X509* certificate) {
  for (const TrustedCertificate& trusted : list)
    if (X509_cmp(trusted.certificate.get(), certificate) == 0) return &trusted;
  return nullptr;
}

// The first entry of `list` that is the image's hash in the entry's algorithm.
const TrustedHash* find_image_hash(const std::vector<TrustedHash>& list,
                                   const ImageDigests& digests) {
  for (const TrustedHash& trusted : list) {
    const Bytes* digest = digests.get(trusted.algorithm);
    if (digest && *digest == trusted.digest) return &trusted;
  }
  return nullptr;
}

// dbx by certificate or TBS hash, over every certificate the signature carries and every
// certificate of its chain to db; and by chaining to a dbx certificate (EDK2 IsForbiddenByDbx).
std::optional<std::string> revocation_of(const AuthenticodeSignature& signature,
                                         const STACK_OF(X509)* chain, const TrustPolicy& policy,
                                         X509_STORE* dbx_store) {
  auto check = [&](X509* certificate) -> std::optional<std::string> {
    const std::string subject = x509_name(X509_get_subject_name(certificate));
    if (const TrustedCertificate* hit = find_certificate(policy.dbx_certificates, certificate))
      return "certificate " + subject + " is revoked by dbx " + hit->source;
    if (policy.dbx_certificate_hashes.empty()) return std::nullopt;
    const Bytes tbs = x509_tbs_der(certificate);
    for (const TrustedHash& hash : policy.dbx_certificate_hashes)
      if (digest_of(hash.algorithm, byte_view(tbs)) == hash.digest)
        return "certificate " + subject + " is revoked by its TBS " +
               pe::hash_algorithm_name(hash.algorithm) + " hash in dbx " + hash.source;
    return std::nullopt;
  };
  const STACK_OF(X509)* carried = signature.pkcs7->d.sign->cert;
  for (int i = 0; i < sk_X509_num(carried); ++i)
    if (auto hit = check(sk_X509_value(carried, i))) return hit;
  for (int i = 0; i < sk_X509_num(chain); ++i)
    if (auto hit = check(sk_X509_value(chain, i))) return hit;
  if (dbx_store != nullptr) {
    if (OsslPtr<STACK_OF(X509)> revoked = build_chain(dbx_store, signature)) {
      X509* anchor = sk_X509_value(revoked.get(), sk_X509_num(revoked.get()) - 1);
      const TrustedCertificate* hit = find_certificate(policy.dbx_certificates, anchor);
      return "signer chains to dbx certificate " + x509_name(X509_get_subject_name(anchor)) +
             (hit ? " (" + hit->source + ")" : std::string());
    }
  }
  return std::nullopt;
}

SignatureVerdict judge_signature(const AuthenticodeSignature& signature, std::size_t index,
                                 const ImageDigests& digests, const TrustPolicy& policy,
                                 X509_STORE* db_store, X509_STORE* dbx_store) {
  SignatureVerdict verdict;
  verdict.index = index;
  verdict.offset = signature.offset;
  verdict.signer = signature.signer_subject;
  verdict.issuer = signature.signer_issuer;
  verdict.digest_algorithm = signature.digest_algorithm;

  OsslPtr<STACK_OF(X509)> chain = build_chain(db_store, signature);
  if (auto revoked = revocation_of(signature, chain.get(), policy, dbx_store)) {
    verdict.status = SignatureStatus::kRevoked;
    verdict.detail = *revoked;
    return verdict;
  }
  const Bytes* image_digest = digests.get(signature.digest_algorithm);
  if (image_digest == nullptr || *image_digest != signature.digest) {
    verdict.status = SignatureStatus::kHashMismatch;
    verdict.detail = std::string("hash mismatch: signs ") +
                     pe::hash_algorithm_name(signature.digest_algorithm) + " " +
                     hex_of(signature.digest) + ", the image hashes to " +
                     (image_digest ? hex_of(*image_digest) : std::string("?"));
    return verdict;
  }
  if (!signer_signature_verifies(signature)) {
    verdict.status = SignatureStatus::kBadSignature;
    verdict.detail = "the signer's signature over the authenticated attributes does not verify";
    return verdict;
  }
  if (!chain) {
    verdict.status = SignatureStatus::kUnknownSigner;
    verdict.detail = "unknown signer: " + signature.signer_subject + " (issuer " +
                     signature.signer_issuer + ") does not chain to db";
    return verdict;
  }
  X509* anchor = nullptr;
  const TrustedCertificate* trusted = nullptr;
  for (int i = sk_X509_num(chain.get()) - 1; i >= 0 && trusted == nullptr; --i) {
    anchor = sk_X509_value(chain.get(), i);
    trusted = find_certificate(policy.db_certificates, anchor);
  }
  verdict.status = SignatureStatus::kTrusted;
  verdict.detail = "chains to db certificate " + x509_name(X509_get_subject_name(anchor)) +
                   (trusted ? " (" + trusted->source + ")" : std::string());
  return verdict;
}

// Every digest algorithm something will compare against, so the image is hashed in one pass.
std::vector<pe::HashAlgorithm> needed_algorithms(const std::vector<AuthenticodeSignature>& sigs,
                                                 const TrustPolicy& policy) {
  std::vector<pe::HashAlgorithm> algorithms = policy_hash_algorithms(policy);
  for (const AuthenticodeSignature& signature : sigs)
    algorithms.push_back(signature.digest_algorithm);
  return algorithms;
}

// The image's digests: those hashed while its snapshot was taken when they are the regions and
// algorithms needed here, else one pass over the snapshot now.
ImageDigests image_digests(const pe::Authenticode& authenticode,
                           std::span<const pe::HashAlgorithm> algorithms,
                           StreamedDigests* streamed) {
  if (streamed != nullptr) {
    if (auto digests = streamed->digests_for(authenticode)) {
      if (std::all_of(algorithms.begin(), algorithms.end(),
                      [&](pe::HashAlgorithm algorithm) { return digests->get(algorithm); }))
        return std::move(*digests);
    }
  }
  return authenticode_digests(authenticode, algorithms);
}

// Which SignatureStatus best explains a refusal: the most specific one present.
VerifyVerdict refusal_from(std::vector<SignatureVerdict> signatures, const std::string& sha256) {
  static constexpr std::array<std::pair<SignatureStatus, ErrorCode>, 3> kOrder = {{
      {SignatureStatus::kHashMismatch, ErrorCode::kHashMismatch},
      {SignatureStatus::kBadSignature, ErrorCode::kUntrusted},
      {SignatureStatus::kUnknownSigner, ErrorCode::kUntrusted},
  }};
  VerifyVerdict verdict;
  verdict.authenticode_sha256 = sha256;
  if (signatures.empty()) {
    verdict.code = ErrorCode::kUntrusted;
    verdict.reason = "image is not signed and its sha256 Authenticode hash " + sha256 +
                     " is not in db";
    return verdict;
  }
  for (auto [status, code] : kOrder) {
    for (const SignatureVerdict& signature : signatures) {
      if (signature.status != status) continue;
      verdict.code = code;
      verdict.reason = "signature " + std::to_string(signature.index) + ": " + signature.detail;
      verdict.signatures = std::move(signatures);
      return verdict;
    }
  }
  verdict.signatures = std::move(signatures);
  return verdict;
}

std::optional<VerifyVerdict> check_sbat(const std::vector<SbatSection>& sections,
                                        const SbatLevelPolicy& level) {
  if (sections.empty() || sections.front().owner != "image")
    return refuse(ErrorCode::kSbatRevoked,
                  "image has no .sbat section while an SBAT level is set (" + level.source + ")");
  for (const SbatSection& section : sections) {
    auto violation = pe::find_sbat_violation(section.entries, level.entries);
    if (!violation) continue;
    return refuse(ErrorCode::kSbatRevoked,
                  "SBAT component " + std::string(violation->entry->component) + " generation " +
                      std::to_string(violation->entry->generation) + " (" + section.owner +
                      " .sbat) is below level " + std::to_string(violation->level->generation) +
                      " (" + level.source + ")");
  }
  return std::nullopt;
}

Result<std::vector<pe::SbatEntry>> sbat_rows_of(const pe::Image& image, bool& found) {
  found = false;
  const pe::Section* sbat = nullptr;
  for (const pe::Section& section : image.sections()) {
    if (section.name() != ".sbat") continue;
    if (sbat != nullptr)
      return fail(ErrorCode::kMalformed, "more than one .sbat section", section.header_offset);
    sbat = &section;
  }
  if (sbat == nullptr) return std::vector<pe::SbatEntry>{};
  found = true;
  std::array<pe::SbatEntry, pe::kMaxSbatEntries> rows;
  auto parsed = pe::parse_sbat_section(image.section_data(*sbat), rows);
  if (!parsed) {
    Error error = parsed.error();
    if (error.has_offset()) error.offset += sbat->raw_offset;
    return std::unexpected(error);
  }
  return std::vector<pe::SbatEntry>(parsed->begin(), parsed->end());
}

}  // namespace

const char* signature_status_name(SignatureStatus status) {
  switch (status) {
    case SignatureStatus::kTrusted: return "trusted";
    case SignatureStatus::kHashMismatch: return "hash-mismatch";
    case SignatureStatus::kBadSignature: return "bad-signature";
    case SignatureStatus::kUnknownSigner: return "unknown-signer";
    case SignatureStatus::kRevoked: return "revoked";
  }
  return "unknown";
}

bool VerifyVerdict::malformed() const {
  if (accepted) return false;
  switch (code) {
    case ErrorCode::kHashMismatch:
    case ErrorCode::kUntrusted:
    case ErrorCode::kRevoked:
    case ErrorCode::kSbatRevoked: return false;
    default: return true;
  }
}

Result<std::vector<SbatSection>> read_sbat_sections(const pe::Image& image) {
  std::vector<SbatSection> sections;
  bool found = false;
  auto own = sbat_rows_of(image, found);
  if (!own) return std::unexpected(own.error());
  if (found) sections.push_back({"image", std::move(*own)});
  if (const pe::Section* kernel = image.find_section(".linux")) {
    // The embedded kernel is a PE image of its own when it is an EFI-stub kernel; its offsets
    // are reported in the outer file.
    auto inner = pe::Image::parse(image.section_data(*kernel));
    if (inner) {
      auto rows = sbat_rows_of(*inner, found);
      if (!rows) {
        Error error = rows.error();
        if (error.has_offset()) error.offset += kernel->raw_offset;
        return std::unexpected(error);
      }
      if (found) sections.push_back({".linux", std::move(*rows)});
    }
  }
  return sections;
}

std::vector<pe::HashAlgorithm> policy_hash_algorithms(const TrustPolicy& policy) {
  std::vector<pe::HashAlgorithm> algorithms{pe::HashAlgorithm::kSha256};
  for (const TrustedHash& hash : policy.db_hashes) algorithms.push_back(hash.algorithm);
  for (const TrustedHash& hash : policy.dbx_hashes) algorithms.push_back(hash.algorithm);
  return algorithms;
}

VerifyVerdict verify_image(const pe::Image& image, const TrustPolicy& policy,
                           StreamedDigests* streamed) {
  if (policy.no_verify) {
    VerifyVerdict verdict;
    verdict.accepted = true;
    verdict.reason = "verification skipped (--no-verify)";
    return verdict;
  }
  if (!policy.has_trust_anchor())
    return refuse(ErrorCode::kUntrusted,
                  "no trust source: db has no certificate or image hash (give --db FILE, or "
                  "--no-verify to run unverified code)");

  // Structure first: a malformed image or signature is refused before any cryptography.
  auto authenticode = pe::Authenticode::parse(image);
  if (!authenticode) return refuse(authenticode.error().code, describe(authenticode.error()));
  std::vector<AuthenticodeSignature> signatures;
  for (const pe::WinCertificate& entry : authenticode->certificates()) {
    auto signature = parse_authenticode_signature(entry);
    if (!signature)
      return refuse(signature.error().code, "signature " + std::to_string(signatures.size()) +
                                                ": " + describe(signature.error()));
    signatures.push_back(std::move(*signature));
  }
  auto sbat = read_sbat_sections(image);
  if (!sbat) return refuse(sbat.error().code, describe(sbat.error()));

  const auto algorithms = needed_algorithms(signatures, policy);
  const ImageDigests digests = image_digests(*authenticode, algorithms, streamed);
  const std::string sha256 = hex_of(*digests.get(pe::HashAlgorithm::kSha256));

  if (const TrustedHash* revoked = find_image_hash(policy.dbx_hashes, digests)) {
    VerifyVerdict verdict = refuse(
        ErrorCode::kRevoked, std::string("image ") + pe::hash_algorithm_name(revoked->algorithm) +
                                 " hash " + hex_of(revoked->digest) + " is revoked by dbx " +
                                 revoked->source);
    verdict.authenticode_sha256 = sha256;
    return verdict;
  }

  OsslPtr<X509_STORE> db_store = make_store(policy.db_certificates);
  OsslPtr<X509_STORE> dbx_store;
  if (!policy.dbx_certificates.empty()) dbx_store = make_store(policy.dbx_certificates);
  std::vector<SignatureVerdict> verdicts;
  const SignatureVerdict* trusted = nullptr;
  for (std::size_t i = 0; i < signatures.size(); ++i)
    verdicts.push_back(judge_signature(signatures[i], i, digests, policy, db_store.get(),
                                       dbx_store.get()));
  for (const SignatureVerdict& verdict : verdicts) {
    if (verdict.status == SignatureStatus::kRevoked) {
      VerifyVerdict refused = refuse(ErrorCode::kRevoked, "signature " +
                                                              std::to_string(verdict.index) +
                                                              ": " + verdict.detail);
      refused.authenticode_sha256 = sha256;
      refused.signatures = std::move(verdicts);
      return refused;
    }
    if (verdict.status == SignatureStatus::kTrusted && trusted == nullptr) trusted = &verdict;
  }

  std::string accepted_by;
  if (trusted != nullptr) {
    accepted_by = "signature " + std::to_string(trusted->index) + " by " + trusted->signer + " " +
                  trusted->detail;
  } else if (const TrustedHash* allowed = find_image_hash(policy.db_hashes, digests)) {
    accepted_by = std::string("image ") + pe::hash_algorithm_name(allowed->algorithm) +
                  " hash is in db " + allowed->source;
  }
  if (accepted_by.empty()) return refusal_from(std::move(verdicts), sha256);

  if (policy.sbat_level) {
    if (auto revoked = check_sbat(*sbat, *policy.sbat_level)) {
      revoked->authenticode_sha256 = sha256;
      revoked->signatures = std::move(verdicts);
      return *revoked;
    }
  }
  VerifyVerdict verdict;
  verdict.accepted = true;
  verdict.reason = accepted_by;
  verdict.authenticode_sha256 = sha256;
  verdict.signatures = std::move(verdicts);
  return verdict;
}

}  // namespace efikexec::kexec
