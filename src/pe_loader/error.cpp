// SPDX-License-Identifier: MIT
#include <efikexec/error.hpp>

namespace efikexec {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kBadMagic: return "bad-magic";
    case ErrorCode::kOutOfRange: return "out-of-range";
    case ErrorCode::kOverflow: return "overflow";
    case ErrorCode::kOverlap: return "overlap";
    case ErrorCode::kBadAlignment: return "bad-alignment";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kNoMemory: return "no-memory";
    case ErrorCode::kInvalidArgument: return "invalid-argument";
    case ErrorCode::kHashMismatch: return "hash-mismatch";
    case ErrorCode::kUntrusted: return "untrusted";
    case ErrorCode::kRevoked: return "revoked";
    case ErrorCode::kSbatRevoked: return "sbat-revoked";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kImageFault: return "image-fault";
    case ErrorCode::kBadState: return "bad-state";
  }
  return "unknown";
}

}  // namespace efikexec
