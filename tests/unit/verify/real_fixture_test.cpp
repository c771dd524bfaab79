// SPDX-License-Identifier: MIT
// Verification of a real signed UKI (systemd-stub + Debian kernel) from the main fixtures
// (tests/fixtures/make-fixtures.sh). Skipped when EFIKEXEC_FIXTURES is unset; with
// EFIKEXEC_REQUIRE_FIXTURES=1 a missing fixture is a failure.
#include <gtest/gtest.h>

#include <set>

#include "verify/support.hpp"

namespace efikexec::testing {
namespace {

using kexec::TrustPolicy;

TrustPolicy db_policy(const std::string& certificate) {
  kexec::TrustOptions options;
  options.db_files = {certificate};
  options.efivars_directory = "/nonexistent";
  TrustPolicy policy;
  std::string error;
  if (!kexec::build_trust_policy(options, policy, error)) ADD_FAILURE() << error;
  return policy;
}

TEST(RealUki, SignedUkiIsAcceptedUnsignedAndForeignAreNot) {
  REAL_FIXTURE(signed_uki, "uki-signed.efi");
  REAL_FIXTURE(unsigned_uki, "uki.efi");
  REAL_FIXTURE(db, "keys/db.crt");
  const TrustPolicy policy = db_policy(db);
  const kexec::VerifyVerdict verdict = verify_file(signed_uki, policy);
  EXPECT_TRUE(verdict.accepted) << verdict.reason;
  EXPECT_EQ(verify_file(unsigned_uki, policy).code, ErrorCode::kUntrusted);
  const std::string other = real_fixture("uki-other-signed.efi");
  if (!other.empty()) {
    EXPECT_EQ(verify_file(other, policy).code, ErrorCode::kUntrusted);
  }
  const std::string tampered = real_fixture("uki-tampered.efi");
  if (!tampered.empty()) {
    EXPECT_EQ(verify_file(tampered, policy).code, ErrorCode::kHashMismatch);
  }
  const std::string dual = real_fixture("vmlinuz-dual-signed.efi");
  if (!dual.empty()) {
    EXPECT_TRUE(verify_file(dual, policy).accepted);
  }
}

TEST(RealUki, TamperSweepOverEveryRegion) {
  REAL_FIXTURE(signed_uki, "uki-signed.efi");
  REAL_FIXTURE(db, "keys/db.crt");
  const TrustPolicy policy = db_policy(db);
  const Bytes original = read_bytes(signed_uki);
  ASSERT_TRUE(verify_bytes(original, policy).accepted);
  std::set<std::string> regions;
  for (const TamperPoint& point : tamper_points(original)) {
    Bytes tampered = original;
    tampered[point.offset] ^= 0x80;
    EXPECT_FALSE(verify_bytes(tampered, policy).accepted)
        << "flip in " << point.region << " at " << point.offset << " accepted";
    regions.insert(point.region);
  }
  for (const char* section : {"section .linux", "section .cmdline", "section .osrel"})
    EXPECT_TRUE(regions.count(section)) << section;
  Bytes checksum = original;
  checksum[checksum_offset(original)] ^= 0xff;
  EXPECT_TRUE(verify_bytes(checksum, policy).accepted);
}

TEST(RealUki, AgreesWithSbverify) {
  REAL_FIXTURE(db, "keys/db.crt");
  if (!have_command("sbverify")) GTEST_SKIP() << "sbverify is not installed";
  const TrustPolicy policy = db_policy(db);
  for (const char* name : {"uki.efi", "uki-signed.efi", "uki-other-signed.efi", "uki-tampered.efi",
                           "vmlinuz-signed.efi", "vmlinuz-dual-signed.efi"}) {
    const std::string path = real_fixture(name);
    if (path.empty()) continue;
    const bool sbverify_ok = run_status("sbverify --cert " + db + " " + path) == 0;
    EXPECT_EQ(verify_file(path, policy).accepted, sbverify_ok) << name;
  }
}

}  // namespace
}  // namespace efikexec::testing
