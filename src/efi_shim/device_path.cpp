// SPDX-License-Identifier: MIT
#include "efi_shim/device_path.hpp"

#include <array>

namespace efikexec::efi {

namespace {

// Not spelled by gnu-efi: NVM Express namespace (§10.3.4.22), relative offset range (§10.3.5.8).
constexpr std::uint8_t kMsgNvme = 0x17, kMediaOffset = 0x08;
// ACPI _HID values in EISA form: "PNP" compressed into the low 16 bits, the number above.
constexpr std::uint32_t kEisaPnp = 0x41d0;
constexpr std::uint32_t kPnpPciRoot = 0x0a03, kPnpPcieRoot = 0x0a08;

// Where node text goes, and in which dialect: the traces' (lower-case hex, known GUIDs named,
// file names quoted) or the firmware's own (EDK2's DevicePathToText: upper-case hex as its
// PrintLib prints every %x, GUIDs in full, file names as they are).
struct Writer {
  Text& text;
  GuidNamer namer;
  bool firmware;

  Writer& str(std::string_view s) { text.str(s); return *this; }
  Writer& chr(char c) { text.chr(c); return *this; }
  Writer& dec(std::uint64_t value) { text.dec(value); return *this; }
  // Exactly `digits` hex digits, leading zeros kept.
  Writer& fixed_hex(std::uint64_t value, int digits, bool upper = false) {
    const char* alphabet = upper || firmware ? "0123456789ABCDEF" : "0123456789abcdef";
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
      text.chr(alphabet[(value >> shift) & 15]);
    return *this;
  }
  Writer& hex(std::uint64_t value) {
    if (!firmware) {
      text.hex(value);
      return *this;
    }
    int digits = 1;
    while (digits < 16 && (value >> (digits * 4)) != 0) ++digits;
    text.str("0x");
    return fixed_hex(value, digits);
  }
  Writer& guid(const EFI_GUID& guid) {
    const char* name = namer != nullptr && !firmware ? namer(guid) : nullptr;
    if (name != nullptr) return str(name);
    fixed_hex(guid.Data1, 8).chr('-').fixed_hex(guid.Data2, 4).chr('-').fixed_hex(guid.Data3, 4);
    chr('-').fixed_hex(guid.Data4[0], 2).fixed_hex(guid.Data4[1], 2).chr('-');
    for (int i = 2; i < 8; ++i) fixed_hex(guid.Data4[i], 2);
    return *this;
  }
  Writer& hex_bytes(const std::byte* bytes, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) fixed_hex(static_cast<std::uint8_t>(bytes[i]), 2);
    return *this;
  }
};

// Path(type,subtype,data): the generic form EDK2's TextToDevicePath also accepts.
void append_generic(Writer& out, const DevicePathNode& node) {
  out.str("Path(").dec(node.type).chr(',').dec(node.subtype).chr(',');
  out.hex_bytes(node.bytes + kDevicePathHeaderSize, node.length - kDevicePathHeaderSize);
  out.chr(')');
}

// Appends "NAME(0x..,0x..)" from fields of the given widths at consecutive offsets from 4.
// Returns false (nothing appended) when the node is too short for them.
template <class... Fields>
bool append_fields(Writer& out, const DevicePathNode& node, const char* name) {
  std::size_t end = kDevicePathHeaderSize + (sizeof(Fields) + ... + 0);
  if (node.length < end) return false;
  out.str(name).chr('(');
  std::size_t offset = kDevicePathHeaderSize;
  bool first = true;
  auto one = [&](auto value) {
    if (!first) out.chr(',');
    first = false;
    out.hex(value);
    offset += sizeof(value);
  };
  (one(*node.field<Fields>(offset)), ...);
  out.chr(')');
  return true;
}

bool append_vendor(Writer& out, const DevicePathNode& node, const char* name) {
  auto guid = node.field<EFI_GUID>(kDevicePathHeaderSize);
  if (!guid) return false;
  out.str(name).chr('(');
  out.guid(*guid);
  std::size_t data = kDevicePathHeaderSize + sizeof(EFI_GUID);
  if (node.length > data) {
    out.chr(',');
    out.hex_bytes(node.bytes + data, node.length - data);
  }
  out.chr(')');
  return true;
}

bool append_acpi(Writer& out, const DevicePathNode& node) {
  auto hid = node.field<std::uint32_t>(4);
  auto uid = node.field<std::uint32_t>(8);
  if (!hid || !uid) return false;
  std::uint32_t number = *hid >> 16;
  bool eisa = (*hid & 0xffff) == kEisaPnp;
  if (eisa && number == kPnpPciRoot) {
    out.str("PciRoot(").hex(*uid).chr(')');
  } else if (eisa && number == kPnpPcieRoot) {
    out.str("PcieRoot(").hex(*uid).chr(')');
  } else if (eisa) {
    out.str("Acpi(PNP");
    out.fixed_hex(number, 4, true);
    out.chr(',').hex(*uid).chr(')');
  } else {
    out.str("Acpi(").hex(*hid).chr(',').hex(*uid).chr(')');
  }
  return true;
}

bool append_pci(Writer& out, const DevicePathNode& node) {
  auto function = node.field<std::uint8_t>(4);
  auto device = node.field<std::uint8_t>(5);
  if (!function || !device) return false;
  out.str("Pci(").hex(*device).chr(',').hex(*function).chr(')');
  return true;
}

bool append_nvme(Writer& out, const DevicePathNode& node) {
  auto nsid = node.field<std::uint32_t>(4);
  auto eui = node.field<std::array<std::uint8_t, 8>>(8);
  if (!nsid || !eui) return false;
  out.str("NVMe(").hex(*nsid).chr(',');
  // EDK2 prints the EUI-64 most significant byte first, from a little-endian UINT64.
  for (int i = 7; i >= 0; --i) {
    out.fixed_hex((*eui)[i], 2);
    if (i != 0) out.chr('-');
  }
  out.chr(')');
  return true;
}

// HD(n,MBR,0xSIG,start,size) / HD(n,GPT,GUID,start,size) (UEFI 2.10 §10.3.5.1).
bool append_hard_drive(Writer& out, const DevicePathNode& node) {
  auto number = node.field<std::uint32_t>(4);
  auto start = node.field<std::uint64_t>(8);
  auto size = node.field<std::uint64_t>(16);
  auto signature_type = node.field<std::uint8_t>(41);
  if (!number || !start || !size || !signature_type) return false;
  out.str("HD(").dec(*number).chr(',');
  if (*signature_type == SIGNATURE_TYPE_MBR) {
    std::uint32_t mbr = *node.field<std::uint32_t>(24);
    out.str("MBR,0x");
    out.fixed_hex(mbr, 8);
  } else if (*signature_type == SIGNATURE_TYPE_GUID) {
    out.str("GPT,").guid(*node.field<EFI_GUID>(24));
  } else {
    out.dec(*signature_type).str(",0");
  }
  out.chr(',').hex(*start).chr(',').hex(*size).chr(')');
  return true;
}

bool append_file_path(Writer& out, const DevicePathNode& node) {
  // The path name fills the node; copied out because the node need not be 2-byte aligned.
  std::array<CHAR16, 256> name{};
  std::size_t chars = (node.length - kDevicePathHeaderSize) / sizeof(CHAR16);
  if (chars > name.size()) chars = name.size();
  std::memcpy(name.data(), node.bytes + kDevicePathHeaderSize, chars * sizeof(CHAR16));
  if (!out.firmware) {
    out.text.ucs2(name.data(), chars);
    return true;
  }
  for (std::size_t i = 0; i < chars && name[i] != 0; ++i)
    out.chr(name[i] >= 0x20 && name[i] < 0x7f ? static_cast<char>(name[i]) : '?');
  return true;
}

bool append_named(Writer& out, const DevicePathNode& node) {
  switch (node.type) {
    case HARDWARE_DEVICE_PATH:
      switch (node.subtype) {
        case HW_PCI_DP: return append_pci(out, node);
        case HW_MEMMAP_DP:
          return append_fields<std::uint32_t, std::uint64_t, std::uint64_t>(out, node,
                                                                            "MemoryMapped");
        case HW_VENDOR_DP: return append_vendor(out, node, "VenHw");
        case HW_CONTROLLER_DP: return append_fields<std::uint32_t>(out, node, "Ctrl");
      }
      return false;
    case ACPI_DEVICE_PATH:
      return node.subtype == ACPI_DP && append_acpi(out, node);
    case MESSAGING_DEVICE_PATH:
      switch (node.subtype) {
        case MSG_SCSI_DP: return append_fields<std::uint16_t, std::uint16_t>(out, node, "Scsi");
        case MSG_USB_DP: return append_fields<std::uint8_t, std::uint8_t>(out, node, "USB");
        case MSG_VENDOR_DP: return append_vendor(out, node, "VenMsg");
        case MSG_SATA_DP:
          return append_fields<std::uint16_t, std::uint16_t, std::uint16_t>(out, node, "Sata");
        case kMsgNvme: return append_nvme(out, node);
      }
      return false;
    case MEDIA_DEVICE_PATH:
      switch (node.subtype) {
        case MEDIA_HARDDRIVE_DP: return append_hard_drive(out, node);
        case MEDIA_CDROM_DP:
          return append_fields<std::uint32_t, std::uint64_t, std::uint64_t>(out, node, "CDROM");
        case MEDIA_VENDOR_DP: return append_vendor(out, node, "VenMedia");
        case MEDIA_FILEPATH_DP: return append_file_path(out, node);
        case MEDIA_PIWG_FW_FILE_DP:
        case MEDIA_PIWG_FW_VOL_DP: {
          auto guid = node.field<EFI_GUID>(kDevicePathHeaderSize);
          if (!guid) return false;
          out.str(node.subtype == MEDIA_PIWG_FW_FILE_DP ? "FvFile(" : "Fv(");
          out.guid(*guid);
          out.chr(')');
          return true;
        }
        case kMediaOffset: {
          // Reserved UINT32, then the start and end offsets.
          auto start = node.field<std::uint64_t>(8);
          auto end = node.field<std::uint64_t>(16);
          if (!start || !end) return false;
          out.str("Offset(").hex(*start).chr(',').hex(*end).chr(')');
          return true;
        }
      }
      return false;
  }
  return false;
}

}  // namespace

std::optional<DevicePathNode> read_device_path_node(const EFI_DEVICE_PATH* node) {
  if (node == nullptr) return std::nullopt;
  std::uint8_t header[kDevicePathHeaderSize];
  std::memcpy(header, node, sizeof(header));
  return DevicePathNode{reinterpret_cast<const std::byte*>(node), header[0], header[1],
                        static_cast<std::uint16_t>(header[2] | (header[3] << 8))};
}

std::optional<DevicePathNode> DevicePathReader::next() {
  if (done_) return std::nullopt;
  if (base_ == nullptr || offset_ > limit_ || limit_ - offset_ < kDevicePathHeaderSize) {
    done_ = malformed_ = true;
    return std::nullopt;
  }
  auto node = read_device_path_node(reinterpret_cast<const EFI_DEVICE_PATH*>(base_ + offset_));
  if (node->length < kDevicePathHeaderSize || node->length > limit_ - offset_) {
    done_ = malformed_ = true;
    return std::nullopt;
  }
  offset_ += node->length;
  if (node->is_end_entire()) done_ = true;
  return node;
}

bool device_path_is_end(const EFI_DEVICE_PATH* node) {
  auto header = read_device_path_node(node);
  return header && header->is_end_entire();
}

std::optional<std::size_t> device_path_size(const EFI_DEVICE_PATH* path) {
  DevicePathReader reader(path);
  while (reader.next()) {
  }
  if (reader.malformed()) return std::nullopt;
  return reader.offset();
}

std::optional<std::size_t> device_path_instance_size(const EFI_DEVICE_PATH* path) {
  DevicePathReader reader(path);
  for (;;) {
    std::size_t before = reader.offset();
    auto node = reader.next();
    if (!node) return std::nullopt;
    if (node->type == END_DEVICE_PATH_TYPE) return before;
  }
}

std::optional<std::size_t> device_path_prefix_size(const EFI_DEVICE_PATH* prefix,
                                                   const EFI_DEVICE_PATH* path) {
  auto prefix_size = device_path_size(prefix);
  auto path_size = device_path_instance_size(path);
  if (!prefix_size || !path_size) return std::nullopt;
  std::size_t size = *prefix_size - kDevicePathHeaderSize;
  if (size > *path_size || std::memcmp(prefix, path, size) != 0) return std::nullopt;
  return size;
}

bool device_path_equal(const EFI_DEVICE_PATH* a, const EFI_DEVICE_PATH* b) {
  auto a_size = device_path_size(a);
  auto b_size = device_path_size(b);
  return a_size && b_size && *a_size == *b_size && std::memcmp(a, b, *a_size) == 0;
}

namespace {

void append_path(Writer& out, const EFI_DEVICE_PATH* path) {
  if (path == nullptr) {
    out.str("NULL");
    return;
  }
  DevicePathReader reader(path);
  bool separator = false;  // a '/' goes before every node but the first of an instance
  bool empty = true;
  while (auto node = reader.next()) {
    if (node->is_end_entire()) break;
    if (node->is_end_instance()) {
      out.chr(',');
      separator = false;
      continue;
    }
    if (separator) out.chr('/');
    separator = true;
    empty = false;
    if (!append_named(out, *node)) append_generic(out, *node);
  }
  if (reader.malformed()) out.str(empty ? "<malformed>" : "/<malformed>");
  else if (empty && !out.firmware) out.str("<empty>");
}

}  // namespace

void append_device_path(Text& out, const EFI_DEVICE_PATH* path, GuidNamer namer) {
  Writer writer{out, namer, false};
  append_path(writer, path);
}

void append_device_path_firmware_text(Text& out, const EFI_DEVICE_PATH* path) {
  Writer writer{out, nullptr, true};
  append_path(writer, path);
}

void append_device_node_firmware_text(Text& out, const EFI_DEVICE_PATH* node) {
  Writer writer{out, nullptr, true};
  auto header = read_device_path_node(node);
  if (!header) return;
  if (!append_named(writer, *header)) append_generic(writer, *header);
}

}  // namespace efikexec::efi
