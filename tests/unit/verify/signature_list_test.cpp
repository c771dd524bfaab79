// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <cstring>

#include "pe_loader/signature_list.hpp"
#include "support/pe_builder.hpp"

namespace efikexec::testing {
namespace {

Bytes guid_bytes(const pe::Guid& guid) { return Bytes(guid.bytes.begin(), guid.bytes.end()); }

// One EFI_SIGNATURE_LIST of `count` signatures of `data_size` bytes each.
Bytes signature_list(const pe::Guid& type, std::size_t count, std::size_t data_size,
                     std::size_t header_size = 0) {
  Bytes list = guid_bytes(type);
  list.resize(28 + header_size, 0);
  put32(list, 16, static_cast<std::uint32_t>(28 + header_size + count * (16 + data_size)));
  put32(list, 20, static_cast<std::uint32_t>(header_size));
  put32(list, 24, static_cast<std::uint32_t>(16 + data_size));
  for (std::size_t i = 0; i < count; ++i) {
    Bytes owner(16, static_cast<std::uint8_t>(0xa0 + i));
    list.insert(list.end(), owner.begin(), owner.end());
    list.insert(list.end(), data_size, static_cast<std::uint8_t>(i));
  }
  return list;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

ErrorCode error_of(const Bytes& lists) {
  auto count = pe::validate_signature_lists(view(lists));
  EXPECT_FALSE(count.has_value());
  return count ? ErrorCode{} : count.error().code;
}

TEST(SignatureList, WalksEveryListAndEntry) {
  const Bytes lists = concat(concat(signature_list(pe::kCertSha256Guid, 2, 32),
                                    signature_list(pe::kCertX509Guid, 0, 100)),
                             signature_list(pe::kCertX509Sha384Guid, 1, 48 + 16, 4));
  pe::SignatureListReader reader(view(lists));
  std::vector<pe::SignatureEntry> entries;
  for (;;) {
    auto next = reader.next();
    ASSERT_TRUE(next.has_value());
    if (!*next) break;
    entries.push_back(**next);
  }
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].type.kind, pe::SignatureKind::kImageHash);
  EXPECT_EQ(entries[0].type.algorithm, pe::HashAlgorithm::kSha256);
  EXPECT_EQ(entries[0].data.size(), 32u);
  EXPECT_EQ(entries[1].owner.bytes[0], 0xa1);
  EXPECT_EQ(std::to_integer<int>(entries[1].data.data()[0]), 1);
  EXPECT_EQ(entries[2].type.kind, pe::SignatureKind::kCertificateHash);
  EXPECT_EQ(entries[2].type.algorithm, pe::HashAlgorithm::kSha384);
  EXPECT_EQ(entries[2].offset, 2 * 28 + 2 * 48 + 28 + 4u);
  EXPECT_EQ(*pe::validate_signature_lists(view(lists)), 3u);
  EXPECT_EQ(*pe::validate_signature_lists(view(Bytes{})), 0u);
}

TEST(SignatureList, UnknownTypesAreKeptButNeverClassified) {
  pe::Guid rsa2048 =
      pe::make_guid(0x3c5766e8, 0x269c, 0x4e34, {0xaa, 0x14, 0xed, 0x77, 0x6e, 0x85, 0xb3, 0xb6});
  const Bytes list = signature_list(rsa2048, 1, 256);
  pe::SignatureListReader reader(view(list));
  auto entry = reader.next();
  ASSERT_TRUE(entry.has_value() && entry->has_value());
  EXPECT_EQ((*entry)->type.kind, pe::SignatureKind::kOther);
}

TEST(SignatureList, RejectsMalformedLists) {
  Bytes list = signature_list(pe::kCertSha256Guid, 2, 32);
  EXPECT_EQ(error_of(Bytes(list.begin(), list.begin() + 20)), ErrorCode::kTruncated);
  Bytes bad = list;
  put32(bad, 16, 27);  // below the header
  EXPECT_EQ(error_of(bad), ErrorCode::kMalformed);
  bad = list;
  put32(bad, 16, 0xffffffff);  // past the data
  EXPECT_EQ(error_of(bad), ErrorCode::kOutOfRange);
  bad = list;
  put32(bad, 20, 0xfffffff0);  // header past the list
  EXPECT_EQ(error_of(bad), ErrorCode::kOutOfRange);
  bad = list;
  put32(bad, 24, 16);  // no signature data
  EXPECT_EQ(error_of(bad), ErrorCode::kMalformed);
  bad = list;
  put32(bad, 24, 0);  // division by zero, if anyone divided first
  EXPECT_EQ(error_of(bad), ErrorCode::kMalformed);
  bad = signature_list(pe::kCertX509Guid, 3, 40);
  put32(bad, 24, 16 + 50);  // 168 bytes of signatures do not divide into 66
  EXPECT_EQ(error_of(bad), ErrorCode::kMalformed);
  EXPECT_EQ(error_of(signature_list(pe::kCertSha256Guid, 1, 20)), ErrorCode::kMalformed);
  EXPECT_EQ(error_of(signature_list(pe::kCertX509Sha256Guid, 1, 32)), ErrorCode::kMalformed);
  // A good list followed by garbage fails the whole database.
  EXPECT_EQ(error_of(concat(list, Bytes(5, 0xff))), ErrorCode::kTruncated);
}

Bytes auth2_header(std::size_t cert_data, std::uint16_t type = 0x0ef1) {
  Bytes header(16 + 8, 0);
  put32(header, 16, static_cast<std::uint32_t>(24 + cert_data));
  put16(header, 20, 0x0200);
  put16(header, 22, type);
  const Bytes guid = guid_bytes(pe::kCertTypePkcs7Guid);
  header.insert(header.end(), guid.begin(), guid.end());
  header.insert(header.end(), cert_data, 0x30);
  return header;
}

TEST(AuthenticatedVariable, SkipsTheHeader) {
  const Bytes list = signature_list(pe::kCertSha256Guid, 1, 32);
  const Bytes file = concat(auth2_header(7), list);
  auto payload = pe::authenticated_variable_payload(view(file));
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(payload->size(), list.size());
  EXPECT_EQ(std::memcmp(payload->data(), list.data(), list.size()), 0);
  // A plain list is not an authenticated variable.
  EXPECT_EQ(pe::authenticated_variable_payload(view(list)).error().code, ErrorCode::kNotFound);
}

TEST(AuthenticatedVariable, RejectsBrokenHeaders) {
  Bytes file = auth2_header(7);
  put32(file, 16, 1000);
  EXPECT_EQ(pe::authenticated_variable_payload(view(file)).error().code, ErrorCode::kOutOfRange);
  put32(file, 16, 10);
  EXPECT_EQ(pe::authenticated_variable_payload(view(file)).error().code, ErrorCode::kMalformed);
  file = auth2_header(7);
  file[24] ^= 1;  // CertType
  EXPECT_EQ(pe::authenticated_variable_payload(view(file)).error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace efikexec::testing
