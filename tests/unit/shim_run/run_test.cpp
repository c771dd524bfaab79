// SPDX-License-Identifier: MIT
// Images run in the sandboxed child: how each way of ending is reported, that a crash, a hang or
// a bad pointer ends only the child, and that real images reach ExitBootServices() with the
// boot_params the Linux stub builds from what it was given.
#include <gtest/gtest.h>

#include <string>

#include "kexec/run/efi_run.hpp"
#include "kexec/image/file_bytes.hpp"
#include "kexec/inspect/inspect.hpp"
#include "support/prerequisites.hpp"
#include "uki/uki.hpp"

namespace efikexec::kexec {
namespace {

std::string misbehave_app() { return std::string(EFT_APPS_DIR) + "/eft_misbehave.efi"; }

struct ChildRun {
  RunOutcome outcome;
};

ChildRun run(const std::string& path, std::optional<std::string> options, unsigned timeout = 10,
        std::optional<ByteView> initrd = {}) {
  static const Machine machine = described_q35_machine(1024);
  ChildRun result;
  auto bytes = FileBytes::read(path);
  if (!bytes) {
    ADD_FAILURE() << bytes.error().message();
    return result;
  }
  RunRequest request;
  request.image = bytes->view();
  request.load_options = std::move(options);
  request.initrd = initrd;
  request.machine = &machine;
  request.timeout_seconds = timeout;
  auto started = run_efi_image(request, result.outcome);
  EXPECT_TRUE(started) << started.error().message();
  return result;
}

void expect_end(const std::string& mode, RunEnd end, const char* words, unsigned timeout = 10) {
  ChildRun result = run(misbehave_app(), mode, timeout);
  EXPECT_EQ(result.outcome.end, end) << mode << ": " << result.outcome.message;
  EXPECT_NE(result.outcome.message.find(words), std::string::npos)
      << mode << ": " << result.outcome.message;
  EXPECT_NE(result.outcome.console.find("EFT: begin misbehave"), std::string::npos);
}

TEST(RunIsolation, ACrashIsReportedWithWhereAndWhat) {
  expect_end("crash", RunEnd::kFault, "crashed at image1+0x");
  expect_end("wild", RunEnd::kFault, "accessing 0x20000000");
}

TEST(RunIsolation, AHangEndsAtTheTimeLimit) {
  expect_end("hang", RunEnd::kTimeout, "within 2 s", 2);
}

TEST(RunIsolation, ABadPointerHandedToABootServiceNamesTheService) {
  expect_end("bad-pointer", RunEnd::kFault, "BS.AllocatePool was handed a bad pointer");
}

TEST(RunIsolation, UnemulatedPrivilegedInstructionsEndTheRunByName) {
  expect_end("cr4", RunEnd::kFault, "control register other than CR0");
  expect_end("msr-other", RunEnd::kFault, "MSR other than MSR_AMD64_SEV");
  expect_end("hlt", RunEnd::kHalted, "hlt at image1+0x");
}

TEST(RunIsolation, EmulatedInstructionsAnswerWhatRealStubsNeed) {
  ChildRun cr0 = run(misbehave_app(), "cr0");
  EXPECT_EQ(cr0.outcome.end, RunEnd::kReturned);
  EXPECT_NE(cr0.outcome.console.find("cr0 pe=yes pg=yes em=no ts=no"), std::string::npos);
  ChildRun sev = run(misbehave_app(), "sev-msr");
  EXPECT_NE(sev.outcome.console.find("sev-msr value=0x0"), std::string::npos);
}

TEST(RunIsolation, ReturnExitAndResetAreToldApart) {
  ChildRun returned = run(misbehave_app(), "return-error");
  EXPECT_EQ(returned.outcome.end, RunEnd::kReturned);
  EXPECT_EQ(returned.outcome.status, 0x8000000000000001ull);
  ChildRun exited = run(misbehave_app(), "exit-aborted");
  EXPECT_EQ(exited.outcome.end, RunEnd::kExited);
  EXPECT_EQ(exited.outcome.status, 0x8000000000000015ull);
  EXPECT_EQ(run(misbehave_app(), "reset").outcome.end, RunEnd::kReset);
}

TEST(RunIsolation, TheParentRunsOnAfterAFault) {
  for (int i = 0; i < 3; ++i) expect_end("crash", RunEnd::kFault, "crashed");
  ChildRun clean = run(misbehave_app(), "cr0");
  EXPECT_EQ(clean.outcome.end, RunEnd::kReturned);
}

// ---- Real images from the fixtures (tests/fixtures/make-fixtures.sh) ----

TEST(RealImages, TheSignedUkiReachesExitBootServicesWithItsCommandLineAndInitrd) {
  EFIKEXEC_NEED_FIXTURE(path, "uki-signed.efi");
  auto bytes = FileBytes::read(path);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto image = pe::Image::parse(bytes->view());
  ASSERT_TRUE(image.has_value());
  const uki::Uki uki = uki::Uki::from_image(*image);
  const std::string cmdline = section_text(image->section_data(*uki.find(".cmdline")));
  const std::uint64_t initrd_size = uki.find(".initrd")->virtual_size;

  ChildRun result = run(path, std::nullopt, 60);
  ASSERT_EQ(result.outcome.end, RunEnd::kExitBootServices) << result.outcome.message;
  ASSERT_TRUE(result.outcome.boot_params.has_value());
  EXPECT_EQ(result.outcome.boot_params->command_line, cmdline);
  EXPECT_EQ(result.outcome.boot_params->initrd_size, initrd_size);
  EXPECT_EQ(result.outcome.boot_params->efi_system_table, result.outcome.system_table);
  EXPECT_NE(result.outcome.context.rip, 0u);
  EXPECT_EQ(result.outcome.context.rsp % 16, 0u) << "the caller's stack after the return";
  EXPECT_EQ(result.outcome.context.rflags & (1 << 10), 0u) << "DF clear";
}

TEST(RealImages, TheSignedUkiReportsTheLoaderVariablesSystemdStubSet) {
  EFIKEXEC_NEED_FIXTURE(path, "uki-signed.efi");
  ChildRun result = run(path, std::nullopt, 60);
  ASSERT_EQ(result.outcome.end, RunEnd::kExitBootServices) << result.outcome.message;
  const auto find = [&](const std::string& name) -> const ImageVariable* {
    for (const ImageVariable& variable : result.outcome.variables_set)
      if (variable.name == name) return &variable;
    return nullptr;
  };
  const ImageVariable* id = find("LoaderImageIdentifier");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->guid, "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f");
  EXPECT_NE(id->attributes & 0x2, 0u) << "boot-service access";
  ASSERT_TRUE(id->text.has_value()) << id->hex;
  EXPECT_EQ(*id->text, "\\EFI\\Linux\\image.efi");
  const ImageVariable* stub = find("StubInfo");
  ASSERT_NE(stub, nullptr);
  ASSERT_TRUE(stub->text.has_value()) << stub->hex;
  EXPECT_EQ(stub->text->rfind("systemd-stub ", 0), 0u) << *stub->text;
  const ImageVariable* features = find("StubFeatures");
  ASSERT_NE(features, nullptr);
  EXPECT_FALSE(features->text.has_value()) << "a 64-bit mask, not text";
  EXPECT_EQ(features->hex.size(), 2 * features->size);
  EXPECT_FALSE(result.outcome.variables_cut);
}

TEST(RealImages, TheBareKernelTakesItsCommandLineAndInitrd) {
  EFIKEXEC_NEED_FIXTURE(kernel, "vmlinuz");
  EFIKEXEC_NEED_FIXTURE(initrd_path, "initrd-second.cpio.gz");
  auto initrd = FileBytes::read(initrd_path);
  ASSERT_TRUE(initrd) << initrd.error().message();
  ChildRun result = run(kernel, "console=ttyS0 efikexec.test=bare", 60, initrd->view());
  ASSERT_EQ(result.outcome.end, RunEnd::kExitBootServices) << result.outcome.message;
  ASSERT_TRUE(result.outcome.boot_params.has_value());
  EXPECT_EQ(result.outcome.boot_params->command_line, "console=ttyS0 efikexec.test=bare");
  EXPECT_EQ(result.outcome.boot_params->initrd_size, initrd->size());
  EXPECT_NE(result.outcome.console.find("Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID"),
            std::string::npos);
}

}  // namespace
}  // namespace efikexec::kexec
