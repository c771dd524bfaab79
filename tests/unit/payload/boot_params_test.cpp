// SPDX-License-Identifier: MIT
// The payload's boot_params reader and page tables (src/payload/boot_params.hpp,
// page_tables.hpp), and the payload file's headers (when the build made one).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>

#include "payload/boot_params.hpp"
#include "payload/page_tables.hpp"
#include "pe_loader/pe_image.hpp"
#include "support/pe_builder.hpp"
#include "uki/uki.hpp"

namespace efikexec::payload {
namespace {

using testing::Bytes;
using testing::put16;
using testing::put32;
using testing::put64;
using testing::view;

// A zero page as kexec_file_load fills it (values from a guest run).
Bytes zero_page() {
  Bytes page(kBootParamsSize, 0);
  put32(page, 0x202, 0x53726448);  // HdrS
  put16(page, 0x206, 0x020f);
  put64(page, 0x070, 0x7fb7e014);  // acpi_rsdp_addr
  page[0x1ec] = 3;                 // secure_boot
  put32(page, 0x218, 0x3d45b000);  // ramdisk_image
  put32(page, 0x0c0, 0x1);         // ext_ramdisk_image
  put32(page, 0x21c, 0x8ef000);    // ramdisk_size
  put32(page, 0x228, 0x98000 + 0x1000);
  put32(page, 0x238, 0xffff);
  put64(page, 0x250, 0x98800);     // setup_data
  put32(page, 0x1c0, kEfiLoaderSignature64);
  put32(page, 0x1c4, 0x7fbee018);
  put32(page, 0x1c8, 48);
  put32(page, 0x1cc, 1);
  put32(page, 0x1d0, 0x99000);
  put32(page, 0x1d4, 96);
  page[0x1e8] = 2;
  put64(page, 0x2d0, 0);
  put64(page, 0x2d8, 0x9fc00);
  put32(page, 0x2e0, kE820Ram);
  put64(page, 0x2e4, 0x100000);
  put64(page, 0x2ec, 0x3ff00000);
  put32(page, 0x2f4, kE820Ram);
  return page;
}

TEST(BootParams, ReadsEveryFieldItNeeds) {
  const Bytes page = zero_page();
  auto facts = read_boot_params(view(page));
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->protocol_version, 0x020f);
  EXPECT_EQ(facts->acpi_rsdp, 0x7fb7e014u);
  EXPECT_EQ(facts->secure_boot, 3);
  EXPECT_EQ(facts->ramdisk_address, 0x13d45b000u);
  EXPECT_EQ(facts->ramdisk_size, 0x8ef000u);
  EXPECT_EQ(facts->command_line, 0x99000u);
  EXPECT_EQ(facts->command_line_size, 0xffffu);
  EXPECT_EQ(facts->setup_data, 0x98800u);
  EXPECT_EQ(facts->efi.loader_signature, kEfiLoaderSignature64);
  EXPECT_EQ(facts->efi.system_table, 0x7fbee018u);
  EXPECT_EQ(facts->efi.descriptor_size, 48u);
  EXPECT_EQ(facts->efi.memory_map, 0x99000u);
  EXPECT_EQ(facts->efi.memory_map_size, 96u);
  ASSERT_EQ(facts->e820_entries().size(), 2u);
  EXPECT_EQ(facts->e820[1].address, 0x100000u);
  EXPECT_EQ(facts->e820[1].size, 0x3ff00000u);
  EXPECT_EQ(facts->e820[1].type, kE820Ram);
  EXPECT_TRUE(inside_e820(facts->e820_entries(), 0x200000, 0x1000, kE820Ram));
  EXPECT_FALSE(inside_e820(facts->e820_entries(), 0x9f000, 0x2000, kE820Ram));
  EXPECT_FALSE(inside_e820(facts->e820_entries(), 0x200000, 0x1000, kE820Acpi));
}

TEST(BootParams, RefusesWhatCannotBeRead) {
  Bytes page = zero_page();
  EXPECT_EQ(read_boot_params(ByteView(view(page).data(), 4095)).error().code,
            ErrorCode::kTruncated);
  Bytes bad = page;
  put32(bad, 0x202, 0);
  EXPECT_EQ(read_boot_params(view(bad)).error().code, ErrorCode::kBadMagic);
  bad = page;
  bad[0x1e8] = 129;
  EXPECT_EQ(read_boot_params(view(bad)).error().code, ErrorCode::kOutOfRange);
  bad = page;
  put64(bad, 0x2ec, 0);
  EXPECT_EQ(read_boot_params(view(bad)).error().code, ErrorCode::kMalformed);
  bad = page;
  put64(bad, 0x2e4, ~std::uint64_t{0});
  EXPECT_EQ(read_boot_params(view(bad)).error().code, ErrorCode::kOverflow);
  bad = page;
  put32(bad, 0x0c0, 0xffffffff);
  put32(bad, 0x0c4, 0xffffffff);
  EXPECT_EQ(read_boot_params(view(bad)).error().code, ErrorCode::kOverflow);
  // 128 entries (the last one ends the page's table at 0xcd0) are fine.
  bad = page;
  bad[0x1e8] = 128;
  for (int i = 0; i < 128; ++i) {
    put64(bad, 0x2d0 + 20 * i, 0x1000u * i);
    put64(bad, 0x2d8 + 20 * i, 0x1000);
  }
  EXPECT_TRUE(read_boot_params(view(bad)));
}

TEST(BootParams, EfiMemoryMap) {
  Bytes map(96, 0);
  put32(map, 0, 5);  // EfiRuntimeServicesCode
  put64(map, 8, 0x7f000000);
  put64(map, 16, 0xfffffffeff000000);
  put64(map, 24, 16);
  put64(map, 32, 0x800000000000000f);
  auto count = efi_memory_map_count(view(map), 48);
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 2u);
  auto d = efi_memory_descriptor(view(map), 48, 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, 5u);
  EXPECT_EQ(d->physical_start, 0x7f000000u);
  EXPECT_EQ(d->virtual_start, 0xfffffffeff000000u);
  EXPECT_EQ(d->pages, 16u);
  EXPECT_EQ(d->attribute, 0x800000000000000fu);
  EXPECT_EQ(efi_memory_descriptor(view(map), 48, 2).error().code, ErrorCode::kOutOfRange);
  EXPECT_FALSE(efi_memory_map_count(view(map), 39));
  EXPECT_FALSE(efi_memory_map_count(view(map), 40));  // 96 is not a multiple of 40
  put64(map, 24, ~std::uint64_t{0} >> 10);
  EXPECT_EQ(efi_memory_descriptor(view(map), 48, 0).error().code, ErrorCode::kOverflow);
}

TEST(BootParams, SetupDataAndCommandLine) {
  Bytes node(16, 0);
  put64(node, 0, 0x1234000);
  put32(node, 8, 5);  // SETUP_EFI
  put32(node, 12, 56);
  auto header = read_setup_data_header(view(node));
  ASSERT_TRUE(header);
  EXPECT_EQ(header->next, 0x1234000u);
  EXPECT_EQ(header->type, 5u);
  EXPECT_EQ(header->length, 56u);
  EXPECT_FALSE(read_setup_data_header(ByteView(view(node).data(), 15)));

  const std::string text("efikexec.uki_size=1 -- a\0garbage", 32);
  const ByteView bytes(reinterpret_cast<const std::byte*>(text.data()), text.size());
  auto line = command_line_text(bytes);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "efikexec.uki_size=1 -- a");
  EXPECT_EQ(command_line_text(ByteView(bytes.data(), 24)).error().code, ErrorCode::kTruncated);
}

TEST(PageTables, IdentityMapsEveryRangeIn2MiBPages) {
  auto pool = std::make_unique<PageTable[]>(16);
  PageTableBuilder builder({pool.get(), 16}, false, false);
  const E820Entry e820[] = {{0, 0x9fc00, kE820Ram}, {0x100000, 0x3ff00000, kE820Ram},
                            {0xfeffc000, 0x4000, kE820Reserved}};
  auto left_out = map_e820(builder, e820);
  ASSERT_TRUE(left_out);
  EXPECT_EQ(*left_out, 0u);
  // PML4 -> PDPT -> PD (GiB 0), PD (GiB 3).
  EXPECT_EQ(builder.tables_used(), 4u);
  const std::uint64_t pml4e = builder.root()->entries[0];
  ASSERT_TRUE(pml4e & 1);
  const auto* pdpt = reinterpret_cast<const PageTable*>(pml4e & 0x000ffffffffff000);
  const auto* pd0 = reinterpret_cast<const PageTable*>(pdpt->entries[0] & 0x000ffffffffff000);
  EXPECT_EQ(pd0->entries[0], 0x0u | 0x83);                 // present, writable, 2 MiB
  EXPECT_EQ(pd0->entries[511], (511ull << 21) | 0x83);
  const auto* pd3 = reinterpret_cast<const PageTable*>(pdpt->entries[3] & 0x000ffffffffff000);
  EXPECT_EQ(pd3->entries[503], (0xfeeull << 20 & ~0x1fffffull) | 0x9b);  // uncached
  EXPECT_EQ(pd3->entries[0], 0u);
}

TEST(PageTables, GigabytePagesFiveLevelsAndLimits) {
  auto pool = std::make_unique<PageTable[]>(4);
  PageTableBuilder big({pool.get(), 4}, true, true);
  ASSERT_TRUE(big.map_identity(0, 4ull << 30, true));
  EXPECT_EQ(big.tables_used(), 3u);  // PML5, PML4, PDPT with four 1 GiB pages
  PageTableBuilder small({pool.get(), 2}, false, false);
  EXPECT_EQ(small.map_identity(0, 1 << 21, true).error().code, ErrorCode::kNoMemory);
  PageTableBuilder four({pool.get(), 4}, false, false);
  EXPECT_EQ(four.map_identity(1ull << 47, 4096, true).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(four.map_identity(0, 0, true).error().code, ErrorCode::kOutOfRange);
  // map_e820 leaves out what 4-level paging cannot reach and clips what straddles the limit.
  auto more = std::make_unique<PageTable[]>(8);
  PageTableBuilder clipped({more.get(), 8}, false, false);
  const E820Entry e820[] = {{0, 1 << 21, kE820Ram},
                            {(1ull << 47) - (1 << 21), 1ull << 30, kE820Reserved},
                            {1ull << 50, 1 << 21, kE820Reserved}};
  auto left_out = map_e820(clipped, e820);
  ASSERT_TRUE(left_out);
  EXPECT_EQ(*left_out, 1u);              // the range at 2^50
  EXPECT_EQ(clipped.tables_used(), 5u);  // PML4; PDPT + PD for 0; PDPT + PD below 2^47
  // The pool runs out: on RAM that is an error, on reserved ranges they are left out.
  PageTableBuilder tight({more.get(), 3}, false, false);
  const E820Entry ram_and_mmio[] = {{0, 1 << 21, kE820Ram}, {1ull << 40, 1 << 21, kE820Reserved}};
  left_out = map_e820(tight, ram_and_mmio);
  ASSERT_TRUE(left_out);
  EXPECT_EQ(*left_out, 1u);
  PageTableBuilder tighter({more.get(), 3}, false, false);
  const E820Entry two_ram[] = {{0, 1 << 21, kE820Ram}, {1ull << 40, 1 << 21, kE820Ram}};
  EXPECT_EQ(map_e820(tighter, two_ram).error().code, ErrorCode::kNoMemory);
}

#ifdef EFIKEXEC_PAYLOAD_FILE
// The payload file the build made: a PE32+ image and a bzImage that kexec_file_load's
// bzImage64 probe accepts (arch/x86/kernel/kexec-bzimage64.c).
TEST(PayloadFile, IsAPeAndA64BitBzImage) {
  const char* path = EFIKEXEC_PAYLOAD_FILE;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  const Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_LE(file.size(), 512u * 1024u);
  auto image = pe::Image::parse(view(file));
  ASSERT_TRUE(image) << image.error().message;
  auto header = uki::parse_linux_boot_header(view(file));
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_GE(header->protocol_version, 0x020c);
  EXPECT_EQ(header->setup_sects, 1);
  EXPECT_TRUE(header->loadflags & 0x01);  // LOADED_HIGH
  EXPECT_TRUE(header->xloadflags & uki::kXlfKernel64);
  EXPECT_TRUE(header->xloadflags & uki::kXlfCanBeLoadedAbove4G);
  EXPECT_TRUE(header->xloadflags & uki::kXlf5Level);
  EXPECT_TRUE(header->relocatable);
  EXPECT_EQ(header->kernel_alignment, 2u << 20);
  EXPECT_GE(header->init_size, file.size() - 0x400);
  EXPECT_EQ(file[0x200], 0xeb);  // the jump over the header: kexec copies to 0x202 + file[0x201]
}
#endif

}  // namespace
}  // namespace efikexec::payload
