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

std::string HostError::message() const {
  std::string line = path.empty() ? reason : path + ": " + reason;
  if (code != ErrorCode::kIo || offset != Error::kNoOffset) {
    line += std::string(" (") + error_code_name(code);
    if (offset != Error::kNoOffset) line += ", offset " + hex_u64(offset);
    line += ")";
  }
  return line;
}

std::unexpected<HostError> host_fail_errno(Stage stage, const char* what, std::string path) {
  return host_fail(stage, std::string(what) + ": " + std::strerror(errno), std::move(path));
}

}  // namespace efikexec::kexec
