// SPDX-License-Identifier: MIT
// Authenticode region list and WIN_CERTIFICATE table walk over arbitrary PE bytes. Invariants:
// every hashed region lies inside the file, the CheckSum field and the certificate directory
// entry are never hashed, the table is the file's tail, and every WIN_CERTIFICATE lies inside it.
#include <cstddef>
#include <cstdint>

#include "fuzz_assert.hpp"
#include "pe_loader/authenticode.hpp"

using namespace efikexec;

namespace {

// Checks that each region handed out is a subrange of the file and avoids the skipped fields.
class CheckingHasher final : public pe::Hasher {
 public:
  CheckingHasher(ByteView file, std::uint64_t checksum) : file_(file), checksum_(checksum) {}
  void update(ByteView bytes) override {
    FUZZ_ASSERT(bytes.data() >= file_.data());
    const auto offset = static_cast<std::uint64_t>(bytes.data() - file_.data());
    FUZZ_ASSERT(range_fits(offset, bytes.size(), file_.size()));
    FUZZ_ASSERT(offset + bytes.size() <= checksum_ || offset >= checksum_ + 4);
    total += bytes.size();
  }
  std::uint64_t total = 0;

 private:
  ByteView file_;
  std::uint64_t checksum_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView file(reinterpret_cast<const std::byte*>(data), size);
  auto image = pe::Image::parse(file);
  if (!image) return 0;
  auto authenticode = pe::Authenticode::parse(*image);
  if (!authenticode) {
    FUZZ_ASSERT(authenticode.error().message != nullptr);
    return 0;
  }
  CheckingHasher hasher(file, image->checksum_field_offset());
  authenticode->hash(hasher);
  FUZZ_ASSERT(hasher.total == authenticode->hashed_size());
  FUZZ_ASSERT(hasher.total <= size);
  if (auto entry = image->directory_entry_offset(pe::DirectoryIndex::kCertificate))
    for (const pe::HashRegion& region : authenticode->regions())
      FUZZ_ASSERT(region.offset + region.size <= *entry || region.offset >= *entry + 8);
  if (auto table = authenticode->certificate_table()) {
    FUZZ_ASSERT(table->offset % 8 == 0 && table->offset + table->size == size);
    FUZZ_ASSERT(table->offset >= image->end_of_raw_data());
    for (const pe::WinCertificate& certificate : authenticode->certificates()) {
      FUZZ_ASSERT(certificate.offset >= table->offset);
      FUZZ_ASSERT(certificate.offset + certificate.length <= size);
      FUZZ_ASSERT(certificate.content.size() + 8 == certificate.length);
    }
  } else {
    FUZZ_ASSERT(authenticode->certificates().empty());
  }
  return 0;
}
