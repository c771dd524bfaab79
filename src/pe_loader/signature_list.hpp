// SPDX-License-Identifier: MIT
// EFI signature databases (UEFI 2.10 §32.4.1 "Signature Database"): `db`, `dbx` and `.esl` files
// are a sequence of EFI_SIGNATURE_LISTs, each a typed array of equally sized EFI_SIGNATURE_DATA.
// `.auth` files put an EFI_VARIABLE_AUTHENTICATION_2 (§8.2.2) in front of them. A database with
// any malformed list is unusable as a whole: callers must fail closed (EDK2 CVE-2019-14575).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "byte_view.hpp"
#include "crypto.hpp"

namespace efikexec::pe {

// An EFI_GUID as stored: Data1-3 little-endian, Data4 as bytes.
struct Guid {
  std::array<std::uint8_t, 16> bytes;
  friend constexpr bool operator==(const Guid&, const Guid&) = default;
};

constexpr Guid make_guid(std::uint32_t d1, std::uint16_t d2, std::uint16_t d3,
                         std::array<std::uint8_t, 8> d4) {
  Guid guid{};
  for (int i = 0; i < 4; ++i) guid.bytes[i] = static_cast<std::uint8_t>(d1 >> (8 * i));
  for (int i = 0; i < 2; ++i) guid.bytes[4 + i] = static_cast<std::uint8_t>(d2 >> (8 * i));
  for (int i = 0; i < 2; ++i) guid.bytes[6 + i] = static_cast<std::uint8_t>(d3 >> (8 * i));
  for (int i = 0; i < 8; ++i) guid.bytes[8 + i] = d4[i];
  return guid;
}

// UEFI 2.10 §32.4.1.
inline constexpr Guid kCertSha1Guid =
    make_guid(0x826ca512, 0xcf10, 0x4ac9, {0xb1, 0x87, 0xbe, 0x01, 0x49, 0x66, 0x31, 0xbd});
inline constexpr Guid kCertSha256Guid =
    make_guid(0xc1c41626, 0x504c, 0x4092, {0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28});
inline constexpr Guid kCertSha384Guid =
    make_guid(0xff3e5307, 0x9fd0, 0x48c9, {0x85, 0xf1, 0x8a, 0xd5, 0x6c, 0x70, 0x1e, 0x01});
inline constexpr Guid kCertSha512Guid =
    make_guid(0x093e0fae, 0xa6c4, 0x4f50, {0x9f, 0x1b, 0xd4, 0x1e, 0x2b, 0x89, 0xc1, 0x9a});
inline constexpr Guid kCertX509Guid =
    make_guid(0xa5c059a1, 0x94e4, 0x4aa7, {0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72});
inline constexpr Guid kCertX509Sha256Guid =
    make_guid(0x3bd2a492, 0x96c0, 0x4079, {0xb4, 0x20, 0xfc, 0xf9, 0x8e, 0xf1, 0x03, 0xed});
inline constexpr Guid kCertX509Sha384Guid =
    make_guid(0x7076876e, 0x80c2, 0x4ee6, {0xaa, 0xd2, 0x28, 0xb3, 0x49, 0xa6, 0x86, 0x5b});
inline constexpr Guid kCertX509Sha512Guid =
    make_guid(0x446dbf63, 0x2502, 0x4cda, {0xbc, 0xfa, 0x24, 0x65, 0xd2, 0xb0, 0xfe, 0x9d});
inline constexpr Guid kCertTypePkcs7Guid =
    make_guid(0x4aafd29d, 0x68df, 0x49ee, {0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7});
// EFI_IMAGE_SECURITY_DATABASE_GUID (db, dbx) and shim's SBAT variables' vendor GUID.
inline constexpr Guid kImageSecurityDatabaseGuid =
    make_guid(0xd719b2cb, 0x3d3a, 0x4596, {0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f});
inline constexpr Guid kShimLockGuid =
    make_guid(0x605dab50, 0xe046, 0x4300, {0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23});

enum class SignatureKind : std::uint8_t {
  kImageHash,        // EFI_CERT_SHAxxx: the Authenticode hash of an image
  kCertificate,      // EFI_CERT_X509: a DER certificate
  kCertificateHash,  // EFI_CERT_X509_SHAxxx: hash of a certificate's TBSCertificate + revocation time
  kOther,            // a type efikexec does not use (RSA2048, ...): kept, never matches
};

struct SignatureType {
  SignatureKind kind;
  HashAlgorithm algorithm;  // for kImageHash and kCertificateHash
};
SignatureType classify_signature_type(const Guid& type);

// EFI_SIGNATURE_LIST header (§32.4.1).
struct EfiSignatureListHeader {
  std::uint8_t SignatureType[16];
  Le32 SignatureListSize;
  Le32 SignatureHeaderSize;
  Le32 SignatureSize;
};
static_assert(sizeof(EfiSignatureListHeader) == 28);

struct SignatureEntry {
  Guid type_guid;
  SignatureType type;
  Guid owner;       // SignatureOwner
  ByteView data;    // SignatureData: SignatureSize - 16 bytes
  std::uint64_t offset;  // of the EFI_SIGNATURE_DATA
};

// Walks every signature of every list, in order. A list with a size that overflows, runs past
// the data, is too small for its header, does not divide into SignatureSize, or whose
// SignatureSize does not match its fixed-size type is an error.
class SignatureListReader {
 public:
  explicit SignatureListReader(ByteView lists) : lists_(lists) {}
  Result<std::optional<SignatureEntry>> next();

 private:
  Result<void> open_list();

  ByteView lists_;
  std::uint64_t list_end_ = 0;      // end of the current list; 0 before the first
  std::uint64_t next_entry_ = 0;    // offset of the next EFI_SIGNATURE_DATA in the current list
  std::uint32_t entry_size_ = 0;
  Guid type_{};
};

// Checks every list of a database; returns the number of signatures.
Result<std::size_t> validate_signature_lists(ByteView lists);

// The EFI_SIGNATURE_LISTs after an EFI_VARIABLE_AUTHENTICATION_2 header (§8.2.2), or kNotFound
// when `bytes` does not start with one (a plain `.esl`). The header's signature is not checked:
// whoever passes the file to efikexec vouches for it, as when it is enrolled.
Result<ByteView> authenticated_variable_payload(ByteView bytes);

}  // namespace efikexec::pe
