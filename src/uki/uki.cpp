// SPDX-License-Identifier: MIT
#include "uki/uki.hpp"

namespace efikexec::uki {

namespace {

// Offsets in the x86 boot protocol's setup header, counted from the start of the bzImage.
constexpr std::uint64_t kSetupSects = 0x1f1;
constexpr std::uint64_t kBootFlag = 0x1fe;
constexpr std::uint64_t kHeaderMagic = 0x202;
constexpr std::uint64_t kVersion = 0x206;
constexpr std::uint64_t kKernelVersion = 0x20e;
constexpr std::uint64_t kLoadflags = 0x211;
constexpr std::uint64_t kKernelAlignment = 0x230;
constexpr std::uint64_t kRelocatableKernel = 0x234;
constexpr std::uint64_t kXloadflags = 0x236;
constexpr std::uint64_t kCmdlineSize = 0x238;
constexpr std::uint64_t kPayloadOffset = 0x248;
constexpr std::uint64_t kPayloadLength = 0x24c;
constexpr std::uint64_t kPrefAddress = 0x258;
constexpr std::uint64_t kInitSize = 0x260;
constexpr std::uint64_t kHandoverOffset = 0x264;
constexpr std::uint32_t kHdrS = 0x53726448;  // "HdrS"
constexpr std::uint64_t kKernelVersionMax = 128;

template <class T>
T field(ByteView bytes, std::uint64_t offset) {
  auto value = bytes.read<T>(offset, "");
  return value ? *value : T{};
}

std::string_view kernel_version_string(ByteView kernel, std::uint16_t pointer) {
  // boot.rst: the pointer is relative to the start of the setup header sector (0x200).
  if (pointer == 0) return {};
  const std::uint64_t start = std::uint64_t{pointer} + 0x200;
  if (start >= kernel.size()) return {};
  std::string_view rest = slice(kernel.chars(), start, kKernelVersionMax);
  std::size_t end = 0;
  while (end < rest.size() && rest[end] != '\0' && rest[end] >= 0x20 && rest[end] < 0x7f) ++end;
  return slice(rest, 0, end);
}

}  // namespace

bool is_uki_section_name(std::string_view name) {
  for (std::string_view known : kUkiSectionNames)
    if (known == name) return true;
  return false;
}

const char* image_kind_name(ImageKind kind) {
  switch (kind) {
    case ImageKind::kUki: return "uki";
    case ImageKind::kLinuxKernel: return "linux-efi-stub";
    case ImageKind::kEfiApplication: return "efi-application";
  }
  return "unknown";
}

Result<LinuxBootHeader> parse_linux_boot_header(ByteView kernel) {
  auto magic = kernel.read<Le32>(kHeaderMagic, "too short for a Linux boot header");
  if (!magic || *magic != kHdrS)
    return fail(ErrorCode::kNotFound, "no Linux boot header (HdrS)", kHeaderMagic);
  if (field<Le16>(kernel, kBootFlag) != 0xaa55)
    return fail(ErrorCode::kBadMagic, "Linux boot header without boot flag 0xAA55", kBootFlag);
  if (!kernel.contains(kInitSize + 4, 0))
    return fail(ErrorCode::kTruncated, "Linux boot header truncated", kHeaderMagic);

  LinuxBootHeader header{};
  header.protocol_version = field<Le16>(kernel, kVersion);
  header.setup_sects = field<std::uint8_t>(kernel, kSetupSects);
  header.loadflags = field<std::uint8_t>(kernel, kLoadflags);
  header.kernel_version = kernel_version_string(kernel, field<Le16>(kernel, kKernelVersion));
  // Fields below arrived with later protocol versions; older kernels leave them unset.
  if (header.protocol_version >= 0x0205) {
    header.kernel_alignment = field<Le32>(kernel, kKernelAlignment);
    header.relocatable = field<std::uint8_t>(kernel, kRelocatableKernel) != 0;
  }
  if (header.protocol_version >= 0x0206) header.cmdline_size = field<Le32>(kernel, kCmdlineSize);
  if (header.protocol_version >= 0x0208) {
    header.payload_offset = field<Le32>(kernel, kPayloadOffset);
    header.payload_length = field<Le32>(kernel, kPayloadLength);
  }
  if (header.protocol_version >= 0x020a) {
    header.pref_address = field<Le64>(kernel, kPrefAddress);
    header.init_size = field<Le32>(kernel, kInitSize);
  }
  if (header.protocol_version >= 0x020b)
    header.handover_offset = field<Le32>(kernel, kHandoverOffset);
  if (header.protocol_version >= 0x020c) header.xloadflags = field<Le16>(kernel, kXloadflags);
  return header;
}

std::uint64_t payload_file_offset(const LinuxBootHeader& header) {
  if (header.payload_length == 0) return 0;
  // boot.rst: a setup_sects of 0 means 4; the boot sector comes before them.
  const std::uint64_t setup_sectors = header.setup_sects == 0 ? 4 : header.setup_sects;
  return (setup_sectors + 1) * 512 + header.payload_offset;
}

Uki Uki::from_image(const pe::Image& image) {
  Uki uki;
  uki.image_ = &image;
  int profile = kBase;
  for (const pe::Section& section : image.sections()) {
    if (section.name() == ".profile") profile = static_cast<int>(uki.profile_count_++);
    uki.entries_[uki.entry_count_++] = {&section, profile};
  }
  if (image.find_section(".linux") != nullptr)
    uki.kind_ = ImageKind::kUki;
  else if (parse_linux_boot_header(image.file()).has_value())
    uki.kind_ = ImageKind::kLinuxKernel;
  return uki;
}

ByteView Uki::kernel() const {
  if (kind_ == ImageKind::kUki) {
    const pe::Section* linux_section = find(".linux");
    return linux_section ? image_->section_data(*linux_section) : ByteView();
  }
  if (kind_ == ImageKind::kLinuxKernel) return image_->file();
  return {};
}

const pe::Section* Uki::find(std::string_view name, std::optional<unsigned> profile) const {
  const pe::Section* base = nullptr;
  for (const Entry& entry : entries()) {
    if (entry.section->name() != name) continue;
    if (entry.profile == kBase && base == nullptr) base = entry.section;
    if (profile && profile_count_ > 0 && entry.profile == static_cast<int>(*profile))
      return entry.section;
  }
  return base;
}

Result<void> Uki::check_profile(unsigned profile) const {
  const unsigned available = profile_count_ == 0 ? 1 : profile_count_;
  if (profile >= available) return fail(ErrorCode::kNotFound, "the UKI has no such profile");
  return {};
}

}  // namespace efikexec::uki
