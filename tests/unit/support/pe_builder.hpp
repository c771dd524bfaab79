// SPDX-License-Identifier: MIT
// Builds small, valid PE32+ images for tests, with the layout fixed so a test can break one
// field at a known offset and check that exactly that rule rejects the image.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pe_loader/byte_view.hpp"

namespace efikexec::testing {

using Bytes = std::vector<std::uint8_t>;

// Fixed layout of every built image.
inline constexpr std::uint32_t kPeOffset = 0x80;
inline constexpr std::uint32_t kCoffOffset = kPeOffset + 4;
inline constexpr std::uint32_t kOptionalOffset = kCoffOffset + 20;
inline constexpr std::uint32_t kOptionalSize = 112 + 16 * 8;
inline constexpr std::uint32_t kDirectoriesOffset = kOptionalOffset + 112;
inline constexpr std::uint32_t kSectionTableOffset = kOptionalOffset + kOptionalSize;
inline constexpr std::uint32_t kSizeOfHeaders = 0x400;
inline constexpr std::uint32_t kFileAlignment = 0x200;
inline constexpr std::uint32_t kSectionAlignment = 0x1000;
inline constexpr std::uint64_t kImageBase = 0x140000000;

// Offsets inside the optional header (PE32+).
inline constexpr std::uint32_t kOptEntryPoint = kOptionalOffset + 16;
inline constexpr std::uint32_t kOptImageBase = kOptionalOffset + 24;
inline constexpr std::uint32_t kOptSectionAlignment = kOptionalOffset + 32;
inline constexpr std::uint32_t kOptFileAlignment = kOptionalOffset + 36;
inline constexpr std::uint32_t kOptSizeOfImage = kOptionalOffset + 56;
inline constexpr std::uint32_t kOptSizeOfHeaders = kOptionalOffset + 60;
inline constexpr std::uint32_t kOptCheckSum = kOptionalOffset + 64;
inline constexpr std::uint32_t kOptNumberOfRvaAndSizes = kOptionalOffset + 108;

// Offsets inside a section header.
inline constexpr std::uint32_t kSecVirtualSize = 8;
inline constexpr std::uint32_t kSecVirtualAddress = 12;
inline constexpr std::uint32_t kSecSizeOfRawData = 16;
inline constexpr std::uint32_t kSecPointerToRawData = 20;

inline std::uint32_t section_header_offset(unsigned index) {
  return kSectionTableOffset + index * 40;
}
inline std::uint32_t directory_offset(unsigned index) { return kDirectoriesOffset + index * 8; }

void put16(Bytes& bytes, std::size_t offset, std::uint16_t value);
void put32(Bytes& bytes, std::size_t offset, std::uint32_t value);
void put64(Bytes& bytes, std::size_t offset, std::uint64_t value);
std::uint32_t get32(const Bytes& bytes, std::size_t offset);
std::uint64_t get64(const Bytes& bytes, std::size_t offset);

struct RelocationBlock {
  std::uint32_t page_rva;
  std::vector<std::uint16_t> entries;  // (type << 12) | offset
};

class PeBuilder {
 public:
  PeBuilder();

  PeBuilder& machine(std::uint16_t machine);
  // Adds a section at the next free RVA; `virtual_size` 0 means data.size().
  PeBuilder& section(std::string name, Bytes data, std::uint32_t characteristics = 0x40000040,
                     std::uint32_t virtual_size = 0);
  // Adds a .reloc section and points the base-relocation directory at it.
  PeBuilder& relocations(const std::vector<RelocationBlock>& blocks);
  PeBuilder& entry_point(std::uint32_t rva);
  PeBuilder& overlay(Bytes bytes);
  PeBuilder& image_version(std::uint16_t major, std::uint16_t minor);

  // RVA the next added section will get.
  std::uint32_t next_rva() const;
  Bytes build() const;

 private:
  struct Spec {
    std::string name;
    Bytes data;
    std::uint32_t characteristics;
    std::uint32_t virtual_size;
    std::uint32_t rva;
  };
  std::uint16_t machine_ = 0x8664;
  std::uint16_t major_version_ = 0;
  std::uint16_t minor_version_ = 0;
  std::vector<Spec> sections_;
  std::optional<std::uint32_t> entry_;
  std::optional<std::size_t> reloc_index_;
  Bytes overlay_;
};

// An x86 EFI-stub kernel as bzImages are laid out: a boot protocol 2.15 setup header, and one
// .text section at the same offset in the file as in memory (kBzImageText), holding the
// compressed payload `payload_length` bytes long at `payload_offset` from the protected-mode code,
// which starts with .text. .text's bytes are a counting pattern.
inline constexpr std::uint32_t kBzImageText = 0x1000;
Bytes bzimage_with_payload(std::uint32_t text_size, std::uint32_t payload_offset,
                           std::uint32_t payload_length);

inline ByteView view(const Bytes& bytes) {
  return {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()};
}

}  // namespace efikexec::testing
