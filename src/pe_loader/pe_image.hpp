// SPDX-License-Identifier: MIT
// A validated PE32+ image: parse once, check every rule, then hand out facts. Everything that
// maps, relocates, hashes or interprets an image takes an Image, never raw bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "byte_view.hpp"
#include "pe_format.hpp"

namespace efikexec::pe {

struct DataDirectory {
  std::uint32_t virtual_address;  // a file offset for the certificate table
  std::uint32_t size;
};

struct Section {
  std::array<char, 8> raw_name;  // NUL-padded, as in the section header
  std::uint32_t virtual_address;
  std::uint32_t virtual_size;    // as declared (may be 0: then SizeOfRawData counts)
  std::uint32_t raw_offset;      // PointerToRawData
  std::uint32_t raw_size;        // SizeOfRawData
  std::uint32_t characteristics;
  std::uint32_t header_offset;   // file offset of this section's header

  std::string_view name() const;
  // Bytes the section occupies once mapped.
  std::uint32_t memory_size() const { return virtual_size != 0 ? virtual_size : raw_size; }
  // Bytes copied from the file; the rest of memory_size() is zero-filled.
  std::uint32_t copy_size() const { return raw_size < memory_size() ? raw_size : memory_size(); }
  bool is_executable() const { return (characteristics & kSectionMemExecute) != 0; }
};

class Image {
 public:
  // Validates the whole header set; the returned image keeps a view of `file` (the caller keeps
  // the bytes alive and unchanged).
  static Result<Image> parse(ByteView file);

  ByteView file() const { return file_; }
  std::uint16_t machine() const { return machine_; }
  bool is_x86_64() const { return machine_ == static_cast<std::uint16_t>(Machine::kAmd64); }
  std::uint16_t subsystem() const { return subsystem_; }
  std::uint16_t dll_characteristics() const { return dll_characteristics_; }
  std::uint16_t characteristics() const { return characteristics_; }
  std::uint16_t major_image_version() const { return major_image_version_; }
  std::uint16_t minor_image_version() const { return minor_image_version_; }
  std::uint64_t image_base() const { return image_base_; }
  std::uint32_t entry_point() const { return entry_point_; }
  std::uint32_t size_of_image() const { return size_of_image_; }
  std::uint32_t size_of_headers() const { return size_of_headers_; }
  std::uint32_t section_alignment() const { return section_alignment_; }
  std::uint32_t file_alignment() const { return file_alignment_; }
  std::uint32_t checksum() const { return checksum_; }
  std::uint32_t number_of_rva_and_sizes() const { return number_of_rva_and_sizes_; }

  // File offset of the optional header's CheckSum field (Authenticode skips it).
  std::uint64_t checksum_field_offset() const { return checksum_field_offset_; }
  // File offset of data directory entry `index` (exists only if index < NumberOfRvaAndSizes).
  std::optional<std::uint64_t> directory_entry_offset(DirectoryIndex index) const;
  // A directory that is present: inside NumberOfRvaAndSizes and of non-zero size.
  std::optional<DataDirectory> directory(DirectoryIndex index) const;

  std::span<const Section> sections() const { return {sections_.data(), section_count_}; }
  const Section* find_section(std::string_view name) const;
  // The section's file bytes that are mapped (copy_size of them).
  ByteView section_data(const Section& section) const;

  // End of the last byte covered by the headers or any section's raw data; bytes after it
  // (up to the end of the file) are the overlay, which holds the certificate table if any.
  std::uint64_t end_of_raw_data() const { return end_of_raw_data_; }
  std::uint64_t overlay_size() const { return file_.size() - end_of_raw_data_; }

 private:
  ByteView file_;
  std::uint16_t machine_ = 0;
  std::uint16_t subsystem_ = 0;
  std::uint16_t dll_characteristics_ = 0;
  std::uint16_t characteristics_ = 0;
  std::uint16_t major_image_version_ = 0;
  std::uint16_t minor_image_version_ = 0;
  std::uint64_t image_base_ = 0;
  std::uint32_t entry_point_ = 0;
  std::uint32_t size_of_image_ = 0;
  std::uint32_t size_of_headers_ = 0;
  std::uint32_t section_alignment_ = 0;
  std::uint32_t file_alignment_ = 0;
  std::uint32_t checksum_ = 0;
  std::uint32_t number_of_rva_and_sizes_ = 0;
  std::uint64_t checksum_field_offset_ = 0;
  std::uint64_t directories_offset_ = 0;
  std::array<DataDirectory, kMaxDataDirectories> directories_{};
  std::array<Section, kMaxSections> sections_{};
  std::uint32_t section_count_ = 0;
  std::uint64_t end_of_raw_data_ = 0;
};

// Copies headers and sections of `image` into `dest` (at least SizeOfImage bytes) and zero-fills
// everything else: the memory image a loader runs (PE/COFF §4).
Result<void> map_image(const Image& image, std::span<std::byte> dest);

// Applies the base relocations (DIR64; ABSOLUTE is padding) of a mapped image so that it runs at
// `load_address`. Walks exactly the directory's Size; rejects a block of size below 8, past the
// directory, or a fixup outside the image, before changing anything.
Result<void> relocate_image(const Image& image, std::span<std::byte> mapped,
                            std::uint64_t load_address);

}  // namespace efikexec::pe
