// SPDX-License-Identifier: MIT
// The kexec-tools trio: probe answers like a file_type probe and leaves nothing behind; load
// reads kexec-tools' argv, loads through the (fake) kexec layer and reports EFIKEXEC_KT_LOADED.
#include <efikexec-kexec-tools.h>

#include <dirent.h>
#include <getopt.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "c_api/c_api_support.hpp"
#include "support/pe_builder.hpp"

namespace {

using efikexec::testing::PeBuilder;
using efikexec::testing::WithFakeKexec;

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

int open_descriptors() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) ++count;
    closedir(dir);
  }
  return count;
}

int probe(const efikexec::testing::Bytes& bytes) {
  return efikexec_kt_probe(reinterpret_cast<const char*>(bytes.data()),
                           static_cast<off_t>(bytes.size()));
}

// An argv as kexec-tools passes it: owned strings, with a char** view.
struct Argv {
  std::vector<std::string> words;
  std::vector<char*> pointers;
  explicit Argv(std::vector<std::string> w) : words(std::move(w)) {
    for (std::string& word : words) pointers.push_back(word.data());
    pointers.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(words.size()); }
  char** argv() { return pointers.data(); }
};

TEST(KexecToolsProbe, TakesX8664EfiApplicationsOnly) {
  const auto efi_app = PeBuilder().section(".text", {0xc3}, 0x60000020).entry_point(0x1000).build();
  EXPECT_EQ(probe(efi_app), 0);
  auto arm64 = PeBuilder().machine(0xaa64).section(".text", {0xc3}, 0x60000020).build();
  EXPECT_EQ(probe(arm64), -1);
  auto driver = efi_app;
  efikexec::testing::put16(driver, efikexec::testing::kOptionalOffset + 68, 11);  // Subsystem
  EXPECT_EQ(probe(driver), -1);
  auto truncated = efi_app;
  truncated.resize(0x100);
  EXPECT_EQ(probe(truncated), -1);
  EXPECT_EQ(efikexec_kt_probe(nullptr, 10), -1);
  EXPECT_EQ(efikexec_kt_probe("MZ", 0), -1);
  EXPECT_EQ(efikexec_kt_probe("MZ", -5), -1);
}

TEST(KexecToolsProbe, LeavesNoDescriptorsFilesOrOutputBehind) {
  const auto efi_app = PeBuilder().section(".text", {0xc3}, 0x60000020).build();
  const int before = open_descriptors();
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(probe(efi_app), 0);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(open_descriptors(), before);
}

TEST(KexecToolsProbe, TakesTheRealUkiAndEfiStubKernel) {
  EFIKEXEC_NEED_FIXTURE(uki, "uki-signed.efi");
  EFIKEXEC_NEED_FIXTURE(vmlinuz, "vmlinuz");
  for (const std::string& path : {uki, vmlinuz}) {
    const std::vector<char> bytes = read_all(path);
    EXPECT_EQ(efikexec_kt_probe(bytes.data(), static_cast<off_t>(bytes.size())), 0) << path;
  }
  EFIKEXEC_NEED_FIXTURE(initrd, "initrd-second.cpio.gz");
  const std::vector<char> not_pe = read_all(initrd);
  EXPECT_EQ(efikexec_kt_probe(not_pe.data(), static_cast<off_t>(not_pe.size())), -1);
}

TEST(KexecToolsUsage, NamesEveryOptionLoadReads) {
  ::testing::internal::CaptureStdout();
  efikexec_kt_usage();
  const std::string usage = ::testing::internal::GetCapturedStdout();
  for (const char* option :
       {"--command-line", "--append", "--reuse-cmdline", "--initrd", "--ramdisk", "--efi-db",
        "--efi-dbx", "--efi-sbat-level", "--efi-efivars", "--efi-no-verify", "--efi-profile",
        "--efi-timeout", "--efi-machine", "--efi-handoff", "--efi-payload"})
    EXPECT_NE(usage.find(option), std::string::npos) << option;
}

class KexecToolsLoad : public WithFakeKexec {};

TEST_F(KexecToolsLoad, LoadsTheSignedUkiAndLeavesArgvAndGetoptAlone) {
  EFIKEXEC_NEED_FIXTURE(uki, "uki-signed.efi");
  EFIKEXEC_NEED_FIXTURE(db, "keys/db.crt");
  const std::vector<char> bytes = read_all(uki);
  Argv args({"kexec", "-l", "--type", "efi-uki", "--efi-db", db, "--efi-efivars=/nonexistent",
             "--efi-machine=q35", "--append=console=ttyS0 quiet", "--debug", uki});
  const std::vector<std::string> words_before = args.words;
  const int optind_before = optind;
  EXPECT_EQ(efikexec_kt_load(args.argc(), args.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            EFIKEXEC_KT_LOADED);
  EXPECT_EQ(fake->loads, 1);
  EXPECT_GE(fake->segments, 1u);
  EXPECT_EQ(args.words, words_before);
  EXPECT_EQ(optind, optind_before);
}

// -p is kexec-tools' load-and-panic: the crash kernel, which needs the machine's crashkernel=
// reservation (here a described machine without one: refused, nothing loaded).
TEST_F(KexecToolsLoad, TakesPanicForACrashKernelAndRefusesAForeignKeyWithoutLoading) {
  EFIKEXEC_NEED_FIXTURE(uki, "uki-signed.efi");
  EFIKEXEC_NEED_FIXTURE(other, "keys/other.crt");
  const std::vector<char> bytes = read_all(uki);
  ::testing::internal::CaptureStderr();
  Argv panic({"kexec", "-p", "--efi-no-verify", "--efi-machine", "q35", uki});
  EXPECT_EQ(efikexec_kt_load(panic.argc(), panic.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            -1);
  Argv foreign({"kexec", "-l", "--efi-db", other, "--efi-efivars", "/nonexistent",
                "--efi-machine", "q35", uki});
  EXPECT_EQ(efikexec_kt_load(foreign.argc(), foreign.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            -1);
  Argv bad_timeout({"kexec", "-l", "--efi-timeout=0", uki});
  EXPECT_EQ(efikexec_kt_load(bad_timeout.argc(), bad_timeout.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            -1);
  Argv preserve({"kexec", "--load-preserve-context", "--efi-no-verify", uki});
  EXPECT_EQ(efikexec_kt_load(preserve.argc(), preserve.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            -1);
  const std::string errors = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("no \"crash\" facts for a crash kernel load"), std::string::npos) << errors;
  EXPECT_NE(errors.find("refused"), std::string::npos) << errors;
  EXPECT_NE(errors.find("--efi-timeout"), std::string::npos) << errors;
  EXPECT_NE(errors.find("--load-preserve-context is not supported"), std::string::npos) << errors;
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(KexecToolsLoad, FollowsTheSameAutoDecisionUnderLockdown) {
  EFIKEXEC_NEED_FIXTURE(uki, "uki-signed.efi");
  EFIKEXEC_NEED_FIXTURE(db, "keys/db.crt");
  EFIKEXEC_NEED_FIXTURE(payload, "vmlinuz-unsigned.efi");  // passes the bzImage probe checks
  const std::vector<char> bytes = read_all(uki);
  lock_down();
  ::testing::internal::CaptureStderr();
  Argv without({"kexec", "-l", "--efi-db", db, "--efi-efivars=/nonexistent", uki});
  EXPECT_EQ(efikexec_kt_load(without.argc(), without.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            -1);
  Argv bad({"kexec", "-l", "--efi-handoff=sideways", uki});
  EXPECT_EQ(efikexec_kt_load(bad.argc(), bad.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            -1);
  const std::string errors = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(errors.find("lockdown [integrity]"), std::string::npos) << errors;
  EXPECT_NE(errors.find("--efi-handoff"), std::string::npos) << errors;
  EXPECT_EQ(fake->loads + fake->file_loads, 0);
  Argv with({"kexec", "-l", "--efi-db", db, "--efi-efivars=/nonexistent", "--efi-payload", payload,
             "--append=quiet", uki});
  EXPECT_EQ(efikexec_kt_load(with.argc(), with.argv(), bytes.data(),
                             static_cast<off_t>(bytes.size()), nullptr),
            EFIKEXEC_KT_LOADED);
  EXPECT_EQ(fake->file_loads, 1);
  EXPECT_EQ(fake->loads, 0);
  // kexec-tools' --append sets the whole command line, as it does for the trampoline.
  EXPECT_EQ(fake->file_command_line,
            "efikexec.uki_size=" + std::to_string(bytes.size()) +
                " efikexec.cmdline=replace -- quiet");
}

}  // namespace
