// SPDX-License-Identifier: MIT
// The LoadOptions of a boot request (--command-line, --append, --profile), as the confined run
// and the payload both give them to the image.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "support/pe_builder.hpp"
#include "uki/load_options.hpp"

namespace efikexec::testing {
namespace {

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

// The LoadOptions, "<none>" when the request sets none, "<error>" when it is refused.
std::string options(const uki::Uki& uki, uki::CommandLineRequest request) {
  auto length = uki::compose_load_options(uki, request, {});
  if (!length) return "<error>";
  if (!*length) return "<none>";
  std::string out(**length, '?');
  auto again = uki::compose_load_options(uki, request, out);
  EXPECT_TRUE(again && *again && **again == out.size());
  return out;
}

struct Built {
  Bytes file;
  std::optional<pe::Image> image;
  std::optional<uki::Uki> uki;
};

void build(Built& built, bool profiles) {
  PeBuilder builder;
  builder.section(".text", Bytes(16, 0xc3), 0x60000020).section(".cmdline", text("base root=x\n\0"));
  if (profiles) {
    builder.section(".profile", text("ID=zero\n"))
        .section(".profile", text("ID=one\n"))
        .section(".cmdline", text("one"));
  }
  built.file = builder.section(".linux", Bytes(64, 0)).build();
  auto image = pe::Image::parse(ByteView(reinterpret_cast<const std::byte*>(built.file.data()),
                                         built.file.size()));
  ASSERT_TRUE(image.has_value());
  built.image = std::move(*image);
  built.uki = uki::Uki::from_image(*built.image);
}

TEST(LoadOptions, CommandLineReplacesAppendAddsToTheImagesOwn) {
  Built b;
  build(b, false);
  const uki::Uki& uki = *b.uki;
  EXPECT_EQ(options(uki, {}), "<none>");
  EXPECT_EQ(options(uki, {"quiet", std::nullopt, std::nullopt}), "quiet");
  EXPECT_EQ(options(uki, {std::nullopt, "quiet", std::nullopt}), "base root=x quiet")
      << "appended to .cmdline without its trailing newline and NUL";
  EXPECT_EQ(options(uki, {"a", "b", std::nullopt}), "a b");
  EXPECT_EQ(options(uki, {"", "b", std::nullopt}), "b");
  EXPECT_EQ(options(uki, {"", std::nullopt, std::nullopt}), "");
  // Profile 0 of a UKI without profiles: no "@0" (stubs before 257 would take it literally).
  EXPECT_EQ(options(uki, {std::nullopt, std::nullopt, 0}), "<none>");
  EXPECT_EQ(options(uki, {std::nullopt, std::nullopt, 1}), "<error>");
}

TEST(LoadOptions, AProfileIsSelectedWithAtN) {
  Built b;
  build(b, true);
  const uki::Uki& uki = *b.uki;
  EXPECT_EQ(options(uki, {std::nullopt, std::nullopt, 1}), "@1");
  EXPECT_EQ(options(uki, {std::nullopt, "quiet", 1}), "@1 one quiet")
      << "appended to the profile's own command line";
  EXPECT_EQ(options(uki, {"x", std::nullopt, 0}), "@0 x");
  EXPECT_EQ(options(uki, {std::nullopt, std::nullopt, 12}), "<error>");
  EXPECT_EQ(options(uki, {std::nullopt, std::nullopt, 2}), "<error>");
}

TEST(LoadOptions, ATooSmallBufferIsNotOverrun) {
  Built b;
  build(b, false);
  char out[4] = {'#', '#', '#', '#'};
  auto length = uki::compose_load_options(*b.uki, {"abcdef", std::nullopt, std::nullopt},
                                          std::span<char>(out, 3));
  ASSERT_TRUE(length && *length);
  EXPECT_EQ(**length, 6u);
  EXPECT_EQ(out[3], '#');
}

}  // namespace
}  // namespace efikexec::testing
