// SPDX-License-Identifier: MIT
// The first steps of every command that runs an image: read it once, parse it, and verify it
// against the trust policy before any of its bytes can run.
#pragma once

#include <optional>
#include <string>

#include "kexec/image/file_bytes.hpp"
#include "kexec/verify/trust_policy.hpp"
#include "kexec/verify/verify.hpp"
#include "pe_loader/pe_image.hpp"

namespace efikexec::kexec {

struct VerifiedImage {
  std::string path;
  FileBytes bytes;
  std::optional<pe::Image> image;
  bool verified = false;     // false only with an explicit --no-verify
  VerifyVerdict verdict;     // when verified
};

// Reads the file once and parses it; nothing is verified yet. kExitOk, or kExitBadInput with
// `error` naming the rule a malformed image broke.
int open_image(const std::string& path, VerifiedImage& out, std::string& error);

// Returns kExitOk, kExitBadInput (unreadable or malformed image, bad key file) or kExitRefused
// (the policy does not accept the image); `error` says why in one line.
int open_verified_image(const std::string& path, const TrustOptions& trust, VerifiedImage& out,
                        std::string& error);

// open_verified_image's second half, for callers that time reading and verifying apart: `out`
// was opened with trust.no_verify set; verifies it against `trust` (which must not be).
int verify_opened_image(const TrustOptions& trust, VerifiedImage& out, std::string& error);

}  // namespace efikexec::kexec
