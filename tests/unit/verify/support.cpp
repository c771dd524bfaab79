// SPDX-License-Identifier: MIT
#include "verify/support.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <gtest/gtest.h>

#include "pe_loader/authenticode.hpp"

namespace efikexec::testing {

std::string verify_fixture(const std::string& name) {
  const char* dir = std::getenv("EFIKEXEC_VERIFY_FIXTURES");
  if (dir == nullptr) throw std::runtime_error("EFIKEXEC_VERIFY_FIXTURES is not set (run ctest)");
  return std::string(dir) + "/" + name;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

kexec::TrustPolicy make_policy(std::initializer_list<std::string> db,
                               std::initializer_list<std::string> dbx,
                               const std::string& sbat_level) {
  kexec::TrustOptions options;
  for (const std::string& name : db) options.db_files.push_back(verify_fixture(name));
  for (const std::string& name : dbx) options.dbx_files.push_back(verify_fixture(name));
  if (!sbat_level.empty()) options.sbat_level_file = verify_fixture(sbat_level);
  options.efivars_directory = verify_fixture("no-efivars");  // never the machine's
  auto policy = kexec::build_trust_policy(options);
  if (!policy) throw std::runtime_error(policy.error().message());
  return std::move(*policy);
}

kexec::VerifyVerdict verify_bytes(const Bytes& bytes, const kexec::TrustPolicy& policy) {
  auto image = pe::Image::parse(view(bytes));
  if (!image) {
    kexec::VerifyVerdict verdict;
    verdict.code = image.error().code;
    verdict.reason = image.error().message;
    return verdict;
  }
  return kexec::verify_image(*image, policy);
}

kexec::VerifyVerdict verify_file(const std::string& path, const kexec::TrustPolicy& policy) {
  return verify_bytes(read_bytes(path), policy);
}

std::string real_fixture(const std::string& name) {
  const char* dir = std::getenv("EFIKEXEC_FIXTURES");
  const char* require = std::getenv("EFIKEXEC_REQUIRE_FIXTURES");
  const bool required = require != nullptr && std::string(require) == "1";
  const std::string path = dir ? std::string(dir) + "/" + name : std::string();
  if (dir != nullptr && std::filesystem::exists(path)) return path;
  if (required)
    ADD_FAILURE() << "missing fixture " << (dir ? path : name + " (EFIKEXEC_FIXTURES unset)");
  return {};
}

int run_status(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + (output ? " 2>&1" : " >/dev/null 2>&1")).c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    if (output) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Bytes win_certificate(const Bytes& content, std::uint16_t revision, std::uint16_t type) {
  Bytes entry(8);
  put32(entry, 0, static_cast<std::uint32_t>(8 + content.size()));
  put16(entry, 4, revision);
  put16(entry, 6, type);
  entry.insert(entry.end(), content.begin(), content.end());
  entry.resize((entry.size() + 7) & ~std::size_t{7}, 0);
  return entry;
}

Bytes with_certificate_table(Bytes image, const std::vector<Bytes>& entries) {
  image.resize((image.size() + 7) & ~std::size_t{7}, 0);
  const auto offset = static_cast<std::uint32_t>(image.size());
  for (const Bytes& entry : entries) image.insert(image.end(), entry.begin(), entry.end());
  put32(image, directory_offset(4), offset);
  put32(image, directory_offset(4) + 4, static_cast<std::uint32_t>(image.size() - offset));
  return image;
}

std::uint64_t checksum_offset(const Bytes& image) {
  auto parsed = pe::Image::parse(view(image));
  if (!parsed) throw std::runtime_error("tamper_points: image does not parse");
  return parsed->checksum_field_offset();
}

std::vector<TamperPoint> tamper_points(const Bytes& signed_image) {
  auto image = pe::Image::parse(view(signed_image));
  if (!image) throw std::runtime_error("tamper_points: image does not parse");
  auto authenticode = pe::Authenticode::parse(*image);
  if (!authenticode) throw std::runtime_error("tamper_points: no Authenticode layout");
  std::vector<TamperPoint> points;
  auto regions = authenticode->regions();
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const pe::HashRegion& region = regions[i];
    std::string name = "region " + std::to_string(i);
    for (const pe::Section& section : image->sections())
      if (section.raw_size != 0 && section.raw_offset == region.offset)
        name = "section " + std::string(section.name());
    if (i < 3 && region.offset < image->size_of_headers()) name = "headers " + std::to_string(i);
    if (i + 1 == regions.size() && region.offset >= image->end_of_raw_data()) name = "overlay";
    // First, middle and last byte of the region.
    points.push_back({name, region.offset});
    points.push_back({name, region.offset + region.size / 2});
    points.push_back({name, region.offset + region.size - 1});
  }
  return points;
}

}  // namespace efikexec::testing
