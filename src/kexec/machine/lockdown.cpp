// SPDX-License-Identifier: MIT
#include "kexec/machine/lockdown.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace efikexec::kexec {

namespace {

bool empty_directory(const std::string& path) {
  DIR* directory = opendir(path.c_str());
  if (directory == nullptr) return false;
  bool empty = true;
  while (const dirent* entry = readdir(directory)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  closedir(directory);
  return empty;
}

}  // namespace

const char* lockdown_mode_name(LockdownMode mode) {
  switch (mode) {
    case LockdownMode::kNone: return "none";
    case LockdownMode::kIntegrity: return "integrity";
    case LockdownMode::kConfidentiality: return "confidentiality";
    case LockdownMode::kUnknown: return "unknown";
  }
  return "unknown";
}

HostResult<LockdownMode> parse_lockdown(std::string_view text, const std::string& path) {
  const std::size_t open = text.find('[');
  const std::size_t close = open == std::string_view::npos ? open : text.find(']', open);
  if (close != std::string_view::npos) {
    const std::string_view word = text.substr(open + 1, close - open - 1);
    for (LockdownMode mode :
         {LockdownMode::kNone, LockdownMode::kIntegrity, LockdownMode::kConfidentiality})
      if (word == lockdown_mode_name(mode)) return mode;
  }
  return host_fail(Stage::kMachine,
                   "no lockdown mode in brackets (expected e.g. \"none [integrity] "
                   "confidentiality\")",
                   path);
}

HostResult<LockdownMode> read_lockdown(const std::string& root) {
  std::string path = root;
  if (path.empty() || path.back() != '/') path += '/';
  path += kLockdownFile;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      // An empty securityfs directory: securityfs is not mounted, and the mode is unknown.
      // No directory (no securityfs), or securityfs without the file (no lockdown LSM): none.
      if (empty_directory(path.substr(0, path.rfind('/')))) return LockdownMode::kUnknown;
      return LockdownMode::kNone;
    }
    return host_fail_errno(Stage::kMachine, "cannot read the kernel's lockdown mode", path);
  }
  char buffer[256];  // the kernel's line is "none integrity confidentiality" with brackets
  ssize_t n;
  do {
    n = read(fd, buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  const int error = errno;
  close(fd);
  if (n < 0) {
    errno = error;
    return host_fail_errno(Stage::kMachine, "cannot read the kernel's lockdown mode", path);
  }
  return parse_lockdown(std::string_view(buffer, static_cast<std::size_t>(n)), path);
}

}  // namespace efikexec::kexec
