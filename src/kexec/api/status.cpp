// SPDX-License-Identifier: MIT
#include "kexec/api/status.hpp"

namespace efikexec::kexec {

efikexec_status status_for(const HostError& error) {
  switch (error.stage) {
    case Stage::kRequest:
    case Stage::kRead:
    case Stage::kParse:
    case Stage::kTrustSources:
    case Stage::kMachine:
    case Stage::kWrite: return EFIKEXEC_ERR_BAD_INPUT;
    case Stage::kVerify: return EFIKEXEC_ERR_REFUSED;
    case Stage::kRun:
    case Stage::kPlan: return EFIKEXEC_ERR_RUN;
    case Stage::kKexec: return EFIKEXEC_ERR_KEXEC;
  }
  return EFIKEXEC_ERR_INTERNAL;
}

}  // namespace efikexec::kexec

using namespace efikexec::kexec;

extern "C" int efikexec_status_exit_code(efikexec_status status) {
  switch (status) {
    case EFIKEXEC_OK: return kExitOk;
    case EFIKEXEC_ERR_INVALID_ARGUMENT:
    case EFIKEXEC_ERR_BAD_INPUT: return kExitBadInput;
    default: return kExitRefused;
  }
}
