// SPDX-License-Identifier: MIT
// What an Authenticode signature covers, and the attribute certificate table that carries the
// signatures (Microsoft "Windows Authenticode Portable Executable Signature Format" 1.0, "Calculating
// the PE Image Hash"; PE/COFF §5.7 "The Attribute Certificate Table"). Whether a signature is
// trusted is the host's business (src/kexec/verify/verify.hpp); this file only says which bytes count
// and where the signatures are, for a validated Image.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "crypto.hpp"
#include "pe_image.hpp"

namespace efikexec::pe {

// PE/COFF §5.7: every entry starts with this header and is padded to an 8-byte boundary.
struct WinCertificateHeader {
  Le32 dwLength;  // header plus bCertificate, without the padding
  Le16 wRevision;
  Le16 wCertificateType;
};
static_assert(sizeof(WinCertificateHeader) == 8);

inline constexpr std::uint16_t kWinCertRevision2 = 0x0200;
inline constexpr std::uint16_t kWinCertTypePkcsSignedData = 0x0002;
// Real images carry one or two signatures; the bound keeps the table walk allocation-free.
inline constexpr std::size_t kMaxCertificates = 16;
// Headers (up to three pieces around CheckSum and the certificate entry), each section, the rest.
inline constexpr std::size_t kMaxHashRegions = 3 + kMaxSections + 1;

struct HashRegion {
  std::uint64_t offset;
  std::uint64_t size;
};

// One WIN_CERTIFICATE of type PKCS_SIGNED_DATA.
struct WinCertificate {
  std::uint64_t offset;  // file offset of its header
  std::uint32_t length;  // dwLength
  ByteView content;      // bCertificate: dwLength - 8 bytes, the DER PKCS#7 SignedData
};

// After the DER SignedData of `used` bytes, a WIN_CERTIFICATE may hold only the zero padding
// that rounds dwLength up to 8 (signtool counts the padding in dwLength; sbsign does not); any
// other byte is refused (the CVE-2013-3900 class of unsigned data hidden in a signature).
Result<void> check_signature_padding(const WinCertificate& entry, std::size_t used);

class Authenticode {
 public:
  // Computes the hashed regions and walks the certificate table. Rejects a table that is not
  // 8-byte aligned, does not end at the end of the file, overlaps the headers or a section, or
  // holds an entry whose length is below 8, runs past the table (also once rounded up to 8), has
  // non-zero padding, or is not a revision 2.0 PKCS_SIGNED_DATA entry; rejects section raw data
  // that overlaps the headers or another section (the spec's running byte count assumes neither).
  static Result<Authenticode> parse(const Image& image);
  // The same checks and regions without reading the certificate table's entries (certificates()
  // is empty): what the headers and the file size alone decide, for hashing a file while it is
  // still being read.
  static Result<Authenticode> parse_regions(const Image& image);

  // In hashing order: headers without CheckSum and the certificate directory entry, then the
  // sections' raw data by PointerToRawData (zero-size ones skipped), then the bytes from the
  // spec's SUM_OF_BYTES_HASHED up to the certificate table (or the end of the file).
  std::span<const HashRegion> regions() const { return {regions_.data(), region_count_}; }
  std::span<const WinCertificate> certificates() const {
    return {certificates_.data(), certificate_count_};
  }
  // The certificate table as a file range, when the image has one.
  std::optional<HashRegion> certificate_table() const { return certificate_table_; }
  std::uint64_t hashed_size() const;

  // Feeds every region of the parsed file into `hasher`, in order, straight from the file's
  // bytes (no copy).
  void hash(Hasher& hasher) const;

 private:
  Result<void> add_region(std::uint64_t offset, std::uint64_t end);
  Result<void> add_sections(const Image& image, std::uint64_t& bytes_hashed);
  Result<void> walk_certificates(const HashRegion& table);

  ByteView file_;
  std::array<HashRegion, kMaxHashRegions> regions_{};
  std::size_t region_count_ = 0;
  std::array<WinCertificate, kMaxCertificates> certificates_{};
  std::size_t certificate_count_ = 0;
  std::optional<HashRegion> certificate_table_;
};

}  // namespace efikexec::pe
