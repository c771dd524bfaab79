// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "support/pe_builder.hpp"
#include "uki/uki.hpp"

namespace efikexec::testing {
namespace {

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A minimal bzImage setup header: enough for parse_linux_boot_header.
Bytes fake_bzimage(std::string_view version) {
  Bytes kernel(0x1000, 0);
  kernel[0x1f1] = 27;                   // setup_sects
  put16(kernel, 0x1fe, 0xaa55);
  put32(kernel, 0x202, 0x53726448);     // HdrS
  put16(kernel, 0x206, 0x020f);
  put16(kernel, 0x20e, 0x200);          // kernel_version at 0x200 + 0x200
  std::copy(version.begin(), version.end(), kernel.begin() + 0x400);
  kernel[0x234] = 1;
  put32(kernel, 0x230, 0x200000);
  put16(kernel, 0x236, 0x7f);
  put32(kernel, 0x238, 2047);
  put32(kernel, 0x260, 0x2000000);
  return kernel;
}

std::string section_string(const uki::Uki& uki, const pe::Section* section) {
  if (section == nullptr) return "<none>";
  return std::string(uki.image().section_data(*section).chars());
}

TEST(LinuxBootHeader, ParsesTheSetupHeader) {
  Bytes kernel = fake_bzimage("6.1.0-test (builder@host) #1");
  auto header = uki::parse_linux_boot_header(view(kernel));
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->protocol_version, 0x020f);
  EXPECT_EQ(header->kernel_version, "6.1.0-test (builder@host) #1");
  EXPECT_EQ(header->init_size, 0x2000000u);
  EXPECT_TRUE(header->relocatable);
  EXPECT_EQ(header->xloadflags & uki::kXlfKernel64, uki::kXlfKernel64);
}

TEST(LinuxBootHeader, LocatesTheCompressedPayload) {
  Bytes kernel = fake_bzimage("x");
  put32(kernel, 0x248, 0x2cc);     // payload_offset, from the protected-mode code
  put32(kernel, 0x24c, 0x7befe4);  // payload_length
  auto header = uki::parse_linux_boot_header(view(kernel));
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->payload_length, 0x7befe4u);
  EXPECT_EQ(uki::payload_file_offset(*header), (27u + 1) * 512 + 0x2cc);
  kernel[0x1f1] = 0;  // boot.rst: setup_sects 0 means 4
  EXPECT_EQ(uki::payload_file_offset(*uki::parse_linux_boot_header(view(kernel))), 5u * 512 + 0x2cc);
  put16(kernel, 0x206, 0x0207);  // before 2.08 the fields are not the payload's
  header = uki::parse_linux_boot_header(view(kernel));
  EXPECT_EQ(header->payload_length, 0u);
  EXPECT_EQ(uki::payload_file_offset(*header), 0u);
}

TEST(LinuxBootHeader, RejectsMissingOrBrokenHeaders) {
  Bytes kernel = fake_bzimage("x");
  kernel[0x202] = 'X';
  EXPECT_EQ(uki::parse_linux_boot_header(view(kernel)).error().code, ErrorCode::kNotFound);
  kernel = fake_bzimage("x");
  put16(kernel, 0x1fe, 0);
  EXPECT_EQ(uki::parse_linux_boot_header(view(kernel)).error().code, ErrorCode::kBadMagic);
  EXPECT_FALSE(uki::parse_linux_boot_header(view(Bytes(0x203, 0))).has_value());
}

TEST(LinuxBootHeader, BoundsTheVersionStringByTheFile) {
  Bytes kernel = fake_bzimage("");
  put16(kernel, 0x20e, 0xff00);  // points past the end
  auto header = uki::parse_linux_boot_header(view(kernel));
  ASSERT_TRUE(header.has_value());
  EXPECT_TRUE(header->kernel_version.empty());
}

TEST(Uki, FindsSectionsOfASingleProfileUki) {
  Bytes file = PeBuilder()
                   .section(".text", Bytes(16, 0xc3), 0x60000020)
                   .section(".osrel", text("ID=debian\n"))
                   .section(".cmdline", text("console=ttyS0"))
                   .section(".linux", fake_bzimage("6.1.0"))
                   .build();
  auto image = pe::Image::parse(view(file));
  ASSERT_TRUE(image.has_value());
  uki::Uki uki = uki::Uki::from_image(*image);
  EXPECT_EQ(uki.kind(), uki::ImageKind::kUki);
  EXPECT_EQ(uki.profile_count(), 0u);
  EXPECT_EQ(section_string(uki, uki.find(".cmdline")), "console=ttyS0");
  EXPECT_EQ(section_string(uki, uki.find(".cmdline", 0)), "console=ttyS0");
  EXPECT_TRUE(uki.check_profile(0).has_value());
  EXPECT_EQ(uki.check_profile(1).error().code, ErrorCode::kNotFound);
}

TEST(Uki, ResolvesProfilesOverTheBase) {
  Bytes file = PeBuilder()
                   .section(".osrel", text("ID=debian\n"))
                   .section(".cmdline", text("base"))
                   .section(".linux", fake_bzimage("6.1.0"))
                   .section(".profile", text("ID=zero\n"))
                   .section(".profile", text("ID=one\n"))
                   .section(".cmdline", text("one"))
                   .section(".profile", text("ID=two\n"))
                   .section(".cmdline", text("two"))
                   .build();
  auto image = pe::Image::parse(view(file));
  ASSERT_TRUE(image.has_value());
  uki::Uki uki = uki::Uki::from_image(*image);
  EXPECT_EQ(uki.profile_count(), 3u);
  EXPECT_EQ(section_string(uki, uki.find(".cmdline")), "base");
  EXPECT_EQ(section_string(uki, uki.find(".cmdline", 0)), "base");  // profile 0 overrides nothing
  EXPECT_EQ(section_string(uki, uki.find(".cmdline", 1)), "one");
  EXPECT_EQ(section_string(uki, uki.find(".cmdline", 2)), "two");
  EXPECT_EQ(section_string(uki, uki.find(".profile", 2)), "ID=two\n");
  EXPECT_EQ(section_string(uki, uki.find(".linux", 2)).size(), 0x1000u);
  EXPECT_TRUE(uki.check_profile(2).has_value());
  EXPECT_FALSE(uki.check_profile(3).has_value());
}

TEST(Uki, ClassifiesBareKernelsAndApplications) {
  Bytes app = PeBuilder().section(".text", Bytes(16, 0xc3)).build();
  auto image = pe::Image::parse(view(app));
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(uki::Uki::from_image(*image).kind(), uki::ImageKind::kEfiApplication);
  EXPECT_EQ(uki::Uki::from_image(*image).kernel().size(), 0u);
}

// The kernel's bzImage: a UKI's .linux, or the whole file of an EFI-stub kernel.
TEST(Uki, NamesTheKernelsBytes) {
  const Bytes kernel = bzimage_with_payload(0x1000, 0x200, 0x400);
  const Bytes file = PeBuilder().section(".linux", kernel).build();
  auto uki_image = pe::Image::parse(view(file));
  auto kernel_image = pe::Image::parse(view(kernel));
  ASSERT_TRUE(uki_image.has_value() && kernel_image.has_value());
  const uki::Uki in_uki = uki::Uki::from_image(*uki_image);
  EXPECT_EQ(in_uki.kernel().data(), uki_image->section_data(*uki_image->find_section(".linux")).data());
  const uki::Uki bare = uki::Uki::from_image(*kernel_image);
  EXPECT_EQ(bare.kind(), uki::ImageKind::kLinuxKernel);
  EXPECT_EQ(bare.kernel().data(), kernel_image->file().data());
  EXPECT_EQ(bare.kernel().size(), kernel.size());
}

TEST(OsRelease, ParsesFieldsAndQuotes) {
  std::map<std::string, std::string> fields;
  uki::for_each_os_release_field(
      "# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\n\nVERSION_ID='12'\nbroken\n=x\n",
      [&](std::string_view k, std::string_view v) { fields[std::string(k)] = std::string(v); });
  EXPECT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields["NAME"], "Debian GNU/Linux");
  EXPECT_EQ(fields["ID"], "debian");
  EXPECT_EQ(fields["VERSION_ID"], "12");
}

}  // namespace
}  // namespace efikexec::testing
