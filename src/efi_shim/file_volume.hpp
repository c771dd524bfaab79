// SPDX-License-Identifier: MIT
// The boot volume's contents: a read-only snapshot of files and directories the host read before
// the image runs (the ESP's add-ons, credentials and extensions, the image itself, files given by
// name). The core resolves names as FAT does (case-insensitive, `\` separators, `.` and `..`),
// lists directories and fills EFI_FILE_INFO / EFI_FILE_SYSTEM_INFO for the file protocol
// (UEFI 2.10 §13.4, §13.5); builtin_protocols.cpp turns this into the protocol calls.
//
// The nodes are the host's (names and data stay alive for the run); paths come from image memory
// and are untrusted: every walk is bounded and a path never leaves the volume.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <efikexec/error.hpp>

#include "efi_shim/efi_types.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::efi {

struct VolumeNode {
  std::uint32_t parent = 0;           // the directory holding it (a lower index); the root: 0
  std::span<const CHAR16> name;       // one path component, no separators; the root: empty
  bool directory = false;
  ByteView data;                      // a file's bytes
  bool refused = false;               // an image the trust policy refused (LoadImage under SB)
};

class FileVolume {
 public:
  static constexpr std::uint32_t kRoot = 0;
  static constexpr std::size_t kMaxPathChars = 1024;  // longer paths are not found
  static constexpr std::size_t kMaxNameChars = 255;   // as FAT's long names

  // An empty volume: only the root directory.
  FileVolume();
  // Checks the snapshot: node 0 is the root directory, every other node names a directory
  // before it, names are 1..255 characters without `\`, `/` or NUL, and no name repeats
  // (case-insensitively) within a directory.
  Result<void> assign(std::span<const VolumeNode> nodes);

  std::size_t size() const { return nodes_.size(); }
  const VolumeNode& node(std::uint32_t index) const { return nodes_[index]; }

  // Resolves `path` from directory `from`: a leading `\` starts at the root, `.` stays, `..`
  // goes up (kNotFound above the root), empty components are skipped; only up to a NUL or the
  // span's end. kNotFound when a component is missing or a file is used as a directory.
  Result<std::uint32_t> open(std::uint32_t from, std::span<const CHAR16> path) const;

  // The first entry of directory `dir` at node index `position` or after it, or nullopt.
  std::optional<std::uint32_t> next_entry(std::uint32_t dir, std::uint32_t position) const;

  // What a directory's Read() gives at `position` (0 when opened or rewound), as FAT lists it:
  // a directory other than the root first lists `.` (itself) and `..` (its parent), then its
  // entries in node order. nullopt at the end.
  struct DirectoryEntry {
    std::uint32_t node;
    std::span<const CHAR16> name;
    std::uint64_t next_position;
  };
  std::optional<DirectoryEntry> directory_entry(std::uint32_t dir, std::uint64_t position) const;

  // EFI_FILE_INFO of a node (under `name`, by default its own): its size, and writing it into
  // `out` (at least that size).
  std::size_t file_info_size(std::uint32_t index) const;
  std::size_t file_info_size(std::span<const CHAR16> name) const;
  void write_file_info(std::uint32_t index, std::span<std::byte> out) const;
  void write_file_info(std::uint32_t index, std::span<const CHAR16> name,
                       std::span<std::byte> out) const;
  // EFI_FILE_SYSTEM_INFO and EFI_FILE_SYSTEM_VOLUME_LABEL (the label "EFIKEXEC-ESP").
  std::size_t system_info_size() const;
  void write_system_info(std::span<std::byte> out) const;
  std::size_t label_info_size() const;
  void write_label_info(std::span<std::byte> out) const;

  // The file named by the file path nodes of a device path (what follows the volume's own nodes,
  // up to and including End Entire), as UEFI 7.4.1 reads an image through SimpleFileSystem: one
  // or more MEDIA_FILEPATH_DP nodes, joined with `\`. kUnsupported for another node, kMalformed
  // for a broken path, kNotFound for a name that is not a file here.
  Result<std::uint32_t> resolve_file_path(ByteView nodes) const;

 private:
  std::span<const VolumeNode> nodes_;
};

// Case-insensitive comparison of names as FAT does for ASCII letters.
bool same_volume_name(std::span<const CHAR16> a, std::span<const CHAR16> b);

// Builds a volume's nodes from file paths, the directories made as needed, into the caller's
// storage (no allocation: the freestanding payload builds its volume with it too). Each byte of
// a path's name becomes one CHAR16, as FAT's short ASCII names do.
class VolumeNodeBuilder {
 public:
  // `nodes` needs room for the root (node 0) and every file and directory; `names` for every
  // name's characters.
  VolumeNodeBuilder(std::span<VolumeNode> nodes, std::span<CHAR16> names);
  // Adds a file at `path` (`\` or `/` separated, empty components skipped). kMalformed for no
  // name, a `.` or `..` component or a name over kMaxNameChars; kMalformed when a path goes
  // through a file; kNoMemory when the storage is full. A file already there is kept: false.
  Result<bool> add_file(std::string_view path, ByteView data, bool refused = false);
  std::span<const VolumeNode> nodes() const { return nodes_.first(count_); }

 private:
  std::span<VolumeNode> nodes_;
  std::span<CHAR16> names_;
  std::size_t count_ = 0;
  std::size_t names_used_ = 0;
};

}  // namespace efikexec::efi
