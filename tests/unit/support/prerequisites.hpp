// SPDX-License-Identifier: MIT
// The one rule for what a GoogleTest needs and cannot find, as tests/lib/prerequisites.sh has it
// for the scripts (docs/architecture.md, "Prerequisites and skips"): a missing fixture or host
// tool is named and the test skipped, or failed when EFIKEXEC_REQUIRE_FIXTURES=1 (exactly "1").
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>

namespace efikexec::testing {

// Whether the environment variable NAME is exactly "1".
inline bool env_is_one(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::string_view(value) == "1";
}

inline bool fixtures_required() { return env_is_one("EFIKEXEC_REQUIRE_FIXTURES"); }

// NAME under the folder the environment variable VARIABLE names, or empty when the variable is
// unset or NAME does not exist there. Empty NAME: the folder itself.
inline std::string find_under(const char* variable, std::string_view name) {
  const char* dir = std::getenv(variable);
  if (dir == nullptr || *dir == '\0') return {};
  std::string path(dir);
  if (!name.empty()) path += "/" + std::string(name);
  return std::filesystem::exists(path) ? path : std::string();
}

// A fixture of tests/fixtures/make-fixtures.sh (EFIKEXEC_FIXTURES), or empty.
inline std::string fixture_path(std::string_view name) {
  return find_under("EFIKEXEC_FIXTURES", name);
}

// Whether the host program NAME is on PATH.
inline bool have_tool(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "";
  while (!rest.empty()) {
    const std::size_t colon = rest.find(':');
    const std::string_view dir = rest.substr(0, colon);
    if (!dir.empty() && ::access((std::string(dir) + "/" + std::string(name)).c_str(), X_OK) == 0)
      return true;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return false;
}

// The message of a missing prerequisite WHAT.
inline std::string missing_message(std::string_view what) {
  return "missing " + std::string(what) +
         (fixtures_required() ? " (EFIKEXEC_REQUIRE_FIXTURES=1)" : "");
}

// A fixture that completes a test rather than starting it: its path, or empty, said on stderr
// when the part that needs it is left out, and a failure under EFIKEXEC_REQUIRE_FIXTURES=1.
inline std::string optional_fixture(std::string_view name) {
  std::string path = fixture_path(name);
  if (path.empty()) {
    const std::string missing = missing_message("fixture " + std::string(name));
    if (fixtures_required())
      ADD_FAILURE() << missing;
    else
      std::cerr << "that part of the test is skipped: " << missing << "\n";
  }
  return path;
}

}  // namespace efikexec::testing

// Ends the test (or the void helper it is in): a failure under EFIKEXEC_REQUIRE_FIXTURES=1,
// otherwise a skip; both name WHAT.
#define EFIKEXEC_MISSING_PREREQUISITE(what)                                \
  do {                                                                     \
    const std::string efikexec_missing_ = ::efikexec::testing::missing_message(what); \
    if (::efikexec::testing::fixtures_required()) FAIL() << efikexec_missing_; \
    GTEST_SKIP() << efikexec_missing_;                                     \
  } while (false)

// const std::string VAR = the path of fixture NAME, or the test ends as above.
#define EFIKEXEC_NEED_FIXTURE(var, name)                                                   \
  const std::string var = ::efikexec::testing::fixture_path(name);                         \
  if (var.empty())                                                                         \
  EFIKEXEC_MISSING_PREREQUISITE(std::string("fixture ") + std::string(name) +              \
                                " under EFIKEXEC_FIXTURES (tests/fixtures/make-fixtures.sh)")

// The host program NAME must be on PATH, or the test ends as above.
#define EFIKEXEC_NEED_TOOL(name)                                 \
  if (!::efikexec::testing::have_tool(name))                     \
  EFIKEXEC_MISSING_PREREQUISITE(std::string("host tool ") + std::string(name))
