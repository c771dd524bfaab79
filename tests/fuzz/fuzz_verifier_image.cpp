// SPDX-License-Identifier: MIT
// The freestanding verifier end to end (src/verifier/verify) over a PE image, with a stand-in
// for the cryptography whose signature checks pass or fail by the signature's first bit, so the
// chain walk, dbx and SBAT paths are all reached. db holds every certificate the first signature
// carries; dbx one certificate hash. Invariants: a verdict names a signature only when the image
// has one at that index, a malformed verdict carries an error code of the parsers, and the same
// input gives the same verdict twice.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_assert.hpp"
#include "pe_loader/signature_list.hpp"
#include "verifier/verify.hpp"

using namespace efikexec;

namespace {

class StandInCrypto final : public verifier::Crypto {
 public:
  pe::Hasher& begin_digest(pe::HashAlgorithm algorithm) override {
    hasher_.algorithm = algorithm;
    hasher_.state = 0xcbf29ce484222325ull;
    return hasher_;
  }
  verifier::Digest finish_digest() override {
    verifier::Digest digest;
    digest.algorithm = hasher_.algorithm;
    for (std::size_t i = 0; i < digest.bytes.size(); ++i)
      digest.bytes[i] = static_cast<std::byte>(hasher_.state >> (8 * (i % 8)));
    return digest;
  }
  bool rsa_pkcs1_verify(const verifier::RsaPublicKey& key, pe::HashAlgorithm, ByteView digest,
                        ByteView signature) override {
    FUZZ_ASSERT(!key.modulus.empty() && !key.exponent.empty());
    FUZZ_ASSERT(digest.size() > 0);
    return !signature.empty() && (static_cast<std::uint8_t>(signature.data()[0]) & 1) != 0;
  }

 private:
  struct Fnv final : pe::Hasher {
    void update(ByteView bytes) override {
      for (std::size_t i = 0; i < bytes.size(); ++i)
        state = (state ^ static_cast<std::uint8_t>(bytes.data()[i])) * 0x100000001b3ull;
    }
    pe::HashAlgorithm algorithm{};
    std::uint64_t state = 0;
  };
  Fnv hasher_;
};

void append_list(std::vector<std::uint8_t>& out, const pe::Guid& type, ByteView data) {
  const std::size_t at = out.size();
  out.resize(at + 28 + 16 + data.size(), 0);
  std::memcpy(out.data() + at, type.bytes.data(), 16);
  const std::uint32_t sizes[] = {static_cast<std::uint32_t>(28 + 16 + data.size()), 0,
                                 static_cast<std::uint32_t>(16 + data.size())};
  std::memcpy(out.data() + at + 16, sizes, sizeof sizes);  // little-endian host
  if (!data.empty()) std::memcpy(out.data() + at + 44, data.data(), data.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView file(reinterpret_cast<const std::byte*>(data), size);
  auto image = pe::Image::parse(file);
  if (!image) return 0;
  static auto workspace = std::make_unique<verifier::Workspace>();
  static auto carried = std::make_unique<verifier::AuthenticodeSignature>();
  StandInCrypto crypto;

  std::vector<std::uint8_t> db;
  std::vector<std::uint8_t> dbx;
  std::size_t signatures = 0;
  if (auto authenticode = pe::Authenticode::parse(*image)) {
    signatures = authenticode->certificates().size();
    if (signatures > 0 &&
        verifier::parse_authenticode_signature(authenticode->certificates()[0], *carried))
      for (const verifier::Certificate& certificate : carried->carried())
        append_list(db, pe::kCertX509Guid, certificate.der);
  }
  const std::uint8_t zeros[48] = {};
  append_list(db, pe::kCertSha256Guid, ByteView(reinterpret_cast<const std::byte*>(zeros), 32));
  append_list(dbx, pe::kCertX509Sha256Guid,
              ByteView(reinterpret_cast<const std::byte*>(zeros), 48));
  static constexpr char kLevel[] = "sbat,1,2024010100\nefikexec-test,2\n";
  std::array<pe::SbatLevelEntry, 4> rows;
  auto level = pe::parse_sbat_level(
      ByteView(reinterpret_cast<const std::byte*>(kLevel), sizeof kLevel - 1), rows);
  FUZZ_ASSERT(level.has_value());

  for (bool with_level : {false, true}) {
    verifier::Policy policy{ByteView(reinterpret_cast<const std::byte*>(db.data()), db.size()),
                            ByteView(reinterpret_cast<const std::byte*>(dbx.data()), dbx.size()),
                            std::nullopt};
    if (with_level) policy.sbat_level = std::span<const pe::SbatLevelEntry>(level->entries);
    const verifier::Verdict first = verifier::verify_image(*image, policy, crypto, *workspace);
    const verifier::Verdict again = verifier::verify_image(*image, policy, crypto, *workspace);
    FUZZ_ASSERT(first.outcome == again.outcome && first.code == again.code);
    FUZZ_ASSERT(first.reason != nullptr);
    FUZZ_ASSERT(first.signature == verifier::kNoSignature || first.signature < signatures);
    if (first.outcome == verifier::Outcome::kMalformed)
      FUZZ_ASSERT(first.code != ErrorCode::kUntrusted && first.code != ErrorCode::kRevoked);
  }
  return 0;
}
