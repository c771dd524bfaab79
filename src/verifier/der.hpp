// SPDX-License-Identifier: MIT
// A bounds-checked reader for DER (ITU-T X.690 §8 basic rules, §10 distinguished rules), the
// encoding of X.509 certificates and PKCS#7 SignedData. It only hands out views into the input:
// nothing is copied or allocated, and every length is checked against what encloses it before
// it is used. What DER forbids is refused: the indefinite length (§10.1), lengths in more octets
// than needed (§10.1), and identifiers in the high-tag-number form, which no structure read here
// uses. Nesting is bounded so a crafted input cannot drive a recursive walk deep.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "pe_loader/byte_view.hpp"

// Binds `var` to the value of `expr` (a Result), or returns its error from the enclosing
// function, whose return type must be a Result too.
#define EFIKEXEC_TRY(var, expr)                                          \
  auto var##_result_ = (expr);                                           \
  if (!var##_result_) return std::unexpected(var##_result_.error());     \
  auto var = std::move(*var##_result_)

namespace efikexec::der {

// Deeper than any certificate or SignedData needs (a certificate extension sits at depth 6).
inline constexpr unsigned kMaxDepth = 32;

// Identifier octets (X.690 §8.1.2) of the universal types used here.
inline constexpr std::uint8_t kBoolean = 0x01;
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kBitString = 0x03;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kNull = 0x05;
inline constexpr std::uint8_t kObjectIdentifier = 0x06;
inline constexpr std::uint8_t kUtcTime = 0x17;
inline constexpr std::uint8_t kGeneralizedTime = 0x18;
inline constexpr std::uint8_t kSequence = 0x30;
inline constexpr std::uint8_t kSet = 0x31;
inline constexpr std::uint8_t kConstructed = 0x20;

// [n] in the context-specific class, constructed (EXPLICIT, or IMPLICIT over a SET/SEQUENCE).
constexpr std::uint8_t context_constructed(unsigned n) {
  return static_cast<std::uint8_t>(0xa0 | n);
}
// [n] in the context-specific class, primitive (IMPLICIT over a primitive type).
constexpr std::uint8_t context_primitive(unsigned n) { return static_cast<std::uint8_t>(0x80 | n); }

// One TLV. `offset` counts from the start of the outermost input the reader was given (plus the
// base offset it was given), so errors and callers can name a file offset.
struct Element {
  std::uint8_t tag = 0;
  ByteView encoding;  // identifier, length and contents
  ByteView contents;
  std::uint64_t offset = 0;
  unsigned depth = 0;  // of the reader that produced it

  bool constructed() const { return (tag & kConstructed) != 0; }
  std::uint64_t contents_offset() const { return offset + (encoding.size() - contents.size()); }
};

// Reads the elements of one level in order.
class Reader {
 public:
  Reader() = default;
  // `base` is the offset of bytes[0] in whatever the caller reports offsets against.
  explicit Reader(ByteView bytes, std::uint64_t base = 0) : bytes_(bytes), base_(base) {}

  bool at_end() const { return position_ == bytes_.size(); }
  // The identifier octet of the next element, if there is one.
  std::optional<std::uint8_t> peek_tag() const;

  // The next element, whatever its tag; `what` names it in errors.
  Result<Element> next(const char* what);
  // The next element, which must have `tag`.
  Result<Element> expect(std::uint8_t tag, const char* what);
  // The next element when its tag is `tag`; nothing (and nothing consumed) otherwise.
  Result<std::optional<Element>> optional(std::uint8_t tag, const char* what);
  // expect(tag), then a reader over its contents, one level deeper.
  Result<Reader> enter(std::uint8_t tag, const char* what);
  // Fails when elements are left: DER structures have no room for trailing bytes.
  Result<void> finish(const char* what) const;

  // A reader over the contents of an element this reader (or one at its depth) returned.
  static Result<Reader> into(const Element& element, const char* what);

  unsigned depth() const { return depth_; }

 private:
  ByteView bytes_;
  std::uint64_t base_ = 0;
  std::size_t position_ = 0;
  unsigned depth_ = 0;
};

// Reads exactly one element spanning all of `bytes` (nothing before or after it).
Result<Element> read_single(ByteView bytes, std::uint64_t base, const char* what);

// Walks every element of `bytes` and into every constructed one, to kMaxDepth: succeeds when the
// whole input is well-formed DER framing (contents of primitive types are not interpreted).
Result<void> check_framing(ByteView bytes, std::uint64_t base = 0);

// INTEGER contents (X.690 §8.3) as an unsigned big-endian magnitude: refuses an empty or
// non-minimal encoding and negative values; strips the sign octet a positive value may need.
Result<ByteView> unsigned_integer(const Element& element, const char* what);
// A small non-negative INTEGER (versions, path lengths).
Result<std::uint32_t> small_integer(const Element& element, const char* what);
// BIT STRING contents (X.690 §8.6) without the unused-bits octet; `unused` receives its value.
Result<ByteView> bit_string(const Element& element, const char* what, unsigned* unused = nullptr);
// BOOLEAN (X.690 §11.1: DER encodes TRUE as 0xff only). With `any_true`, any non-zero octet is
// TRUE, as BER (§8.2.2) and OpenSSL's decoder read it.
Result<bool> boolean(const Element& element, const char* what, bool any_true = false);
// The checks OpenSSL's decoder makes on a value of type ANY (attribute values, algorithm
// parameters, name values): a universal primitive must have valid contents for its type (NULL
// empty, BOOLEAN one octet, INTEGER minimal, OBJECT IDENTIFIER complete, BIT STRING with a valid
// unused-bits octet, BMPString / UniversalString whole characters). Constructed values are
// framed by the reader and not descended into.
Result<void> check_any(const Element& element);

// Byte equality of two views (DER names, OIDs, certificates are compared as their encodings).
bool same_bytes(ByteView a, ByteView b);
// True when `element` is an OBJECT IDENTIFIER whose contents are `oid` (the encoded arcs).
bool is_oid(const Element& element, std::span<const std::uint8_t> oid);

}  // namespace efikexec::der
