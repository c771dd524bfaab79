// SPDX-License-Identifier: MIT
// Where trust comes from: db (certificates and image hashes that allow), dbx (image hashes,
// certificates and certificate TBS hashes that revoke) and an SBAT revocation level. Sources are
// X.509 files (PEM or DER), EFI_SIGNATURE_LIST files (.esl), authenticated variable files
// (.auth) and the machine's own variables in efivarfs. Any malformed source is an error: a
// database that cannot be read entirely is never used partly (fail closed).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kexec/common/host_error.hpp"
#include "kexec/verify/crypto_openssl.hpp"
#include "pe_loader/sbat.hpp"
#include "pe_loader/signature_list.hpp"

namespace efikexec::kexec {

// The machine's variables (UEFI 2.10 §32.6.1; shim's SbatLevelRT), under efivarfs.
inline constexpr const char* kEfivarsDirectory = "/sys/firmware/efi/efivars";
// efivarfs names a variable "NAME-GUID", the GUID in lower-case text.
std::string efivarfs_name(const char* name, const pe::Guid& vendor);
// Defined with efivarfs_name (not inline): a program that includes this without the policy's
// code does not need it.
extern const std::string kDbVariable;
extern const std::string kDbxVariable;
extern const std::string kSbatLevelRtVariable;

enum class Database { kDb, kDbx };

struct TrustedCertificate {
  OsslPtr<X509> certificate;
  std::string source;  // "FILE" or "FILE entry N"
};

struct TrustedHash {
  pe::HashAlgorithm algorithm;
  Bytes digest;
  std::string source;
};

// A revocation level; the entries are views into `text`, whose heap buffer a move keeps.
struct SbatLevelPolicy {
  std::vector<char> text;
  std::vector<pe::SbatLevelEntry> entries;
  std::string datestamp;
  std::string source;
};

struct TrustPolicy {
  bool no_verify = false;  // the user's explicit --no-verify
  std::vector<TrustedCertificate> db_certificates;
  std::vector<TrustedHash> db_hashes;
  std::vector<TrustedCertificate> dbx_certificates;
  std::vector<TrustedHash> dbx_hashes;
  std::vector<TrustedHash> dbx_certificate_hashes;  // TBSCertificate hashes (EFI_CERT_X509_SHAxxx)
  std::optional<SbatLevelPolicy> sbat_level;
  std::vector<std::string> sources;  // every source that was loaded, for reports

  bool has_trust_anchor() const { return !db_certificates.empty() || !db_hashes.empty(); }
};

// Adds FILE to db or dbx: a PEM or DER certificate, an EFI_SIGNATURE_LIST file, or an
// EFI_VARIABLE_AUTHENTICATION_2 header followed by signature lists. On failure `error` says
// FILE and the reason (Stage::kTrustSources, or kRead) and the policy is unchanged.
HostStatus add_trust_file(TrustPolicy& policy, Database database, const std::string& path);
// Adds the signature lists `lists` (already without any header) to db or dbx.
HostStatus add_signature_lists(TrustPolicy& policy, Database database, ByteView lists,
                               const std::string& source);
// Sets the SBAT revocation level from shim's SbatLevel text.
HostStatus set_sbat_level(TrustPolicy& policy, ByteView text, const std::string& source);
HostStatus set_sbat_level_file(TrustPolicy& policy, const std::string& path);

struct MachineSources {
  bool db = true;
  bool dbx = true;
  bool sbat_level = true;
};
// Adds the chosen variables from an efivarfs directory (each file: 4 attribute bytes, then the
// data). A variable that does not exist is skipped; one that exists but cannot be read or
// parsed is an error.
HostStatus add_machine_variables(TrustPolicy& policy, const std::string& efivars_directory,
                                 MachineSources which);

}  // namespace efikexec::kexec

namespace efikexec::kexec {

// What the user chose on the command line (`verify`, and `load` later).
struct TrustOptions {
  std::vector<std::string> db_files;
  std::vector<std::string> dbx_files;
  std::string sbat_level_file;
  std::string efivars_directory = kEfivarsDirectory;
  bool no_verify = false;
};

// Builds the policy: each explicit option replaces the machine's variable of the same kind
// (--db replaces db, --dbx replaces dbx, --sbat-level replaces SbatLevelRT); what is not given
// comes from efivarfs when it exists. With --no-verify nothing is read.
HostResult<TrustPolicy> build_trust_policy(const TrustOptions& options);

}  // namespace efikexec::kexec
