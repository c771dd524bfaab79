// SPDX-License-Identifier: MIT
// The confinement (issue 12): raw system calls from an image end the run by name and do nothing;
// the filter's allow-list holds for calls made through the host's own code too; a report the
// child scribbled over is an error, never a plan.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kexec/image/file_bytes.hpp"
#include "kexec/run/child_report.hpp"
#include "kexec/run/confinement.hpp"
#include "kexec/run/efi_run.hpp"

namespace efikexec::kexec {
namespace {

constexpr const char* kProbeFile = "/tmp/eft-misbehave-was-here";

RunOutcome run_misbehave(const std::string& mode) {
  static const Machine machine = described_q35_machine(1024);
  auto bytes = FileBytes::read(std::string(EFT_APPS_DIR) + "/eft_misbehave.efi");
  if (!bytes) {
    ADD_FAILURE() << bytes.error().message();
    return {};
  }
  RunRequest request;
  request.image = bytes->view();
  request.load_options = mode;
  request.machine = &machine;
  request.timeout_seconds = 10;
  RunOutcome outcome;
  auto started = run_efi_image(request, outcome);
  EXPECT_TRUE(started) << started.error().message();
  return outcome;
}

TEST(RunConfinement, RawSystemCallsFromTheImageEndTheRunByNameAndDoNothing) {
  std::filesystem::remove(kProbeFile);
  const std::pair<const char*, const char*> kModes[] = {
      {"sys-open", "openat"},     {"sys-kill", "getppid"},    {"sys-fork", "fork"},
      {"sys-execve", "execve"},   {"sys-ptrace", "ptrace"},   {"sys-procmem", "openat"},
      {"sys-mprotect", "mprotect"}, {"sys-write", "write"},
  };
  for (auto [mode, call] : kModes) {
    const RunOutcome outcome = run_misbehave(mode);
    EXPECT_EQ(outcome.end, RunEnd::kFault) << mode << ": " << outcome.message;
    EXPECT_EQ(outcome.message, std::string("system call ") + call + " refused at " +
                                   outcome.message.substr(outcome.message.find("image1+0x")))
        << mode;
    EXPECT_NE(outcome.message.find("at image1+0x"), std::string::npos) << outcome.message;
    EXPECT_EQ(outcome.console.find("system call returned"), std::string::npos)
        << mode << ": the call returned to the image";
    EXPECT_EQ(outcome.memory, nullptr) << "nothing of a refused run is kept";
  }
  EXPECT_FALSE(std::filesystem::exists(kProbeFile));
  // Still here (sys-kill aimed at this process), and a clean run still runs.
  EXPECT_EQ(run_misbehave("cr0").end, RunEnd::kReturned);
}

TEST(RunConfinement, SkippedStepsAreNamedWhenThereAreAny) {
  const RunOutcome outcome = run_misbehave("cr0");
  for (const std::string& step : outcome.confinement_skipped)
    EXPECT_NE(step.find(' '), std::string::npos) << "a step in words: " << step;
  EXPECT_EQ(skipped_confinement_steps(1u << 3, std::array<std::uint8_t, 6>{0, 0, 0, EPERM}.data()),
            std::vector<std::string>{"network namespace (EPERM)"});
}

// confine() in a child of this test, then `call` through the host's code: how the child ended.
template <typename Call>
int after_confinement(Call call, int memory_fd = -1) {
  const pid_t child = fork();
  if (child == 0) {
    // Every address of this program counts as the host's (the image's memory is below 4 GiB).
    if (!confine({memory_fd, true, std::uint64_t{1} << 32})) _exit(99);
    _exit(call() ? 0 : 98);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

TEST(RunConfinement, TheFilterAllowsOnlyWhatTheShimNeedsEvenFromTheHostsCode) {
  EXPECT_EQ(after_confinement([] {
              std::byte buffer[16];
              timespec now{};
              void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
              return getrandom(buffer, sizeof buffer, 0) == sizeof buffer &&
                     clock_gettime(CLOCK_MONOTONIC, &now) == 0 && page != MAP_FAILED &&
                     munmap(page, 4096) == 0 && write(STDERR_FILENO, "", 0) == 0;
            }),
            0);
  EXPECT_EQ(after_confinement([] { return getppid() > 0; }), -SIGSYS);
#ifndef EFIKEXEC_SANITIZED  // the sanitizer runtime's own needs (confinement.cpp)
  EXPECT_EQ(after_confinement([] { return open("/tmp", O_RDONLY) >= 0; }), -SIGSYS);
  EXPECT_EQ(after_confinement([] { return write(STDOUT_FILENO, "", 0) == 0; }), -SIGSYS);
#endif
  EXPECT_EQ(after_confinement([] {
              return mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                          0) != MAP_FAILED;
            }),
            -SIGSYS)
      << "executable memory only from the run's memory file";
  EXPECT_EQ(after_confinement([] {
              return mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS,
                          STDERR_FILENO, 0) != MAP_FAILED;
            }, STDERR_FILENO),
            -SIGSYS)
      << "anonymous memory given a descriptor's number is still anonymous";
#ifndef EFIKEXEC_SANITIZED
  EXPECT_EQ(after_confinement([] {
              return mprotect(reinterpret_cast<void*>(
                                  reinterpret_cast<std::uintptr_t>(&getpid) & ~0xfffull),
                              4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0;
            }),
            -SIGSYS);
#endif
}

// ---- The parent's reading of a report the child may have scribbled over ----

struct ReportFixture : ::testing::Test {
  static constexpr std::pair<std::uint64_t, std::uint64_t> kRam[] = {{0x100000, 0x40000000}};
  ReportLimits limits{kRam, std::uint64_t{1} << 32, 1, 1};
  std::unique_ptr<ChildReport> report = std::make_unique<ChildReport>();

  // A report as a clean run to ExitBootServices() leaves it.
  void SetUp() override {
    ChildReport& r = *report;
    r.ended = 1;
    r.end = RunEnd::kExitBootServices;
    r.seconds = 0.5;
    std::strcpy(r.message, "ExitBootServices() reached");
    r.range_count = 3;
    r.ranges[0] = {0x100000, 0x100, EfiConventionalMemory, 0, false};
    r.ranges[1] = {0x200000, 0x100, EfiLoaderData, 0, true};
    r.ranges[2] = {0x300000, 0x100, EfiLoaderCode, 0, true};
    r.handoff_code = 0x300000;
    r.handoff_data = 0x200000;
    r.system_table = 0x201000;
    r.context.rip = 0x300100;
    r.context.rsp = 0x2ff000;
  }
  std::string error_of() {
    RunOutcome outcome;
    auto read = read_child_report(*report, limits, outcome);
    if (read) return {};
    return read.error().reason.empty() ? "(no words)" : read.error().reason;
  }
};

TEST_F(ReportFixture, ACleanReportIsRead) {
  RunOutcome outcome;
  auto read = read_child_report(*report, limits, outcome);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(outcome.final_map.size(), 3u);
  EXPECT_EQ(outcome.context.rip, 0x300100u);
}

TEST_F(ReportFixture, EveryScribbleIsAnErrorNeverAPlan) {
  report->range_count = 0xffffffff;
  EXPECT_NE(error_of().find("more than the shim keeps"), std::string::npos);
  SetUp();
  report->ranges[2].start = 0xfee00000;  // allocated outside RAM (the APIC)
  report->handoff_code = 0xfee00000;
  EXPECT_NE(error_of().find("outside the machine's RAM"), std::string::npos);
  SetUp();
  report->ranges[1].pages = ~0ull / 2;  // wraps around
  EXPECT_NE(error_of().find("whole pages"), std::string::npos);
  SetUp();
  report->ranges[2].start = 0x200000;  // overlaps
  EXPECT_NE(error_of().find("overlaps"), std::string::npos);
  SetUp();
  std::memset(&report->ranges[1].allocated, 7, 1);
  EXPECT_NE(error_of().find("allocation flag"), std::string::npos);
  SetUp();
  report->handoff_data = 0x100000;  // free RAM, not the pages set aside
  EXPECT_NE(error_of().find("page tables"), std::string::npos);
  SetUp();
  report->context.rsp = 0x7fff00000000;
  EXPECT_NE(error_of().find("captured context"), std::string::npos);
  SetUp();
  report->system_table = 0;
  EXPECT_NE(error_of().find("system table"), std::string::npos);
  SetUp();
  report->end = static_cast<RunEnd>(77);
  EXPECT_NE(error_of().find("unknown way"), std::string::npos);
  SetUp();
  report->end = RunEnd::kTimeout;
  EXPECT_NE(error_of().find("unknown way"), std::string::npos);
  SetUp();
  report->seconds = -1.0 / 0.0;
  EXPECT_NE(error_of().find("not a time"), std::string::npos);
  SetUp();
  report->confinement_skipped = 0xffffffff;
  EXPECT_NE(error_of().find("confinement steps"), std::string::npos);
}

TEST_F(ReportFixture, StringsAndCountsAreBounded) {
  std::memset(report->message, 'x', sizeof report->message);  // no NUL at all
  report->message[3] = '\033';
  report->console_used = ~0ull;
  report->trace_used = ~0ull;
  RunOutcome outcome;
  auto read = read_child_report(*report, limits, outcome);
  ASSERT_TRUE(read) << read.error().message();
  read_child_output(*report, outcome);
  EXPECT_EQ(outcome.message.size(), kReportMessageSize);
  EXPECT_EQ(outcome.message[3], '?') << "no terminal escapes from the child";
  EXPECT_EQ(outcome.console.size(), kReportConsoleSize);
}

// A variable as the child copies it: `text` as a NUL-terminated UCS-2 string, or raw bytes.
void put_variable(ReportVariable& out, std::u16string_view name, std::span<const std::uint8_t> data) {
  out = ReportVariable{};
  std::copy(name.begin(), name.end(), out.name);
  out.name[name.size()] = 0;
  // 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f as the store holds it (little-endian fields).
  constexpr std::uint8_t kLoaderGuid[16] = {0x82, 0xb0, 0x67, 0x4a, 0x4c, 0x0a, 0xcf, 0x41,
                                            0xb6, 0xc7, 0x44, 0x0b, 0x29, 0xbb, 0x8c, 0x4f};
  std::memcpy(out.guid, kLoaderGuid, sizeof out.guid);
  out.attributes = 0x6;
  out.size = static_cast<std::uint32_t>(data.size());
  out.data_used = static_cast<std::uint32_t>(std::min(data.size(), kReportVariableData));
  std::memcpy(out.data, data.data(), out.data_used);
}

std::vector<std::uint8_t> ucs2_bytes(std::u16string_view text) {
  std::vector<std::uint8_t> bytes((text.size() + 1) * 2);
  std::memcpy(bytes.data(), text.data(), text.size() * 2);
  return bytes;
}

TEST_F(ReportFixture, VariablesTheImageSetAreReadAsTextOrHex) {
  put_variable(report->variables[0], u"LoaderImageIdentifier", ucs2_bytes(u"\\EFI\\Linux\\a.efi"));
  const std::uint8_t features[8] = {0xff, 0x01};
  put_variable(report->variables[1], u"StubFeatures", features);
  put_variable(report->variables[2], u"Escape", ucs2_bytes(u"a\x1b[2Jb"));
  const std::vector<std::uint8_t> big(4096, 0xab);
  put_variable(report->variables[3], u"Big", big);
  report->variable_count = 4;
  RunOutcome outcome;
  auto read = read_child_report(*report, limits, outcome);
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(outcome.variables_set.size(), 4u);
  const ImageVariable& id = outcome.variables_set[0];
  EXPECT_EQ(id.name, "LoaderImageIdentifier");
  EXPECT_EQ(id.guid, "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f");
  EXPECT_EQ(id.attributes, 0x6u);
  ASSERT_TRUE(id.text.has_value());
  EXPECT_EQ(*id.text, "\\EFI\\Linux\\a.efi");
  EXPECT_FALSE(outcome.variables_set[1].text.has_value());
  EXPECT_EQ(outcome.variables_set[1].hex, "ff01000000000000");
  EXPECT_FALSE(outcome.variables_set[2].text.has_value()) << "control characters are not text";
  EXPECT_EQ(outcome.variables_set[3].hex.size(), 2 * kReportVariableData);
  EXPECT_TRUE(outcome.variables_set[3].data_cut);
  EXPECT_EQ(outcome.variables_set[3].size, 4096u);
  EXPECT_FALSE(outcome.variables_cut);
}

TEST_F(ReportFixture, AScribbledVariablesAreaIsAnErrorNeverACrash) {
  report->variable_count = 0xffffffff;
  EXPECT_NE(error_of().find("more than it has room for"), std::string::npos);
  SetUp();
  report->variable_count = 1;
  std::fill(std::begin(report->variables[0].name), std::end(report->variables[0].name), u'A');
  EXPECT_NE(error_of().find("no name terminator"), std::string::npos);
  SetUp();
  report->variable_count = 1;
  put_variable(report->variables[0], u"X", ucs2_bytes(u"y"));
  report->variables[0].data_used = 0xffffffff;
  EXPECT_NE(error_of().find("corrupt sizes"), std::string::npos);
  SetUp();
  report->variable_count = 1;
  put_variable(report->variables[0], u"X", ucs2_bytes(u"y"));
  report->variables[0].name_cut = 9;
  EXPECT_NE(error_of().find("corrupt sizes or flags"), std::string::npos);
  SetUp();
  report->variable_count = 1;
  put_variable(report->variables[0], u"\x1b]0;x", ucs2_bytes(u"y"));
  report->variables_cut = 1;
  RunOutcome outcome;
  auto read = read_child_report(*report, limits, outcome);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(outcome.variables_set.at(0).name, "?]0;x") << "no terminal escapes from the child";
  EXPECT_TRUE(outcome.variables_cut);
  report->variables_cut = 2;
  EXPECT_NE(error_of().find("variables left out"), std::string::npos);
}

}  // namespace
}  // namespace efikexec::kexec
