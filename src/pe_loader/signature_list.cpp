// SPDX-License-Identifier: MIT
#include "signature_list.hpp"

#include <cstring>

#include "authenticode.hpp"

namespace efikexec::pe {

namespace {

// EFI_VARIABLE_AUTHENTICATION_2 = EFI_TIME (16 bytes) + WIN_CERTIFICATE_UEFI_GUID.
constexpr std::uint64_t kEfiTimeSize = 16;
constexpr std::uint16_t kWinCertTypeEfiGuid = 0x0ef1;
constexpr std::uint64_t kWinCertificateUefiGuidHeader = 8 + 16;  // WIN_CERTIFICATE + CertType
constexpr std::uint32_t kOwnerSize = 16;                         // EFI_SIGNATURE_DATA.SignatureOwner

Guid read_guid(ByteView bytes, std::uint64_t offset) {
  Guid guid{};
  std::memcpy(guid.bytes.data(), bytes.data() + offset, guid.bytes.size());
  return guid;
}

// SignatureData size of the fixed-size types (§32.4.1: hash, or TBS hash + EFI_TIME).
std::optional<std::uint32_t> fixed_data_size(SignatureType type) {
  switch (type.kind) {
    case SignatureKind::kImageHash: return static_cast<std::uint32_t>(digest_size(type.algorithm));
    case SignatureKind::kCertificateHash:
      return static_cast<std::uint32_t>(digest_size(type.algorithm) + kEfiTimeSize);
    case SignatureKind::kCertificate:
    case SignatureKind::kOther: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

SignatureType classify_signature_type(const Guid& type) {
  static constexpr struct {
    const Guid* guid;
    SignatureType type;
  } kTypes[] = {
      {&kCertSha1Guid, {SignatureKind::kImageHash, HashAlgorithm::kSha1}},
      {&kCertSha256Guid, {SignatureKind::kImageHash, HashAlgorithm::kSha256}},
      {&kCertSha384Guid, {SignatureKind::kImageHash, HashAlgorithm::kSha384}},
      {&kCertSha512Guid, {SignatureKind::kImageHash, HashAlgorithm::kSha512}},
      {&kCertX509Guid, {SignatureKind::kCertificate, HashAlgorithm::kSha256}},
      {&kCertX509Sha256Guid, {SignatureKind::kCertificateHash, HashAlgorithm::kSha256}},
      {&kCertX509Sha384Guid, {SignatureKind::kCertificateHash, HashAlgorithm::kSha384}},
      {&kCertX509Sha512Guid, {SignatureKind::kCertificateHash, HashAlgorithm::kSha512}},
  };
  for (const auto& known : kTypes)
    if (*known.guid == type) return known.type;
  return {SignatureKind::kOther, HashAlgorithm::kSha256};
}

Result<void> SignatureListReader::open_list() {
  const std::uint64_t at = list_end_;
  auto header = lists_.read<EfiSignatureListHeader>(at, "EFI_SIGNATURE_LIST header truncated");
  if (!header) return std::unexpected(header.error());
  const std::uint64_t list_size = header->SignatureListSize;
  const std::uint64_t header_size = header->SignatureHeaderSize;
  const std::uint64_t entry_size = header->SignatureSize;
  if (list_size < sizeof(EfiSignatureListHeader))
    return fail(ErrorCode::kMalformed, "SignatureListSize below the list header", at + 16);
  if (!lists_.contains(at, list_size))
    return fail(ErrorCode::kOutOfRange, "EFI_SIGNATURE_LIST runs past the end of the data",
                at + 16);
  const std::uint64_t body = list_size - sizeof(EfiSignatureListHeader);
  if (header_size > body)
    return fail(ErrorCode::kOutOfRange, "SignatureHeaderSize runs past the list", at + 20);
  if (entry_size <= kOwnerSize)
    return fail(ErrorCode::kMalformed, "SignatureSize leaves no room for signature data", at + 24);
  if ((body - header_size) % entry_size != 0)
    return fail(ErrorCode::kMalformed, "signature list does not divide into SignatureSize",
                at + 24);
  type_ = read_guid(lists_, at);
  if (auto fixed = fixed_data_size(classify_signature_type(type_));
      fixed && entry_size != kOwnerSize + *fixed)
    return fail(ErrorCode::kMalformed, "SignatureSize does not match the signature type",
                at + 24);
  next_entry_ = at + sizeof(EfiSignatureListHeader) + header_size;
  list_end_ = at + list_size;
  entry_size_ = static_cast<std::uint32_t>(entry_size);
  return {};
}

Result<std::optional<SignatureEntry>> SignatureListReader::next() {
  // Empty lists (a header and no signatures) are legal; skip them.
  while (next_entry_ == list_end_) {
    if (list_end_ == lists_.size()) return std::nullopt;
    if (auto opened = open_list(); !opened) return std::unexpected(opened.error());
  }
  const std::uint64_t at = next_entry_;
  next_entry_ += entry_size_;
  return SignatureEntry{type_, classify_signature_type(type_), read_guid(lists_, at),
                        ByteView(lists_.data() + at + kOwnerSize, entry_size_ - kOwnerSize), at};
}

Result<std::size_t> validate_signature_lists(ByteView lists) {
  SignatureListReader reader(lists);
  std::size_t count = 0;
  for (;;) {
    auto entry = reader.next();
    if (!entry) return std::unexpected(entry.error());
    if (!*entry) return count;
    ++count;
  }
}

Result<ByteView> authenticated_variable_payload(ByteView bytes) {
  auto header = bytes.read<WinCertificateHeader>(kEfiTimeSize, "");
  if (!header || header->wRevision != kWinCertRevision2 ||
      header->wCertificateType != kWinCertTypeEfiGuid)
    return fail(ErrorCode::kNotFound, "no EFI_VARIABLE_AUTHENTICATION_2 header", kEfiTimeSize);
  const std::uint64_t length = header->dwLength;
  if (length < kWinCertificateUefiGuidHeader)
    return fail(ErrorCode::kMalformed, "authentication header dwLength below its own size",
                kEfiTimeSize);
  if (!bytes.contains(kEfiTimeSize, length))
    return fail(ErrorCode::kOutOfRange, "authentication header runs past the end of the file",
                kEfiTimeSize);
  if (read_guid(bytes, kEfiTimeSize + 8) != kCertTypePkcs7Guid)
    return fail(ErrorCode::kUnsupported, "authentication header CertType is not PKCS7",
                kEfiTimeSize + 8);
  const std::uint64_t payload = kEfiTimeSize + length;
  return ByteView(bytes.data() + payload, bytes.size() - payload);
}

}  // namespace efikexec::pe
