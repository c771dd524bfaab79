// SPDX-License-Identifier: MIT
// The one error type of efikexec: a typed code, a static message naming the rule that was
// broken, and where (a file offset, or an address once bytes are mapped).
#pragma once

#include <cstdint>
#include <expected>

namespace efikexec {

enum class ErrorCode : std::uint16_t {
  kTruncated = 1,     // input ends before a structure it declares
  kBadMagic,          // a signature or magic number is wrong
  kOutOfRange,        // an offset, RVA or size points outside its container
  kOverflow,          // arithmetic on input values overflows
  kOverlap,           // two regions that must be disjoint are not
  kBadAlignment,      // an alignment is zero, not a power of two, or not honoured
  kUnsupported,       // well-formed, but not something efikexec handles
  kMalformed,         // internally inconsistent structure
  kNotFound,          // a named thing (section, profile, key) does not exist
  kNoMemory,          // an allocator or a fixed capacity ran out
  kInvalidArgument,   // the caller asked for something impossible
  kHashMismatch,      // an image hash does not match its signature
  kUntrusted,         // no trust anchor accepts the image
  kRevoked,           // a dbx entry revokes the image or its signer
  kSbatRevoked,       // an SBAT generation is below the revocation level
  kIo,                // the host could not read or write something
  kImageFault,        // EFI code crashed, hung, or executed something unsupported
  kBadState,          // an operation arrived in the wrong state
};

// Stable lower-case name of a code, for JSON output and logs.
const char* error_code_name(ErrorCode code);

struct [[nodiscard]] Error {
  static constexpr std::uint64_t kNoOffset = ~std::uint64_t{0};

  ErrorCode code;
  const char* message;  // static storage: the rule that was broken
  std::uint64_t offset = kNoOffset;

  bool has_offset() const { return offset != kNoOffset; }
};

template <class T>
using Result = std::expected<T, Error>;

// `return fail(ErrorCode::kTruncated, "...", off);` inside a function returning Result<T>.
inline std::unexpected<Error> fail(ErrorCode code, const char* message,
                                   std::uint64_t offset = Error::kNoOffset) {
  return std::unexpected(Error{code, message, offset});
}

}  // namespace efikexec
