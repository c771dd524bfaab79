// SPDX-License-Identifier: MIT
#include "oids.hpp"

namespace efikexec::verifier::oid {

std::optional<pe::HashAlgorithm> digest_algorithm(const der::Element& oid) {
  if (der::is_oid(oid, kSha1)) return pe::HashAlgorithm::kSha1;
  if (der::is_oid(oid, kSha256)) return pe::HashAlgorithm::kSha256;
  if (der::is_oid(oid, kSha384)) return pe::HashAlgorithm::kSha384;
  if (der::is_oid(oid, kSha512)) return pe::HashAlgorithm::kSha512;
  return std::nullopt;
}

std::optional<pe::HashAlgorithm> rsa_signature_digest(const der::Element& oid) {
  if (der::is_oid(oid, kSha1WithRsa)) return pe::HashAlgorithm::kSha1;
  if (der::is_oid(oid, kSha256WithRsa)) return pe::HashAlgorithm::kSha256;
  if (der::is_oid(oid, kSha384WithRsa)) return pe::HashAlgorithm::kSha384;
  if (der::is_oid(oid, kSha512WithRsa)) return pe::HashAlgorithm::kSha512;
  return std::nullopt;
}

std::optional<std::uint8_t> id_ce_arc(const der::Element& oid) {
  if (oid.tag != der::kObjectIdentifier || oid.contents.size() != 3) return std::nullopt;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(oid.contents.data());
  if (bytes[0] != kIdCePrefix0 || bytes[1] != kIdCePrefix1 || (bytes[2] & 0x80)) return std::nullopt;
  return bytes[2];
}

}  // namespace efikexec::verifier::oid
