// SPDX-License-Identifier: MIT
// A directory tree under /tmp for the ESP tests, removed when the test ends.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace efikexec::testing {

class TempTree {
 public:
  TempTree() {
    char pattern[] = "/tmp/efikexec-esp-XXXXXX";
    root_ = ::mkdtemp(pattern);
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  std::string path(const std::string& relative) const { return root_ + "/" + relative; }
  void write(const std::string& relative, const std::string& bytes) const {
    std::filesystem::create_directories(std::filesystem::path(path(relative)).parent_path());
    std::ofstream(path(relative), std::ios::binary) << bytes;
  }
  void copy(const std::string& from, const std::string& relative) const {
    std::filesystem::create_directories(std::filesystem::path(path(relative)).parent_path());
    std::filesystem::copy_file(from, path(relative), std::filesystem::copy_options::overwrite_existing);
  }

 private:
  std::string root_;
};

}  // namespace efikexec::testing
