// SPDX-License-Identifier: MIT
// `efikexec verify FILE`: would this image be allowed to run? Exit 0 accepted, 1 refused,
// 2 malformed image or unreadable/malformed key file.
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "kexec/cli/cli_commands.hpp"
#include "kexec/api/status.hpp"
#include "kexec/image/opened_image.hpp"
#include "kexec/verify/streamed_digests.hpp"
#include "kexec/verify/verify.hpp"

namespace efikexec::kexec {

namespace {

struct VerifyArguments {
  std::string path;
  TrustOptions trust;
  bool json = false;
};

nlohmann::json verdict_json(const std::string& path, const VerifyVerdict& verdict,
                            const TrustPolicy& policy) {
  nlohmann::json signatures = nlohmann::json::array();
  for (const SignatureVerdict& signature : verdict.signatures)
    signatures.push_back({{"index", signature.index},
                          {"offset", signature.offset},
                          {"signer", signature.signer},
                          {"issuer", signature.issuer},
                          {"digest_algorithm", pe::hash_algorithm_name(signature.digest_algorithm)},
                          {"status", signature_status_name(signature.status)},
                          {"detail", signature.detail}});
  return {{"file", path},
          {"accepted", verdict.accepted},
          {"code", verdict.accepted ? nlohmann::json(nullptr)
                                    : nlohmann::json(error_code_name(verdict.code))},
          {"reason", verdict.reason},
          {"authenticode_sha256", verdict.authenticode_sha256.empty()
                                      ? nlohmann::json(nullptr)
                                      : nlohmann::json(verdict.authenticode_sha256)},
          {"signatures", signatures},
          {"trust_sources", policy.sources}};
}

void print_text(const std::string& path, const VerifyVerdict& verdict) {
  std::ostream& out = verdict.malformed() ? std::cerr : std::cout;
  out << (verdict.malformed() ? "efikexec: " : "") << path << ": "
      << (verdict.accepted ? "accepted: " : "refused: ") << verdict.reason;
  if (!verdict.accepted) out << " (" << error_code_name(verdict.code) << ")";
  out << "\n";
  for (const SignatureVerdict& signature : verdict.signatures)
    out << "  signature " << signature.index << ": " << signature.signer << ", "
        << pe::hash_algorithm_name(signature.digest_algorithm) << ", "
        << signature_status_name(signature.status) << ": " << signature.detail << "\n";
}

int run_verify(const VerifyArguments& args) {
  // Not verify_opened_image: the verdict is the report here, refused or not.
  auto policy = build_trust_policy(args.trust);
  if (!policy) return report_failure(policy.error());
  // The image is hashed while it is read, in the algorithms the policy needs. Its bytes go
  // nowhere else: a private copy is enough for the bytes hashed to be the bytes parsed.
  StreamedDigests streamed(policy_hash_algorithms(*policy));
  auto opened =
      open_image(args.path, policy->no_verify ? nullptr : &streamed, Snapshot::kPrivate);
  if (!opened) return report_failure(opened.error());
  const VerifyVerdict verdict = verify_image(opened->image, *policy, &streamed);
  if (args.json)
    std::cout << verdict_json(args.path, verdict, *policy)
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  else
    print_text(args.path, verdict);
  if (verdict.accepted) return kExitOk;
  return verdict.malformed() ? kExitBadInput : kExitRefused;
}

}  // namespace

void add_trust_options(CLI::App& sub, TrustOptions& trust) {
  auto* db = sub.add_option("--db", trust.db_files,
                            "Allow: X.509 certificate (PEM/DER), EFI_SIGNATURE_LIST (.esl) or "
                            ".auth file; replaces the machine's db (repeatable)")
                ->allow_extra_args(false)
                ->type_name("FILE");
  auto* dbx = sub.add_option("--dbx", trust.dbx_files,
                             "Revoke: certificate, .esl or .auth file; replaces the machine's "
                             "dbx (repeatable)")
                 ->allow_extra_args(false)
                 ->type_name("FILE");
  auto* level = sub.add_option("--sbat-level", trust.sbat_level_file,
                               "SBAT revocation level file (shim's SbatLevel format); replaces "
                               "the machine's SbatLevelRT");
  sub.add_option("--efivars", trust.efivars_directory,
                 "Read db, dbx and SbatLevelRT from this efivarfs directory")
      ->capture_default_str();
  sub.add_flag("--no-verify", trust.no_verify,
               "Do not verify: run the image whatever signs it (explicit opt-out)")
      ->excludes(db)
      ->excludes(dbx)
      ->excludes(level);
}

void register_verify_command(CLI::App& app, CommandLine& command) {
  auto args = std::make_shared<VerifyArguments>();
  CLI::App* sub = app.add_subcommand(
      "verify", "Check an image's Authenticode signatures and SBAT against db, dbx and SBAT level");
  sub->add_option("FILE", args->path, "EFI image, EFI-stub kernel or UKI")->required();
  add_trust_options(*sub, args->trust);
  sub->add_flag("--json", args->json, "Print a stable JSON document");
  sub->callback([&command, args] { command.run = [args] { return run_verify(*args); }; });
}

}  // namespace efikexec::kexec
