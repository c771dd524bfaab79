// SPDX-License-Identifier: MIT
#include "kexec/load/payload.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "payload/protocol.hpp"
#include "pe_loader/pe_image.hpp"

#ifndef EFIKEXEC_PAYLOAD_INSTALL_PATH
#error "EFIKEXEC_PAYLOAD_INSTALL_PATH (src/payload/payload.cmake) names where load finds the payload"
#endif

namespace efikexec::kexec {

namespace {

constexpr std::uint8_t kLoadedHigh = 1 << 0;  // loadflags: the protected-mode part at 1 MiB+
constexpr std::uint16_t kMinimumProtocol = 0x020c;  // the first with xloadflags

HostStatus write_all(int fd, ByteView bytes, const char* what) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        write(fd, reinterpret_cast<const char*>(bytes.data()) + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return host_fail_errno(Stage::kPlan, what, {});
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

const char* handoff_name(Handoff handoff) {
  switch (handoff) {
    case Handoff::kAuto: return "auto";
    case Handoff::kTrampoline: return "trampoline";
    case Handoff::kPayload: return "payload";
  }
  return "unknown";
}

std::optional<Handoff> handoff_from_name(std::string_view name) {
  for (Handoff handoff : {Handoff::kAuto, Handoff::kTrampoline, Handoff::kPayload})
    if (name == handoff_name(handoff)) return handoff;
  return std::nullopt;
}

Handoff choose_handoff(Handoff requested, LockdownMode lockdown) {
  if (requested != Handoff::kAuto) return requested;
  // An unknown mode (securityfs not mounted) takes the trampoline, as most kernels are not in
  // lockdown; one that is refuses kexec_load, and the message says to name the payload.
  return lockdown == LockdownMode::kIntegrity || lockdown == LockdownMode::kConfidentiality
             ? Handoff::kPayload
             : Handoff::kTrampoline;
}

const char* default_payload_path() { return EFIKEXEC_PAYLOAD_INSTALL_PATH; }

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) close(fd_);
}

HostResult<uki::LinuxBootHeader> check_payload_image(ByteView bytes, const std::string& path) {
  constexpr const char* kNot = "not an efikexec payload (a PE that is also a 64-bit bzImage): ";
  auto fail = [&path, kNot](std::string reason) {
    return host_fail(Stage::kParse, kNot + std::move(reason), path);
  };
  auto core_fail = [&path, kNot](const Error& error) {
    return std::unexpected(HostError{Stage::kParse, std::string(kNot) + error.message, path,
                                     error.offset, error.code});
  };
  auto image = pe::Image::parse(bytes);
  if (!image) return core_fail(image.error());
  if (!image->is_x86_64()) return fail("not an x86_64 PE");
  auto header = uki::parse_linux_boot_header(bytes);
  if (!header) return core_fail(header.error());
  if (header->protocol_version < kMinimumProtocol)
    return fail("boot protocol " + std::to_string(header->protocol_version >> 8) + "." +
                std::to_string(header->protocol_version & 0xff) +
                ", kexec_file_load needs 2.12 or later");
  if ((header->loadflags & kLoadedHigh) == 0) return fail("loadflags without LOADED_HIGH");
  if ((header->xloadflags & uki::kXlfKernel64) == 0)
    return fail("xloadflags without XLF_KERNEL_64 (no 64-bit entry)");
  if ((header->xloadflags & uki::kXlfCanBeLoadedAbove4G) == 0)
    return fail("xloadflags without XLF_CAN_BE_LOADED_ABOVE_4G");
  // setup_sects 0 means 4 (boot.rst); the kernel refuses a file shorter than the setup code.
  const std::uint64_t setup_size = (std::uint64_t{header->setup_sects ? header->setup_sects : 4u} + 1) * 512;
  if (bytes.size() < setup_size)
    return fail("shorter than its setup code (" + std::to_string(setup_size) + " bytes)");
  return *header;
}

HostResult<PayloadImage> open_payload(const std::string& path) {
  PayloadImage payload;
  payload.path = path;
  payload.fd = OwnedFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (payload.fd.get() < 0) return host_fail_errno(Stage::kRead, "cannot open the payload", path);
  struct stat st{};
  if (fstat(payload.fd.get(), &st) != 0)
    return host_fail_errno(Stage::kRead, "cannot stat the payload", path);
  if (!S_ISREG(st.st_mode)) return host_fail(Stage::kRead, "the payload is not a regular file", path);
  if (st.st_size <= 0) return host_fail(Stage::kParse, "the payload is empty", path);
  // kernel_read_file() takes at most INT_MAX bytes.
  if (st.st_size > INT_MAX)
    return host_fail(Stage::kParse, "the payload is larger than kexec_file_load reads", path);
  payload.size = static_cast<std::uint64_t>(st.st_size);
  // Checked through the descriptor the kernel gets: the same file, whatever its name becomes.
  void* map = mmap(nullptr, payload.size, PROT_READ, MAP_PRIVATE, payload.fd.get(), 0);
  if (map == MAP_FAILED) return host_fail_errno(Stage::kRead, "cannot map the payload", path);
  auto header = check_payload_image(ByteView(static_cast<const std::byte*>(map), payload.size), path);
  munmap(map, payload.size);
  if (!header) return std::unexpected(std::move(header.error()));
  payload.header = *header;
  return payload;
}

HostResult<std::string> payload_command_line(const PayloadArguments& arguments,
                                             std::uint32_t payload_cmdline_size) {
  std::string line = "efikexec.uki_size=" + std::to_string(arguments.uki_size);
  if (arguments.initrd_size)
    line += " efikexec.initrd_size=" + std::to_string(*arguments.initrd_size);
  if (arguments.profile) line += " efikexec.profile=" + std::to_string(*arguments.profile);
  if (arguments.mode) {
    if (arguments.text.find('\0') != std::string::npos)
      return host_fail(Stage::kRequest, "the command line holds a NUL character");
    line += arguments.mode == PayloadCommandLineMode::kAppend ? " efikexec.cmdline=append"
                                                              : " efikexec.cmdline=replace";
  }
  if (arguments.esp_size) {
    for (const char c : arguments.esp_image)
      if (!payload::esp_image_character(c))
        return host_fail(Stage::kRequest,
                         "the UKI's path on the ESP holds a space or a character other than "
                         "printable ASCII, which the payload protocol cannot carry",
                         arguments.esp_image);
    line += " efikexec.esp_size=" + std::to_string(*arguments.esp_size) +
            " efikexec.esp_image=" + arguments.esp_image;
  }
  if (arguments.mode) line += " -- " + arguments.text;
  const std::size_t with_nul = line.size() + 1;
  std::size_t limit = kKexecCommandLineSize;
  if (payload_cmdline_size < limit + kKexecElfcorehdrReserve)
    limit = payload_cmdline_size > kKexecElfcorehdrReserve
                ? payload_cmdline_size - kKexecElfcorehdrReserve
                : 0;
  if (with_nul > limit)
    return host_fail(Stage::kRequest,
                     "the payload's command line would be " + std::to_string(with_nul) +
                         " bytes with its NUL; kexec_file_load passes at most " +
                         std::to_string(limit) + " to this payload (shorten the command line)");
  return line;
}

HostResult<Bundle> make_bundle(ByteView uki, ByteView initrd, ByteView esp_archive) {
  Bundle bundle;
  bundle.uki_size = uki.size();
  auto padded = align_up(uki.size(), kBundleAlignment);
  if (!padded) return host_fail(Stage::kPlan, "the UKI is too large for a bundle");
  bundle.initrd_size = initrd.size();
  bundle.initrd_offset = *padded;
  bundle.size = *padded + initrd.size();
  if (!esp_archive.empty()) {
    bundle.esp_offset = *align_up(bundle.size, kBundleAlignment);
    bundle.esp_size = esp_archive.size();
    bundle.size = bundle.esp_offset + esp_archive.size();
  }
  if (bundle.size > INT_MAX)  // kernel_read_file()'s limit
    return host_fail(Stage::kPlan,
                     "the UKI and the initrd make a bundle of " + std::to_string(bundle.size) +
                         " bytes; kexec_file_load reads at most 2 GiB - 1");
  OwnedFd writable(memfd_create("efikexec-bundle", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (writable.get() < 0) return host_fail_errno(Stage::kPlan, "cannot create the bundle", {});
  if (auto written = write_all(writable.get(), uki, "cannot write the bundle"); !written)
    return std::unexpected(std::move(written.error()));
  // The zero padding, then the initrd: a hole (reads as zeros) made by growing the file.
  if (ftruncate(writable.get(), static_cast<off_t>(*padded)) != 0 ||
      lseek(writable.get(), 0, SEEK_END) != static_cast<off_t>(*padded))
    return host_fail_errno(Stage::kPlan, "cannot pad the bundle", {});
  if (auto written = write_all(writable.get(), initrd, "cannot write the bundle"); !written)
    return std::unexpected(std::move(written.error()));
  if (!esp_archive.empty()) {
    if (ftruncate(writable.get(), static_cast<off_t>(bundle.esp_offset)) != 0 ||
        lseek(writable.get(), 0, SEEK_END) != static_cast<off_t>(bundle.esp_offset))
      return host_fail_errno(Stage::kPlan, "cannot pad the bundle", {});
    if (auto written = write_all(writable.get(), esp_archive, "cannot write the bundle"); !written)
      return std::unexpected(std::move(written.error()));
  }
  if (fcntl(writable.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) !=
      0)
    return host_fail_errno(Stage::kPlan, "cannot seal the bundle", {});
  const std::string self = "/proc/self/fd/" + std::to_string(writable.get());
  bundle.fd = OwnedFd(open(self.c_str(), O_RDONLY | O_CLOEXEC));
  if (bundle.fd.get() < 0)
    return host_fail_errno(Stage::kPlan, "cannot reopen the bundle read-only (is /proc mounted?)",
                           {});
  return bundle;  // `writable` closes here: no descriptor of the bundle is open for writing
}

}  // namespace efikexec::kexec
