// SPDX-License-Identifier: MIT
// Helpers shared by the verification tests: fixture paths, image files, policies, tampering.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "kexec/verify/verify.hpp"
#include "support/pe_builder.hpp"

namespace efikexec::testing {

// The directory make-verify-fixtures.sh filled (ctest sets EFIKEXEC_VERIFY_FIXTURES).
std::string verify_fixture(const std::string& name);
Bytes read_bytes(const std::string& path);
void write_bytes(const std::string& path, const Bytes& bytes);

// db/dbx entries are fixture-relative file names; an empty level means none.
kexec::TrustPolicy make_policy(std::initializer_list<std::string> db,
                               std::initializer_list<std::string> dbx = {},
                               const std::string& sbat_level = {});

kexec::VerifyVerdict verify_bytes(const Bytes& bytes, const kexec::TrustPolicy& policy);
kexec::VerifyVerdict verify_file(const std::string& path, const kexec::TrustPolicy& policy);

// Path of a main fixture (tests/fixtures/make-fixtures.sh) under EFIKEXEC_FIXTURES, or empty
// after ADD_FAILURE when EFIKEXEC_REQUIRE_FIXTURES=1 and it is missing.
std::string real_fixture(const std::string& name);

// Exit status of a shell command (stdout and stderr discarded unless `output` is given).
int run_status(const std::string& command, std::string* output = nullptr);

// Appends a certificate table holding `entries` (each a full WIN_CERTIFICATE: header included)
// after padding the image to 8 bytes, and points directory entry 4 at it.
Bytes with_certificate_table(Bytes image, const std::vector<Bytes>& entries);
// A WIN_CERTIFICATE with `content`, padded to 8 bytes.
Bytes win_certificate(const Bytes& content, std::uint16_t revision = 0x0200,
                      std::uint16_t type = 0x0002);

struct TamperPoint {
  std::string region;
  std::uint64_t offset;
};
// One offset inside every region an Authenticode signature covers (each header piece, each
// section with raw data, the bytes after the last section), plus the CheckSum field.
std::vector<TamperPoint> tamper_points(const Bytes& signed_image);
std::uint64_t checksum_offset(const Bytes& image);

}  // namespace efikexec::testing

// Binds `var` to a main fixture's path; skips the test when it is missing (fails under
// EFIKEXEC_REQUIRE_FIXTURES=1, through real_fixture).
#define REAL_FIXTURE(var, name)                                              \
  const std::string var = ::efikexec::testing::real_fixture(name);          \
  if (var.empty()) {                                                         \
    if (!HasFailure()) GTEST_SKIP() << "EFIKEXEC_FIXTURES has no " << name; \
    return;                                                                  \
  }
