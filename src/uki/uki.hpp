// SPDX-License-Identifier: MIT
// What a UKI says about itself: its sections (systemd's Unified Kernel Image specification), the
// profiles of a multi-profile UKI, and the Linux boot header of the kernel it carries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "pe_loader/pe_image.hpp"

namespace efikexec::uki {

// Sections the UKI specification defines, in the order systemd lists them.
inline constexpr std::array<std::string_view, 15> kUkiSectionNames = {
    ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname",
    ".sbat", ".pcrsig", ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw"};

bool is_uki_section_name(std::string_view name);

enum class ImageKind : std::uint8_t {
  kUki,             // a PE with a .linux section: the stub starts the embedded kernel
  kLinuxKernel,     // an EFI-stub kernel (bzImage with a PE header)
  kEfiApplication,  // any other EFI image
};
const char* image_kind_name(ImageKind kind);

// Facts from the x86 Linux boot protocol header (Documentation/arch/x86/boot.rst) at 0x1f1.
struct LinuxBootHeader {
  std::uint16_t protocol_version;   // 0x206, e.g. 0x020f
  std::uint8_t setup_sects;
  std::uint8_t loadflags;
  std::uint16_t xloadflags;         // XLF_* (protocol >= 2.12)
  bool relocatable;
  std::uint32_t kernel_alignment;
  std::uint32_t init_size;          // memory the kernel needs from its load address
  std::uint64_t pref_address;
  std::uint32_t cmdline_size;
  std::uint32_t handover_offset;
  // The compressed kernel (protocol >= 2.08): payload_offset counts from the protected-mode
  // code, which follows the setup sectors; payload_file_offset() is where it lies in the file.
  std::uint32_t payload_offset;
  std::uint32_t payload_length;
  std::string_view kernel_version;  // the string kernel_version points at, empty if absent
};

// Where the compressed kernel begins in the bzImage (0 when the header names none).
std::uint64_t payload_file_offset(const LinuxBootHeader& header);

inline constexpr std::uint16_t kXlfKernel64 = 1 << 0;
inline constexpr std::uint16_t kXlfCanBeLoadedAbove4G = 1 << 1;
inline constexpr std::uint16_t kXlfEfiHandover32 = 1 << 2;
inline constexpr std::uint16_t kXlfEfiHandover64 = 1 << 3;
inline constexpr std::uint16_t kXlfEfiKexec = 1 << 4;
// The kernel can start with 5-level paging on (a kexec from a 5-level kernel needs it).
inline constexpr std::uint16_t kXlf5Level = 1 << 5;
inline constexpr std::uint16_t kXlf5LevelEnabled = 1 << 6;
inline constexpr std::uint16_t kXlfMemEncryption = 1 << 7;

// Parses the setup header of a bzImage; kNotFound if the bytes carry no "HdrS" header.
Result<LinuxBootHeader> parse_linux_boot_header(ByteView kernel);

class Uki {
 public:
  static constexpr int kBase = -1;  // profile index of sections before the first .profile

  struct Entry {
    const pe::Section* section;
    int profile;  // kBase, or the index of the .profile that opened its group
  };

  static Uki from_image(const pe::Image& image);

  const pe::Image& image() const { return *image_; }
  ImageKind kind() const { return kind_; }
  // The kernel's bzImage: a UKI's .linux, an EFI-stub kernel's whole file; empty otherwise.
  ByteView kernel() const;
  // Number of .profile sections. A UKI without any has one implicit profile, the base.
  unsigned profile_count() const { return profile_count_; }
  std::span<const Entry> entries() const { return {entries_.data(), entry_count_}; }

  // The section `name` as profile `profile` sees it: the profile's own, else the base's
  // (systemd-stub semantics). Without a profile, or for a UKI without profiles, the base.
  const pe::Section* find(std::string_view name, std::optional<unsigned> profile = {}) const;
  // kNotFound when `profile` does not exist (profile 0 always exists).
  Result<void> check_profile(unsigned profile) const;

 private:
  const pe::Image* image_ = nullptr;
  ImageKind kind_ = ImageKind::kEfiApplication;
  unsigned profile_count_ = 0;
  std::array<Entry, pe::kMaxSections> entries_{};
  std::size_t entry_count_ = 0;
};

// Calls `visit(key, value)` for every KEY=VALUE line of an os-release file (os-release(5)):
// comments and blank lines skipped, one level of surrounding quotes removed from the value.
template <class Visit>
void for_each_os_release_field(std::string_view text, Visit&& visit);

}  // namespace efikexec::uki

#include "uki/os_release_inl.hpp"
