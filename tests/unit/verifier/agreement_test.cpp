// SPDX-License-Identifier: MIT
// The freestanding verifier (src/verifier, with BearSSL's primitives) and the host's OpenSSL path
// (kexec::verify_image) give the same verdict on every verification fixture: signers, chains,
// dual signatures, db and dbx in every form, SBAT levels, tampered images, malformed and
// truncated signatures, and the real signed UKIs when EFIKEXEC_FIXTURES names them. db and dbx
// reach the freestanding verifier as the EFI_SIGNATURE_LISTs a payload reads from variables.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "kexec/verify/crypto_openssl.hpp"
#include "verifier/bearssl_crypto.hpp"
#include "verifier/signature_lists.hpp"
#include "verifier/verify.hpp"
#include "verify/support.hpp"

namespace efikexec::testing {
namespace {

using verifier::Outcome;

// The host policy as the variables a payload reads: db and dbx as signature lists.
struct CorePolicy {
  Bytes db;
  Bytes dbx;
  std::optional<std::span<const pe::SbatLevelEntry>> level;  // views into the host policy

  verifier::Policy policy() const { return {view(db), view(dbx), level}; }
};

CorePolicy core_policy(const kexec::TrustPolicy& host) {
  CorePolicy core;
  for (const auto& certificate : host.db_certificates)
    append_list(core.db, pe::kCertX509Guid, kexec::x509_der(certificate.certificate.get()));
  for (const auto& hash : host.db_hashes)
    append_list(core.db, image_hash_guid(hash.algorithm), hash.digest);
  for (const auto& certificate : host.dbx_certificates)
    append_list(core.dbx, pe::kCertX509Guid, kexec::x509_der(certificate.certificate.get()));
  for (const auto& hash : host.dbx_hashes)
    append_list(core.dbx, image_hash_guid(hash.algorithm), hash.digest);
  for (const auto& hash : host.dbx_certificate_hashes) {
    Bytes data = hash.digest;
    data.resize(data.size() + 16, 0);  // EFI_TIME revocation time
    append_list(core.dbx, certificate_hash_guid(hash.algorithm), data);
  }
  if (host.sbat_level) core.level = std::span<const pe::SbatLevelEntry>(host.sbat_level->entries);
  return core;
}

// The category of a host verdict, in the freestanding verifier's terms.
Outcome host_outcome(const kexec::VerifyVerdict& verdict) {
  if (verdict.accepted) return Outcome::kAccepted;
  switch (verdict.code) {
    case ErrorCode::kHashMismatch: return Outcome::kHashMismatch;
    case ErrorCode::kRevoked: return Outcome::kRevoked;
    case ErrorCode::kSbatRevoked: return Outcome::kSbatRevoked;
    case ErrorCode::kUntrusted:
      for (const auto& signature : verdict.signatures)
        if (signature.status == kexec::SignatureStatus::kBadSignature)
          return Outcome::kBadSignature;
      return Outcome::kUnknownSigner;
    default: return Outcome::kMalformed;
  }
}

class Agreement : public ::testing::Test {
 protected:
  // Both verdicts on `bytes`; fails the test when they differ, and when `expected` is given
  // and the shared verdict is not it. Returns the shared outcome.
  Outcome expect_agree(const Bytes& bytes, const kexec::TrustPolicy& host,
                       const std::string& label, std::optional<Outcome> expected = {}) {
    const kexec::VerifyVerdict host_verdict = verify_bytes(bytes, host);
    Outcome core_outcome = Outcome::kMalformed;
    std::string core_reason = "image does not parse";
    ErrorCode core_code = ErrorCode::kMalformed;
    if (auto image = pe::Image::parse(view(bytes))) {
      const CorePolicy policy = core_policy(host);
      const verifier::Verdict verdict =
          verifier::verify_image(*image, policy.policy(), crypto_, *workspace_);
      core_outcome = verdict.outcome;
      core_reason = verdict.reason;
      core_code = verdict.code;
    } else {
      core_code = image.error().code;
    }
    const Outcome expected_host = host_outcome(host_verdict);
    EXPECT_EQ(verifier::outcome_name(core_outcome), std::string(verifier::outcome_name(expected_host)))
        << label << "\n  freestanding: " << core_reason << "\n  OpenSSL:      " << host_verdict.reason;
    if (!host_verdict.accepted && expected_host != Outcome::kMalformed) {
      EXPECT_EQ(error_code_name(core_code), std::string(error_code_name(host_verdict.code))) << label;
    }
    if (expected) {
      EXPECT_EQ(verifier::outcome_name(core_outcome), std::string(verifier::outcome_name(*expected)))
          << label << ": " << core_reason;
    }
    ++compared_;
    return core_outcome;
  }

  Outcome expect_agree_file(const std::string& image, const kexec::TrustPolicy& host,
                            const std::string& label, std::optional<Outcome> expected = {}) {
    return expect_agree(read_bytes(verify_fixture(image)), host, image + " " + label, expected);
  }

  verifier::BearSslCrypto crypto_;
  std::unique_ptr<verifier::Workspace> workspace_ = std::make_unique<verifier::Workspace>();
  int compared_ = 0;
};

const char* const kImages[] = {"app.efi",      "uki.efi",      "nosbat.efi",
                               "app-2048.efi", "app-4096.efi", "app-chain.efi",
                               "app-dual.efi", "app-expired.efi", "uki-chain.efi"};

TEST_F(Agreement, EveryImageWithEveryDb) {
  const std::vector<std::vector<std::string>> dbs = {
      {"keys/rsa2048.crt"}, {"keys/rsa4096.crt"}, {"keys/root.crt"},
      {"keys/intermediate.crt"}, {"keys/leaf.crt"}, {"keys/expired.crt"},
      {"esl/db-multi.esl"}, {"esl/db-hash-app.esl"}, {"esl/db-2048.auth"},
      {"keys/rsa2048.crt", "keys/root.crt"}, {}};
  int accepted = 0;
  for (const char* image : kImages) {
    for (const auto& db : dbs) {
      kexec::TrustOptions options;
      for (const std::string& name : db) options.db_files.push_back(verify_fixture(name));
      options.efivars_directory = verify_fixture("no-efivars");
      auto policy = kexec::build_trust_policy(options);
      ASSERT_TRUE(policy) << policy.error().message();
      std::string label = "db";
      for (const std::string& name : db) label += " " + name;
      if (expect_agree_file(image, *policy, label) == Outcome::kAccepted) ++accepted;
    }
  }
  EXPECT_GT(accepted, 10);
}

TEST_F(Agreement, FixtureVerdicts) {
  // The cases of the OpenSSL path's own fixture tests, each with the verdict it must have.
  expect_agree_file("app-2048.efi", make_policy({"keys/rsa2048.crt"}), "", Outcome::kAccepted);
  expect_agree_file("app-4096.efi", make_policy({"keys/rsa4096.crt"}), "", Outcome::kAccepted);
  expect_agree_file("app-2048.efi", make_policy({"keys/rsa4096.crt"}), "stranger",
                    Outcome::kUnknownSigner);
  expect_agree_file("app-chain.efi", make_policy({"keys/root.crt"}), "chain", Outcome::kAccepted);
  expect_agree_file("uki-chain.efi", make_policy({"keys/root.crt"}), "chain", Outcome::kAccepted);
  expect_agree_file("app-chain.efi", make_policy({"keys/intermediate.crt"}), "partial chain",
                    Outcome::kAccepted);
  expect_agree_file("app-2048.efi", make_policy({"keys/leaf.crt"}), "leaf anchors nothing",
                    Outcome::kUnknownSigner);
  expect_agree_file("app-expired.efi", make_policy({"keys/expired.crt"}), "", Outcome::kAccepted);
  expect_agree_file("app-dual.efi", make_policy({"keys/rsa4096.crt"}), "", Outcome::kAccepted);
  expect_agree_file("app-dual.efi", make_policy({"keys/rsa4096.crt"}, {"keys/rsa2048.crt"}),
                    "dbx cert", Outcome::kRevoked);
  expect_agree_file("app.efi", make_policy({"esl/db-hash-app.esl"}), "db hash", Outcome::kAccepted);
  expect_agree_file("app.efi", make_policy({"keys/rsa2048.crt"}), "unsigned",
                    Outcome::kUnknownSigner);
  expect_agree_file("app-2048.efi", make_policy({}), "no trust source", Outcome::kUnknownSigner);
}

TEST_F(Agreement, Dbx) {
  struct Case {
    const char* image;
    std::initializer_list<std::string> db;
    std::initializer_list<std::string> dbx;
    Outcome expected;
  };
  const Case cases[] = {
      {"app-2048.efi", {"keys/rsa2048.crt"}, {"esl/dbx-hash-app-2048.esl"}, Outcome::kRevoked},
      {"app-4096.efi", {"keys/rsa4096.crt"}, {"esl/dbx-hash-app-2048.esl"}, Outcome::kRevoked},
      {"uki-chain.efi", {"keys/root.crt"}, {"esl/dbx-hash-app-2048.esl"}, Outcome::kAccepted},
      {"app.efi", {"esl/db-hash-app.esl"}, {"esl/dbx-hash-app.esl"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"keys/leaf.crt"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"keys/intermediate.crt"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"keys/root.crt"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"esl/db-intermediate.esl"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/intermediate.crt"}, {"keys/root.crt"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"keys/rsa2048.crt"}, Outcome::kAccepted},
      {"app-2048.efi", {"keys/rsa2048.crt"}, {"esl/db-rsa2048.esl"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"esl/dbx-tbs-leaf.esl"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"esl/dbx-tbs-intermediate.esl"}, Outcome::kRevoked},
      {"app-chain.efi", {"keys/root.crt"}, {"esl/dbx-tbs-root.esl"}, Outcome::kRevoked},
      {"app-2048.efi", {"keys/rsa2048.crt"}, {"esl/dbx-tbs-rsa2048.esl"}, Outcome::kRevoked},
      {"app-4096.efi", {"keys/rsa4096.crt"}, {"esl/dbx-tbs-rsa2048.esl"}, Outcome::kAccepted},
      // Revoked wins over every other refusal.
      {"app-2048.efi", {"keys/rsa4096.crt"}, {"keys/rsa2048.crt"}, Outcome::kRevoked},
  };
  for (const Case& c : cases) {
    std::string label = "dbx";
    for (const std::string& name : c.dbx) label += " " + name;
    expect_agree_file(c.image, make_policy(c.db, c.dbx), label, c.expected);
  }
}

TEST_F(Agreement, Sbat) {
  expect_agree_file("app-2048.efi", make_policy({"keys/rsa2048.crt"}, {}, "sbat/level-below.csv"),
                    "below", Outcome::kSbatRevoked);
  expect_agree_file("app-2048.efi", make_policy({"keys/rsa2048.crt"}, {}, "sbat/level-at.csv"),
                    "at", Outcome::kAccepted);
  expect_agree_file("uki-chain.efi", make_policy({"keys/root.crt"}, {}, "sbat/level-linux.csv"),
                    ".linux below", Outcome::kSbatRevoked);
  expect_agree_file("uki-chain.efi", make_policy({"keys/root.crt"}, {}, "sbat/level-at.csv"),
                    "at", Outcome::kAccepted);
  expect_agree_file("nosbat.efi", make_policy({"esl/db-multi.esl"}, {}, "sbat/level-at.csv"),
                    "no .sbat", Outcome::kSbatRevoked);
  // SBAT is judged only once the image is trusted.
  expect_agree_file("app-2048.efi", make_policy({"keys/rsa4096.crt"}, {}, "sbat/level-below.csv"),
                    "untrusted below", Outcome::kUnknownSigner);
}

TEST_F(Agreement, TamperedImages) {
  for (const char* name : {"app-2048.efi", "uki-chain.efi", "app-dual.efi"}) {
    const kexec::TrustPolicy policy = make_policy({"keys/rsa2048.crt", "keys/root.crt"});
    const Bytes original = read_bytes(verify_fixture(name));
    for (const TamperPoint& point : tamper_points(original)) {
      Bytes tampered = original;
      tampered[point.offset] ^= 0x01;
      expect_agree(tampered, policy,
                   std::string(name) + " flip in " + point.region + " at " +
                       std::to_string(point.offset));
    }
  }
}

// The WIN_CERTIFICATE content (the DER) of a signed image with one signature, and the image
// without its certificate table.
struct Split {
  Bytes unsigned_image;
  Bytes der;
};

Split split_signature(const Bytes& image) {
  const std::uint32_t table = get32(image, directory_offset(4));
  const std::uint32_t length = get32(image, table);
  Split split;
  split.unsigned_image.assign(image.begin(), image.begin() + table);
  split.der.assign(image.begin() + table + 8, image.begin() + table + length);
  // sbsign pads the DER inside dwLength; DER ends where its outer length says.
  std::size_t size = split.der[1] < 0x80 ? 2 + split.der[1] : 2 + (split.der[1] & 0x7f);
  if (split.der[1] >= 0x80) {
    std::size_t value = 0;
    for (std::size_t i = 0; i < (split.der[1] & 0x7fu); ++i) value = (value << 8) | split.der[2 + i];
    size += value;
  }
  split.der.resize(size);
  return split;
}

TEST_F(Agreement, MalformedAndTruncatedSignatures) {
  const Bytes signed_image = read_bytes(verify_fixture("app-chain.efi"));
  const kexec::TrustPolicy policy = make_policy({"keys/root.crt"});
  const Split split = split_signature(signed_image);
  ASSERT_EQ(expect_agree(with_certificate_table(split.unsigned_image, {win_certificate(split.der)}),
                         policy, "re-attached"),
            Outcome::kAccepted);
  // Truncated DER (certificates included): every prefix is refused as malformed by both.
  for (std::size_t size = 0; size < split.der.size(); size += 1 + size / 16) {
    Bytes der(split.der.begin(), split.der.begin() + size);
    expect_agree(with_certificate_table(split.unsigned_image, {win_certificate(der)}), policy,
                 "DER truncated to " + std::to_string(size), Outcome::kMalformed);
  }
  // Trailing bytes after the DER, inside dwLength.
  Bytes trailing = split.der;
  trailing.push_back(0x42);
  expect_agree(with_certificate_table(split.unsigned_image, {win_certificate(trailing)}), policy,
               "trailing byte", Outcome::kMalformed);
  // SignedData.digestAlgorithms names SHA-384 only while the SignerInfo uses SHA-256: the
  // content is never digested with the signer's algorithm, so the signature cannot verify.
  const Bytes sha256_oid = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
  const auto first_oid =
      std::search(split.der.begin(), split.der.end(), sha256_oid.begin(), sha256_oid.end());
  ASSERT_NE(first_oid, split.der.end());
  Bytes sha384_set = split.der;
  sha384_set[static_cast<std::size_t>(first_oid - split.der.begin()) + sha256_oid.size() - 1] = 0x02;
  expect_agree(with_certificate_table(split.unsigned_image, {win_certificate(sha384_set)}), policy,
               "digestAlgorithms without the signer's", Outcome::kBadSignature);
  // Not a SEQUENCE.
  Bytes set = split.der;
  set[0] = 0x31;
  expect_agree(with_certificate_table(split.unsigned_image, {win_certificate(set)}), policy,
               "SET", Outcome::kMalformed);
}

// A flip of the low and the high bit of every byte of the signature (certificates, attributes,
// the signer's signature): the two verifiers agree on what each flip breaks.
TEST_F(Agreement, SignatureByteFlips) {
  struct Case {
    const char* image;
    kexec::TrustPolicy policy;
  };
  Case cases[] = {
      {"app-chain.efi", make_policy({"keys/root.crt", "keys/rsa2048.crt"})},
      {"app-2048.efi", make_policy({"keys/root.crt", "keys/rsa2048.crt"})},
      // dbx by TBS hash and by certificate, over the certificates the flips corrupt.
      {"app-chain.efi", make_policy({"keys/root.crt"}, {"esl/dbx-tbs-intermediate.esl",
                                                        "keys/leaf.crt"})},
  };
  for (const Case& c : cases) {
    const char* name = c.image;
    const kexec::TrustPolicy& policy = c.policy;
    const Split split = split_signature(read_bytes(verify_fixture(name)));
    for (std::size_t at = 0; at < split.der.size(); ++at) {
      for (std::uint8_t mask : {0x01, 0x80}) {
        Bytes der = split.der;
        der[at] ^= mask;
        expect_agree(with_certificate_table(split.unsigned_image, {win_certificate(der)}), policy,
                     std::string(name) + " signature byte " + std::to_string(at) + " ^ " +
                         std::to_string(mask));
      }
    }
  }
}

// The real signed UKIs (systemd-stub + Debian kernel, signed by sbsign with keys/db.key).
TEST_F(Agreement, RealSignedUkis) {
  REAL_FIXTURE(db, "keys/db.crt");
  REAL_FIXTURE(other, "keys/other.crt");
  REAL_FIXTURE(signed_uki, "uki-signed.efi");
  auto policy_of = [](const std::string& db_file, const std::string& dbx_file) {
    kexec::TrustOptions options;
    options.db_files = {db_file};
    if (!dbx_file.empty()) options.dbx_files = {dbx_file};
    options.efivars_directory = "/nonexistent";
    auto policy = kexec::build_trust_policy(options);
    if (!policy) {
      ADD_FAILURE() << policy.error().message();
      return kexec::TrustPolicy{};
    }
    return std::move(*policy);
  };
  const kexec::TrustPolicy trusted = policy_of(db, "");
  EXPECT_EQ(expect_agree(read_bytes(signed_uki), trusted, "uki-signed.efi"), Outcome::kAccepted);
  for (const char* name : {"uki.efi", "uki-other-signed.efi", "uki-tampered.efi",
                           "vmlinuz-signed.efi", "vmlinuz-dual-signed.efi", "vmlinuz-unsigned.efi"}) {
    const std::string path = real_fixture(name);
    if (path.empty()) continue;
    const Bytes bytes = read_bytes(path);
    expect_agree(bytes, trusted, std::string(name) + " db=db.crt");
    expect_agree(bytes, policy_of(other, ""), std::string(name) + " db=other.crt");
    expect_agree(bytes, policy_of(db, db), std::string(name) + " dbx=db.crt");
  }
}

}  // namespace
}  // namespace efikexec::testing
