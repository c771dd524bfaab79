// SPDX-License-Identifier: MIT
#include "pe_image.hpp"

#include <cstring>

namespace efikexec::pe {

namespace {

constexpr std::uint64_t kPeHeaderSize = 4 + sizeof(CoffFileHeader);

// Every present RVA-based directory must lie inside the image; the certificate table is a file
// range and must lie inside the file.
Result<void> check_directories(const Image& image, std::uint64_t file_size) {
  for (std::uint32_t i = 0; i < image.number_of_rva_and_sizes(); ++i) {
    auto index = static_cast<DirectoryIndex>(i);
    auto dir = image.directory(index);
    if (!dir) continue;
    std::uint64_t entry = *image.directory_entry_offset(index);
    if (index == DirectoryIndex::kCertificate) {
      if (!range_fits(dir->virtual_address, dir->size, file_size))
        return fail(ErrorCode::kOutOfRange, "certificate table extends past the end of the file",
                    entry);
    } else if (!range_fits(dir->virtual_address, dir->size, image.size_of_image())) {
      return fail(ErrorCode::kOutOfRange, "data directory extends past SizeOfImage", entry);
    }
  }
  return {};
}

Result<void> check_sections_disjoint(std::span<const Section> sections) {
  // n <= 96, so the quadratic check stays small and needs no scratch memory.
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const Section& a = sections[i];
    if (a.memory_size() == 0) continue;
    for (std::size_t j = i + 1; j < sections.size(); ++j) {
      const Section& b = sections[j];
      if (b.memory_size() == 0) continue;
      std::uint64_t a_end = std::uint64_t{a.virtual_address} + a.memory_size();
      std::uint64_t b_end = std::uint64_t{b.virtual_address} + b.memory_size();
      if (a.virtual_address < b_end && b.virtual_address < a_end)
        return fail(ErrorCode::kOverlap, "sections overlap in memory", b.header_offset);
    }
  }
  return {};
}

}  // namespace

std::string_view Section::name() const {
  std::size_t length = 0;
  while (length < raw_name.size() && raw_name[length] != '\0') ++length;
  return {raw_name.data(), length};
}

std::optional<std::uint64_t> Image::directory_entry_offset(DirectoryIndex index) const {
  auto i = static_cast<std::uint32_t>(index);
  if (i >= number_of_rva_and_sizes_) return std::nullopt;
  return directories_offset_ + std::uint64_t{i} * sizeof(ImageDataDirectory);
}

std::optional<DataDirectory> Image::directory(DirectoryIndex index) const {
  auto i = static_cast<std::uint32_t>(index);
  if (i >= number_of_rva_and_sizes_ || directories_[i].size == 0) return std::nullopt;
  return directories_[i];
}

const Section* Image::find_section(std::string_view name) const {
  for (const Section& section : sections())
    if (section.name() == name) return &section;
  return nullptr;
}

ByteView Image::section_data(const Section& section) const {
  // parse() proved raw_offset + raw_size lies inside the file whenever raw_size is non-zero.
  if (section.copy_size() == 0) return {};
  return ByteView(file_.data() + section.raw_offset, section.copy_size());
}

Result<Image> Image::parse(ByteView file) {
  Image image;
  image.file_ = file;

  auto dos = file.read<DosHeader>(0, "file too short for the DOS header");
  if (!dos) return std::unexpected(dos.error());
  if (dos->e_magic != kDosMagic) return fail(ErrorCode::kBadMagic, "missing MZ signature", 0);

  const std::uint64_t pe_offset = dos->e_lfanew;
  if (pe_offset < sizeof(DosHeader))
    return fail(ErrorCode::kOutOfRange, "e_lfanew points into the DOS header", 0x3c);
  if (!file.contains(pe_offset, kPeHeaderSize))
    return fail(ErrorCode::kOutOfRange, "e_lfanew points past the end of the file", 0x3c);

  auto signature = file.read<Le32>(pe_offset, "file too short for the PE signature");
  if (!signature) return std::unexpected(signature.error());
  if (*signature != kPeSignature)
    return fail(ErrorCode::kBadMagic, "missing PE signature", pe_offset);

  auto coff = file.read<CoffFileHeader>(pe_offset + 4, "file too short for the COFF header");
  if (!coff) return std::unexpected(coff.error());
  image.machine_ = coff->Machine;
  image.characteristics_ = coff->Characteristics;

  const std::uint64_t opt_offset = pe_offset + kPeHeaderSize;
  const std::uint32_t opt_size = coff->SizeOfOptionalHeader;
  auto magic = file.read<Le16>(opt_offset, "file too short for the optional header");
  if (!magic) return std::unexpected(magic.error());
  if (*magic == kPe32Magic)
    return fail(ErrorCode::kUnsupported, "PE32 (32-bit) images are not supported", opt_offset);
  if (*magic != kPe32PlusMagic)
    return fail(ErrorCode::kBadMagic, "unknown optional header magic", opt_offset);
  if (opt_size < sizeof(OptionalHeader64))
    return fail(ErrorCode::kMalformed, "SizeOfOptionalHeader too small for a PE32+ header",
                pe_offset + 20);
  if (!file.contains(opt_offset, opt_size))
    return fail(ErrorCode::kTruncated, "file too short for the optional header it declares",
                opt_offset);

  auto opt = file.read<OptionalHeader64>(opt_offset, "file too short for the optional header");
  if (!opt) return std::unexpected(opt.error());

  image.number_of_rva_and_sizes_ = opt->NumberOfRvaAndSizes;
  const std::uint64_t dirs_offset = opt_offset + sizeof(OptionalHeader64);
  const std::uint64_t nrva_offset = dirs_offset - 4;
  if (image.number_of_rva_and_sizes_ > kMaxDataDirectories)
    return fail(ErrorCode::kMalformed, "NumberOfRvaAndSizes above 16", nrva_offset);
  if (sizeof(OptionalHeader64) + std::uint64_t{image.number_of_rva_and_sizes_} *
                                     sizeof(ImageDataDirectory) > opt_size)
    return fail(ErrorCode::kMalformed, "NumberOfRvaAndSizes disagrees with SizeOfOptionalHeader",
                nrva_offset);
  image.directories_offset_ = dirs_offset;
  for (std::uint32_t i = 0; i < image.number_of_rva_and_sizes_; ++i) {
    auto entry = file.read<ImageDataDirectory>(dirs_offset + i * sizeof(ImageDataDirectory),
                                               "file too short for the data directories");
    if (!entry) return std::unexpected(entry.error());
    image.directories_[i] = {entry->VirtualAddress, entry->Size};
  }

  image.subsystem_ = opt->Subsystem;
  image.dll_characteristics_ = opt->DllCharacteristics;
  image.major_image_version_ = opt->MajorImageVersion;
  image.minor_image_version_ = opt->MinorImageVersion;
  image.image_base_ = opt->ImageBase;
  image.entry_point_ = opt->AddressOfEntryPoint;
  image.size_of_image_ = opt->SizeOfImage;
  image.size_of_headers_ = opt->SizeOfHeaders;
  image.section_alignment_ = opt->SectionAlignment;
  image.file_alignment_ = opt->FileAlignment;
  image.checksum_ = opt->CheckSum;
  image.checksum_field_offset_ = opt_offset + kCheckSumOffsetInOptionalHeader;

  if (!is_power_of_two(image.section_alignment_))
    return fail(ErrorCode::kBadAlignment, "SectionAlignment is not a power of two",
                opt_offset + 32);
  if (!is_power_of_two(image.file_alignment_))
    return fail(ErrorCode::kBadAlignment, "FileAlignment is not a power of two", opt_offset + 36);
  if (image.size_of_headers_ > file.size())
    return fail(ErrorCode::kOutOfRange, "SizeOfHeaders extends past the end of the file",
                opt_offset + 60);
  if (image.size_of_image_ == 0 || image.size_of_headers_ > image.size_of_image_)
    return fail(ErrorCode::kOutOfRange, "SizeOfImage is smaller than SizeOfHeaders",
                opt_offset + 56);
  if (image.entry_point_ >= image.size_of_image_)
    return fail(ErrorCode::kOutOfRange, "AddressOfEntryPoint lies outside the image",
                opt_offset + 16);

  const std::uint32_t count = coff->NumberOfSections;
  const std::uint64_t table_offset = opt_offset + opt_size;
  if (count > kMaxSections)
    return fail(ErrorCode::kUnsupported, "more than 96 sections", pe_offset + 6);
  const std::uint64_t table_size = std::uint64_t{count} * sizeof(SectionHeader);
  if (!file.contains(table_offset, table_size))
    return fail(ErrorCode::kTruncated, "section table extends past the end of the file",
                table_offset);
  if (!range_fits(table_offset, table_size, image.size_of_headers_))
    return fail(ErrorCode::kOutOfRange, "section table extends past SizeOfHeaders", table_offset);

  std::uint64_t end_of_raw = image.size_of_headers_;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint64_t header_offset = table_offset + i * sizeof(SectionHeader);
    auto header = file.read<SectionHeader>(header_offset, "section header truncated");
    if (!header) return std::unexpected(header.error());
    Section& section = image.sections_[i];
    std::memcpy(section.raw_name.data(), header->Name, sizeof(header->Name));
    section.virtual_address = header->VirtualAddress;
    section.virtual_size = header->VirtualSize;
    section.raw_offset = header->PointerToRawData;
    section.raw_size = header->SizeOfRawData;
    section.characteristics = header->Characteristics;
    section.header_offset = static_cast<std::uint32_t>(header_offset);

    if (!range_fits(section.virtual_address, section.memory_size(), image.size_of_image_))
      return fail(ErrorCode::kOutOfRange, "section extends past SizeOfImage", header_offset);
    if (section.memory_size() != 0 && section.virtual_address < image.size_of_headers_)
      return fail(ErrorCode::kOverlap, "section overlaps the headers in memory", header_offset);
    if (section.raw_size != 0) {
      if (!file.contains(section.raw_offset, section.raw_size))
        return fail(ErrorCode::kOutOfRange, "section raw data extends past the end of the file",
                    header_offset);
      end_of_raw = std::max<std::uint64_t>(end_of_raw, std::uint64_t{section.raw_offset} +
                                                           section.raw_size);
    }
  }
  image.section_count_ = count;
  image.end_of_raw_data_ = end_of_raw;

  if (auto disjoint = check_sections_disjoint(image.sections()); !disjoint)
    return std::unexpected(disjoint.error());
  if (auto dirs = check_directories(image, file.size()); !dirs)
    return std::unexpected(dirs.error());
  return image;
}

Result<void> map_image(const Image& image, std::span<std::byte> dest) {
  if (dest.size() < image.size_of_image())
    return fail(ErrorCode::kInvalidArgument, "destination smaller than SizeOfImage");
  std::memset(dest.data(), 0, image.size_of_image());
  std::memcpy(dest.data(), image.file().data(), image.size_of_headers());
  for (const Section& section : image.sections()) {
    ByteView data = image.section_data(section);
    if (!data.empty()) std::memcpy(dest.data() + section.virtual_address, data.data(), data.size());
  }
  return {};
}

namespace {

struct RelocationWalk {
  std::uint64_t directory_rva;
  std::uint64_t directory_size;
};

// Visits every fixup; `apply` is false on the validating pass, so a bad block anywhere is found
// before the first byte changes.
Result<void> walk_relocations(const Image& image, std::span<std::byte> mapped,
                              RelocationWalk walk, std::uint64_t delta, bool apply) {
  ByteView memory(mapped.data(), image.size_of_image());
  std::uint64_t offset = 0;
  while (offset < walk.directory_size) {
    const std::uint64_t block_rva = walk.directory_rva + offset;
    if (walk.directory_size - offset < sizeof(BaseRelocationBlock))
      return fail(ErrorCode::kTruncated, "relocation block header truncated", block_rva);
    auto block = memory.read<BaseRelocationBlock>(block_rva, "relocation block header truncated");
    if (!block) return std::unexpected(block.error());
    const std::uint32_t block_size = block->SizeOfBlock;
    if (block_size < sizeof(BaseRelocationBlock))
      return fail(ErrorCode::kMalformed, "relocation block SizeOfBlock below 8", block_rva);
    if (block_size % 2 != 0)
      return fail(ErrorCode::kBadAlignment, "relocation block SizeOfBlock is odd", block_rva);
    if (block_size > walk.directory_size - offset)
      return fail(ErrorCode::kOutOfRange, "relocation block extends past the directory",
                  block_rva);
    const std::uint32_t entries = (block_size - sizeof(BaseRelocationBlock)) / 2;
    for (std::uint32_t i = 0; i < entries; ++i) {
      const std::uint64_t entry_rva = block_rva + sizeof(BaseRelocationBlock) + i * 2u;
      auto entry = memory.read<Le16>(entry_rva, "relocation entry truncated");
      if (!entry) return std::unexpected(entry.error());
      const std::uint16_t type = *entry >> 12;
      const std::uint64_t target = std::uint64_t{block->PageRVA} + (*entry & 0xfff);
      if (type == kRelBasedAbsolute) continue;
      if (type != kRelBasedDir64)
        return fail(ErrorCode::kUnsupported, "relocation type other than DIR64 or ABSOLUTE",
                    entry_rva);
      if (!range_fits(target, 8, image.size_of_image()))
        return fail(ErrorCode::kOutOfRange, "relocation target outside the image", entry_rva);
      // A fixup inside the directory would change blocks the validating pass already accepted.
      if (target < walk.directory_rva + walk.directory_size && walk.directory_rva < target + 8)
        return fail(ErrorCode::kOverlap, "relocation fixup targets the relocation directory",
                    entry_rva);
      if (apply) {
        std::uint64_t value;
        std::memcpy(&value, mapped.data() + target, 8);
        value += delta;
        std::memcpy(mapped.data() + target, &value, 8);
      }
    }
    offset += block_size;
  }
  return {};
}

}  // namespace

Result<void> relocate_image(const Image& image, std::span<std::byte> mapped,
                            std::uint64_t load_address) {
  if (mapped.size() < image.size_of_image())
    return fail(ErrorCode::kInvalidArgument, "mapped image smaller than SizeOfImage");
  auto dir = image.directory(DirectoryIndex::kBaseRelocation);
  if (!dir) return {};
  RelocationWalk walk{dir->virtual_address, dir->size};
  const std::uint64_t delta = load_address - image.image_base();  // modular, as the fixup is
  if (auto checked = walk_relocations(image, mapped, walk, delta, false); !checked)
    return checked;
  if (delta == 0) return {};
  return walk_relocations(image, mapped, walk, delta, true);
}

}  // namespace efikexec::pe
