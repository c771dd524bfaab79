// SPDX-License-Identifier: MIT
// The DER reader's edge cases (X.690 §8.1, §10.1) and the X.509 parser over the fixture
// certificates: what they accept, and the typed error and offset of what they refuse.
#include <gtest/gtest.h>

#include "kexec/verify/crypto_openssl.hpp"
#include "verifier/der.hpp"
#include "verifier/x509.hpp"
#include "verify/support.hpp"

namespace efikexec::testing {
namespace {

using der::Element;
using der::Reader;

// The element's views point into `bytes`, which must outlive it.
Result<Element> single(const Bytes& bytes) { return der::read_single(view(bytes), 0x100, "test"); }

TEST(Der, ShortAndLongFormLengths) {
  auto empty = single({0x05, 0x00});
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->tag, der::kNull);
  EXPECT_EQ(empty->contents.size(), 0u);
  EXPECT_EQ(empty->offset, 0x100u);

  Bytes long_form = {0x04, 0x81, 0x80};
  long_form.resize(3 + 0x80, 0xaa);
  auto octets = single(long_form);
  ASSERT_TRUE(octets.has_value());
  EXPECT_EQ(octets->contents.size(), 0x80u);
  EXPECT_EQ(octets->contents_offset(), 0x103u);

  Bytes two_octets = {0x04, 0x82, 0x01, 0x00};
  two_octets.resize(4 + 0x100, 0);
  ASSERT_TRUE(single(two_octets).has_value());
}

TEST(Der, RefusesWhatDerForbids) {
  struct Case {
    Bytes bytes;
    ErrorCode code;
  };
  const Case cases[] = {
      {{0x30, 0x80, 0x00, 0x00}, ErrorCode::kMalformed},        // indefinite length
      {{0x04, 0x81, 0x05, 1, 2, 3, 4, 5}, ErrorCode::kMalformed},  // long form below 128
      {{0x04, 0x82, 0x00, 0x81}, ErrorCode::kMalformed},        // leading zero length octet
      {{0x04, 0xff}, ErrorCode::kMalformed},                    // reserved length octet
      {{0x1f, 0x81, 0x00, 0x00}, ErrorCode::kUnsupported},      // high-tag-number form
      {{0x04}, ErrorCode::kTruncated},                          // no length octets
      {{0x04, 0x05, 1, 2}, ErrorCode::kTruncated},              // contents past the end
      {{0x04, 0x84, 0xff, 0xff}, ErrorCode::kTruncated},        // length octets past the end
      {{0x04, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0}, ErrorCode::kOverflow},  // 9 length octets
      {{}, ErrorCode::kTruncated},
  };
  for (const Case& c : cases) {
    auto element = single(c.bytes);
    ASSERT_FALSE(element.has_value()) << ::testing::PrintToString(c.bytes);
    EXPECT_EQ(element.error().code, c.code) << element.error().message;
    EXPECT_EQ(element.error().offset, 0x100u);
  }
  // Eight length octets decode without overflow, then run past the end.
  const Bytes huge_bytes = {0x04, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  auto huge = single(huge_bytes);
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().code, ErrorCode::kTruncated);
  // Trailing bytes after a single element.
  const Bytes trailing_bytes = {0x05, 0x00, 0x00};
  auto trailing = single(trailing_bytes);
  ASSERT_FALSE(trailing.has_value());
  EXPECT_EQ(trailing.error().offset, 0x102u);
}

TEST(Der, ReaderWalksOneLevelAndFinishes) {
  const Bytes bytes = {0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0x07};
  auto outer = single(bytes);
  ASSERT_TRUE(outer.has_value());
  auto inner = Reader::into(*outer, "sequence");
  ASSERT_TRUE(inner.has_value());
  EXPECT_EQ(inner->depth(), 1u);
  auto absent = inner->optional(der::kBoolean, "boolean");
  ASSERT_TRUE(absent.has_value());
  EXPECT_FALSE(absent->has_value());
  auto number = inner->expect(der::kInteger, "integer");
  ASSERT_TRUE(number.has_value());
  EXPECT_EQ(der::small_integer(*number, "integer").value(), 5u);
  EXPECT_FALSE(inner->finish("left").has_value());
  auto wrong = inner->expect(der::kInteger, "integer");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().offset, 0x105u);
  ASSERT_TRUE(inner->next("octets").has_value());
  EXPECT_TRUE(inner->finish("left").has_value());
  // An inner element longer than its container.
  const Bytes overlong_bytes = {0x30, 0x03, 0x04, 0x05, 0x00};
  auto overlong = single(overlong_bytes);
  ASSERT_TRUE(overlong.has_value());
  auto contents = Reader::into(*overlong, "sequence");
  ASSERT_TRUE(contents.has_value());
  auto past = contents->next("octets");
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code, ErrorCode::kTruncated);
}

TEST(Der, NestingDepthIsBounded) {
  auto nested = [](unsigned depth) {
    Bytes bytes = {0x05, 0x00};
    for (unsigned i = 0; i < depth; ++i) {
      Bytes outer = {0x30, static_cast<std::uint8_t>(bytes.size())};
      if (bytes.size() >= 0x80) outer = {0x30, 0x81, static_cast<std::uint8_t>(bytes.size())};
      outer.insert(outer.end(), bytes.begin(), bytes.end());
      bytes = outer;
    }
    return bytes;
  };
  EXPECT_TRUE(der::check_framing(view(nested(der::kMaxDepth))).has_value());
  auto deep = der::check_framing(view(nested(der::kMaxDepth + 1)));
  ASSERT_FALSE(deep.has_value());
  EXPECT_EQ(deep.error().code, ErrorCode::kMalformed);
  // A Reader descends as far and no further.
  const Bytes bytes = nested(der::kMaxDepth + 1);
  auto element = der::read_single(view(bytes), 0, "outer");
  ASSERT_TRUE(element.has_value());
  unsigned levels = 0;
  for (;;) {
    auto inner = Reader::into(*element, "inner");
    if (!inner) break;
    auto next = inner->next("next");
    ASSERT_TRUE(next.has_value());
    element = next;
    ++levels;
  }
  EXPECT_EQ(levels, der::kMaxDepth);
}

TEST(Der, IntegersBitStringsBooleans) {
  auto integer = [](Bytes bytes) {
    Element element;
    element.tag = der::kInteger;
    static Bytes storage;
    storage = std::move(bytes);
    element.contents = view(storage);
    return element;
  };
  EXPECT_EQ(der::unsigned_integer(integer({0x00, 0x80}), "i")->size(), 1u);  // sign octet stripped
  EXPECT_FALSE(der::unsigned_integer(integer({0x00, 0x7f}), "i").has_value());  // not minimal
  EXPECT_FALSE(der::unsigned_integer(integer({0x80}), "i").has_value());        // negative
  EXPECT_FALSE(der::unsigned_integer(integer({}), "i").has_value());            // empty
  EXPECT_FALSE(der::small_integer(integer({0x01, 0, 0, 0, 0}), "i").has_value());

  const Bytes bits = {0x03, 0x02, 0x05, 0xa0};
  auto element = single(bits);
  ASSERT_TRUE(element.has_value());
  unsigned unused = 0;
  EXPECT_EQ(der::bit_string(*element, "b", &unused)->size(), 1u);
  EXPECT_EQ(unused, 5u);
  EXPECT_FALSE(der::bit_string(*single({0x03, 0x01, 0x01}), "b").has_value());
  EXPECT_FALSE(der::bit_string(*single({0x03, 0x02, 0x08, 0x00}), "b").has_value());
  EXPECT_TRUE(der::boolean(*single({0x01, 0x01, 0xff}), "t").value());
  EXPECT_FALSE(der::boolean(*single({0x01, 0x01, 0x00}), "t").value());
  EXPECT_FALSE(der::boolean(*single({0x01, 0x01, 0x01}), "t").has_value());  // DER: 0xff only
}

TEST(X509, FixtureCertificates) {
  struct Case {
    const char* name;
    int ca_rating;
    std::size_t modulus_bytes;
  };
  for (const Case& c : {Case{"rsa2048", 0, 256}, Case{"rsa4096", 0, 512}, Case{"root", 1, 384},
                        Case{"intermediate", 1, 256}, Case{"leaf", 0, 256}}) {
    const Bytes der = read_bytes(verify_fixture(std::string("keys/") + c.name + ".der"));
    auto certificate = verifier::parse_certificate(view(der));
    ASSERT_TRUE(certificate.has_value()) << c.name << ": " << certificate.error().message;
    EXPECT_EQ(certificate->version, 2u) << c.name;
    EXPECT_EQ(verifier::ca_rating(*certificate), c.ca_rating) << c.name;
    ASSERT_TRUE(certificate->rsa_key.has_value()) << c.name;
    EXPECT_EQ(certificate->rsa_key->modulus.size(), c.modulus_bytes) << c.name;
    EXPECT_EQ(certificate->signature_digest, pe::HashAlgorithm::kSha256) << c.name;
    EXPECT_FALSE(certificate->unusable_extension) << c.name;
    // The TBSCertificate is the one OpenSSL splits off (what dbx TBS hashes cover).
    kexec::OsslPtr<X509> parsed;
    const unsigned char* p = der.data();
    parsed.reset(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(der::same_bytes(certificate->tbs, view(kexec::x509_tbs_der(parsed.get()))))
        << c.name;
  }
  const Bytes leaf = read_bytes(verify_fixture("keys/leaf.der"));
  const Bytes intermediate = read_bytes(verify_fixture("keys/intermediate.der"));
  auto leaf_certificate = verifier::parse_certificate(view(leaf));
  auto intermediate_certificate = verifier::parse_certificate(view(intermediate));
  ASSERT_TRUE(leaf_certificate && intermediate_certificate);
  EXPECT_TRUE(verifier::may_have_issued(*intermediate_certificate, *leaf_certificate));
  EXPECT_FALSE(verifier::may_have_issued(*leaf_certificate, *intermediate_certificate));
}

TEST(X509, EveryTruncationIsRefused) {
  const Bytes der = read_bytes(verify_fixture("keys/root.der"));
  for (std::size_t size = 0; size < der.size(); ++size) {
    auto certificate = verifier::parse_certificate(ByteView(view(der).data(), size));
    ASSERT_FALSE(certificate.has_value()) << size;
    EXPECT_LE(certificate.error().offset, size) << size;
  }
  Bytes longer = der;
  longer.push_back(0);
  EXPECT_FALSE(verifier::parse_certificate(view(longer)).has_value());
}

}  // namespace
}  // namespace efikexec::testing
