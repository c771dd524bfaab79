// SPDX-License-Identifier: MIT
// Writes the unsigned EFI images that tests/fixtures/make-verify-fixtures.sh signs: small PE32+
// images from the tests' PE builder, with SBAT data, an embedded kernel with its own .sbat, and
// an overlay, so every Authenticode region kind is present.
#include <cstdio>
#include <string>

#include "support/pe_builder.hpp"
#include "verify/verify_images.hpp"

using namespace efikexec::testing;

namespace {

bool write(const std::string& dir, const std::string& name, const Bytes& bytes) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_verify_images DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const bool ok = write(dir, "app.efi", verify_app_image()) &&
                  write(dir, "uki.efi", verify_uki_image()) &&
                  write(dir, "nosbat.efi", verify_app_image(false));
  if (!ok) std::perror(dir.c_str());
  return ok ? 0 : 1;
}
