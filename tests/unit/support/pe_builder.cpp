// SPDX-License-Identifier: MIT
#include "support/pe_builder.hpp"

#include <algorithm>
#include <cstring>

namespace efikexec::testing {

namespace {
std::uint32_t align(std::uint32_t value, std::uint32_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}
}  // namespace

void put16(Bytes& b, std::size_t o, std::uint16_t v) {
  for (int i = 0; i < 2; ++i) b[o + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put32(Bytes& b, std::size_t o, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[o + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(Bytes& b, std::size_t o, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[o + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get32(const Bytes& b, std::size_t o) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | b[o + i];
  return v;
}
std::uint64_t get64(const Bytes& b, std::size_t o) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[o + i];
  return v;
}

PeBuilder::PeBuilder() = default;

PeBuilder& PeBuilder::machine(std::uint16_t machine) {
  machine_ = machine;
  return *this;
}

std::uint32_t PeBuilder::next_rva() const {
  if (sections_.empty()) return kSectionAlignment;
  const Spec& last = sections_.back();
  std::uint32_t size = last.virtual_size ? last.virtual_size
                                         : static_cast<std::uint32_t>(last.data.size());
  return align(last.rva + std::max<std::uint32_t>(size, 1), kSectionAlignment);
}

PeBuilder& PeBuilder::section(std::string name, Bytes data, std::uint32_t characteristics,
                              std::uint32_t virtual_size) {
  std::uint32_t rva = next_rva();
  sections_.push_back({std::move(name), std::move(data), characteristics, virtual_size, rva});
  return *this;
}

PeBuilder& PeBuilder::relocations(const std::vector<RelocationBlock>& blocks) {
  Bytes data;
  for (const RelocationBlock& block : blocks) {
    std::size_t start = data.size();
    data.resize(start + 8 + block.entries.size() * 2);
    put32(data, start, block.page_rva);
    put32(data, start + 4, static_cast<std::uint32_t>(8 + block.entries.size() * 2));
    for (std::size_t i = 0; i < block.entries.size(); ++i)
      put16(data, start + 8 + i * 2, block.entries[i]);
  }
  reloc_index_ = sections_.size();
  return section(".reloc", std::move(data), 0x42000040);
}

PeBuilder& PeBuilder::entry_point(std::uint32_t rva) {
  entry_ = rva;
  return *this;
}

PeBuilder& PeBuilder::overlay(Bytes bytes) {
  overlay_ = std::move(bytes);
  return *this;
}

PeBuilder& PeBuilder::image_version(std::uint16_t major, std::uint16_t minor) {
  major_version_ = major;
  minor_version_ = minor;
  return *this;
}

Bytes PeBuilder::build() const {
  std::uint32_t file_size = kSizeOfHeaders;
  std::vector<std::uint32_t> raw_offsets;
  for (const Spec& spec : sections_) {
    raw_offsets.push_back(spec.data.empty() ? 0 : file_size);
    file_size += align(static_cast<std::uint32_t>(spec.data.size()), kFileAlignment);
  }
  Bytes image(file_size, 0);
  image[0] = 'M';
  image[1] = 'Z';
  put32(image, 0x3c, kPeOffset);
  std::memcpy(&image[kPeOffset], "PE\0\0", 4);
  put16(image, kCoffOffset, machine_);
  put16(image, kCoffOffset + 2, static_cast<std::uint16_t>(sections_.size()));
  put16(image, kCoffOffset + 16, kOptionalSize);
  put16(image, kCoffOffset + 18, 0x0022);  // executable, large-address aware
  put16(image, kOptionalOffset, 0x20b);
  std::uint32_t first_rva = sections_.empty() ? kSectionAlignment : sections_.front().rva;
  put32(image, kOptEntryPoint, entry_.value_or(first_rva));
  put64(image, kOptImageBase, kImageBase);
  put32(image, kOptSectionAlignment, kSectionAlignment);
  put32(image, kOptFileAlignment, kFileAlignment);
  put16(image, kOptionalOffset + 44, major_version_);
  put16(image, kOptionalOffset + 46, minor_version_);
  put32(image, kOptSizeOfImage, next_rva());
  put32(image, kOptSizeOfHeaders, kSizeOfHeaders);
  put16(image, kOptionalOffset + 68, 10);  // EFI application
  put32(image, kOptNumberOfRvaAndSizes, 16);
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    const Spec& spec = sections_[i];
    std::size_t header = section_header_offset(static_cast<unsigned>(i));
    std::memcpy(&image[header], spec.name.data(), std::min<std::size_t>(spec.name.size(), 8));
    std::uint32_t data_size = static_cast<std::uint32_t>(spec.data.size());
    put32(image, header + kSecVirtualSize, spec.virtual_size ? spec.virtual_size : data_size);
    put32(image, header + kSecVirtualAddress, spec.rva);
    put32(image, header + kSecSizeOfRawData, align(data_size, kFileAlignment));
    put32(image, header + kSecPointerToRawData, raw_offsets[i]);
    put32(image, header + 36, spec.characteristics);
    std::copy(spec.data.begin(), spec.data.end(), image.begin() + raw_offsets[i]);
  }
  if (reloc_index_) {
    const Spec& reloc = sections_[*reloc_index_];
    put32(image, directory_offset(5), reloc.rva);
    put32(image, directory_offset(5) + 4, static_cast<std::uint32_t>(reloc.data.size()));
  }
  image.insert(image.end(), overlay_.begin(), overlay_.end());
  return image;
}

Bytes bzimage_with_payload(std::uint32_t text_size, std::uint32_t payload_offset,
                           std::uint32_t payload_length) {
  Bytes text(text_size);
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const Bytes built = PeBuilder().section(".text", text, 0x60000020).build();
  Bytes kernel(kBzImageText + text.size());
  std::copy_n(built.begin(), kSizeOfHeaders, kernel.begin());
  std::ranges::copy(text, kernel.begin() + kBzImageText);
  put32(kernel, section_header_offset(0) + kSecPointerToRawData, kBzImageText);
  kernel[0x1f1] = kBzImageText / 512 - 1;  // setup_sects: the protected-mode code at .text
  put16(kernel, 0x1fe, 0xaa55);
  put32(kernel, 0x202, 0x53726448);  // "HdrS"
  put16(kernel, 0x206, 0x020f);
  put32(kernel, 0x248, payload_offset);
  put32(kernel, 0x24c, payload_length);
  put32(kernel, 0x260, 2 * text_size);  // init_size
  return kernel;
}

}  // namespace efikexec::testing
