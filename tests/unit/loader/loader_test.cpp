// SPDX-License-Identifier: MIT
// The load pipeline over a fake kexec layer: verify before running, one kexec_load of a plan that
// passes the kernel's own checks, nothing loaded when anything fails; and the handoff's pieces
// (trampoline placement, identity page tables).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include <nlohmann/json.hpp>

#include "handoff_tables.hpp"
#include "fake_kexec.hpp"
#include "kexec/load/loader.hpp"
#include "kexec/run/run_report.hpp"
#include "kexec/common/hex.hpp"
#include "support/prerequisites.hpp"

namespace efikexec::kexec {
namespace {


std::string fixture(const char* name) { return efikexec::testing::fixture_path(name); }

// The signed UKI and its certificate, or the test ends (support/prerequisites.hpp).
#define NEED_FIXTURES()                                       \
  EFIKEXEC_NEED_FIXTURE(signed_uki_path, "uki-signed.efi");   \
  EFIKEXEC_NEED_FIXTURE(db_certificate_path, "keys/db.crt")

LoadRequest signed_uki_request(const char* image = "uki-signed.efi") {
  LoadRequest request;
  request.image_path = fixture(image);
  request.trust.db_files = {fixture("keys/db.crt")};
  request.trust.efivars_directory = "/nonexistent";
  request.machine_spec = "q35";
  request.timeout_seconds = 60;
  request.handoff = Handoff::kTrampoline;  // these tests are about the trampoline, lockdown or not
  return request;
}

TEST(Loader, PlansASignedUkiThatPassesTheKernelsChecksAndLoadsItOnce) {
  NEED_FIXTURES();
  LoadResult result;
  auto prepared = prepare_kexec(signed_uki_request(), result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  const KexecPlan& plan = result.plan;
  ASSERT_FALSE(plan.segments.empty());
  EXPECT_LE(plan.segments.size(), kMaxKexecSegments);
  bool entry_inside = false;
  std::uint64_t previous_end = 0;
  for (const PlannedSegment& s : plan.segments) {
    EXPECT_EQ(s.destination % 4096, 0u);
    EXPECT_EQ(s.memsz % 4096, 0u);
    EXPECT_LE(s.bufsz, s.memsz);
    EXPECT_GE(s.destination, previous_end) << "segments sorted, no overlap";
    previous_end = s.destination + s.memsz;
    entry_inside |= plan.entry >= s.destination && plan.entry < s.destination + s.memsz;
  }
  EXPECT_TRUE(entry_inside);
  EXPECT_LE(plan.memsz_total, result.machine.ram_bytes() / 2);
  // The kernel's zeros (its .bss at least) travel in no segment: the trampoline clears them,
  // and its table says so.
  ASSERT_FALSE(plan.zero_ranges.empty());
  EXPECT_LE(plan.zero_ranges.size(), kTrampolineZeroRanges);
  std::uint64_t zero_bytes = 0, table = 0, count = 0;
  Trampoline trampoline;
  ASSERT_TRUE(trampoline.load());
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_zero_ranges", table));
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_zero_count", count));
  std::array<std::byte, 8> word{};
  ASSERT_TRUE(result.run.memory->read(plan.trampoline + count, word));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(word), plan.zero_ranges.size());
  for (std::size_t i = 0; i < plan.zero_ranges.size(); ++i) {
    const PhysicalSpan& zero = plan.zero_ranges[i];
    EXPECT_GE(zero.size(), kZeroRunMinimum);
    zero_bytes += zero.size();
    std::array<std::byte, 16> entry{};
    ASSERT_TRUE(result.run.memory->read(plan.trampoline + table + 16 * i, entry));
    const auto pair = std::bit_cast<std::array<std::uint64_t, 2>>(entry);
    EXPECT_EQ(pair[0], zero.start);
    EXPECT_EQ(pair[1], zero.size());
    for (const PlannedSegment& s : plan.segments)
      EXPECT_TRUE(zero.end <= s.destination || s.destination + s.memsz <= zero.start)
          << "a segment also carries the zeros at " << zero.start;
    std::vector<std::byte> bytes(zero.size());
    ASSERT_TRUE(result.run.memory->read(zero.start, bytes));
    EXPECT_TRUE(std::ranges::all_of(bytes, [](std::byte b) { return b == std::byte{0}; }))
        << "the trampoline would clear what the image wrote at " << zero.start;
  }
  EXPECT_EQ(zero_bytes, plan.zero_bytes);
  // The UKI's .initrd and .linux are copied out before ExitBootServices(): no segment holds them,
  // and the kernel's own initrd copy (boot_params) is carried.
  ASSERT_FALSE(plan.left_out.empty());
  bool initrd_left_out = false;
  for (const LeftOutSpan& section : plan.left_out) {
    initrd_left_out |= section.name.find(".initrd") != std::string::npos &&
                       section.name.find(".linux") != std::string::npos;
    for (const PlannedSegment& s : plan.segments)
      EXPECT_TRUE(section.end <= s.destination || s.destination + s.memsz <= section.start)
          << section.name << " is left out but a segment covers it";
  }
  EXPECT_TRUE(initrd_left_out);
  ASSERT_TRUE(result.run.boot_params);
  const std::uint64_t initrd = result.run.boot_params->initrd_address;
  EXPECT_TRUE(std::ranges::any_of(plan.segments, [&](const PlannedSegment& s) {
    return initrd >= s.destination && initrd < s.destination + s.memsz;
  })) << "the kernel's initrd is carried";

  FakeKexec fake;
  auto committed = commit_kexec(result, fake);
  ASSERT_TRUE(committed) << committed.error().message();
  EXPECT_EQ(fake.loads, 1);
  EXPECT_EQ(fake.entry, plan.entry);
  ASSERT_EQ(fake.recorded.size(), plan.segments.size());
  for (std::size_t i = 0; i < plan.segments.size(); ++i) {
    EXPECT_EQ(fake.recorded[i].destination, plan.segments[i].destination);
    std::uint64_t expected = 0;
    if (plan.segments[i].bufsz >= 8) {
      ASSERT_TRUE(result.run.memory->read(plan.segments[i].destination,
                                          std::as_writable_bytes(std::span(&expected, 1))));
      EXPECT_EQ(fake.first_bytes[i], expected) << "buffers are the run's memory";
    }
  }
  const nlohmann::json json = plan_json(plan, result.run);
  EXPECT_EQ(json["segments"].size(), plan.segments.size());
  EXPECT_EQ(json["run"]["end"], "exit-boot-services");
}

TEST(Loader, ReportsTheVariablesTheStubSetInTheTranscriptAndThePlan) {
  NEED_FIXTURES();
  LoadResult result;
  auto prepared = prepare_kexec(signed_uki_request(), result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  const std::string transcript = render_variables_set(result.run);
  EXPECT_NE(transcript.find("efikexec: the image set LoaderImageIdentifier "
                            "(4a67b082-0a4c-41cf-b6c7-440b29bb8c4f): \\EFI\\Linux\\uki-signed.efi\n"),
            std::string::npos)
      << transcript;
  const nlohmann::json json = plan_json(result.plan, result.run);
  bool stub_info = false;
  for (const nlohmann::json& variable : json["run"]["variables_set"])
    if (variable["name"] == "StubInfo") {
      stub_info = true;
      EXPECT_EQ(variable["guid"], "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f");
      EXPECT_EQ(variable["text"].get<std::string>().rfind("systemd-stub ", 0), 0u) << variable;
    }
  EXPECT_TRUE(stub_info) << json["run"]["variables_set"];
}

TEST(Loader, RefusesBeforeRunningAnything) {
  NEED_FIXTURES();
  EFIKEXEC_NEED_FIXTURE(tampered, "uki-tampered.efi");
  EFIKEXEC_NEED_FIXTURE(unsigned_uki, "uki.efi");
  EFIKEXEC_NEED_FIXTURE(other_signed, "uki-other-signed.efi");
  for (const char* image : {"uki-tampered.efi", "uki.efi", "uki-other-signed.efi"}) {
    LoadResult result;
    auto prepared = prepare_kexec(signed_uki_request(image), result);
    ASSERT_FALSE(prepared) << image;
    EXPECT_EQ(prepared.error().stage, Stage::kVerify) << image;
    EXPECT_NE(prepared.error().reason.find("refused"), std::string::npos)
        << prepared.error().message();
    EXPECT_EQ(result.run.memory, nullptr) << image << ": the image must not have run";
    EXPECT_TRUE(result.run.console.empty());
  }
}

TEST(Loader, NeedsAnExplicitOptOutWithoutTrustSources) {
  NEED_FIXTURES();
  LoadRequest request = signed_uki_request();
  request.trust.db_files.clear();
  LoadResult result;
  auto refused = prepare_kexec(request, result);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().stage, Stage::kVerify);
  EXPECT_EQ(result.run.memory, nullptr);
  request.trust.no_verify = true;
  LoadResult unverified;
  auto prepared = prepare_kexec(request, unverified);
  ASSERT_TRUE(prepared) << prepared.error().message();
  ASSERT_TRUE(unverified.image.has_value());
  EXPECT_FALSE(unverified.image->verified);
}

TEST(Loader, RejectsAProfileTheImageDoesNotHave) {
  NEED_FIXTURES();
  LoadRequest request = signed_uki_request();
  request.profile = 3;
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().stage, Stage::kRequest);
  EXPECT_NE(prepared.error().reason.find("profile 3 does not exist"), std::string::npos)
      << prepared.error().message();
}

TEST(Loader, KeepsTheUkisOwnInitrd) {
  NEED_FIXTURES();
  EFIKEXEC_NEED_FIXTURE(initrd, "initrd-second.cpio.gz");
  LoadRequest request = signed_uki_request();
  request.initrd_path = initrd;
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().stage, Stage::kRequest);
  EXPECT_NE(prepared.error().reason.find("its own initrd"), std::string::npos)
      << prepared.error().message();
}

TEST(Loader, AppendsToTheUkisCommandLine) {
  NEED_FIXTURES();
  LoadRequest request = signed_uki_request();
  request.append = "quiet";
  LoadResult result;
  auto prepared = prepare_kexec(request, result);
  ASSERT_TRUE(prepared) << prepared.error().message();
  ASSERT_TRUE(result.run.boot_params.has_value());
  EXPECT_EQ(result.run.boot_params->command_line, "console=ttyS0 efikexec.uki=1 panic=-1 quiet");
}

// An image that makes a system call ends its run, and a load already in the kernel stays there.
TEST(Loader, AConfinedRunThatIsRefusedLeavesTheLoadedImageAlone) {
  FakeKexec kernel;
  kernel.loads = 1;  // loaded before
  LoadRequest request;
  request.image_path = std::string(EFT_APPS_DIR) + "/eft_misbehave.efi";
  request.trust.no_verify = true;
  request.machine_spec = "q35";
  request.timeout_seconds = 10;
  for (const char* mode : {"sys-kill", "sys-open", "sys-mprotect"}) {
    request.command_line = mode;
    LoadResult result;
    auto prepared = prepare_kexec(request, result);
    ASSERT_FALSE(prepared) << mode;
    EXPECT_EQ(prepared.error().stage, Stage::kRun) << mode;
    EXPECT_NE(prepared.error().reason.find("refused at image1+0x"), std::string::npos)
        << prepared.error().message();
    EXPECT_EQ(result.run.memory, nullptr);
    EXPECT_TRUE(result.plan.segments.empty());
  }
  EXPECT_EQ(kernel.loads, 1);
  EXPECT_TRUE(kernel.loaded(KexecSlot::kNormal));
}

// The plan is refused where the kernel's segment check would refuse it (kernel/kexec_core.c,
// sanity_check_segment_list), before any system call.
TEST(Loader, RefusesAPlanTheKernelWouldRefuse) {
  const Machine machine = described_q35_machine(1024);
  auto plan_of = [](std::vector<PlannedSegment> segments) {
    KexecPlan plan;
    for (const PlannedSegment& segment : segments) {
      plan.memsz_total += segment.memsz;
      plan.bufsz_total += segment.bufsz;
    }
    plan.segments = std::move(segments);
    return plan;
  };
  auto refusal = [&](std::vector<PlannedSegment> segments) {
    auto checked = check_segments_as_the_kernel_does(plan_of(std::move(segments)), machine);
    return checked ? std::string() : checked.error().reason;
  };
  EXPECT_EQ(refusal({{0x100000, 0x2000, 0x1000, "a"}, {0x200000, 0x1000, 0x1000, "b"}}), "");
  EXPECT_NE(refusal({{0x100800, 0x1000, 0, "a"}}).find("page-aligned"), std::string::npos);
  EXPECT_NE(refusal({{0x100000, 0x1800, 0, "a"}}).find("page-aligned"), std::string::npos);
  EXPECT_NE(refusal({{0x100000, 0x2000, 0, "a"}, {0x101000, 0x1000, 0, "b"}}).find("overlap"),
            std::string::npos);
  EXPECT_NE(refusal({{0x100000, 0x1000, 0x2000, "a"}}).find("more data than memory"),
            std::string::npos);
  EXPECT_NE(refusal({{0xfffffffffffff000, 0x2000, 0, "a"}}).find("wraps"), std::string::npos);
  EXPECT_NE(refusal({{0x1000000, 600ull << 20, 0, "a"}}).find("half of this machine's RAM"),
            std::string::npos);
  std::vector<PlannedSegment> seventeen;
  for (std::uint64_t i = 0; i < 17; ++i)
    seventeen.push_back({0x100000 + i * 0x2000, 0x1000, 0, "x"});
  EXPECT_NE(refusal(seventeen).find("more than 16"), std::string::npos);
}

TEST(Loader, ReusedCommandLinesDropTheOldBootsOwnWords) {
  EXPECT_EQ(reusable_command_line("BOOT_IMAGE=/vmlinuz root=/dev/sda1 initrd=initrd  quiet\n"),
            "root=/dev/sda1 quiet");
}

TEST(Trampoline, IsPlacedFromItsObjectsSymbolsAndRelocations) {
  Trampoline trampoline;
  auto loaded = trampoline.load();
  ASSERT_TRUE(loaded) << loaded.error().message();
  std::uint64_t entry, gdt, gdt_pointer, idt, fault, context;
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_entry", entry));
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_gdt", gdt));
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_gdt_pointer", gdt_pointer));
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_idt", idt));
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_fault", fault));
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_context", context));
  constexpr std::uint64_t kBase = 0x3ff5e000;
  Trampoline::Parameters parameters{0x1000, 0x2000, {}};
  parameters.context.rip = 0xabcdef;
  auto placed_blob = trampoline.place(kBase, parameters);
  ASSERT_TRUE(placed_blob) << placed_blob.error().message();
  const std::vector<std::uint8_t>& blob = *placed_blob;
  std::uint64_t gdt_base = 0;
  std::memcpy(&gdt_base, blob.data() + gdt_pointer + 2, 8);
  EXPECT_EQ(gdt_base, kBase + gdt) << "R_X86_64_64 applied for the placement address";
  efikexec_cpu_context placed{};
  std::memcpy(&placed, blob.data() + context, sizeof placed);
  EXPECT_EQ(placed.rip, 0xabcdefu);
  const std::uint8_t* gate = blob.data() + idt + 13 * 16;  // #GP
  const std::uint64_t handler = gate[0] | (gate[1] << 8) | (std::uint64_t{gate[6]} << 16) |
                                (std::uint64_t{gate[7]} << 24);
  EXPECT_EQ(handler, (kBase + fault) & 0xffffffff);
  EXPECT_EQ(gate[5], 0x8e);
  // Placing twice at different bases differs only where relocations point.
  auto elsewhere = trampoline.place(kBase + 0x100000, parameters);
  ASSERT_TRUE(elsewhere);
  EXPECT_EQ(std::memcmp(blob.data() + entry, elsewhere->data() + entry, 16), 0)
      << "the code itself is position independent";
  // The benchmark line at entry is off unless asked for.
  std::uint64_t serial_mark = 0;
  ASSERT_TRUE(trampoline.symbol("efikexec_trampoline_serial_mark", serial_mark));
  EXPECT_EQ(blob[serial_mark], 0);
  parameters.serial_mark = true;
  auto marked = trampoline.place(kBase, parameters);
  ASSERT_TRUE(marked);
  EXPECT_EQ((*marked)[serial_mark], 1);
}

std::uint64_t entry_at(const std::vector<std::byte>& pages, std::uint64_t index) {
  std::uint64_t value;
  std::memcpy(&value, pages.data() + index * 8, 8);
  return value;
}

TEST(IdentityTables, MapEverythingWithRamWriteBackAndTheRestUncached) {
  constexpr std::uint64_t kBase = 0x100000;
  const std::uint64_t top = arch::identity_map_top(1ull << 30);
  EXPECT_EQ(top, 4ull << 30);
  const std::uint64_t pages = arch::identity_table_pages(top);
  EXPECT_EQ(pages, 2u + 1u + 4u);
  std::vector<std::byte> tables(pages * 4096);
  const arch::PhysicalRange ram[] = {{0, 1ull << 30}};
  const arch::TableRoots roots = arch::build_identity_tables(tables, kBase, top, ram);
  EXPECT_EQ(roots.pml5, kBase);
  EXPECT_EQ(roots.pml4, kBase + 4096);
  EXPECT_EQ(entry_at(tables, 0) & ~0xfffull, roots.pml4) << "PML5[0] -> PML4";
  EXPECT_EQ(entry_at(tables, 512) & ~0xfffull, kBase + 2 * 4096) << "PML4[0] -> PDPT";
  const std::uint64_t first_pd = 3 * 512;
  EXPECT_EQ(entry_at(tables, first_pd), 0x83u) << "0-2 MiB: present, writable, large, WB";
  const std::uint64_t mmio = entry_at(tables, first_pd + (0xfec00000ull >> 21));
  EXPECT_EQ(mmio & ~0xfffull, 0xfec00000ull & ~0x1fffffull);
  EXPECT_EQ(mmio & 0x18, 0x18u) << "outside RAM: PCD|PWT";
  EXPECT_EQ(entry_at(tables, first_pd + 2047) & ~0xfffull, (4ull << 30) - (2ull << 20));
}

}  // namespace
}  // namespace efikexec::kexec
