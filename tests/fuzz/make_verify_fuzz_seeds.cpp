// SPDX-License-Identifier: MIT
// Seeds for the verification fuzzers, one directory per fuzzer: images with certificate tables,
// signature lists (plain and authenticated), SBAT sections and levels. PKCS#7 seeds are real
// signatures made by run-fuzzers.sh with sbsign.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "pe_loader/signature_list.hpp"
#include "support/pe_builder.hpp"
#include "verify/verify_images.hpp"

using namespace efikexec;
using namespace efikexec::testing;

namespace {

void write(const std::string& dir, const std::string& name, const Bytes& bytes) {
  mkdir(dir.c_str(), 0755);
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

Bytes append(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes win_certificate(std::size_t content, std::uint16_t type = 2) {
  Bytes entry((8 + content + 7) & ~std::size_t{7}, 0);
  put32(entry, 0, static_cast<std::uint32_t>(8 + content));
  put16(entry, 4, 0x0200);
  put16(entry, 6, type);
  entry[8] = 0x30;
  return entry;
}

Bytes signed_shape(Bytes image, const Bytes& table) {
  image.resize((image.size() + 7) & ~std::size_t{7}, 0);
  put32(image, directory_offset(4), static_cast<std::uint32_t>(image.size()));
  put32(image, directory_offset(4) + 4, static_cast<std::uint32_t>(table.size()));
  return append(image, table);
}

Bytes list(const pe::Guid& type, std::size_t count, std::size_t data) {
  Bytes out(type.bytes.begin(), type.bytes.end());
  out.resize(28, 0);
  put32(out, 16, static_cast<std::uint32_t>(28 + count * (16 + data)));
  put32(out, 24, static_cast<std::uint32_t>(16 + data));
  out.resize(28 + count * (16 + data), 0x42);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_verify_fuzz_seeds DIR\n");
    return 2;
  }
  const std::string root = argv[1];
  mkdir(root.c_str(), 0755);

  const std::string certs = root + "/fuzz_win_certificate";
  write(certs, "one.efi", signed_shape(verify_app_image(), win_certificate(61)));
  write(certs, "two.efi",
        signed_shape(verify_uki_image(), append(win_certificate(40), win_certificate(100))));
  write(certs, "unsigned.efi", verify_app_image());

  const std::string lists = root + "/fuzz_signature_list";
  const Bytes db = append(append(list(pe::kCertSha256Guid, 2, 32), list(pe::kCertX509Guid, 1, 64)),
                          list(pe::kCertX509Sha256Guid, 1, 48));
  write(lists, "db.esl", db);
  Bytes auth(16 + 24, 0);
  put32(auth, 16, 24 + 4);
  put16(auth, 20, 0x0200);
  put16(auth, 22, 0x0ef1);
  std::copy(pe::kCertTypePkcs7Guid.bytes.begin(), pe::kCertTypePkcs7Guid.bytes.end(),
            auth.begin() + 24);
  auth.resize(auth.size() + 4, 0x30);
  write(lists, "db.auth", append(auth, db));

  const std::string sbat = root + "/fuzz_sbat";
  write(sbat, "section.csv", text_bytes(kAppSbat));
  write(sbat, "kernel.csv", text_bytes(kKernelSbat));
  write(sbat, "level.csv", text_bytes("sbat,1,2024010900\nshim,4\ngrub,3\ngrub.debian,4\n"));
  return 0;
}
