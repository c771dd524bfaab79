// SPDX-License-Identifier: MIT
// What the plan leaves out after ExitBootServices(): a UKI's payload sections and data
// allocations nothing reachable points into; everything a root reaches (registers, boot_params
// and what it names, the system table's pointers, the handoff) stays, and nothing goes when
// the roots cannot all be read.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "efi_shim/efi_types.hpp"
#include "kexec/handoff/liveness.hpp"
#include "support/pe_builder.hpp"
#include "uki/boot_params_offsets.hpp"

namespace efikexec::kexec {
namespace {

using efikexec::testing::PeBuilder;
namespace offsets = uki::boot_params_offsets;

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBootParams = 0x200000;
constexpr std::uint64_t kSystab = 0x300000;
constexpr std::uint64_t kKernelInitrd = 0x400000;   // the Linux stub's copy (boot_params)
constexpr std::uint64_t kStubInitrd = 0x600000;     // systemd-stub's combined buffer
constexpr std::uint64_t kStack = 0x800000;
constexpr std::uint64_t kKernelImage = 0xa00000;    // the image LoadImage() made of .linux
constexpr std::uint64_t kHandoff = 0xc00000;
constexpr std::uint64_t kUkiBase = 0x1000000;

void put(IdentityMemory& memory, std::uint64_t address, std::uint64_t value, std::size_t size) {
  ASSERT_TRUE(memory.write(address, std::as_bytes(std::span(&value, 1)).first(size)));
}

class Liveness : public ::testing::Test {
 protected:
  void SetUp() override {
    // A UKI: the stub's code, then .osrel, .initrd (3 pages) and .linux (4 pages).
    uki_bytes = PeBuilder()
                    .section(".text", efikexec::testing::Bytes(kPage, 0xc3), 0x60000020)
                    .section(".osrel", efikexec::testing::Bytes(100, 'I'))
                    .section(".initrd", efikexec::testing::Bytes(3 * kPage, 0x07))
                    .section(".linux", efikexec::testing::Bytes(4 * kPage, 0x4c))
                    .build();
    auto parsed = pe::Image::parse(ByteView(reinterpret_cast<const std::byte*>(uki_bytes.data()),
                                            uki_bytes.size()));
    ASSERT_TRUE(parsed);
    image.emplace(std::move(*parsed));

    auto memory = std::make_unique<IdentityMemory>();
    ASSERT_TRUE(memory->create(32 * kMiB));
    run.memory = std::move(memory);
    // The image as LoadImage() maps it: its headers at the base.
    ASSERT_TRUE(run.memory->write(
        kUkiBase, std::as_bytes(std::span(uki_bytes)).first(image->size_of_headers())));
    const std::uint64_t uki_pages = efi::bytes_to_pages(image->size_of_image());
    run.final_map = {{kBootParams, 1, EfiLoaderData, 0, true},
                     {kSystab, 1, EfiRuntimeServicesData, 0, true},
                     {kKernelInitrd, 2, EfiLoaderData, 0, true},
                     {kStubInitrd, 2, EfiLoaderData, 0, true},
                     {kStack, 4, EfiBootServicesData, 0, true},
                     {kKernelImage, 4, EfiLoaderCode, 0, true},
                     {kHandoff, 2, EfiLoaderData, 0, true},
                     {kUkiBase, uki_pages, EfiLoaderCode, 0, true}};
    run.top_image_base = kUkiBase;
    run.system_table = kSystab;
    run.context.rip = kKernelImage + 0x123;
    run.context.rsp = kStack + 3 * kPage;
    run.boot_params = BootParamsFacts{};
    run.boot_params->address = kBootParams;
    run.boot_params->efi_system_table = kSystab;
    run.boot_params->initrd_address = kKernelInitrd;
    run.boot_params->initrd_size = 2 * kPage;
    EFI_SYSTEM_TABLE systab{};
    systab.Hdr.Signature = EFI_SYSTEM_TABLE_SIGNATURE;
    ASSERT_TRUE(run.memory->write(kSystab, std::as_bytes(std::span(&systab, 1))));
  }

  std::vector<LeftOutSpan> dead() const {
    const std::array<PhysicalSpan, 1> handoff = {PhysicalSpan{kHandoff, kHandoff + 2 * kPage}};
    return dead_after_exit_boot_services(run, *image, handoff);
  }
  std::uint64_t section_address(const char* name) const {
    return kUkiBase + image->find_section(name)->virtual_address;
  }
  static bool left_out(const std::vector<LeftOutSpan>& dead, std::uint64_t address) {
    return std::ranges::any_of(dead, [&](const LeftOutSpan& section) {
      return address >= section.start && address < section.end;
    });
  }

  efikexec::testing::Bytes uki_bytes;
  std::optional<pe::Image> image;
  RunOutcome run;
};

TEST_F(Liveness, LeavesOutThePayloadSectionsAndUnreachedData) {
  const auto gone = dead();
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].name, "LoaderData");
  EXPECT_EQ(gone[0].start, kStubInitrd);
  EXPECT_EQ(gone[0].end, kStubInitrd + 2 * kPage);
  // One span from .osrel's page to the image's last page: the padding between sections goes too.
  EXPECT_EQ(gone[1].name, ".osrel+.initrd+.linux");
  EXPECT_EQ(gone[1].start, section_address(".osrel"));
  EXPECT_EQ(gone[1].end, kUkiBase + efi::pages_to_bytes(efi::bytes_to_pages(image->size_of_image())));
  // What stays: the stub's code and the headers, boot_params, the kernel's initrd, the stack,
  // the kernel's image, the handoff.
  for (std::uint64_t kept : {kUkiBase, section_address(".text"), kBootParams, kKernelInitrd,
                             kStack, kKernelImage, kHandoff, kSystab})
    EXPECT_FALSE(left_out(gone, kept)) << std::hex << kept;
}

// The Linux stub's paging-mode switch: two LoaderData pages only a variable of its own image
// points to, run after ExitBootServices(). The same pointer kept elsewhere (on the stack above
// the resumed frame, in systemd-stub's dead buffers) keeps nothing.
TEST_F(Liveness, KeepsWhatTheResumedCodesImagePointsTo) {
  put(*run.memory, kKernelImage + 2 * kPage + 8, kStubInitrd + 0x10, 8);
  EXPECT_FALSE(left_out(dead(), kStubInitrd));
}

TEST_F(Liveness, PointersOutsideTheResumedCodesAllocationKeepNothing) {
  put(*run.memory, kStack + 3 * kPage + 64, kStubInitrd, 8);   // a frame above RSP
  put(*run.memory, section_address(".initrd") + 8, kStubInitrd, 8);
  put(*run.memory, kUkiBase + kPage + 16, kStubInitrd, 8);     // systemd-stub's own image
  EXPECT_TRUE(left_out(dead(), kStubInitrd));
}

TEST_F(Liveness, KeepsTheSectionTheImageResumesIn) {
  // systemd-stub 252's handover: the kernel runs from .linux itself.
  run.context.rip = section_address(".linux") + 0x40;
  const auto gone = dead();
  EXPECT_FALSE(left_out(gone, section_address(".linux")));
  EXPECT_TRUE(left_out(gone, section_address(".initrd")));
}

TEST_F(Liveness, KeepsWhatBootParamsNames) {
  // An initrd handed on in place, and a setup_data entry and the command line in the
  // combined buffer.
  run.boot_params->initrd_address = section_address(".initrd") + 16;
  put(*run.memory, kBootParams + offsets::kSetupData, kStubInitrd + kPage, 8);
  put(*run.memory, kStubInitrd + kPage + 12, 32, 4);  // len
  const auto gone = dead();
  EXPECT_FALSE(left_out(gone, section_address(".initrd")));
  EXPECT_TRUE(left_out(gone, section_address(".linux") + kPage));
  EXPECT_FALSE(left_out(gone, kStubInitrd));
  EXPECT_TRUE(left_out(gone, kKernelInitrd)) << "a buffer boot_params no longer names goes";
}

TEST_F(Liveness, KeepsCode32StartAndTheSystemTablesPointers) {
  put(*run.memory, kBootParams + offsets::kCode32Start, section_address(".linux"), 4);
  EFI_SYSTEM_TABLE systab{};
  systab.Hdr.Signature = EFI_SYSTEM_TABLE_SIGNATURE;
  systab.NumberOfTableEntries = 1;
  systab.ConfigurationTable = reinterpret_cast<EFI_CONFIGURATION_TABLE*>(kSystab + 0x100);
  ASSERT_TRUE(run.memory->write(kSystab, std::as_bytes(std::span(&systab, 1))));
  put(*run.memory, kSystab + 0x100 + offsetof(EFI_CONFIGURATION_TABLE, VendorTable),
      kStubInitrd + 8, 8);
  const auto gone = dead();
  EXPECT_FALSE(left_out(gone, section_address(".linux")));
  EXPECT_FALSE(left_out(gone, kStubInitrd));
}

TEST_F(Liveness, TakesTheAllocationsOneByOneWhenTheRunListedThem) {
  // The kernel's initrd and systemd-stub's buffer as neighbours: one LoaderData range.
  run.final_map[2] = {kKernelInitrd, 4, EfiLoaderData, 0, true};
  run.final_map.erase(run.final_map.begin() + 3);
  run.boot_params->initrd_address = kKernelInitrd;
  auto gone = dead();
  EXPECT_FALSE(left_out(gone, kKernelInitrd + 3 * kPage)) << "merged: one root keeps both";
  run.allocations = {{kKernelInitrd + 2 * kPage, 2}, {kKernelInitrd, 2}, {kBootParams, 1}};
  gone = dead();
  EXPECT_TRUE(left_out(gone, kKernelInitrd + 2 * kPage));
  EXPECT_TRUE(left_out(gone, kKernelInitrd + 3 * kPage));
  EXPECT_FALSE(left_out(gone, kKernelInitrd + kPage));
  EXPECT_FALSE(left_out(gone, kBootParams));
}

TEST_F(Liveness, KeepsTheUkiWhenTheReportedBaseIsNotTheImage) {
  run.top_image_base = kUkiBase + kPage;  // the child's word, not where the headers are
  const auto gone = dead();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].start, kStubInitrd);
  run.top_image_base = 0x7000000;  // outside every allocation
  EXPECT_EQ(dead().size(), 1u);
}

TEST_F(Liveness, LeavesNothingOutWhenTheRootsCannotAllBeRead) {
  auto without_boot_params = [&] {
    auto saved = run.boot_params;
    run.boot_params.reset();
    auto gone = dead();
    run.boot_params = saved;
    return gone;
  };
  EXPECT_TRUE(without_boot_params().empty());
  // A setup_data chain that loops on itself.
  put(*run.memory, kBootParams + offsets::kSetupData, kBootParams + 0x800, 8);
  put(*run.memory, kBootParams + 0x800, kBootParams + 0x800, 8);
  EXPECT_TRUE(dead().empty());
  // A system table whose signature was overwritten.
  put(*run.memory, kBootParams + offsets::kSetupData, 0, 8);
  ASSERT_FALSE(dead().empty());
  put(*run.memory, kSystab, 0, 8);
  EXPECT_TRUE(dead().empty());
}

TEST_F(Liveness, KeepsTheHandoffAndTheStack) {
  // Both kinds of memory are data allocations nothing else names.
  run.context.rsp = kStack + 3 * kPage;
  const auto gone = dead();
  EXPECT_FALSE(left_out(gone, kHandoff));
  EXPECT_FALSE(left_out(gone, kStack));
}

// An EFI-stub kernel in a UKI: its compressed payload lies in .text at the same offset in the
// file and in memory, between the decompressor's head and the stub's code.
constexpr std::uint32_t kKernelText = efikexec::testing::kBzImageText;
constexpr std::uint32_t kPayloadOffset = 0x200;      // from the protected-mode code
constexpr std::uint32_t kPayloadLength = 3 * kPage;  // at 0x1200..0x4200
constexpr std::uint64_t kStubCode = 0x4800;          // where ExitBootServices() returns to
constexpr std::uint64_t kDecompressed = 0x1800000;   // the stub's LoaderCode allocation

class CompressedKernel : public Liveness {
 protected:
  void SetUp() override {
    Liveness::SetUp();
    kernel = efikexec::testing::bzimage_with_payload(5 * kPage, kPayloadOffset, kPayloadLength);
    uki_bytes = PeBuilder()
                    .section(".text", efikexec::testing::Bytes(kPage, 0xc3), 0x60000020)
                    .section(".linux", kernel)
                    .build();
    auto parsed = pe::Image::parse(ByteView(reinterpret_cast<const std::byte*>(uki_bytes.data()),
                                            uki_bytes.size()));
    ASSERT_TRUE(parsed);
    image.emplace(std::move(*parsed));
    ASSERT_TRUE(run.memory->write(
        kUkiBase, std::as_bytes(std::span(uki_bytes)).first(image->size_of_headers())));
    // The kernel's image as LoadImage() made it, the stub resuming in it, and the kernel the
    // stub decompressed.
    ASSERT_TRUE(run.memory->write(kKernelImage, std::as_bytes(std::span(kernel))));
    run.context.rip = kKernelImage + kStubCode;
    put(*run.memory, kDecompressed, 0x48e5894855, 8);
    run.final_map[5] = {kKernelImage, 6, EfiLoaderCode, 0, true};
    run.final_map.back().pages = efi::bytes_to_pages(image->size_of_image());
    run.final_map.push_back({kDecompressed, 8, EfiLoaderCode, 0, true});
    for (const efi::MemoryRange& range : run.final_map)
      run.allocations.push_back({range.start, range.pages});
  }
  static constexpr std::uint64_t kPayload = kKernelImage + kKernelText + kPayloadOffset;

  efikexec::testing::Bytes kernel;
};

TEST_F(CompressedKernel, LeavesItOutOnceTheStubDecompressedIt) {
  const auto gone = dead();
  const auto span = std::ranges::find(gone, std::string("compressed kernel"), &LeftOutSpan::name);
  ASSERT_NE(span, gone.end());
  // Whole pages inside the payload: the decompressor's head and the stub's code stay.
  EXPECT_EQ(span->start, kKernelImage + 2 * kPage);
  EXPECT_EQ(span->end, kKernelImage + 4 * kPage);
  for (std::uint64_t kept : {kKernelImage, kKernelImage + kKernelText, kKernelImage + kStubCode,
                             kDecompressed})
    EXPECT_FALSE(left_out(gone, kept)) << std::hex << kept;
}

// The stub's image is read for pointers (KeepsWhatTheResumedCodesImagePointsTo), but its
// payload's only reader has finished, and its strings read as addresses: "mem=" is 0x3d6d656d.
TEST_F(CompressedKernel, NoWordOfTheStubsImageKeepsIt) {
  put(*run.memory, kKernelImage + kStubCode + 0x100, kPayload + kPage, 8);
  EXPECT_TRUE(left_out(dead(), kPayload + kPage));
}

TEST_F(CompressedKernel, FindsItWhereTheKernelRunsInPlace) {
  // systemd-stub 252's handover: the stub runs from .linux inside the UKI's image.
  const std::uint64_t linux_section = section_address(".linux");
  ASSERT_TRUE(run.memory->write(linux_section, std::as_bytes(std::span(kernel))));
  run.context.rip = linux_section + kStubCode;
  const auto gone = dead();
  EXPECT_TRUE(left_out(gone, linux_section + 2 * kPage));
  EXPECT_FALSE(left_out(gone, linux_section + kStubCode));
  EXPECT_FALSE(left_out(gone, kKernelImage + 2 * kPage)) << "the image the stub does not run in";
}

// The legacy flow decompresses after ExitBootServices(), from the payload: without a
// decompressed copy of its own, nothing of the payload goes.
TEST_F(CompressedKernel, KeepsItWithoutADecompressedCopy) {
  auto kept_without = [&](auto change) {
    auto saved_map = run.final_map;
    auto saved_allocations = run.allocations;
    change();
    const bool kept = !left_out(dead(), kPayload + kPage);
    run.final_map = saved_map;
    run.allocations = saved_allocations;
    put(*run.memory, kDecompressed, 0x48e5894855, 8);
    return kept;
  };
  EXPECT_TRUE(kept_without([&] { run.final_map.back().type = EfiLoaderData; }))
      << "efi_relocate_kernel()'s copy is LoaderData";
  EXPECT_TRUE(kept_without([&] { run.allocations.back().pages = 2; }))
      << "smaller than the payload";
  EXPECT_TRUE(kept_without([&] { put(*run.memory, kDecompressed, 0x5a4d, 2); }))
      << "an image LoadImage() made";
  EXPECT_TRUE(kept_without([&] { run.allocations.clear(); })) << "the allocations not listed";
  EXPECT_TRUE(kept_without([&] {
    run.final_map.pop_back();
    run.allocations.pop_back();
  }));
  EXPECT_FALSE(kept_without([] {}));
}

TEST_F(CompressedKernel, KeepsItWhereTheMemoryIsNotTheVerifiedPayload) {
  put(*run.memory, kPayload + kPayloadLength - 8, 0, 8);  // its last bytes
  EXPECT_FALSE(left_out(dead(), kPayload + kPage));
}

TEST_F(CompressedKernel, KeepsItWhenARootReachesIt) {
  run.context.rbx = kPayload + kPage + 16;
  EXPECT_FALSE(left_out(dead(), kPayload + kPage));
}

TEST(WithoutDead, MakesTheLeftOutPagesFreeMemory) {
  const std::vector<efi::MemoryRange> map = {{0x100000, 8, EfiLoaderCode, 0xf, true},
                                             {0x200000, 2, EfiLoaderData, 0xf, true}};
  const std::vector<LeftOutSpan> dead = {{".initrd", 0x102000, 0x104000},
                                         {".linux", 0x105000, 0x108000},
                                         {"LoaderData", 0x200000, 0x202000}};
  const auto carried = without_dead(map, dead);
  struct Piece {
    std::uint64_t start, pages;
    std::uint32_t type;
    bool allocated;
  };
  const std::vector<Piece> expected = {{0x100000, 2, EfiLoaderCode, true},
                                       {0x102000, 2, EfiConventionalMemory, false},
                                       {0x104000, 1, EfiLoaderCode, true},
                                       {0x105000, 3, EfiConventionalMemory, false},
                                       {0x200000, 2, EfiConventionalMemory, false}};
  ASSERT_EQ(carried.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(carried[i].start, expected[i].start) << i;
    EXPECT_EQ(carried[i].pages, expected[i].pages) << i;
    EXPECT_EQ(carried[i].type, expected[i].type) << i;
    EXPECT_EQ(carried[i].allocated, expected[i].allocated) << i;
    EXPECT_EQ(carried[i].attribute, 0xfu) << i;
  }
}

}  // namespace
}  // namespace efikexec::kexec
