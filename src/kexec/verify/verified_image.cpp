// SPDX-License-Identifier: MIT
#include "kexec/verify/verified_image.hpp"

#include "kexec/common/report.hpp"

namespace efikexec::kexec {

namespace {

int verify_with_policy(const TrustPolicy& policy, VerifiedImage& out, std::string& error) {
  out.verdict = verify_image(*out.image, policy);
  if (!out.verdict.accepted) {
    error = out.path + ": refused: " + out.verdict.reason + " (" +
            error_code_name(out.verdict.code) + ")";
    return out.verdict.malformed() ? kExitBadInput : kExitRefused;
  }
  out.verified = true;
  return kExitOk;
}

}  // namespace

int open_image(const std::string& path, VerifiedImage& out, std::string& error) {
  out.path = path;
  if (!FileBytes::read(path, out.bytes, error)) return kExitBadInput;
  auto image = pe::Image::parse(out.bytes.view());
  if (!image) {
    error = format_error(path, image.error());
    return kExitBadInput;
  }
  out.image = *image;
  return kExitOk;
}

int open_verified_image(const std::string& path, const TrustOptions& trust, VerifiedImage& out,
                        std::string& error) {
  TrustPolicy policy;
  if (!trust.no_verify && !build_trust_policy(trust, policy, error)) return kExitBadInput;
  if (int status = open_image(path, out, error); status != kExitOk) return status;
  if (trust.no_verify) return kExitOk;
  return verify_with_policy(policy, out, error);
}

int verify_opened_image(const TrustOptions& trust, VerifiedImage& out, std::string& error) {
  TrustPolicy policy;
  if (!build_trust_policy(trust, policy, error)) return kExitBadInput;
  return verify_with_policy(policy, out, error);
}

}  // namespace efikexec::kexec
