// SPDX-License-Identifier: MIT
// The payload handoff for kernels in lockdown, over a fake lockdown file and the fake kexec
// layer: which path is chosen, the refusal before anything runs, the payload's bzImage checks,
// the bundle and command line of payload protocol v1 byte for byte, what kexec_file_load gets
// and what its errors say, unload on each path, and the dry run's JSON.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "fake_kexec.hpp"
#include "kexec/esp/esp_volume.hpp"
#include "kexec/load/loader.hpp"
#include "kexec/load/payload.hpp"
#include "kexec/machine/lockdown.hpp"
#include "support/pe_builder.hpp"
#include "support/prerequisites.hpp"

namespace efikexec::kexec {
namespace {

namespace fs = std::filesystem;
using efikexec::testing::Bytes;
using efikexec::testing::PeBuilder;
using efikexec::testing::put16;
using efikexec::testing::put32;

// A directory of the test's own, removed with it: a system root with or without a lockdown
// file, and the files a test writes.
class Scratch {
 public:
  Scratch() {
    std::string pattern = (fs::temp_directory_path() / "efikexec-payload-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~Scratch() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << bytes;
    return file.string();
  }
  std::string write(const std::string& name, const Bytes& bytes) const {
    return write(name, std::string(bytes.begin(), bytes.end()));
  }
  // This directory as a system root whose kernel says `line` in securityfs.
  std::string lockdown_root(const std::string& line) const {
    write("sys/kernel/security/lockdown", line);
    return path_.string();
  }

 private:
  fs::path path_;
};

constexpr char kIntegrity[] = "none [integrity] confidentiality\n";

// A PE that is also a 64-bit bzImage loadable above 4 GiB: the fields kexec_file_load's probe
// reads, at their offsets (the built PE's headers end at 0x400 and leave 0x1f1.. free).
Bytes payload_bytes() {
  Bytes bytes = PeBuilder().section(".text", Bytes(0x600, 0x90), 0x60000020).build();
  bytes[0x1f1] = 1;                      // setup_sects: the 64-bit code at 0x400
  put16(bytes, 0x1fe, 0xaa55);           // boot_flag
  put32(bytes, 0x202, 0x53726448);       // "HdrS"
  put16(bytes, 0x206, 0x020f);           // version 2.15
  bytes[0x211] = 0x01;                   // loadflags: LOADED_HIGH
  put32(bytes, 0x230, 0x200000);         // kernel_alignment
  bytes[0x234] = 1;                      // relocatable_kernel
  put16(bytes, 0x236, 0x0003);           // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  put32(bytes, 0x238, 2047);             // cmdline_size
  put32(bytes, 0x260, 0x100000);         // init_size
  return bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string fixture(const char* name) { return efikexec::testing::fixture_path(name); }

// The signed UKI with its db, for a kernel in lockdown [integrity] under `root`.
LoadRequest locked_down_request(const Scratch& scratch) {
  LoadRequest request;
  request.image_path = fixture("uki-signed.efi");
  request.trust.db_files = {fixture("keys/db.crt")};
  request.trust.efivars_directory = "/nonexistent";
  request.machine_spec = "q35";
  request.system_root = scratch.lockdown_root(kIntegrity);
  return request;
}

#define NEED_SIGNED_UKI()                                   \
  EFIKEXEC_NEED_FIXTURE(signed_uki_path, "uki-signed.efi"); \
  EFIKEXEC_NEED_FIXTURE(db_certificate_path, "keys/db.crt")

// ---- lockdown and the choice of path ----------------------------------------------------------

TEST(Lockdown, ReadsTheBracketedMode) {
  EXPECT_EQ(*parse_lockdown("[none] integrity confidentiality\n", "f"), LockdownMode::kNone);
  EXPECT_EQ(*parse_lockdown(kIntegrity, "f"), LockdownMode::kIntegrity);
  EXPECT_EQ(*parse_lockdown("none integrity [confidentiality]\n", "f"),
            LockdownMode::kConfidentiality);
  for (const char* bad : {"", "none integrity confidentiality", "[]", "[sideways]", "[integrity"}) {
    auto mode = parse_lockdown(bad, "f");
    ASSERT_FALSE(mode) << bad;
    EXPECT_EQ(mode.error().stage, Stage::kMachine);
    EXPECT_NE(mode.error().message().find("no lockdown mode"), std::string::npos);
  }
}

TEST(Lockdown, NoFileMeansNoLockdown) {
  Scratch scratch;
  EXPECT_EQ(*read_lockdown(scratch.path().string()), LockdownMode::kNone);
  EXPECT_EQ(*read_lockdown(scratch.lockdown_root(kIntegrity)), LockdownMode::kIntegrity);
  EXPECT_EQ(*read_lockdown(scratch.lockdown_root("none integrity [confidentiality]")),
            LockdownMode::kConfidentiality);
}

// /sys/kernel/security exists but is empty: securityfs is not mounted, the mode is unknown (not
// none); auto takes the trampoline (a kernel in lockdown then refuses kexec_load, and says so).
TEST(Lockdown, SecurityfsNotMountedIsUnknownNotNone) {
  Scratch scratch;
  std::filesystem::create_directories(scratch.path() / "sys/kernel/security");
  const std::string root = scratch.path().string();
  auto mode = read_lockdown(root);
  ASSERT_TRUE(mode) << mode.error().message();
  EXPECT_EQ(*mode, LockdownMode::kUnknown);
  EXPECT_STREQ(lockdown_mode_name(LockdownMode::kUnknown), "unknown");
  auto automatic = decide_handoff(Handoff::kAuto, root);
  ASSERT_TRUE(automatic) << automatic.error().message();
  EXPECT_EQ(automatic->handoff, Handoff::kTrampoline);
  EXPECT_EQ(automatic->lockdown, LockdownMode::kUnknown);
  auto chosen = decide_handoff(Handoff::kPayload, root);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->handoff, Handoff::kPayload);
}

TEST(Lockdown, AutoTakesThePayloadExactlyWhenLockedDown) {
  EXPECT_EQ(choose_handoff(Handoff::kAuto, LockdownMode::kNone), Handoff::kTrampoline);
  EXPECT_EQ(choose_handoff(Handoff::kAuto, LockdownMode::kIntegrity), Handoff::kPayload);
  EXPECT_EQ(choose_handoff(Handoff::kAuto, LockdownMode::kConfidentiality), Handoff::kPayload);
  for (LockdownMode mode :
       {LockdownMode::kNone, LockdownMode::kIntegrity, LockdownMode::kConfidentiality}) {
    EXPECT_EQ(choose_handoff(Handoff::kTrampoline, mode), Handoff::kTrampoline);
    EXPECT_EQ(choose_handoff(Handoff::kPayload, mode), Handoff::kPayload);
  }
  Scratch scratch;
  auto none = decide_handoff(Handoff::kAuto, scratch.path().string());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->handoff, Handoff::kTrampoline);
  auto locked = decide_handoff(Handoff::kAuto, scratch.lockdown_root(kIntegrity));
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->handoff, Handoff::kPayload);
  EXPECT_EQ(locked->lockdown, LockdownMode::kIntegrity);
  EXPECT_EQ(*handoff_from_name("payload"), Handoff::kPayload);
  EXPECT_FALSE(handoff_from_name("kexec"));
}

// ---- the refusal: lockdown without a payload ---------------------------------------------------

TEST(PayloadHandoff, LockdownWithoutAPayloadRefusesBeforeAnythingIsReadOrRun) {
  Scratch scratch;
  LoadRequest request;
  request.image_path = scratch.write("image.efi", "not even read");
  request.system_root = scratch.lockdown_root(kIntegrity);
  // No --payload: the installed one is looked for, and this build's is not installed.
  ASSERT_FALSE(fs::exists(default_payload_path())) << "the test needs no payload installed";
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_FALSE(prepared);
  const HostError& error = prepared.error();
  EXPECT_EQ(error.stage, Stage::kKexec);
  EXPECT_EQ(error.path, default_payload_path());
  for (const char* words : {"lockdown [integrity]", "refuses kexec_load", "install the efikexec payload",
                            "--payload FILE", "nothing was run"})
    EXPECT_NE(error.message().find(words), std::string::npos) << words << " in " << error.message();
  // Nothing ran, nothing was read: no image, no run (its memory is made first), no time in it.
  EXPECT_FALSE(result.image);
  EXPECT_EQ(result.run.memory, nullptr);
  EXPECT_EQ(result.run.end, RunEnd::kSetupFailed);
  EXPECT_EQ(result.timings.run, 0);
  EXPECT_EQ(result.handoff, Handoff::kPayload);
}

TEST(PayloadHandoff, ANamedPayloadThatIsMissingIsBadInput) {
  Scratch scratch;
  LoadRequest request;
  request.image_path = scratch.write("image.efi", "x");
  request.system_root = scratch.lockdown_root(kIntegrity);
  request.payload_path = (scratch.path() / "missing.efi").string();
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().stage, Stage::kRead);
  EXPECT_EQ(prepared.error().path, request.payload_path);
  EXPECT_FALSE(result.image);
}

// ---- the payload's own checks -----------------------------------------------------------------

TEST(PayloadImage, APeThatIsABzImageLoadableAbove4GPasses) {
  const Bytes bytes = payload_bytes();
  auto header = check_payload_image(efikexec::testing::view(bytes), "p.efi");
  ASSERT_TRUE(header) << header.error().message();
  EXPECT_EQ(header->cmdline_size, 2047u);
  Scratch scratch;
  auto opened = open_payload(scratch.write("p.efi", bytes));
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->size, bytes.size());
  EXPECT_EQ(fcntl(opened->fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
}

TEST(PayloadImage, EachFieldTheKernelsProbeReadsIsChecked) {
  struct Case {
    const char* what;
    void (*breakit)(Bytes&);
    const char* says;
  };
  const Case cases[] = {
      {"HdrS", [](Bytes& b) { put32(b, 0x202, 0); }, "no Linux boot header (HdrS)"},
      {"boot flag", [](Bytes& b) { put16(b, 0x1fe, 0); }, "boot flag 0xAA55"},
      {"version", [](Bytes& b) { put16(b, 0x206, 0x020b); }, "boot protocol 2.11"},
      {"loadflags", [](Bytes& b) { b[0x211] = 0; }, "LOADED_HIGH"},
      {"64-bit", [](Bytes& b) { put16(b, 0x236, 0x0002); }, "XLF_KERNEL_64"},
      {"above 4G", [](Bytes& b) { put16(b, 0x236, 0x0001); }, "XLF_CAN_BE_LOADED_ABOVE_4G"},
      {"setup code", [](Bytes& b) { b[0x1f1] = 60; }, "shorter than its setup code"},
      {"machine", [](Bytes& b) { put16(b, efikexec::testing::kCoffOffset, 0x014c); },
       "not an x86_64 PE"},
      {"PE", [](Bytes& b) { b[0] = 'X'; }, ""},
  };
  for (const Case& c : cases) {
    Bytes bytes = payload_bytes();
    c.breakit(bytes);
    auto header = check_payload_image(efikexec::testing::view(bytes), "p.efi");
    ASSERT_FALSE(header) << c.what;
    EXPECT_EQ(header.error().stage, Stage::kParse) << c.what;
    EXPECT_EQ(header.error().path, "p.efi");
    EXPECT_NE(header.error().message().find(c.says), std::string::npos)
        << c.what << ": " << header.error().message();
  }
}

TEST(PayloadImage, AUkiIsNotAPayload) {
  NEED_SIGNED_UKI();
  Scratch scratch;
  LoadRequest request = locked_down_request(scratch);
  request.payload_path = signed_uki_path;
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().stage, Stage::kParse);
  EXPECT_NE(prepared.error().message().find("no Linux boot header"), std::string::npos)
      << prepared.error().message();
  EXPECT_FALSE(result.image) << "the payload is checked before the image is read";
}

TEST(PayloadImage, ADebianKernelPassesTheProbeChecks) {
  EFIKEXEC_NEED_FIXTURE(kernel, "vmlinuz-unsigned.efi");
  auto opened = open_payload(kernel);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_GE(opened->header.protocol_version, 0x020c);
}

// ---- protocol v1: command line and bundle -----------------------------------------------------

TEST(PayloadProtocol, CommandLineExactBytes) {
  PayloadArguments a;
  a.uki_size = 1234567;
  EXPECT_EQ(*payload_command_line(a, 2047), "efikexec.uki_size=1234567");
  a.initrd_size = 42;
  EXPECT_EQ(*payload_command_line(a, 2047), "efikexec.uki_size=1234567 efikexec.initrd_size=42");
  a.profile = 2;
  a.mode = PayloadCommandLineMode::kAppend;
  a.text = "quiet  console=ttyS0 -- x";
  EXPECT_EQ(*payload_command_line(a, 2047),
            "efikexec.uki_size=1234567 efikexec.initrd_size=42 efikexec.profile=2 "
            "efikexec.cmdline=append -- quiet  console=ttyS0 -- x");
  PayloadArguments r;
  r.uki_size = 7;
  r.mode = PayloadCommandLineMode::kReplace;
  EXPECT_EQ(*payload_command_line(r, 2047), "efikexec.uki_size=7 efikexec.cmdline=replace -- ");
}

TEST(PayloadProtocol, TheEspOptionsAndAPathTheProtocolCannotCarry) {
  PayloadArguments a;
  a.uki_size = 7;
  a.esp_size = 624;
  a.esp_image = "EFI/Linux/uki.efi";
  a.mode = PayloadCommandLineMode::kAppend;
  a.text = "quiet";
  EXPECT_EQ(*payload_command_line(a, 2047),
            "efikexec.uki_size=7 efikexec.cmdline=append efikexec.esp_size=624 "
            "efikexec.esp_image=EFI/Linux/uki.efi -- quiet");
  a.esp_image = "EFI/Linux/my uki.efi";
  auto refused = payload_command_line(a, 2047);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().reason.find("cannot carry"), std::string::npos);
}

TEST(PayloadProtocol, CommandLineLongerThanTheKernelPassesIsRefused) {
  PayloadArguments a;
  a.uki_size = 1;
  a.mode = PayloadCommandLineMode::kReplace;
  const std::string prefix = "efikexec.uki_size=1 efikexec.cmdline=replace -- ";
  // With a large cmdline_size, COMMAND_LINE_SIZE (2048 with the NUL) is the limit.
  a.text = std::string(2047 - prefix.size(), 'x');
  ASSERT_TRUE(payload_command_line(a, 65535));
  a.text += 'x';
  auto refused = payload_command_line(a, 65535);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().stage, Stage::kRequest);
  EXPECT_NE(refused.error().message().find("2049 bytes with its NUL"), std::string::npos)
      << refused.error().message();
  // With the payload's cmdline_size 2047, bzImage64_load keeps 30 bytes for elfcorehdr=.
  a.text = std::string(2017 - 1 - prefix.size(), 'x');
  ASSERT_TRUE(payload_command_line(a, 2047));
  a.text += 'x';
  EXPECT_FALSE(payload_command_line(a, 2047));
  a.text = std::string("a\0b", 3);
  EXPECT_FALSE(payload_command_line(a, 2047));
}

std::string fd_contents(int fd) { return FakeKexec::read_all(fd); }

TEST(PayloadProtocol, TheEspArchiveFollowsTheInitrdPaddedTo4KiB) {
  const std::string uki(10, 'U'), initrd = "initrd", esp = "archive";
  auto as_view = [](const std::string& s) {
    return ByteView(reinterpret_cast<const std::byte*>(s.data()), s.size());
  };
  auto bundle = make_bundle(as_view(uki), as_view(initrd), as_view(esp));
  ASSERT_TRUE(bundle) << bundle.error().message();
  EXPECT_EQ(bundle->esp_offset, 8192u);
  EXPECT_EQ(bundle->esp_size, esp.size());
  EXPECT_EQ(bundle->size, 8192u + esp.size());
  EXPECT_EQ(fd_contents(bundle->fd.get()), uki + std::string(4096 - 10, '\0') + initrd +
                                               std::string(4096 - initrd.size(), '\0') + esp);
}

TEST(PayloadProtocol, BundleIsTheUkiPaddedTo4KiBThenTheInitrd) {
  const std::string uki(5000, 'U'), initrd = "initrd-bytes";
  auto as_view = [](const std::string& s) {
    return ByteView(reinterpret_cast<const std::byte*>(s.data()), s.size());
  };
  auto bundle = make_bundle(as_view(uki), as_view(initrd));
  ASSERT_TRUE(bundle) << bundle.error().message();
  EXPECT_EQ(bundle->uki_size, 5000u);
  EXPECT_EQ(bundle->initrd_offset, 8192u);
  EXPECT_EQ(bundle->initrd_size, initrd.size());
  EXPECT_EQ(bundle->size, 8192u + initrd.size());
  EXPECT_EQ(fd_contents(bundle->fd.get()), uki + std::string(8192 - 5000, '\0') + initrd);
  // Read-only, sealed, and no descriptor of it left open for writing (kexec_file_load's
  // deny_write_access would refuse it): reopening it for writing is refused by the seal.
  EXPECT_EQ(fcntl(bundle->fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
  const int seals = fcntl(bundle->fd.get(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
            F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  int open_for_writing = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    struct stat a{}, b{};
    const int fd = std::stoi(entry.path().filename().string());
    if (fstat(fd, &a) != 0 || fstat(bundle->fd.get(), &b) != 0) continue;
    if (a.st_ino == b.st_ino && a.st_dev == b.st_dev && (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
      ++open_for_writing;
  }
  EXPECT_EQ(open_for_writing, 0);

  auto aligned = make_bundle(as_view(std::string(4096, 'A')), {});
  ASSERT_TRUE(aligned);
  EXPECT_EQ(aligned->size, 4096u);
  EXPECT_EQ(aligned->initrd_size, 0u);
}

// ---- the whole payload path ------------------------------------------------------------------

TEST(PayloadHandoff, VerifiesTheUkiRunsNothingAndHandsItToKexecFileLoad) {
  NEED_SIGNED_UKI();
  Scratch scratch;
  LoadRequest request = locked_down_request(scratch);
  request.payload_path = scratch.write("payload.efi", payload_bytes());
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  EXPECT_EQ(result.handoff, Handoff::kPayload);
  EXPECT_EQ(result.lockdown, LockdownMode::kIntegrity);
  ASSERT_TRUE(result.image);
  EXPECT_TRUE(result.image->verified);
  EXPECT_EQ(result.run.memory, nullptr) << "no child ran the image";
  EXPECT_EQ(result.timings.run, 0);
  ASSERT_TRUE(result.payload);
  const std::string uki = read_file(signed_uki_path);
  EXPECT_EQ(result.payload->command_line, "efikexec.uki_size=" + std::to_string(uki.size()));

  FakeKexec fake;
  auto committed = commit_kexec(result, fake);
  ASSERT_TRUE(committed) << committed.error().message();
  EXPECT_EQ(fake.file_loads, 1);
  EXPECT_EQ(fake.loads, 0);
  EXPECT_EQ(fake.unloads + fake.file_unloads, 0);
  const Bytes payload = payload_bytes();
  EXPECT_EQ(fake.file_kernel, std::string(payload.begin(), payload.end()));
  const std::size_t padded = (uki.size() + 4095) / 4096 * 4096;
  EXPECT_EQ(fake.file_initrd, uki + std::string(padded - uki.size(), '\0'));
  EXPECT_FALSE(fake.file_initrd_writable);
  EXPECT_EQ(fake.file_command_line, result.payload->command_line);

  const nlohmann::json json = load_json(result);
  EXPECT_EQ(json["handoff"], "payload");
  EXPECT_EQ(json["lockdown"], "integrity");
  EXPECT_EQ(json["call"], "kexec_file_load");
  EXPECT_EQ(json["payload"]["path"], request.payload_path);
  EXPECT_EQ(json["payload"]["size"], payload.size());
  EXPECT_EQ(json["bundle"]["size"], padded);
  EXPECT_EQ(json["bundle"]["uki_size"], uki.size());
  EXPECT_EQ(json["command_line"], result.payload->command_line);
  EXPECT_FALSE(json.contains("segments"));
}

TEST(PayloadHandoff, ProfileCommandLineAndInitrdTravelInTheProtocol) {
  // An EFI-stub kernel (no .initrd of its own), unverified: the initrd goes into the bundle.
  EFIKEXEC_NEED_FIXTURE(kernel, "vmlinuz-unsigned.efi");
  Scratch scratch;
  LoadRequest request;
  request.image_path = kernel;
  request.trust.no_verify = true;
  request.system_root = scratch.path().string();  // no lockdown: the payload is asked for
  request.handoff = Handoff::kPayload;
  request.payload_path = scratch.write("payload.efi", payload_bytes());
  request.initrd_path = scratch.write("initrd.img", std::string("0123456789"));
  request.append = "console=ttyS0";
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  EXPECT_EQ(result.lockdown, LockdownMode::kNone);
  const std::string image = read_file(kernel);
  EXPECT_EQ(result.payload->command_line,
            "efikexec.uki_size=" + std::to_string(image.size()) +
                " efikexec.initrd_size=10 efikexec.cmdline=append -- "
                "console=ttyS0");
  FakeKexec fake;
  ASSERT_TRUE(commit_kexec(result, fake));
  const std::size_t padded = (image.size() + 4095) / 4096 * 4096;
  EXPECT_EQ(fake.file_initrd, image + std::string(padded - image.size(), '\0') + "0123456789");

  request.append.reset();
  request.command_line = "root=/dev/vda";
  request.initrd_path.clear();
  LoadResult replaced;
  ASSERT_TRUE(prepare_kexec(request, replaced));
  EXPECT_EQ(replaced.payload->command_line,
            "efikexec.uki_size=" + std::to_string(image.size()) +
                " efikexec.cmdline=replace -- root=/dev/vda");

  request.profile = 0;  // profiles are a UKI's
  LoadResult no_profile;
  auto refused = prepare_kexec(request, no_profile);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().stage, Stage::kRequest);
}

// --esp on the payload path: the stub's files travel in the bundle after the image, the UKI's
// path on the ESP in the protocol, and the report judges the add-ons as on the trampoline path.
TEST(PayloadHandoff, TheEspsFilesTravelInTheBundle) {
  EFIKEXEC_NEED_FIXTURE(kernel, "vmlinuz-unsigned.efi");
  Scratch scratch;
  const std::string image = read_file(kernel);
  const std::string esp = scratch.path().string() + "/esp";
  fs::create_directories(esp + "/EFI/Linux/vmlinuz.efi.extra.d");
  fs::create_directories(esp + "/loader/credentials");
  fs::copy_file(kernel, esp + "/EFI/Linux/vmlinuz.efi");
  scratch.write("esp/EFI/Linux/vmlinuz.efi.extra.d/a.addon.efi", std::string("not a PE"));
  scratch.write("esp/loader/credentials/g.cred", std::string("global"));
  LoadRequest request;
  request.image_path = esp + "/EFI/Linux/vmlinuz.efi";
  request.esp_directory = esp;
  request.trust.no_verify = true;
  request.system_root = scratch.path().string();
  request.handoff = Handoff::kPayload;
  request.payload_path = scratch.write("payload.efi", payload_bytes());
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  ASSERT_TRUE(result.esp);
  ASSERT_EQ(result.esp->items.size(), 2u);
  const std::vector<std::byte> archive = esp_archive(*result.esp);
  EXPECT_EQ(result.payload->command_line,
            "efikexec.uki_size=" + std::to_string(image.size()) + " efikexec.esp_size=" +
                std::to_string(archive.size()) + " efikexec.esp_image=EFI/Linux/vmlinuz.efi");
  FakeKexec fake;
  ASSERT_TRUE(commit_kexec(result, fake));
  const std::size_t padded = (image.size() + 4095) / 4096 * 4096;
  EXPECT_EQ(fake.file_initrd, image + std::string(padded - image.size(), '\0') +
                                  std::string(reinterpret_cast<const char*>(archive.data()),
                                              archive.size()));
  const nlohmann::json json = load_json(result);
  EXPECT_EQ(json["bundle"]["esp_offset"], padded);
  EXPECT_EQ(json["bundle"]["esp_size"], archive.size());
  EXPECT_EQ(json["esp"]["image_path"], "\\EFI\\Linux\\vmlinuz.efi");
}

TEST(PayloadHandoff, AProfileOfTheUkiTravelsInTheProtocol) {
  NEED_SIGNED_UKI();
  Scratch scratch;
  LoadRequest request = locked_down_request(scratch);
  request.payload_path = scratch.write("payload.efi", payload_bytes());
  request.profile = 0;
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  EXPECT_EQ(result.payload->command_line,
            "efikexec.uki_size=" + std::to_string(read_file(signed_uki_path).size()) +
                " efikexec.profile=0");
  request.profile = 7;
  LoadResult missing;
  auto refused = prepare_kexec(request, missing);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().stage, Stage::kRequest);
  EXPECT_FALSE(missing.payload);
}

TEST(PayloadHandoff, ATamperedUkiIsRefusedBeforeTheKernelIsAsked) {
  NEED_SIGNED_UKI();
  EFIKEXEC_NEED_FIXTURE(tampered, "uki-tampered.efi");
  Scratch scratch;
  LoadRequest request = locked_down_request(scratch);
  request.image_path = tampered;
  request.payload_path = scratch.write("payload.efi", payload_bytes());
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().stage, Stage::kVerify);
  EXPECT_FALSE(result.payload);
}

TEST(PayloadHandoff, AFailedKexecFileLoadSaysWhyAndUnloadsNothing) {
  NEED_SIGNED_UKI();
  Scratch scratch;
  LoadRequest request = locked_down_request(scratch);
  request.payload_path = scratch.write("payload.efi", payload_bytes());
  LoadResult result;
  ASSERT_TRUE(prepare_kexec(request, result));
  FakeKexec fake;
  fake.file_load_errno = EKEYREJECTED;
  auto committed = commit_kexec(result, fake);
  ASSERT_FALSE(committed);
  EXPECT_EQ(committed.error().stage, Stage::kKexec);
  EXPECT_NE(committed.error().message().find("does not trust the payload's signer"),
            std::string::npos);
  EXPECT_EQ(fake.file_loads, 1);
  EXPECT_EQ(fake.unloads + fake.file_unloads + fake.loads, 0)
      << "the image loaded before stays: nothing is unloaded first";
}

TEST(PayloadHandoff, KexecFileLoadErrorsInWords) {
  const std::pair<int, const char*> cases[] = {
      {ENODATA, "the payload is not signed"},
      {ENOKEY, "platform keyring (the firmware's db)"},
      {EKEYREJECTED, "does not trust the payload's signer"},
      {EPERM, "lockdown or an IMA policy"},
      {EACCES, "lockdown or an IMA policy"},
      {EBUSY, "being loaded or executed"},
      {ENOMEM, "no room"},
      {EINVAL, "refused the command line"},
      {ENOEXEC, "64-bit bzImage"},
  };
  for (auto [error, says] : cases) {
    const HostError failure = kexec_file_load_failure(error);
    EXPECT_EQ(failure.stage, Stage::kKexec);
    EXPECT_EQ(failure.message().rfind("kexec_file_load failed: ", 0), 0u) << failure.message();
    EXPECT_NE(failure.message().find(says), std::string::npos) << failure.message();
  }
}

TEST(PayloadHandoff, UnloadUsesTheCallThePathsKernelAccepts) {
  FakeKexec fake;
  ASSERT_TRUE(unload_kexec(Handoff::kPayload, fake));
  EXPECT_EQ(fake.file_unloads, 1);
  EXPECT_EQ(fake.unloads, 0);
  ASSERT_TRUE(unload_kexec(Handoff::kTrampoline, fake));
  EXPECT_EQ(fake.unloads, 1);
  EXPECT_EQ(fake.file_unloads, 1);
}

TEST(PayloadHandoff, TheRealCallsAreForbiddenInTests) {
  ASSERT_NE(getenv("EFIKEXEC_FORBID_KEXEC"), nullptr);
  auto real = linux_kexec_syscalls();
  auto loaded = real->file_load(-1, -1, "x");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("forbidden"), std::string::npos);
  auto unloaded = real->file_unload();
  ASSERT_FALSE(unloaded);
  EXPECT_NE(unloaded.error().message().find("forbidden"), std::string::npos);
}

TEST(PayloadHandoff, TheTrampolinePlanSaysItsHandoff) {
  NEED_SIGNED_UKI();
  Scratch scratch, empty;
  LoadRequest request = locked_down_request(scratch);
  request.system_root = empty.path().string();  // no lockdown file: auto is the trampoline
  request.timeout_seconds = 60;
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  EXPECT_EQ(result.handoff, Handoff::kTrampoline);
  EXPECT_FALSE(result.payload);
  const nlohmann::json json = load_json(result);
  EXPECT_EQ(json["handoff"], "trampoline");
  EXPECT_EQ(json["lockdown"], "none");
  EXPECT_FALSE(json["segments"].empty());
}

}  // namespace
}  // namespace efikexec::kexec
