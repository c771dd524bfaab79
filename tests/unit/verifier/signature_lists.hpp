// SPDX-License-Identifier: MIT
// EFI_SIGNATURE_LISTs written by the verifier's tests: db and dbx as a payload reads them.
#pragma once

#include "pe_loader/signature_list.hpp"
#include "support/pe_builder.hpp"

namespace efikexec::testing {

inline const pe::Guid& image_hash_guid(pe::HashAlgorithm algorithm) {
  switch (algorithm) {
    case pe::HashAlgorithm::kSha1: return pe::kCertSha1Guid;
    case pe::HashAlgorithm::kSha256: return pe::kCertSha256Guid;
    case pe::HashAlgorithm::kSha384: return pe::kCertSha384Guid;
    case pe::HashAlgorithm::kSha512: return pe::kCertSha512Guid;
  }
  return pe::kCertSha256Guid;
}

inline const pe::Guid& certificate_hash_guid(pe::HashAlgorithm algorithm) {
  switch (algorithm) {
    case pe::HashAlgorithm::kSha384: return pe::kCertX509Sha384Guid;
    case pe::HashAlgorithm::kSha512: return pe::kCertX509Sha512Guid;
    default: return pe::kCertX509Sha256Guid;
  }
}

// One EFI_SIGNATURE_LIST holding one EFI_SIGNATURE_DATA (UEFI 2.10 §32.4.1).
inline void append_list(Bytes& out, const pe::Guid& type, const Bytes& data) {
  const std::size_t at = out.size();
  out.insert(out.end(), type.bytes.begin(), type.bytes.end());
  out.resize(at + 28 + 16, 0);  // header, then a zero SignatureOwner
  put32(out, at + 16, static_cast<std::uint32_t>(28 + 16 + data.size()));
  put32(out, at + 20, 0);
  put32(out, at + 24, static_cast<std::uint32_t>(16 + data.size()));
  out.insert(out.end(), data.begin(), data.end());
}

}  // namespace efikexec::testing
