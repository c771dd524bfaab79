// SPDX-License-Identifier: MIT
// The verifier's chain walk (verifier::find_chain) over the fixture chain root -> intermediate
// -> leaf with real signatures, and its bound on work when carried certificates all claim to
// issue one another.
#include <gtest/gtest.h>

#include <deque>

#include "verifier/bearssl_crypto.hpp"
#include "verifier/signature_lists.hpp"
#include "verifier/verify.hpp"
#include "verify/support.hpp"

namespace efikexec::testing {
namespace {

using verifier::Certificate;

// Keeps the DER bytes the parsed certificates point into.
class Certificates {
 public:
  const Certificate& add(Bytes der) {
    bytes_.push_back(std::move(der));
    auto parsed = verifier::parse_certificate(view(bytes_.back()));
    EXPECT_TRUE(parsed.has_value());
    parsed_.push_back(*parsed);
    return parsed_.back();
  }
  const Certificate& fixture(const std::string& name) {
    return add(read_bytes(verify_fixture("keys/" + name + ".der")));
  }

 private:
  std::deque<Bytes> bytes_;
  std::deque<Certificate> parsed_;
};

Bytes anchors_of(std::initializer_list<std::string> names) {
  Bytes lists;
  for (const std::string& name : names)
    append_list(lists, pe::kCertX509Guid, read_bytes(verify_fixture("keys/" + name + ".der")));
  return lists;
}

TEST(Chain, FromTheLeafToAnyCertificateOfTheChain) {
  verifier::BearSslCrypto crypto;
  Certificates certificates;
  const Certificate& leaf = certificates.fixture("leaf");
  const Certificate& intermediate = certificates.fixture("intermediate");
  const std::array<Certificate, 2> carried = {leaf, intermediate};
  std::array<Certificate, verifier::kMaxChainLength> chain;
  struct Case {
    std::initializer_list<std::string> anchors;
    std::size_t length;
  };
  for (const Case& c : {Case{{"root"}, 3}, Case{{"intermediate"}, 2}, Case{{"leaf"}, 1},
                        Case{{"rsa2048"}, 0}, Case{{"rsa2048", "root"}, 3}}) {
    const Bytes anchors = anchors_of(c.anchors);
    EXPECT_EQ(verifier::find_chain(leaf, view(anchors), carried, crypto, chain), c.length)
        << *c.anchors.begin();
  }
  // Without the intermediate there is no path to the root.
  const Bytes root = anchors_of({"root"});
  EXPECT_EQ(verifier::find_chain(leaf, view(root), std::span(carried).first(1), crypto, chain), 0u);
  // A signer certificate (CA:FALSE) issues nothing, even as an anchor.
  const Certificate& rsa2048 = certificates.fixture("rsa2048");
  const Bytes leaf_anchor = anchors_of({"leaf"});
  EXPECT_EQ(verifier::find_chain(rsa2048, view(leaf_anchor), carried, crypto, chain), 0u);
}

// Accepts every signature and counts the checks.
class AcceptingCrypto final : public verifier::Crypto {
 public:
  pe::Hasher& begin_digest(pe::HashAlgorithm algorithm) override {
    return real_.begin_digest(algorithm);
  }
  verifier::Digest finish_digest() override { return real_.finish_digest(); }
  bool rsa_pkcs1_verify(const verifier::RsaPublicKey&, pe::HashAlgorithm, ByteView,
                        ByteView) override {
    ++checks;
    return true;
  }
  std::size_t checks = 0;

 private:
  verifier::BearSslCrypto real_;
};

TEST(Chain, CrossIssuingCertificatesCannotMakeTheWalkExponential) {
  // Sixteen distinct copies of the self-issued root CA (their signatures differ in the last
  // byte): with every signature accepted each one issues every other, and the intermediate.
  Certificates certificates;
  const Certificate& intermediate = certificates.fixture("intermediate");
  const Bytes root = read_bytes(verify_fixture("keys/root.der"));
  std::vector<Certificate> carried;
  ASSERT_GT(root.size(), 16u);
  for (std::uint8_t i = 0; i < verifier::kMaxCarriedCertificates; ++i) {
    Bytes copy(root.begin(), root.end() - 1);
    copy.push_back(static_cast<std::uint8_t>(root.back() ^ (i + 1)));
    carried.push_back(certificates.add(std::move(copy)));
  }
  AcceptingCrypto crypto;
  std::array<Certificate, verifier::kMaxChainLength> chain;
  const Bytes unrelated = anchors_of({"rsa2048"});
  EXPECT_EQ(verifier::find_chain(intermediate, view(unrelated), carried, crypto, chain), 0u);
  EXPECT_LE(crypto.checks, verifier::kMaxIssuerChecks);
  // The same certificates still lead to an anchor that is among them.
  const Bytes anchors = anchors_of({"root"});
  crypto.checks = 0;
  EXPECT_EQ(verifier::find_chain(intermediate, view(anchors), carried, crypto, chain), 2u);
}

}  // namespace
}  // namespace efikexec::testing
