// SPDX-License-Identifier: MIT
// Shared by the C API tests: a fake kexec layer swapped in through the test hook (no test can
// reach the kexec system calls), and the real fixtures (tests/fixtures/make-fixtures.sh) found
// through EFIKEXEC_FIXTURES with support/prerequisites.hpp (skipped when absent, a failure under
// EFIKEXEC_REQUIRE_FIXTURES=1).
#pragma once

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "kexec/api/c_api_internal.hpp"
#include "support/prerequisites.hpp"

namespace efikexec::testing {

// What the fake saw; shared between the test and every fake the factory makes.
struct FakeKexecState {
  int loads = 0;
  int unloads = 0;
  int executes = 0;
  std::uint64_t entry = 0;
  std::size_t segments = 0;
  std::uint64_t buffer_bytes = 0;
  std::uint64_t last_bytes = 0;  // sum of each buffer's last byte: proof they were read
  bool fail_load = false;
  bool loaded = false;
  bool crash = false;  // the last load or unload was of the crash kernel
  int file_loads = 0;
  int file_unloads = 0;
  std::string file_command_line;
  std::uint64_t file_initrd_size = 0;
};

class FakeKexecSyscalls final : public kexec::KexecSyscalls {
 public:
  explicit FakeKexecSyscalls(std::shared_ptr<FakeKexecState> state) : state_(std::move(state)) {}

  kexec::HostStatus load(std::uint64_t entry,
                         std::span<const kexec::KexecSegment> segments,
                         kexec::KexecSlot slot) override {
    ++state_->loads;
    state_->crash = slot == kexec::KexecSlot::kCrash;
    if (state_->fail_load) return kexec::host_fail(kexec::Stage::kKexec, "fake kexec_load failed");
    state_->entry = entry;
    state_->segments = segments.size();
    state_->buffer_bytes = 0;
    for (const kexec::KexecSegment& segment : segments) {
      state_->buffer_bytes += segment.buffer_size;
      // The buffers must be readable to their end, as the kernel copies them.
      if (segment.buffer_size != 0)
        state_->last_bytes += static_cast<const unsigned char*>(
            segment.buffer)[segment.buffer_size - 1];
    }
    state_->loaded = true;
    return {};
  }
  kexec::HostStatus unload(kexec::KexecSlot slot) override {
    ++state_->unloads;
    state_->crash = slot == kexec::KexecSlot::kCrash;
    state_->loaded = false;
    return {};
  }
  kexec::HostStatus file_load(int /*kernel_fd*/, int initrd_fd,
                              const std::string& command_line) override {
    ++state_->file_loads;
    state_->file_command_line = command_line;
    struct stat st{};
    state_->file_initrd_size = fstat(initrd_fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    if (state_->fail_load)
      return kexec::host_fail(kexec::Stage::kKexec, "fake kexec_file_load failed");
    state_->loaded = true;
    return {};
  }
  kexec::HostStatus file_unload() override {
    ++state_->file_unloads;
    state_->loaded = false;
    return {};
  }
  bool loaded(kexec::KexecSlot) override { return state_->loaded; }
  kexec::HostError execute() override {
    ++state_->executes;
    return {kexec::Stage::kKexec, "fake reboot returned"};
  }

 private:
  std::shared_ptr<FakeKexecState> state_;
};

// Installs the fake for the test's lifetime, and a system root of the test's own (no lockdown
// file until lock_down() writes one), made before any options of the test are.
class WithFakeKexec : public ::testing::Test {
 protected:
  WithFakeKexec() {
    std::string pattern = (std::filesystem::temp_directory_path() / "efikexec-c-api-XXXXXX").string();
    root = mkdtemp(pattern.data());
    kexec::set_system_root_for_testing(root);
  }
  ~WithFakeKexec() override {
    kexec::set_system_root_for_testing({});
    std::filesystem::remove_all(root);
  }
  // The kernel under `root` says lockdown [integrity].
  void lock_down() {
    std::filesystem::create_directories(root + "/sys/kernel/security");
    std::ofstream(root + "/sys/kernel/security/lockdown") << "none [integrity] confidentiality\n";
  }
  void SetUp() override {
    kexec::set_kexec_syscalls_factory_for_testing(
        [state = fake] { return std::make_unique<FakeKexecSyscalls>(state); });
  }
  void TearDown() override { kexec::set_kexec_syscalls_factory_for_testing(nullptr); }

  std::string root;
  std::shared_ptr<FakeKexecState> fake = std::make_shared<FakeKexecState>();
};

}  // namespace efikexec::testing
