// SPDX-License-Identifier: MIT
#include "kexec/verify/trust_policy.hpp"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "kexec/image/file_bytes.hpp"
#include "kexec/common/hex.hpp"
#include "pe_loader/signature_list.hpp"

namespace efikexec::kexec {

namespace {

std::string entry_source(const std::string& source, std::size_t index, std::uint64_t offset) {
  return source + " entry " + std::to_string(index) + " (offset " + hex_u64(offset) + ")";
}

OsslPtr<X509> parse_der_certificate(ByteView bytes) {
  const auto* start = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned char* p = start;
  OsslPtr<X509> certificate(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
  if (certificate && p != start + bytes.size()) certificate.reset();
  ERR_clear_error();
  return certificate;
}

std::vector<OsslPtr<X509>> parse_pem_certificates(ByteView bytes) {
  std::vector<OsslPtr<X509>> certificates;
  OsslPtr<BIO> bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  while (bio) {
    OsslPtr<X509> certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!certificate) break;
    certificates.push_back(std::move(certificate));
  }
  ERR_clear_error();
  return certificates;
}

std::vector<TrustedCertificate>& certificates_of(TrustPolicy& policy, Database database) {
  return database == Database::kDb ? policy.db_certificates : policy.dbx_certificates;
}

std::vector<TrustedHash>& hashes_of(TrustPolicy& policy, Database database) {
  return database == Database::kDb ? policy.db_hashes : policy.dbx_hashes;
}

template <class T>
void append(std::vector<T>& to, std::vector<T>& from) {
  for (T& item : from) to.push_back(std::move(item));
}

// Whether `path` exists; a failure other than "it does not" is an error.
HostResult<bool> file_exists(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) == 0) return true;
  if (errno != ENOENT) return host_fail_errno(Stage::kTrustSources, "cannot stat", path);
  return false;
}

// An efivarfs file: a 32-bit attributes word, then the variable's data.
HostResult<FileBytes> read_variable(const std::string& path) {
  auto bytes = FileBytes::read(path);
  if (bytes && bytes->size() < 4)
    return host_fail(Stage::kTrustSources, "shorter than the efivarfs attributes word", path);
  return bytes;
}

ByteView variable_data(const FileBytes& bytes) {
  return ByteView(bytes.view().data() + 4, bytes.size() - 4);
}

}  // namespace

std::string efivarfs_name(const char* name, const pe::Guid& vendor) {
  const auto& b = vendor.bytes;  // Data1-3 little-endian, then Data4 in order
  char text[40];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3], b[2],
                b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(name) + "-" + text;
}

const std::string kDbVariable = efivarfs_name("db", pe::kImageSecurityDatabaseGuid);
const std::string kDbxVariable = efivarfs_name("dbx", pe::kImageSecurityDatabaseGuid);
const std::string kSbatLevelRtVariable = efivarfs_name("SbatLevelRT", pe::kShimLockGuid);

HostStatus add_signature_lists(TrustPolicy& policy, Database database, ByteView lists,
                               const std::string& source) {
  if (auto valid = pe::validate_signature_lists(lists); !valid)
    return host_fail(Stage::kTrustSources, valid.error(), source);
  std::vector<TrustedCertificate> certificates;
  std::vector<TrustedHash> hashes;
  std::vector<TrustedHash> certificate_hashes;
  pe::SignatureListReader reader(lists);
  for (std::size_t index = 0;; ++index) {
    auto next = reader.next();
    if (!next || !*next) break;  // validated above: no error can appear now
    const pe::SignatureEntry& entry = **next;
    const std::string where = entry_source(source, index, entry.offset);
    const auto* data = reinterpret_cast<const std::uint8_t*>(entry.data.data());
    switch (entry.type.kind) {
      case pe::SignatureKind::kImageHash:
        hashes.push_back({entry.type.algorithm, Bytes(data, data + entry.data.size()), where});
        break;
      case pe::SignatureKind::kCertificate: {
        OsslPtr<X509> certificate = parse_der_certificate(entry.data);
        if (!certificate)
          return host_fail(Stage::kTrustSources, "EFI_CERT_X509 data is not a DER certificate",
                           where);
        certificates.push_back({std::move(certificate), where});
        break;
      }
      case pe::SignatureKind::kCertificateHash:
        // Only dbx revokes by TBS hash (UEFI 2.10 §32.5.3.3); the revocation time is ignored
        // because efikexec sees no timestamp countersignature, as EDK2 does without one.
        if (database == Database::kDbx)
          certificate_hashes.push_back(
              {entry.type.algorithm,
               Bytes(data, data + pe::digest_size(entry.type.algorithm)), where});
        break;
      case pe::SignatureKind::kOther: break;
    }
  }
  append(certificates_of(policy, database), certificates);
  append(hashes_of(policy, database), hashes);
  append(policy.dbx_certificate_hashes, certificate_hashes);
  policy.sources.push_back((database == Database::kDb ? "db: " : "dbx: ") + source);
  return {};
}

HostStatus add_trust_file(TrustPolicy& policy, Database database, const std::string& path) {
  auto bytes = FileBytes::read(path);
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  const ByteView view = bytes->view();
  const char* which = database == Database::kDb ? "db: " : "dbx: ";

  if (view.chars().find("-----BEGIN") != std::string_view::npos) {
    auto certificates = parse_pem_certificates(view);
    if (certificates.empty())
      return host_fail(Stage::kTrustSources, "PEM file without a certificate", path);
    for (std::size_t i = 0; i < certificates.size(); ++i)
      certificates_of(policy, database)
          .push_back({std::move(certificates[i]),
                      certificates.size() == 1 ? path : path + " certificate " + std::to_string(i)});
    policy.sources.push_back(which + path);
    return {};
  }
  if (OsslPtr<X509> certificate = parse_der_certificate(view)) {
    certificates_of(policy, database).push_back({std::move(certificate), path});
    policy.sources.push_back(which + path);
    return {};
  }
  auto payload = pe::authenticated_variable_payload(view);
  if (payload) return add_signature_lists(policy, database, *payload, path);
  if (payload.error().code != ErrorCode::kNotFound)
    return host_fail(Stage::kTrustSources, payload.error(), path);
  auto added = add_signature_lists(policy, database, view, path);
  if (!added)
    added.error().reason += " (not a certificate, signature list or authenticated variable)";
  return added;
}

HostStatus set_sbat_level(TrustPolicy& policy, ByteView text, const std::string& source) {
  SbatLevelPolicy level;
  const auto* chars = reinterpret_cast<const char*>(text.data());
  level.text.assign(chars, chars + text.size());
  std::array<pe::SbatLevelEntry, pe::kMaxSbatEntries> entries;
  auto parsed = pe::parse_sbat_level(
      ByteView(reinterpret_cast<const std::byte*>(level.text.data()), level.text.size()), entries);
  if (!parsed) return host_fail(Stage::kTrustSources, parsed.error(), source);
  level.entries.assign(parsed->entries.begin(), parsed->entries.end());
  level.datestamp = std::string(parsed->datestamp);
  level.source = source;
  policy.sbat_level = std::move(level);
  policy.sources.push_back("sbat-level: " + source);
  return {};
}

HostStatus set_sbat_level_file(TrustPolicy& policy, const std::string& path) {
  auto bytes = FileBytes::read(path);
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  return set_sbat_level(policy, bytes->view(), path);
}

HostStatus add_machine_variables(TrustPolicy& policy, const std::string& efivars_directory,
                                 MachineSources which) {
  struct Variable {
    bool wanted;
    const std::string& name;
    const char* label;
  };
  const Variable variables[] = {{which.db, kDbVariable, "efivarfs db"},
                                {which.dbx, kDbxVariable, "efivarfs dbx"},
                                {which.sbat_level, kSbatLevelRtVariable, "efivarfs SbatLevelRT"}};
  for (const Variable& variable : variables) {
    if (!variable.wanted) continue;
    const std::string path = efivars_directory + "/" + variable.name;
    auto exists = file_exists(path);
    if (!exists) return std::unexpected(std::move(exists.error()));
    if (!*exists) continue;
    auto bytes = read_variable(path);
    if (!bytes) return std::unexpected(std::move(bytes.error()));
    const ByteView data = variable_data(*bytes);
    const std::string label = std::string(variable.label) + " (" + path + ")";
    auto added = variable.name == kSbatLevelRtVariable
                     ? set_sbat_level(policy, data, label)
                     : add_signature_lists(policy,
                                           variable.name == kDbVariable ? Database::kDb
                                                                        : Database::kDbx,
                                           data, label);
    if (!added) return added;
  }
  return {};
}

}  // namespace efikexec::kexec

namespace efikexec::kexec {

HostResult<TrustPolicy> build_trust_policy(const TrustOptions& options) {
  TrustPolicy policy;
  policy.no_verify = options.no_verify;
  if (options.no_verify) return policy;
  for (const std::string& path : options.db_files)
    if (auto added = add_trust_file(policy, Database::kDb, path); !added)
      return std::unexpected(std::move(added.error()));
  for (const std::string& path : options.dbx_files)
    if (auto added = add_trust_file(policy, Database::kDbx, path); !added)
      return std::unexpected(std::move(added.error()));
  if (!options.sbat_level_file.empty())
    if (auto set = set_sbat_level_file(policy, options.sbat_level_file); !set)
      return std::unexpected(std::move(set.error()));
  const MachineSources machine{options.db_files.empty(), options.dbx_files.empty(),
                               options.sbat_level_file.empty()};
  if (auto added = add_machine_variables(policy, options.efivars_directory, machine); !added)
    return std::unexpected(std::move(added.error()));
  return policy;
}

}  // namespace efikexec::kexec
