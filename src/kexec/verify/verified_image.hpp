// SPDX-License-Identifier: MIT
// An opened image the trust policy accepted (or, only with an explicit --no-verify, one nobody
// checked): what every command that runs an image holds before any of its bytes can run.
#pragma once

#include <string>

#include "kexec/common/host_error.hpp"
#include "kexec/image/opened_image.hpp"
#include "kexec/verify/trust_policy.hpp"
#include "kexec/verify/verify.hpp"

namespace efikexec::kexec {

struct VerifiedImage {
  OpenedImage opened;
  bool verified = false;  // false only with an explicit --no-verify
  VerifyVerdict verdict;  // when verified
};

// Verifies `opened` against `trust`; with trust.no_verify (an explicit opt-out) it is handed on
// unverified. A refusal is Stage::kVerify, a malformed signature table kParse, a bad trust
// source kTrustSources.
HostResult<VerifiedImage> verify_opened_image(const TrustOptions& trust, OpenedImage opened);

// open_image, then verify_opened_image unless trust.no_verify.
HostResult<VerifiedImage> open_verified_image(const std::string& path, const TrustOptions& trust);

}  // namespace efikexec::kexec
