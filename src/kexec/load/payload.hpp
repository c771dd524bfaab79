// SPDX-License-Identifier: MIT
// The handoff through the signed payload, for kernels in lockdown (docs/payload.md): they refuse
// kexec_load(2) and accept only kexec_file_load(2) of a bzImage whose first PE signature they
// trust. efikexec then verifies the UKI as always, runs none of it, and hands the kernel the
// payload (a PE that is also a 64-bit bzImage) with the UKI as its "initrd"; after kexec the
// payload verifies and runs the UKI itself on the bare machine.
//
// Payload protocol, version 1 (what the payload expects; change both sides together):
//  - kexec_file_load(payload, bundle, command line, flags 0);
//  - the bundle: the UKI's bytes as verified (offset 0, size U), zeros up to the next multiple
//    of 4096, then the extra initrd (size I), if any;
//  - the command line: "efikexec.uki_size=U" first, then optionally "efikexec.initrd_size=I",
//    "efikexec.profile=N", "efikexec.cmdline=append|replace", each after one space, then
//    optionally " -- " and the command-line text (the rest of the string, verbatim).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kexec/common/host_error.hpp"
#include "kexec/machine/lockdown.hpp"
#include "pe_loader/byte_view.hpp"
#include "uki/uki.hpp"

namespace efikexec::kexec {

// How the loaded image gets control after kexec.
enum class Handoff : std::uint8_t {
  kAuto,        // kPayload when the kernel is in lockdown, else kTrampoline
  kTrampoline,  // kexec_load of the run's memory and the trampoline (docs/architecture.md)
  kPayload,     // kexec_file_load of the signed payload, the UKI in its bundle
};
const char* handoff_name(Handoff handoff);
std::optional<Handoff> handoff_from_name(std::string_view name);

// The path `requested` takes on a kernel in `lockdown`: kAuto becomes kPayload under
// integrity or confidentiality, kTrampoline otherwise; the others stay as they are.
Handoff choose_handoff(Handoff requested, LockdownMode lockdown);

// Where the payload is installed (the build's EFIKEXEC_PAYLOAD_INSTALL_PATH).
const char* default_payload_path();

inline constexpr std::uint64_t kBundleAlignment = 4096;
// x86's COMMAND_LINE_SIZE, the NUL included: the most kexec_file_load passes on.
inline constexpr std::size_t kKexecCommandLineSize = 2048;
// bzImage64_load() keeps this much of the image's cmdline_size free for "elfcorehdr=<addr>".
inline constexpr std::size_t kKexecElfcorehdrReserve = 30;

// A file descriptor closed with its owner.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// The checks kexec_file_load's bzImage64 probe makes (arch/x86/kernel/kexec-bzimage64.c), on
// a file that must also be an x86_64 PE: each failure names the field. Stage::kParse.
HostResult<uki::LinuxBootHeader> check_payload_image(ByteView bytes, const std::string& path);

// The payload file, open read-only for kexec_file_load, and what its header says.
struct PayloadImage {
  std::string path;
  OwnedFd fd;
  std::uint64_t size = 0;
  uki::LinuxBootHeader header{};
};
// Opens and checks the payload. A missing or unreadable file is Stage::kRead.
HostResult<PayloadImage> open_payload(const std::string& path);

enum class PayloadCommandLineMode : std::uint8_t { kAppend, kReplace };

struct PayloadArguments {
  std::uint64_t uki_size = 0;
  std::optional<std::uint64_t> initrd_size;
  std::optional<unsigned> profile;
  std::optional<PayloadCommandLineMode> mode;  // with `text`: what the UKI's command line becomes
  std::string text;
  // The ESP's files for the stub (efikexec.esp_size=, efikexec.esp_image=): the archive's size
  // and the UKI's path on the ESP, `/`-separated.
  std::optional<std::uint64_t> esp_size;
  std::string esp_image;
};

// The command line of the protocol. Refused (Stage::kRequest) when the text holds a NUL or the
// line is longer than the kernel passes on: kKexecCommandLineSize with its NUL, and the
// payload's own cmdline_size less kKexecElfcorehdrReserve (bzImage64_load's check).
HostResult<std::string> payload_command_line(const PayloadArguments& arguments,
                                             std::uint32_t payload_cmdline_size);

// The bundle in a sealed memory file, open read-only: kexec_file_load reads its "initrd" only
// while nothing holds the file open for writing (ETXTBSY otherwise), so the writable descriptor
// is closed once the file is filled and sealed.
struct Bundle {
  OwnedFd fd;
  std::uint64_t size = 0;
  std::uint64_t uki_size = 0;
  std::uint64_t initrd_offset = 0;  // the UKI's size rounded up to kBundleAlignment
  std::uint64_t initrd_size = 0;
  std::uint64_t esp_offset = 0;  // the initrd's end rounded up to kBundleAlignment
  std::uint64_t esp_size = 0;
};
// `esp_archive` (may be empty) follows the initrd: the ESP's files as esp_archive() packs them.
HostResult<Bundle> make_bundle(ByteView uki, ByteView initrd, ByteView esp_archive = {});

}  // namespace efikexec::kexec
