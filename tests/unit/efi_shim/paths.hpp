// SPDX-License-Identifier: MIT
// Builds device paths byte by byte (UEFI 2.10 §10.3) for the shim's tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "efi_shim/efi_types.hpp"

namespace efikexec::testing {

class PathBuilder {
 public:
  PathBuilder& node(std::uint8_t type, std::uint8_t subtype, std::vector<std::uint8_t> payload) {
    std::size_t length = 4 + payload.size();
    bytes_.push_back(type);
    bytes_.push_back(subtype);
    bytes_.push_back(static_cast<std::uint8_t>(length));
    bytes_.push_back(static_cast<std::uint8_t>(length >> 8));
    bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    return *this;
  }
  PathBuilder& pci_root(std::uint32_t uid) {
    return node(ACPI_DEVICE_PATH, ACPI_DP, cat(le(0x0a0341d0, 4), le(uid, 4)));
  }
  PathBuilder& pci(std::uint8_t device, std::uint8_t function) {
    return node(HARDWARE_DEVICE_PATH, HW_PCI_DP, {function, device});
  }
  PathBuilder& sata(std::uint16_t port, std::uint16_t multiplier, std::uint16_t lun) {
    return node(MESSAGING_DEVICE_PATH, MSG_SATA_DP, cat(cat(le(port, 2), le(multiplier, 2)), le(lun, 2)));
  }
  PathBuilder& hd_mbr(std::uint32_t number, std::uint64_t start, std::uint64_t size,
                      std::uint32_t signature) {
    std::vector<std::uint8_t> p = cat(cat(le(number, 4), le(start, 8)), le(size, 8));
    std::vector<std::uint8_t> sig = le(signature, 4);
    sig.resize(16, 0);
    p = cat(p, sig);
    p.push_back(1);  // MBRType: PC-AT
    p.push_back(SIGNATURE_TYPE_MBR);
    return node(MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP, p);
  }
  PathBuilder& file(std::u16string_view name) {
    std::vector<std::uint8_t> p;
    for (char16_t c : name) {
      p.push_back(static_cast<std::uint8_t>(c));
      p.push_back(static_cast<std::uint8_t>(c >> 8));
    }
    p.push_back(0);
    p.push_back(0);
    return node(MEDIA_DEVICE_PATH, MEDIA_FILEPATH_DP, p);
  }
  PathBuilder& vendor(std::uint8_t type, std::uint8_t subtype, const EFI_GUID& guid,
                      std::vector<std::uint8_t> data = {}) {
    std::vector<std::uint8_t> p(sizeof(EFI_GUID));
    std::memcpy(p.data(), &guid, sizeof(guid));
    return node(type, subtype, cat(p, data));
  }
  PathBuilder& ven_media(const EFI_GUID& guid) {
    return vendor(MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP, guid);
  }
  PathBuilder& end_instance() { return node(END_DEVICE_PATH_TYPE, END_INSTANCE_DEVICE_PATH_SUBTYPE, {}); }
  PathBuilder& end() { return node(END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE, {}); }

  std::vector<std::uint8_t> bytes() const { return bytes_; }

  static std::vector<std::uint8_t> le(std::uint64_t value, int size) {
    std::vector<std::uint8_t> out;
    for (int i = 0; i < size; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    return out;
  }
  static std::vector<std::uint8_t> cat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

inline EFI_DEVICE_PATH* as_path(std::vector<std::uint8_t>& bytes) {
  return reinterpret_cast<EFI_DEVICE_PATH*>(bytes.data());
}

// The boot file path of the reference traces (OVMF, q35, SATA disk, MBR partition 1).
inline std::vector<std::uint8_t> boot_file_path() {
  return PathBuilder()
      .pci_root(0)
      .pci(0x1f, 2)
      .sata(0, 0xffff, 0)
      .hd_mbr(1, 0x3f, 0xfbfc1, 0xbe1afdfa)
      .file(u"\\target.efi")
      .end()
      .bytes();
}

// LINUX_EFI_INITRD_MEDIA_GUID (include/linux/efi.h).
inline constexpr EFI_GUID kInitrdMedia = {0x5568e427, 0x68fc, 0x4f3d,
                                          {0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68}};

}  // namespace efikexec::testing
