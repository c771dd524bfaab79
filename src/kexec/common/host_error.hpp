// SPDX-License-Identifier: MIT
// The one error type of the host layer: which stage of the pipeline stopped, why, and where
// (a path, an offset). Front ends decide what a stage means to their callers: the CLI maps it to
// an exit status (cli/exit_status.hpp), the C API to a status code; nothing below them does.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

#include <efikexec/error.hpp>

namespace efikexec::kexec {

// In pipeline order.
enum class Stage : std::uint8_t {
  kRequest,       // the caller's options contradict each other or the image
  kRead,          // an input file cannot be read
  kParse,         // an input is malformed (image, signature table, initrd, description)
  kTrustSources,  // db / dbx / SBAT level: unreadable, malformed, or none to be had
  kVerify,        // the trust policy refused the image
  kMachine,       // the machine (or its description) cannot be discovered
  kRun,           // the image did not reach ExitBootServices(), or its run could not start
  kPlan,          // the handoff or the segments cannot be built
  kKexec,         // a kexec system call failed or is forbidden
  kWrite,         // an output file cannot be written
};
const char* stage_name(Stage stage);

struct [[nodiscard]] HostError {
  Stage stage;
  std::string reason;  // one line: what is wrong
  std::string path;    // the file it concerns; empty when none
  std::uint64_t offset = Error::kNoOffset;  // in that file, when known
  ErrorCode code = ErrorCode::kIo;          // the core's code, when the core said it

  // "PATH: reason (code, offset 0x1f)": the line users see.
  std::string message() const;
};

// A core error in words: "message (code, offset 0x1f)"; HostError::message ends the same way.
std::string describe(const Error& error);

template <class T>
using HostResult = std::expected<T, HostError>;
using HostStatus = HostResult<void>;

inline std::unexpected<HostError> host_fail(Stage stage, std::string reason,
                                            std::string path = {}) {
  return std::unexpected(HostError{stage, std::move(reason), std::move(path)});
}

// A core error about the file `path`: its message, code and offset.
inline std::unexpected<HostError> host_fail(Stage stage, const Error& error, std::string path) {
  return std::unexpected(
      HostError{stage, error.message, std::move(path), error.offset, error.code});
}

// A system call's failure: "what: strerror(errno)".
std::unexpected<HostError> host_fail_errno(Stage stage, const char* what, std::string path);

}  // namespace efikexec::kexec
