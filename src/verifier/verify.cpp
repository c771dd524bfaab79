// SPDX-License-Identifier: MIT
#include "verify.hpp"

#include "pe_loader/signature_list.hpp"

namespace efikexec::verifier {

namespace {

Verdict refuse(Outcome outcome, ErrorCode code, const char* reason,
               std::size_t signature = kNoSignature) {
  Verdict verdict;
  verdict.outcome = outcome;
  verdict.code = code;
  verdict.reason = reason;
  verdict.signature = signature;
  return verdict;
}

Verdict malformed(const Error& error, std::size_t signature = kNoSignature) {
  Verdict verdict = refuse(Outcome::kMalformed, error.code, error.message, signature);
  verdict.offset = error.offset;
  return verdict;
}

// Calls `visit(entry)` on every signature of validated lists until it returns true; returns
// whether one did.
template <class Visit>
bool any_entry(ByteView lists, Visit&& visit) {
  pe::SignatureListReader reader(lists);
  for (;;) {
    auto next = reader.next();
    if (!next || !*next) return false;
    if (visit(**next)) return true;
  }
}

ByteView prefix(ByteView bytes, std::size_t size) { return {bytes.data(), size}; }

// The image's Authenticode digests, each computed the first time an algorithm is asked for.
class ImageDigests {
 public:
  ImageDigests(const pe::Authenticode& authenticode, Crypto& crypto)
      : authenticode_(authenticode), crypto_(crypto) {}

  ByteView get(pe::HashAlgorithm algorithm) {
    std::optional<Digest>& digest = digests_[static_cast<std::size_t>(algorithm)];
    if (!digest) {
      authenticode_.hash(crypto_.begin_digest(algorithm));
      digest = crypto_.finish_digest();
    }
    return digest->view();
  }

 private:
  const pe::Authenticode& authenticode_;
  Crypto& crypto_;
  std::array<std::optional<Digest>, pe::kHashAlgorithmCount> digests_;
};

bool image_hash_listed(ByteView lists, ImageDigests& digests) {
  return any_entry(lists, [&](const pe::SignatureEntry& entry) {
    return entry.type.kind == pe::SignatureKind::kImageHash &&
           der::same_bytes(entry.data, digests.get(entry.type.algorithm));
  });
}

bool certificate_listed(ByteView lists, const Certificate& certificate) {
  return any_entry(lists, [&](const pe::SignatureEntry& entry) {
    return entry.type.kind == pe::SignatureKind::kCertificate &&
           der::same_bytes(entry.data, certificate.der);
  });
}

// dbx by certificate (DER) or by the hash of its TBSCertificate (EFI_CERT_X509_SHAxxx; the
// revocation time that follows the hash is not used, as on the host path).
bool certificate_revoked(ByteView dbx, const Certificate& certificate, Crypto& crypto) {
  if (certificate_listed(dbx, certificate)) return true;
  return any_entry(dbx, [&](const pe::SignatureEntry& entry) {
    if (entry.type.kind != pe::SignatureKind::kCertificateHash) return false;
    const Digest tbs = digest_of(crypto, entry.type.algorithm, certificate.tbs);
    return der::same_bytes(prefix(entry.data, pe::digest_size(entry.type.algorithm)), tbs.view());
  });
}

// RFC 5280 §4.1.1.2-3: the issuer's key verifies the signature over tbsCertificate, with the
// algorithm named the same inside and outside it.
bool signed_by(const Certificate& subject, const Certificate& issuer, Crypto& crypto) {
  if (!issuer.rsa_key || !subject.signature_digest ||
      !der::same_bytes(subject.tbs_signature_algorithm, subject.signature_algorithm))
    return false;
  const Digest digest = digest_of(crypto, *subject.signature_digest, subject.tbs);
  return crypto.rsa_pkcs1_verify(*issuer.rsa_key, *subject.signature_digest, digest.view(),
                                 subject.signature);
}

// A chain from the signer to any certificate of `anchors`, as OpenSSL's X509_verify_cert with
// X509_V_FLAG_PARTIAL_CHAIN finds one (anchors tried before carried certificates): any
// certificate of the chain may be the anchor; an issuer below the anchor needs basicConstraints
// cA, the anchor itself a non-zero ca_rating; an issuer with keyUsage needs keyCertSign; the
// anchor's own signature is not checked. Validity dates are not checked (no trusted clock).
class ChainBuilder {
 public:
  ChainBuilder(ByteView anchors, std::span<const Certificate> carried, Crypto& crypto,
               std::span<Certificate, kMaxChainLength> chain)
      : anchors_(anchors), carried_(carried), crypto_(crypto), chain_(chain) {}

  bool build(const Certificate& signer) {
    length_ = 0;
    checks_ = 0;
    chain_[length_++] = signer;
    return extend();
  }
  std::size_t length() const { return length_; }

 private:
  bool extend() {
    const Certificate& current = chain_[length_ - 1];
    if (current.unusable_extension) return false;
    if (certificate_listed(anchors_, current)) return true;
    if (length_ == kMaxChainLength) return false;
    const bool via_anchor = any_entry(anchors_, [&](const pe::SignatureEntry& entry) {
      if (entry.type.kind != pe::SignatureKind::kCertificate) return false;
      auto anchor = parse_certificate(entry.data);
      return anchor && try_issuer(*anchor, true);
    });
    if (via_anchor) return true;
    for (const Certificate& candidate : carried_)
      if (try_issuer(candidate, certificate_listed(anchors_, candidate))) return true;
    return false;
  }

  bool try_issuer(const Certificate& issuer, bool anchor) {
    const Certificate& current = chain_[length_ - 1];
    for (std::size_t i = 0; i < length_; ++i)
      if (der::same_bytes(chain_[i].der, issuer.der)) return false;
    const int rating = ca_rating(issuer);
    if (!may_have_issued(issuer, current) || (anchor ? rating == 0 : rating != 1) ||
        ++checks_ > kMaxIssuerChecks || !signed_by(current, issuer, crypto_))
      return false;
    chain_[length_++] = issuer;
    if (extend()) return true;
    --length_;
    return false;
  }

  ByteView anchors_;
  std::span<const Certificate> carried_;
  Crypto& crypto_;
  std::span<Certificate, kMaxChainLength> chain_;
  std::size_t length_ = 0;
  std::size_t checks_ = 0;
};

// PKCS#7 SignerInfo verification (RFC 2315 §9.3-9.4), as OpenSSL's PKCS7_signatureVerify: with
// authenticated attributes, their messageDigest must be the digest of the content and the
// signature covers their DER SET re-encoding; without, the signature covers the content digest.
// The SignerInfo's digest must be one SignedData.digestAlgorithms lists (the content is only
// digested with those).
bool signer_signature_verifies(const AuthenticodeSignature& signature, Crypto& crypto) {
  const Certificate& signer = signature.signer_certificate();
  const pe::HashAlgorithm algorithm = signature.signer_digest_algorithm;
  if (!signer.rsa_key || (signature.digest_algorithms >> static_cast<unsigned>(algorithm) & 1) == 0)
    return false;
  const Digest content = digest_of(crypto, algorithm, signature.signed_content);
  if (!signature.signed_attributes)
    return crypto.rsa_pkcs1_verify(*signer.rsa_key, algorithm, content.view(),
                                   signature.encrypted_digest);
  if (!signature.message_digest || !der::same_bytes(*signature.message_digest, content.view()))
    return false;
  static constexpr std::byte kSetIdentifier{der::kSet};
  const ByteView attributes = *signature.signed_attributes;
  pe::Hasher& hasher = crypto.begin_digest(algorithm);
  hasher.update(ByteView(&kSetIdentifier, 1));
  hasher.update(ByteView(attributes.data() + 1, attributes.size() - 1));
  const Digest signed_attributes = crypto.finish_digest();
  return crypto.rsa_pkcs1_verify(*signer.rsa_key, algorithm, signed_attributes.view(),
                                 signature.encrypted_digest);
}

// One signature's standing, in the host path's order: revoked, hash mismatch, bad signature,
// unknown signer, trusted (kAccepted).
Outcome judge_signature(const AuthenticodeSignature& signature, ImageDigests& digests,
                        const Policy& policy, Crypto& crypto, Workspace& workspace) {
  const std::size_t length = find_chain(signature.signer_certificate(), policy.db,
                                        signature.carried(), crypto, workspace.chain);
  const bool chained = length != 0;
  // dbx: every certificate carried, every certificate of the chain to db, and a chain to dbx.
  for (const Certificate& certificate : signature.carried())
    if (certificate_revoked(policy.dbx, certificate, crypto)) return Outcome::kRevoked;
  for (const Certificate& certificate : std::span(workspace.chain).first(length))
    if (certificate_revoked(policy.dbx, certificate, crypto)) return Outcome::kRevoked;
  if (find_chain(signature.signer_certificate(), policy.dbx, signature.carried(), crypto,
                 workspace.chain) != 0)
    return Outcome::kRevoked;

  if (!der::same_bytes(digests.get(signature.digest_algorithm), signature.digest))
    return Outcome::kHashMismatch;
  if (!signer_signature_verifies(signature, crypto)) return Outcome::kBadSignature;
  if (!chained) return Outcome::kUnknownSigner;
  return Outcome::kAccepted;
}

// The rows of `image`'s own `.sbat` (none when it has no `.sbat`); error offsets count from
// `base`, the image's offset in the file.
Result<std::optional<std::span<pe::SbatEntry>>> sbat_rows_of(const pe::Image& image,
                                                             std::uint64_t base,
                                                             std::span<pe::SbatEntry> rows) {
  const pe::Section* sbat = nullptr;
  for (const pe::Section& section : image.sections()) {
    if (section.name() != ".sbat") continue;
    if (sbat != nullptr)
      return fail(ErrorCode::kMalformed, "more than one .sbat section", base + section.header_offset);
    sbat = &section;
  }
  if (sbat == nullptr) return std::optional<std::span<pe::SbatEntry>>();
  auto parsed = pe::parse_sbat_section(image.section_data(*sbat), rows);
  if (!parsed) {
    Error error = parsed.error();
    if (error.has_offset()) error.offset += base + sbat->raw_offset;
    return std::unexpected(error);
  }
  return std::optional<std::span<pe::SbatEntry>>(*parsed);
}

// Checks the `.sbat` of the image and of its `.linux` (when that is a PE image) against
// `level`; with no level, only that they parse. Returns the refusal, if any.
Result<std::optional<Verdict>> check_sbat(const pe::Image& image,
                                          const std::optional<std::span<const pe::SbatLevelEntry>>& level,
                                          std::span<pe::SbatEntry> rows) {
  EFIKEXEC_TRY(own, sbat_rows_of(image, 0, rows));
  if (level && !own)
    return refuse(Outcome::kSbatRevoked, ErrorCode::kSbatRevoked,
                  "image has no .sbat section while an SBAT level is set");
  if (level && pe::find_sbat_violation(*own, *level))
    return refuse(Outcome::kSbatRevoked, ErrorCode::kSbatRevoked,
                  "an SBAT component of the image is below the level");
  if (const pe::Section* kernel = image.find_section(".linux")) {
    auto inner = pe::Image::parse(image.section_data(*kernel));
    if (inner) {
      EFIKEXEC_TRY(linux_rows, sbat_rows_of(*inner, kernel->raw_offset, rows));
      if (level && linux_rows && pe::find_sbat_violation(*linux_rows, *level))
        return refuse(Outcome::kSbatRevoked, ErrorCode::kSbatRevoked,
                      "an SBAT component of .linux is below the level");
    }
  }
  return std::optional<Verdict>();
}

bool has_trust_anchor(ByteView db) {
  return any_entry(db, [](const pe::SignatureEntry& entry) {
    return entry.type.kind == pe::SignatureKind::kCertificate ||
           entry.type.kind == pe::SignatureKind::kImageHash;
  });
}

}  // namespace

std::size_t find_chain(const Certificate& signer, ByteView anchors,
                       std::span<const Certificate> carried, Crypto& crypto,
                       std::span<Certificate, kMaxChainLength> chain) {
  ChainBuilder builder(anchors, carried, crypto, chain);
  return builder.build(signer) ? builder.length() : 0;
}

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAccepted: return "accepted";
    case Outcome::kHashMismatch: return "hash-mismatch";
    case Outcome::kBadSignature: return "bad-signature";
    case Outcome::kUnknownSigner: return "unknown-signer";
    case Outcome::kRevoked: return "revoked";
    case Outcome::kSbatRevoked: return "sbat-revoked";
    case Outcome::kMalformed: return "malformed";
  }
  return "unknown";
}

Digest digest_of(Crypto& crypto, pe::HashAlgorithm algorithm, ByteView bytes) {
  crypto.begin_digest(algorithm).update(bytes);
  return crypto.finish_digest();
}

Result<void> validate_policy(const Policy& policy) {
  for (ByteView lists : {policy.db, policy.dbx}) {
    if (auto valid = pe::validate_signature_lists(lists); !valid)
      return std::unexpected(valid.error());
    pe::SignatureListReader reader(lists);
    for (;;) {
      EFIKEXEC_TRY(next, reader.next());
      if (!next) break;
      if (next->type.kind != pe::SignatureKind::kCertificate) continue;
      if (auto certificate = parse_certificate(next->data, next->offset); !certificate)
        return fail(ErrorCode::kMalformed, "EFI_CERT_X509 data is not a DER certificate",
                    next->offset);
    }
  }
  return {};
}

Verdict verify_image(const pe::Image& image, const Policy& policy, Crypto& crypto,
                     Workspace& workspace) {
  if (auto valid = validate_policy(policy); !valid) return malformed(valid.error());
  if (!has_trust_anchor(policy.db))
    return refuse(Outcome::kUnknownSigner, ErrorCode::kUntrusted,
                  "no trust source: db has no certificate or image hash");

  // Structure first: a malformed image or signature is refused before any cryptography.
  auto authenticode = pe::Authenticode::parse(image);
  if (!authenticode) return malformed(authenticode.error());
  const auto entries = authenticode->certificates();
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (auto parsed = parse_authenticode_signature(entries[i], workspace.signature); !parsed)
      return malformed(parsed.error(), i);
  if (auto sbat = check_sbat(image, std::nullopt, workspace.sbat_rows); !sbat)
    return malformed(sbat.error());

  ImageDigests digests(*authenticode, crypto);
  if (image_hash_listed(policy.dbx, digests))
    return refuse(Outcome::kRevoked, ErrorCode::kRevoked, "the image hash is revoked by dbx");

  for (std::size_t i = 0; i < entries.size(); ++i) {
    (void)parse_authenticode_signature(entries[i], workspace.signature);  // parsed above
    workspace.signature_outcomes[i] =
        judge_signature(workspace.signature, digests, policy, crypto, workspace);
  }
  const std::span<const Outcome> outcomes(workspace.signature_outcomes.data(), entries.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i)
    if (outcomes[i] == Outcome::kRevoked)
      return refuse(Outcome::kRevoked, ErrorCode::kRevoked,
                    "a certificate of the signature is revoked by dbx", i);

  std::size_t trusted = kNoSignature;
  for (std::size_t i = 0; i < outcomes.size() && trusted == kNoSignature; ++i)
    if (outcomes[i] == Outcome::kAccepted) trusted = i;
  if (trusted == kNoSignature && !image_hash_listed(policy.db, digests)) {
    // The most specific refusal present, as the host path ranks them.
    static constexpr struct {
      Outcome outcome;
      ErrorCode code;
      const char* reason;
    } kOrder[] = {
        {Outcome::kHashMismatch, ErrorCode::kHashMismatch, "the signature signs another image hash"},
        {Outcome::kBadSignature, ErrorCode::kUntrusted,
         "the signer's signature over the authenticated attributes does not verify"},
        {Outcome::kUnknownSigner, ErrorCode::kUntrusted, "unknown signer: no chain to db"},
    };
    for (const auto& rank : kOrder)
      for (std::size_t i = 0; i < outcomes.size(); ++i)
        if (outcomes[i] == rank.outcome) return refuse(rank.outcome, rank.code, rank.reason, i);
    return refuse(Outcome::kUnknownSigner, ErrorCode::kUntrusted,
                  "image is not signed and its hash is not in db");
  }

  if (policy.sbat_level) {
    auto sbat = check_sbat(image, policy.sbat_level, workspace.sbat_rows);
    if (!sbat) return malformed(sbat.error());
    if (*sbat) return **sbat;
  }
  Verdict verdict;
  verdict.outcome = Outcome::kAccepted;
  verdict.reason = trusted != kNoSignature ? "a signature chains to db" : "the image hash is in db";
  verdict.signature = trusted;
  return verdict;
}

}  // namespace efikexec::verifier
