// SPDX-License-Identifier: MIT
#include "authenticode.hpp"

namespace efikexec::pe {

Result<void> Authenticode::add_region(std::uint64_t offset, std::uint64_t end) {
  if (end < offset) return fail(ErrorCode::kOverlap, "hashed region ends before it starts", offset);
  if (end == offset) return {};
  if (region_count_ == regions_.size())
    return fail(ErrorCode::kNoMemory, "too many hashed regions", offset);
  regions_[region_count_++] = {offset, end - offset};
  return {};
}

// Authenticode steps 9-13: sections in file order. The spec counts SUM_OF_BYTES_HASHED and later
// starts the trailing region there, which only names the bytes after the last section when raw
// data neither overlaps the headers nor another section: both are refused.
Result<void> Authenticode::add_sections(const Image& image, std::uint64_t& bytes_hashed) {
  std::array<const Section*, kMaxSections> order{};
  std::size_t count = 0;
  for (const Section& section : image.sections()) {
    if (section.raw_size == 0) continue;
    // Insertion sort: at most 96 entries, stable for equal offsets, and no scratch memory.
    std::size_t at = count++;
    while (at > 0 && order[at - 1]->raw_offset > section.raw_offset) {
      order[at] = order[at - 1];
      --at;
    }
    order[at] = &section;
  }
  std::uint64_t previous_end = image.size_of_headers();
  for (std::size_t i = 0; i < count; ++i) {
    const Section& section = *order[i];
    if (section.raw_offset < previous_end)
      return fail(ErrorCode::kOverlap,
                  "section raw data overlaps the headers or another section (Authenticode)",
                  section.header_offset);
    const std::uint64_t end = std::uint64_t{section.raw_offset} + section.raw_size;
    if (auto added = add_region(section.raw_offset, end); !added) return added;
    bytes_hashed += section.raw_size;
    previous_end = end;
  }
  return {};
}

Result<void> Authenticode::walk_certificates(const HashRegion& table) {
  ByteView entries = *file_.subview(table.offset, table.size, "certificate table");
  std::uint64_t position = 0;
  while (position < entries.size()) {
    const std::uint64_t at = table.offset + position;
    const std::uint64_t remaining = entries.size() - position;
    auto header = entries.read<WinCertificateHeader>(position, "WIN_CERTIFICATE header truncated");
    if (!header) return std::unexpected(Error{ErrorCode::kTruncated, header.error().message, at});
    const std::uint32_t length = header->dwLength;
    if (length < sizeof(WinCertificateHeader))
      return fail(ErrorCode::kMalformed, "WIN_CERTIFICATE dwLength below 8", at);
    if (length > remaining)
      return fail(ErrorCode::kOutOfRange, "WIN_CERTIFICATE dwLength past the certificate table",
                  at);
    // 64-bit arithmetic: a 32-bit dwLength rounded up to 8 cannot wrap here (EDK2
    // CVE-2019-14562 wrapped it in 32 bits).
    const auto padded = align_up(length, 8);
    if (!padded || *padded > remaining)
      return fail(ErrorCode::kOutOfRange,
                  "WIN_CERTIFICATE padding to 8 bytes runs past the certificate table", at);
    if (header->wRevision != kWinCertRevision2)
      return fail(ErrorCode::kUnsupported, "WIN_CERTIFICATE revision is not 2.0", at + 4);
    if (header->wCertificateType != kWinCertTypePkcsSignedData)
      return fail(ErrorCode::kUnsupported, "WIN_CERTIFICATE type is not PKCS_SIGNED_DATA", at + 6);
    for (std::uint64_t pad = position + length; pad < position + *padded; ++pad)
      if (entries.data()[pad] != std::byte{0})
        return fail(ErrorCode::kMalformed, "non-zero padding after a WIN_CERTIFICATE",
                    table.offset + pad);
    if (certificate_count_ == certificates_.size())
      return fail(ErrorCode::kUnsupported, "more than 16 WIN_CERTIFICATE entries", at);
    certificates_[certificate_count_++] = {
        at, length,
        ByteView(entries.data() + position + sizeof(WinCertificateHeader),
                 length - sizeof(WinCertificateHeader))};
    position += *padded;
  }
  return {};
}

Result<Authenticode> Authenticode::parse(const Image& image) {
  auto result = parse_regions(image);
  if (!result) return result;
  if (auto table = result->certificate_table_)
    if (auto walked = result->walk_certificates(*table); !walked)
      return std::unexpected(walked.error());
  return result;
}

Result<Authenticode> Authenticode::parse_regions(const Image& image) {
  Authenticode result;
  result.file_ = image.file();
  const std::uint64_t file_size = image.file().size();
  const std::uint64_t headers_end = image.size_of_headers();
  const std::uint64_t checksum = image.checksum_field_offset();
  const auto directory_entry = image.directory_entry_offset(DirectoryIndex::kCertificate);

  // Steps 3-8: the headers up to SizeOfHeaders, less CheckSum and the certificate entry. Both
  // lie in the optional header, which Image::parse proved sits below the section table and so
  // below SizeOfHeaders.
  if (checksum + 4 > headers_end || (directory_entry && *directory_entry + 8 > headers_end))
    return fail(ErrorCode::kOutOfRange, "optional header extends past SizeOfHeaders", checksum);
  if (auto r = result.add_region(0, checksum); !r) return std::unexpected(r.error());
  if (directory_entry) {
    if (auto r = result.add_region(checksum + 4, *directory_entry); !r)
      return std::unexpected(r.error());
    if (auto r = result.add_region(*directory_entry + 8, headers_end); !r)
      return std::unexpected(r.error());
  } else if (auto r = result.add_region(checksum + 4, headers_end); !r) {
    return std::unexpected(r.error());
  }

  std::uint64_t bytes_hashed = headers_end;
  if (auto r = result.add_sections(image, bytes_hashed); !r) return std::unexpected(r.error());

  // Step 14: the rest of the file, except the certificate table, which must be the file's last
  // bytes (shim and EDK2 refuse anything after it; PE/COFF §5.7 puts it there).
  std::uint64_t rest_end = file_size;
  if (auto directory = image.directory(DirectoryIndex::kCertificate)) {
    const HashRegion table{directory->virtual_address, directory->size};
    const std::uint64_t entry = *directory_entry;
    const auto table_end = checked_add(table.offset, table.size);
    if (!table_end || *table_end > file_size)
      return fail(ErrorCode::kOutOfRange, "certificate table extends past the end of the file",
                  entry);
    if (*table_end != file_size)
      return fail(ErrorCode::kMalformed, "certificate table does not end at the end of the file",
                  entry);
    if (table.offset % 8 != 0)
      return fail(ErrorCode::kBadAlignment, "certificate table is not 8-byte aligned", entry);
    if (table.offset < image.end_of_raw_data())
      return fail(ErrorCode::kOverlap, "certificate table overlaps the headers or a section",
                  entry);
    result.certificate_table_ = table;
    rest_end = table.offset;
  }
  // bytes_hashed <= end_of_raw_data <= rest_end: the sections are disjoint and after the headers.
  if (auto r = result.add_region(bytes_hashed, rest_end); !r) return std::unexpected(r.error());
  return result;
}

std::uint64_t Authenticode::hashed_size() const {
  std::uint64_t total = 0;
  for (const HashRegion& region : regions()) total += region.size;
  return total;
}

void Authenticode::hash(Hasher& hasher) const {
  for (const HashRegion& region : regions())
    hasher.update(ByteView(file_.data() + region.offset, static_cast<std::size_t>(region.size)));
}

Result<void> check_signature_padding(const WinCertificate& entry, std::size_t used) {
  if (used > entry.content.size())
    return fail(ErrorCode::kInvalidArgument, "PKCS#7 SignedData longer than its entry",
                entry.offset);
  const std::size_t extra = entry.content.size() - used;
  bool padding_ok = extra == 0 || (extra < 8 && entry.length % 8 == 0);
  for (std::size_t i = used; padding_ok && i < entry.content.size(); ++i)
    padding_ok = entry.content.data()[i] == std::byte{0};
  if (!padding_ok)
    return fail(ErrorCode::kMalformed, "bytes after the PKCS#7 SignedData in a WIN_CERTIFICATE",
                entry.offset + 8 + used);
  return {};
}

}  // namespace efikexec::pe
