// SPDX-License-Identifier: MIT
// The Authenticode digests of an image computed while its snapshot is taken (a SnapshotObserver):
// each chunk is hashed right after it is written, while it is still in the cache, instead of in
// a second pass over the sealed snapshot. The hashed regions are planned from the headers in the
// first chunk; the digests are used only when the regions Authenticode::parse later computes from
// the sealed snapshot are exactly the planned ones, so the speculation never decides anything.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "kexec/image/file_bytes.hpp"
#include "kexec/verify/crypto_openssl.hpp"
#include "pe_loader/authenticode.hpp"

namespace efikexec::kexec {

class StreamedDigests final : public SnapshotObserver {
 public:
  explicit StreamedDigests(std::span<const pe::HashAlgorithm> algorithms);
  void copied(ByteView snapshot, std::size_t offset, ByteView chunk) override;

  // The digests of every algorithm given to the constructor, when `authenticode` (parsed from the
  // sealed snapshot) hashes exactly the regions that were hashed; nullopt otherwise (the image
  // is then hashed again from the snapshot).
  std::optional<ImageDigests> digests_for(const pe::Authenticode& authenticode);

 private:
  void plan(ByteView snapshot, std::size_t filled);

  MultiHasher hasher_;
  std::vector<pe::HashRegion> regions_;  // in file order, none overlapping the one before
  std::size_t next_ = 0;                 // first region not completely hashed
  bool planned_ = false;
  bool abandoned_ = false;
};

}  // namespace efikexec::kexec
