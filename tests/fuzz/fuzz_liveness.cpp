// SPDX-License-Identifier: MIT
// What the plan leaves out (src/kexec/handoff/liveness.cpp): boot_params, its setup_data chain,
// the system table and its configuration tables, the captured registers, the child's word for
// where the UKI lies and its list of allocations are the image's to choose, and so are the
// first bytes of what could be the kernel the Linux stub decompressed. Whatever they are, what is
// left out is whole pages of memory the run allocated, in order, and never the handoff,
// boot_params, the system table or the page the code resumes in; the carried map covers the same
// pages as the run's.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_assert.hpp"
#include "kexec/handoff/liveness.hpp"
#include "kexec/run/child_report.hpp"
#include "support/pe_builder.hpp"

using namespace efikexec;
using namespace efikexec::kexec;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBootParams = 0x200000;
constexpr std::uint64_t kSystab = 0x300000;
constexpr std::uint64_t kData = 0x400000;     // two pages of LoaderData: setup_data, tables
constexpr std::uint64_t kStack = 0x500000;
constexpr std::uint64_t kHandoff = 0x600000;
constexpr std::uint64_t kUkiBase = 0x800000;
constexpr std::uint64_t kKernel = 0xa00000;        // the image LoadImage() made of .linux
constexpr std::uint64_t kDecompressed = 0xc00000;  // the stub's LoaderCode allocation
constexpr std::uint64_t kTop = 0x1000000;

// .linux: an EFI-stub kernel whose compressed payload covers two whole pages of its .text.
const testing::Bytes& kernel() {
  static const auto* bytes = new testing::Bytes(testing::bzimage_with_payload(5 * kPage, 0x200, 3 * kPage));
  return *bytes;
}

const pe::Image& uki() {
  static const auto* bytes = new testing::Bytes(
      testing::PeBuilder()
          .section(".text", testing::Bytes(kPage, 0xc3), 0x60000020)
          .section(".initrd", testing::Bytes(2 * kPage, 7))
          .section(".linux", kernel())
          .build());
  static const auto* image = new pe::Image(
      *pe::Image::parse(ByteView(reinterpret_cast<const std::byte*>(bytes->data()), bytes->size())));
  return *image;
}

std::uint64_t u64(const std::uint8_t* bytes) {
  std::uint64_t value;
  std::memcpy(&value, bytes, 8);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static IdentityMemory* memory = [] {
    auto* created = new IdentityMemory;
    if (!created->create(kTop)) __builtin_trap();
    const ByteView file = uki().file();
    if (!created->write(kUkiBase, std::span(file.data(), uki().size_of_headers())) ||
        !created->write(kKernel, std::as_bytes(std::span(kernel()))) ||
        !created->write(kUkiBase + uki().find_section(".linux")->virtual_address,
                        std::as_bytes(std::span(kernel()))))
      __builtin_trap();
    return created;
  }();
  // The input: 96 bytes of registers and choices, then boot_params, the system table page and
  // the data pages.
  constexpr std::size_t kHead = 96;
  std::vector<std::uint8_t> head(kHead);
  std::memcpy(head.data(), data, std::min(size, kHead));
  std::vector<std::byte> pages(4 * kPage);
  if (size > kHead) std::memcpy(pages.data(), data + kHead, std::min(size - kHead, pages.size()));
  const std::span<const std::byte> all(pages);
  if (!memory->write(kBootParams, all.subspan(0, kPage)) ||
      !memory->write(kSystab, all.subspan(kPage, kPage)) ||
      !memory->write(kData, all.subspan(2 * kPage, 2 * kPage)) ||
      !memory->write(kDecompressed, all.subspan(0, 8)))
    __builtin_trap();

  RunOutcome run;
  run.memory.reset(memory);
  const std::uint64_t uki_pages = efi::bytes_to_pages(uki().size_of_image());
  run.final_map = {{kBootParams, 1, EfiLoaderData, 0, true},
                   {kSystab, 1, EfiRuntimeServicesData, 0, true},
                   {kData, 2, EfiLoaderData, 0, true},
                   {kStack, 4, EfiBootServicesData, 0, true},
                   {kHandoff, 2, EfiLoaderData, 0, true},
                   {kUkiBase, uki_pages, EfiLoaderCode, 0, true},
                   {kKernel, efi::bytes_to_pages(kernel().size()), EfiLoaderCode, 0, true},
                   {kDecompressed, 8, head[80] & 4 ? EfiLoaderData : EfiLoaderCode, 0, true}};
  run.system_table = kSystab;
  std::uint64_t* registers[] = {&run.context.rip, &run.context.rsp, &run.context.rbx,
                                &run.context.rbp, &run.context.rdi, &run.context.rsi,
                                &run.context.r12, &run.context.r13, &run.context.r14,
                                &run.context.r15};
  for (std::size_t i = 0; i < std::size(registers); ++i) *registers[i] = u64(&head[8 * i]);
  // The code resuming in the kernel's image, or in .linux inside the UKI's.
  if (head[80] & 2)
    run.context.rip = (head[80] & 8 ? kUkiBase + uki().find_section(".linux")->virtual_address : kKernel) +
                      run.context.rip % kernel().size();
  run.top_image_base = head[80] & 1 ? kUkiBase : kUkiBase + u64(&head[88]) % (2 * kPage);
  // The data pages as two allocations the map merged, or as the map's one range.
  if (head[91] & 1)
    run.allocations = {{kData + kPage, 1}, {kData, 1}, {kStack, 4}, {kBootParams, 1},
                       {kKernel, efi::bytes_to_pages(kernel().size())},
                       {kDecompressed, head[91] & 2 ? 8u : 2u}};
  if (head[81] & 1) {
    BootParamsFacts facts;
    facts.address = kBootParams;
    facts.initrd_address = u64(&head[82]) % kTop;
    facts.initrd_size = head[90] * kPage;
    facts.efi_system_table = kSystab;
    run.boot_params = facts;
  }
  const std::array<PhysicalSpan, 1> handoff = {PhysicalSpan{kHandoff, kHandoff + 2 * kPage}};
  const std::vector<LeftOutSpan> dead = dead_after_exit_boot_services(run, uki(), handoff);
  const std::vector<efi::MemoryRange> carried = without_dead(run.final_map, dead);
  const std::vector<efi::MemoryRange> map = run.final_map;
  (void)run.memory.release();  // the static memory outlives the run

  std::uint64_t previous_end = 0;
  for (const LeftOutSpan& section : dead) {
    FUZZ_ASSERT(!section.name.empty());
    FUZZ_ASSERT(section.start % kPage == 0 && section.end % kPage == 0);
    FUZZ_ASSERT(section.start < section.end && section.start >= previous_end);
    previous_end = section.end;
    FUZZ_ASSERT(in_allocated(map, section.start, section.end - section.start));
    for (std::uint64_t kept : {kBootParams, kSystab, kHandoff, kHandoff + kPage, kUkiBase})
      FUZZ_ASSERT(kept < section.start || kept >= section.end);
    FUZZ_ASSERT(run.context.rip == 0 || run.context.rip < section.start ||
                run.context.rip >= section.end);
  }
  std::uint64_t pages_before = 0, pages_after = 0;
  for (const efi::MemoryRange& range : map) pages_before += range.pages;
  previous_end = 0;
  for (const efi::MemoryRange& range : carried) {
    FUZZ_ASSERT(range.start >= previous_end && range.pages > 0);
    previous_end = range.end();
    pages_after += range.pages;
  }
  FUZZ_ASSERT(pages_before == pages_after);
  return 0;
}
