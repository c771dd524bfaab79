// SPDX-License-Identifier: MIT
#include "kexec/verify/streamed_digests.hpp"

#include <algorithm>

namespace efikexec::kexec {

StreamedDigests::StreamedDigests(std::span<const pe::HashAlgorithm> algorithms)
    : hasher_(algorithms) {}

// The regions from the headers in the first chunk: the snapshot past it reads as zero, which
// Image::parse never looks at (it reads the headers only) and parse_regions does not either (it
// leaves the certificate table's entries alone). Regions that are not in file order, one after
// the other, cannot be hashed as the file arrives: the image is then hashed after the read.
void StreamedDigests::plan(ByteView snapshot, std::size_t filled) {
  planned_ = true;
  auto image = pe::Image::parse(snapshot);
  if (!image || image->size_of_headers() > filled) {
    abandoned_ = true;
    return;
  }
  auto authenticode = pe::Authenticode::parse_regions(*image);
  if (!authenticode) {
    abandoned_ = true;
    return;
  }
  std::uint64_t end = 0;
  for (const pe::HashRegion& region : authenticode->regions()) {
    if (region.offset < end) {
      abandoned_ = true;
      return;
    }
    regions_.push_back(region);
    end = region.offset + region.size;
  }
}

void StreamedDigests::copied(ByteView snapshot, std::size_t offset, ByteView chunk) {
  if (abandoned_) return;
  if (!planned_) {
    if (offset != 0) {
      abandoned_ = true;
      return;
    }
    plan(snapshot, chunk.size());
  }
  const std::uint64_t chunk_end = offset + chunk.size();
  while (!abandoned_ && next_ < regions_.size()) {
    const pe::HashRegion& region = regions_[next_];
    const std::uint64_t region_end = region.offset + region.size;
    if (region.offset >= chunk_end) break;
    // The part of the region before this chunk was hashed with the chunks before it.
    const std::uint64_t start = std::max<std::uint64_t>(region.offset, offset);
    const std::uint64_t end = std::min(region_end, chunk_end);
    hasher_.update(ByteView(chunk.data() + (start - offset), static_cast<std::size_t>(end - start)));
    if (region_end > chunk_end) break;
    ++next_;
  }
}

std::optional<ImageDigests> StreamedDigests::digests_for(const pe::Authenticode& authenticode) {
  if (!planned_ || abandoned_ || next_ != regions_.size()) return std::nullopt;
  const auto regions = authenticode.regions();
  if (!std::equal(regions.begin(), regions.end(), regions_.begin(), regions_.end(),
                  [](const pe::HashRegion& a, const pe::HashRegion& b) {
                    return a.offset == b.offset && a.size == b.size;
                  }))
    return std::nullopt;
  abandoned_ = true;  // the digests are finished once
  return ImageDigests{hasher_.finish()};
}

}  // namespace efikexec::kexec
