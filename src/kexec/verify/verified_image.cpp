// SPDX-License-Identifier: MIT
#include "kexec/verify/verified_image.hpp"

#include <utility>

#include "kexec/verify/streamed_digests.hpp"

namespace efikexec::kexec {

namespace {

HostResult<VerifiedImage> verify_with_policy(const TrustPolicy& policy, OpenedImage opened,
                                             StreamedDigests* streamed = nullptr) {
  VerifyVerdict verdict = verify_image(opened.image, policy, streamed);
  if (!verdict.accepted) {
    HostError error{verdict.malformed() ? Stage::kParse : Stage::kVerify,
                    "refused: " + verdict.reason, opened.path};
    error.code = verdict.code;
    return std::unexpected(std::move(error));
  }
  return VerifiedImage{std::move(opened), true, std::move(verdict)};
}

}  // namespace

HostResult<VerifiedImage> verify_opened_image(const TrustOptions& trust, OpenedImage opened) {
  if (trust.no_verify) return VerifiedImage{std::move(opened), false, {}};
  auto policy = build_trust_policy(trust);
  if (!policy) return std::unexpected(std::move(policy.error()));
  return verify_with_policy(*policy, std::move(opened));
}

HostResult<VerifiedImage> open_verified_image(const std::string& path, const TrustOptions& trust) {
  if (trust.no_verify) {
    auto opened = open_image(path);
    if (!opened) return std::unexpected(std::move(opened.error()));
    return verify_opened_image(trust, std::move(*opened));
  }
  // The policy first: a bad key file is reported before the image is read.
  auto policy = build_trust_policy(trust);
  if (!policy) return std::unexpected(std::move(policy.error()));
  StreamedDigests streamed(policy_hash_algorithms(*policy));  // hashed while it is read
  auto opened = open_image(path, &streamed);
  if (!opened) return std::unexpected(std::move(opened.error()));
  return verify_with_policy(*policy, std::move(*opened), &streamed);
}

}  // namespace efikexec::kexec
