// SPDX-License-Identifier: MIT
#include "der.hpp"

#include <cstring>

namespace efikexec::der {

namespace {

std::uint8_t byte_at(ByteView bytes, std::size_t index) {
  return static_cast<std::uint8_t>(bytes.data()[index]);
}

// Decodes the TLV at `position` of `bytes` (X.690 §8.1.2 identifier, §8.1.3 length).
Result<Element> decode(ByteView bytes, std::size_t position, std::uint64_t base, unsigned depth,
                       const char* what) {
  const std::uint64_t at = base + position;
  if (position >= bytes.size()) return fail(ErrorCode::kTruncated, what, at);
  const std::size_t left = bytes.size() - position;
  const std::uint8_t tag = byte_at(bytes, position);
  if ((tag & 0x1f) == 0x1f)
    return fail(ErrorCode::kUnsupported, "DER identifier in the high-tag-number form", at);
  if (left < 2) return fail(ErrorCode::kTruncated, "DER length octets missing", at);
  const std::uint8_t first = byte_at(bytes, position + 1);
  std::size_t header = 2;
  std::uint64_t length = first;
  if (first == 0x80) return fail(ErrorCode::kMalformed, "DER indefinite length", at);
  if (first == 0xff) return fail(ErrorCode::kMalformed, "DER length octet 0xff is reserved", at);
  if (first > 0x80) {
    const unsigned count = first & 0x7f;
    if (count > sizeof(std::uint64_t))
      return fail(ErrorCode::kOverflow, "DER length does not fit in 64 bits", at);
    if (left - 2 < count) return fail(ErrorCode::kTruncated, "DER length octets truncated", at);
    length = 0;
    for (unsigned i = 0; i < count; ++i) length = (length << 8) | byte_at(bytes, position + 2 + i);
    // X.690 §10.1: the fewest octets, and the short form below 128.
    if (byte_at(bytes, position + 2) == 0 || length < 0x80)
      return fail(ErrorCode::kMalformed, "DER length not in its shortest form", at);
    header += count;
  }
  if (length > left - header) return fail(ErrorCode::kTruncated, what, at);
  Element element;
  element.tag = tag;
  element.encoding = ByteView(bytes.data() + position, header + static_cast<std::size_t>(length));
  element.contents = ByteView(bytes.data() + position + header, static_cast<std::size_t>(length));
  element.offset = at;
  element.depth = depth;
  return element;
}

Result<void> check_level(ByteView bytes, std::uint64_t base, unsigned depth) {
  std::size_t position = 0;
  while (position < bytes.size()) {
    auto element = decode(bytes, position, base, depth, "DER element truncated");
    if (!element) return std::unexpected(element.error());
    if (element->constructed()) {
      if (depth + 1 > kMaxDepth)
        return fail(ErrorCode::kMalformed, "DER nesting deeper than allowed", element->offset);
      if (auto inner = check_level(element->contents, element->contents_offset(), depth + 1);
          !inner)
        return inner;
    }
    position += element->encoding.size();
  }
  return {};
}

}  // namespace

std::optional<std::uint8_t> Reader::peek_tag() const {
  if (at_end()) return std::nullopt;
  return byte_at(bytes_, position_);
}

Result<Element> Reader::next(const char* what) {
  auto element = decode(bytes_, position_, base_, depth_, what);
  if (element) position_ += element->encoding.size();
  return element;
}

Result<Element> Reader::expect(std::uint8_t tag, const char* what) {
  if (peek_tag() != tag) return fail(ErrorCode::kMalformed, what, base_ + position_);
  return next(what);
}

Result<std::optional<Element>> Reader::optional(std::uint8_t tag, const char* what) {
  if (peek_tag() != tag) return std::optional<Element>();
  auto element = next(what);
  if (!element) return std::unexpected(element.error());
  return std::optional<Element>(*element);
}

Result<Reader> Reader::enter(std::uint8_t tag, const char* what) {
  auto element = expect(tag, what);
  if (!element) return std::unexpected(element.error());
  return into(*element, what);
}

Result<Reader> Reader::into(const Element& element, const char* what) {
  if (!element.constructed()) return fail(ErrorCode::kMalformed, what, element.offset);
  if (element.depth + 1 > kMaxDepth)
    return fail(ErrorCode::kMalformed, "DER nesting deeper than allowed", element.offset);
  Reader inner(element.contents, element.contents_offset());
  inner.depth_ = element.depth + 1;
  return inner;
}

Result<void> Reader::finish(const char* what) const {
  if (!at_end()) return fail(ErrorCode::kMalformed, what, base_ + position_);
  return {};
}

Result<Element> read_single(ByteView bytes, std::uint64_t base, const char* what) {
  Reader reader(bytes, base);
  auto element = reader.next(what);
  if (!element) return element;
  if (auto done = reader.finish("bytes after a DER element"); !done)
    return std::unexpected(done.error());
  return element;
}

Result<void> check_framing(ByteView bytes, std::uint64_t base) {
  return check_level(bytes, base, 0);
}

Result<ByteView> unsigned_integer(const Element& element, const char* what) {
  if (element.tag != kInteger || element.contents.empty())
    return fail(ErrorCode::kMalformed, what, element.offset);
  ByteView value = element.contents;
  const std::uint8_t lead = byte_at(value, 0);
  if (lead & 0x80) return fail(ErrorCode::kMalformed, what, element.offset);  // negative
  if (value.size() > 1) {
    // X.690 §8.3.2: the first nine bits are never all zero (nor all one).
    if (lead == 0 && (byte_at(value, 1) & 0x80) == 0)
      return fail(ErrorCode::kMalformed, "DER INTEGER not in its shortest form", element.offset);
    if (lead == 0) value = ByteView(value.data() + 1, value.size() - 1);
  }
  return value;
}

Result<std::uint32_t> small_integer(const Element& element, const char* what) {
  auto magnitude = unsigned_integer(element, what);
  if (!magnitude) return std::unexpected(magnitude.error());
  if (magnitude->size() > 4) return fail(ErrorCode::kOverflow, what, element.offset);
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < magnitude->size(); ++i) value = (value << 8) | byte_at(*magnitude, i);
  return value;
}

Result<ByteView> bit_string(const Element& element, const char* what, unsigned* unused) {
  if (element.tag != kBitString || element.contents.empty())
    return fail(ErrorCode::kMalformed, what, element.offset);
  const std::uint8_t bits = byte_at(element.contents, 0);
  if (bits > 7 || (bits != 0 && element.contents.size() == 1))
    return fail(ErrorCode::kMalformed, what, element.offset);
  if (unused) *unused = bits;
  return ByteView(element.contents.data() + 1, element.contents.size() - 1);
}

Result<bool> boolean(const Element& element, const char* what, bool any_true) {
  if (element.tag != kBoolean || element.contents.size() != 1)
    return fail(ErrorCode::kMalformed, what, element.offset);
  const std::uint8_t value = byte_at(element.contents, 0);
  if (!any_true && value != 0 && value != 0xff)
    return fail(ErrorCode::kMalformed, what, element.offset);
  return value != 0;
}

Result<void> check_any(const Element& element) {
  constexpr std::uint8_t kBmpString = 0x1e;
  constexpr std::uint8_t kUniversalString = 0x1c;
  const std::size_t size = element.contents.size();
  bool valid = true;
  switch (element.tag) {
    case kNull: valid = size == 0; break;
    case kBoolean: valid = size == 1; break;
    case kInteger:
      // X.690 §8.3.2: not empty, and the first nine bits neither all zero nor all one.
      valid = size > 0 && !(size > 1 && ((byte_at(element.contents, 0) == 0x00 &&
                                          (byte_at(element.contents, 1) & 0x80) == 0) ||
                                         (byte_at(element.contents, 0) == 0xff &&
                                          (byte_at(element.contents, 1) & 0x80) != 0)));
      break;
    case kObjectIdentifier:
      // X.690 §8.19.2: subidentifiers in base 128, the last octet of each with bit 8 clear, and
      // no leading 0x80 octet.
      valid = size > 0 && (byte_at(element.contents, size - 1) & 0x80) == 0;
      for (std::size_t i = 0; valid && i < size; ++i)
        if (byte_at(element.contents, i) == 0x80 &&
            (i == 0 || (byte_at(element.contents, i - 1) & 0x80) == 0))
          valid = false;
      break;
    case kBitString: valid = bit_string(element, "").has_value(); break;
    case kBmpString: valid = size % 2 == 0; break;
    case kUniversalString: valid = size % 4 == 0; break;
    default: break;
  }
  if (!valid) return fail(ErrorCode::kMalformed, "DER value invalid for its type", element.offset);
  return {};
}

bool same_bytes(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

bool is_oid(const Element& element, std::span<const std::uint8_t> oid) {
  return element.tag == kObjectIdentifier &&
         same_bytes(element.contents, ByteView(reinterpret_cast<const std::byte*>(oid.data()),
                                               oid.size()));
}

}  // namespace efikexec::der
