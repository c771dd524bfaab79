// SPDX-License-Identifier: MIT
// Writes the fuzzers' seed corpus: small valid images of each shape the parsers meet.
#include <cstdio>
#include <string>

#include "support/pe_builder.hpp"

using namespace efikexec::testing;

namespace {

void write(const std::string& dir, const std::string& name, const Bytes& bytes) {
  std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

Bytes text(const char* s) { return Bytes(s, s + std::char_traits<char>::length(s)); }

Bytes bzimage() {
  Bytes k(0x600, 0);
  put16(k, 0x1fe, 0xaa55);
  put32(k, 0x202, 0x53726448);
  put16(k, 0x206, 0x020f);
  put16(k, 0x20e, 0x200);
  put32(k, 0x260, 0x100000);
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  write(dir, "app.efi", PeBuilder().section(".text", Bytes(64, 0xc3), 0x60000020).build());
  write(dir, "reloc.efi",
        PeBuilder()
            .section(".data", Bytes(32, 0))
            .relocations({{0x1000, {0xa000, 0xa008, 0}}})
            .build());
  write(dir, "uki.efi",
        PeBuilder()
            .section(".text", Bytes(64, 0xc3), 0x60000020)
            .section(".osrel", text("ID=debian\n"))
            .section(".cmdline", text("console=ttyS0"))
            .section(".linux", bzimage())
            .section(".profile", text("ID=a\n"))
            .section(".profile", text("ID=b\n"))
            .section(".cmdline", text("b"))
            .build());
  write(dir, "overlay.efi",
        PeBuilder().section(".text", Bytes(8, 0xc3)).overlay(Bytes(32, 0x30)).build());
  return 0;
}
