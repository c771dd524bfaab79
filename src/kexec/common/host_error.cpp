// SPDX-License-Identifier: MIT
#include "kexec/common/host_error.hpp"

#include <cerrno>
#include <cstring>

#include "kexec/common/hex.hpp"

namespace efikexec::kexec {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kRequest: return "request";
    case Stage::kRead: return "read";
    case Stage::kParse: return "parse";
    case Stage::kTrustSources: return "trust-sources";
    case Stage::kVerify: return "verify";
    case Stage::kMachine: return "machine";
    case Stage::kRun: return "run";
    case Stage::kPlan: return "plan";
    case Stage::kKexec: return "kexec";
    case Stage::kWrite: return "write";
  }
  return "unknown";
}

namespace {

// " (code, offset 0x1f)", the place and the rule of an error.
std::string code_and_offset(ErrorCode code, std::uint64_t offset) {
  std::string text = std::string(" (") + error_code_name(code);
  if (offset != Error::kNoOffset) text += ", offset " + hex_u64(offset);
  return text + ")";
}

}  // namespace

std::string describe(const Error& error) {
  return error.message + code_and_offset(error.code, error.offset);
}

std::string HostError::message() const {
  std::string line = path.empty() ? reason : path + ": " + reason;
  if (code != ErrorCode::kIo || offset != Error::kNoOffset) line += code_and_offset(code, offset);
  return line;
}

std::unexpected<HostError> host_fail_errno(Stage stage, const char* what, std::string path) {
  return host_fail(stage, std::string(what) + ": " + std::strerror(errno), std::move(path));
}

}  // namespace efikexec::kexec
