// SPDX-License-Identifier: MIT
// PE parser, mapper, relocator and UKI model over arbitrary bytes. Beyond "no crash", it checks
// the invariants every consumer relies on: an accepted image's sections and directories lie
// inside the file and the image, and mapping plus relocation never touch bytes outside it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "pe_loader/pe_image.hpp"
#include "uki/uki.hpp"

using namespace efikexec;

#define FUZZ_ASSERT(condition) \
  do {                         \
    if (!(condition)) abort(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView file(reinterpret_cast<const std::byte*>(data), size);
  auto image = pe::Image::parse(file);
  if (!image) {
    FUZZ_ASSERT(image.error().message != nullptr);
    return 0;
  }
  FUZZ_ASSERT(image->size_of_headers() <= size);
  FUZZ_ASSERT(image->end_of_raw_data() <= size);
  for (const pe::Section& section : image->sections()) {
    FUZZ_ASSERT(range_fits(section.virtual_address, section.memory_size(), image->size_of_image()));
    ByteView bytes = image->section_data(section);
    FUZZ_ASSERT(bytes.empty() ||
                (bytes.data() >= file.data() && bytes.data() + bytes.size() <= file.data() + size));
  }
  if (auto certificates = image->directory(pe::DirectoryIndex::kCertificate))
    FUZZ_ASSERT(range_fits(certificates->virtual_address, certificates->size, size));

  uki::Uki model = uki::Uki::from_image(*image);
  for (unsigned profile = 0; profile < model.profile_count() + 1; ++profile) {
    if (const pe::Section* kernel = model.find(".linux", profile))
      (void)uki::parse_linux_boot_header(image->section_data(*kernel));
  }

  // Map with guard bytes on both sides: any write outside SizeOfImage trips the check.
  if (image->size_of_image() > (1u << 20)) return 0;  // keeps executions fast
  constexpr std::size_t kGuard = 64;
  std::vector<std::byte> memory(image->size_of_image() + 2 * kGuard, std::byte{0xa5});
  std::span<std::byte> mapped(memory.data() + kGuard, image->size_of_image());
  FUZZ_ASSERT(pe::map_image(*image, mapped).has_value());
  (void)pe::relocate_image(*image, mapped, 0x12345000);
  for (std::size_t i = 0; i < kGuard; ++i) {
    FUZZ_ASSERT(memory[i] == std::byte{0xa5});
    FUZZ_ASSERT(memory[memory.size() - 1 - i] == std::byte{0xa5});
  }
  return 0;
}
