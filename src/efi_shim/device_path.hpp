// SPDX-License-Identifier: MIT
// Device paths (UEFI 2.10 §10): bounded walking, sizes, prefix matching and text for logs.
//
// A device path handed in by an image lives in image memory (identity mapped) and is untrusted:
// every walk reads node headers with memcpy (nodes are byte aligned), stops at the End Entire
// node, rejects a node whose Length is below the 4-byte header, and gives up after
// kMaxDevicePathSize bytes. A malformed path is reported, never walked past.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>

#include "efi_shim/efi_types.hpp"
#include "efi_shim/text.hpp"

namespace efikexec::efi {

inline constexpr std::size_t kDevicePathHeaderSize = 4;
// No real path comes near this (OVMF's longest are a few hundred bytes).
inline constexpr std::size_t kMaxDevicePathSize = 64 * 1024;

// One node as read from memory: its header fields and where its bytes are.
struct DevicePathNode {
  const std::byte* bytes;  // the node, header included
  std::uint8_t type;
  std::uint8_t subtype;
  std::uint16_t length;    // header included, at least kDevicePathHeaderSize

  bool is_end_entire() const {
    return type == END_DEVICE_PATH_TYPE && subtype == END_ENTIRE_DEVICE_PATH_SUBTYPE;
  }
  bool is_end_instance() const {
    return type == END_DEVICE_PATH_TYPE && subtype == END_INSTANCE_DEVICE_PATH_SUBTYPE;
  }

  // A field at `offset` from the node start, or nullopt when the node is too short to hold it.
  template <class T>
  std::optional<T> field(std::size_t offset) const {
    static_assert(std::is_trivially_copyable_v<T>);
    if (offset > length || sizeof(T) > length - offset) return std::nullopt;
    T value;
    std::memcpy(&value, bytes + offset, sizeof(T));
    return value;
  }
};

// Walks a path node by node. next() returns the End Entire node as the last node; after it, or
// after a malformed node or the size cap, it returns nullopt (then malformed() tells which).
class DevicePathReader {
 public:
  explicit DevicePathReader(const EFI_DEVICE_PATH* path, std::size_t limit = kMaxDevicePathSize)
      : base_(reinterpret_cast<const std::byte*>(path)), limit_(limit) {}

  std::optional<DevicePathNode> next();
  bool malformed() const { return malformed_; }
  // Bytes from the start of the path to the node next() returns next.
  std::size_t offset() const { return offset_; }

 private:
  const std::byte* base_;
  std::size_t limit_;
  std::size_t offset_ = 0;
  bool done_ = false;
  bool malformed_ = false;
};

// Reads the header of one node (NULL reads as nullopt).
std::optional<DevicePathNode> read_device_path_node(const EFI_DEVICE_PATH* node);

// Whether `node` is an End Entire node (UEFI 2.10 §10.3.1); false for NULL.
bool device_path_is_end(const EFI_DEVICE_PATH* node);

// Bytes of the whole path, End Entire node included; nullopt for NULL or malformed paths.
std::optional<std::size_t> device_path_size(const EFI_DEVICE_PATH* path);

// Bytes of the first instance, its End node (Entire or Instance) not included.
std::optional<std::size_t> device_path_instance_size(const EFI_DEVICE_PATH* path);

// If `prefix` (without its End node) is the start of `path`'s first instance, the number of bytes
// it covers; nullopt otherwise. Equal bytes of whole nodes end on a node boundary of `path`, so
// the rest of `path` starts at the returned offset.
std::optional<std::size_t> device_path_prefix_size(const EFI_DEVICE_PATH* prefix,
                                                   const EFI_DEVICE_PATH* path);

// Same nodes, byte for byte, up to and including the End Entire node.
bool device_path_equal(const EFI_DEVICE_PATH* a, const EFI_DEVICE_PATH* b);

// Gives a short name for a GUID the caller knows (e.g. "LINUX_EFI_INITRD_MEDIA"), or nullptr.
using GuidNamer = const char* (*)(const EFI_GUID& guid);

// Appends the path in EDK2's DevicePathToText syntax for the nodes real boots show
// (PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)/HD(1,MBR,0xbe1afdfa,0x3f,0xfbfc1)/"\\x.efi",
// VenMedia(GUID), VenHw, MemoryMapped, ...), with lower-case hex as the reference traces print it
// and file path nodes quoted as Text::ucs2 does; other nodes as Path(type,subtype,hexdata).
// Instances are separated by ','; a malformed path ends in "<malformed>". NULL prints "NULL" and
// an empty path (just End) "<empty>".
void append_device_path(Text& out, const EFI_DEVICE_PATH* path, GuidNamer namer = nullptr);

// The same path as the firmware's DevicePathToText protocol spells it (EDK2: upper-case hex,
// GUIDs in full, file path nodes as plain text, an empty path as ""), for the shim's own
// EFI_DEVICE_PATH_TO_TEXT_PROTOCOL. A node: the single node at `node` (ConvertDeviceNodeToText).
void append_device_path_firmware_text(Text& out, const EFI_DEVICE_PATH* path);
void append_device_node_firmware_text(Text& out, const EFI_DEVICE_PATH* node);

}  // namespace efikexec::efi
