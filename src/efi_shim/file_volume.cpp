// SPDX-License-Identifier: MIT
// The boot volume's snapshot: FAT-like name resolution, directory listing and the info
// structures of the file protocol (see file_volume.hpp).
#include "efi_shim/file_volume.hpp"

#include <cstring>

namespace efikexec::efi {

namespace {

constexpr CHAR16 kSeparator = '\\';

CHAR16 fold(CHAR16 c) { return c >= 'A' && c <= 'Z' ? static_cast<CHAR16>(c + 32) : c; }

bool is_dot(std::span<const CHAR16> name) { return name.size() == 1 && name[0] == '.'; }
bool is_dot_dot(std::span<const CHAR16> name) {
  return name.size() == 2 && name[0] == '.' && name[1] == '.';
}

constexpr CHAR16 kLabel[] = {'E', 'F', 'I', 'K', 'E', 'X', 'E', 'C', '-', 'E', 'S', 'P', 0};

// An empty volume's one node: the root directory.
constexpr VolumeNode kEmptyRoot[] = {{0, {}, true, {}, false}};

template <class T>
void put(std::span<std::byte> out, std::size_t offset, const T& value) {
  std::memcpy(out.data() + offset, &value, sizeof value);
}

}  // namespace

bool same_volume_name(std::span<const CHAR16> a, std::span<const CHAR16> b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (fold(a[i]) != fold(b[i])) return false;
  return true;
}

FileVolume::FileVolume() : nodes_(kEmptyRoot) {}

Result<void> FileVolume::assign(std::span<const VolumeNode> nodes) {
  if (nodes.empty() || !nodes[0].directory || !nodes[0].name.empty() || nodes[0].parent != 0)
    return fail(ErrorCode::kInvalidArgument, "the volume's first node is not its root directory");
  if (nodes.size() > UINT32_MAX)
    return fail(ErrorCode::kInvalidArgument, "too many nodes for a volume");
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    const VolumeNode& node = nodes[i];
    if (node.parent >= i || !nodes[node.parent].directory)
      return fail(ErrorCode::kInvalidArgument, "a volume node's parent is no directory before it",
                  i);
    if (node.name.empty() || node.name.size() > kMaxNameChars || is_dot(node.name) ||
        is_dot_dot(node.name))
      return fail(ErrorCode::kInvalidArgument, "a volume node's name is empty, . or .. or too long",
                  i);
    for (CHAR16 c : node.name)
      if (c == 0 || c == kSeparator || c == '/')
        return fail(ErrorCode::kInvalidArgument, "a volume node's name holds a separator or NUL",
                    i);
    for (std::size_t j = 1; j < i; ++j)
      if (nodes[j].parent == node.parent && same_volume_name(nodes[j].name, node.name))
        return fail(ErrorCode::kInvalidArgument, "two volume nodes of one directory share a name",
                    i);
  }
  nodes_ = nodes;
  return {};
}

Result<std::uint32_t> FileVolume::open(std::uint32_t from, std::span<const CHAR16> path) const {
  if (from >= nodes_.size() || !nodes_[from].directory)
    return fail(ErrorCode::kInvalidArgument, "opening from something that is no directory");
  std::size_t length = 0;
  while (length < path.size() && path[length] != 0) ++length;
  if (length > kMaxPathChars) return fail(ErrorCode::kNotFound, "path too long");
  std::uint32_t current = from;
  std::size_t at = 0;
  if (length > 0 && path[0] == kSeparator) current = kRoot;
  while (at < length) {
    while (at < length && path[at] == kSeparator) ++at;
    std::size_t end = at;
    while (end < length && path[end] != kSeparator) ++end;
    const std::span<const CHAR16> component = path.subspan(at, end - at);
    at = end;
    if (component.empty() || is_dot(component)) continue;
    if (!nodes_[current].directory)
      return fail(ErrorCode::kNotFound, "a path goes through a file", at);
    if (is_dot_dot(component)) {
      if (current == kRoot) return fail(ErrorCode::kNotFound, "a path goes above the root", at);
      current = nodes_[current].parent;
      continue;
    }
    std::optional<std::uint32_t> found;
    for (std::uint32_t i = current + 1; i < nodes_.size(); ++i)
      if (nodes_[i].parent == current && same_volume_name(nodes_[i].name, component)) {
        found = i;
        break;
      }
    if (!found) return fail(ErrorCode::kNotFound, "no such file or directory", at);
    current = *found;
  }
  return current;
}

std::optional<std::uint32_t> FileVolume::next_entry(std::uint32_t dir,
                                                    std::uint32_t position) const {
  if (dir >= nodes_.size() || !nodes_[dir].directory) return std::nullopt;
  // Children come after their directory.
  for (std::uint64_t i = position > dir ? position : dir + 1; i < nodes_.size(); ++i)
    if (nodes_[i].parent == dir) return static_cast<std::uint32_t>(i);
  return std::nullopt;
}

std::optional<FileVolume::DirectoryEntry> FileVolume::directory_entry(
    std::uint32_t dir, std::uint64_t position) const {
  static constexpr CHAR16 kDot[] = {'.', '.'};
  if (dir >= nodes_.size() || !nodes_[dir].directory) return std::nullopt;
  // Below the root, positions 0 and 1 are the dot entries: no child's index is that low.
  if (dir != kRoot && position == 0) return DirectoryEntry{dir, {kDot, 1}, 1};
  if (dir != kRoot && position == 1) return DirectoryEntry{nodes_[dir].parent, {kDot, 2}, 2};
  if (position > UINT32_MAX) return std::nullopt;
  const auto entry = next_entry(dir, static_cast<std::uint32_t>(position));
  if (!entry) return std::nullopt;
  return DirectoryEntry{*entry, nodes_[*entry].name, std::uint64_t{*entry} + 1};
}

std::size_t FileVolume::file_info_size(std::span<const CHAR16> name) const {
  return offsetof(EFI_FILE_INFO, FileName) + (name.size() + 1) * sizeof(CHAR16);
}

std::size_t FileVolume::file_info_size(std::uint32_t index) const {
  return file_info_size(nodes_[index].name);
}

void FileVolume::write_file_info(std::uint32_t index, std::span<std::byte> out) const {
  write_file_info(index, nodes_[index].name, out);
}

void FileVolume::write_file_info(std::uint32_t index, std::span<const CHAR16> name,
                                 std::span<std::byte> out) const {
  const VolumeNode& node = nodes_[index];
  const std::size_t size = file_info_size(name);
  std::memset(out.data(), 0, size);
  put<UINT64>(out, offsetof(EFI_FILE_INFO, Size), size);
  put<UINT64>(out, offsetof(EFI_FILE_INFO, FileSize), node.directory ? 0 : node.data.size());
  put<UINT64>(out, offsetof(EFI_FILE_INFO, PhysicalSize), node.directory ? 0 : node.data.size());
  put<UINT64>(out, offsetof(EFI_FILE_INFO, Attribute),
              node.directory ? EFI_FILE_DIRECTORY : EFI_FILE_ARCHIVE);
  if (!name.empty())
    std::memcpy(out.data() + offsetof(EFI_FILE_INFO, FileName), name.data(),
                name.size() * sizeof(CHAR16));
}

std::size_t FileVolume::system_info_size() const {
  return offsetof(EFI_FILE_SYSTEM_INFO, VolumeLabel) + sizeof kLabel;
}

void FileVolume::write_system_info(std::span<std::byte> out) const {
  UINT64 total = 0;
  for (const VolumeNode& node : nodes_) total += node.data.size();
  const std::size_t size = system_info_size();
  std::memset(out.data(), 0, size);
  put<UINT64>(out, offsetof(EFI_FILE_SYSTEM_INFO, Size), size);
  put<BOOLEAN>(out, offsetof(EFI_FILE_SYSTEM_INFO, ReadOnly), TRUE);
  put<UINT64>(out, offsetof(EFI_FILE_SYSTEM_INFO, VolumeSize), total);
  put<UINT64>(out, offsetof(EFI_FILE_SYSTEM_INFO, FreeSpace), 0);
  put<UINT32>(out, offsetof(EFI_FILE_SYSTEM_INFO, BlockSize), 512);
  std::memcpy(out.data() + offsetof(EFI_FILE_SYSTEM_INFO, VolumeLabel), kLabel, sizeof kLabel);
}

std::size_t FileVolume::label_info_size() const { return sizeof kLabel; }

void FileVolume::write_label_info(std::span<std::byte> out) const {
  std::memcpy(out.data(), kLabel, sizeof kLabel);
}

Result<std::uint32_t> FileVolume::resolve_file_path(ByteView nodes) const {
  CHAR16 path[kMaxPathChars + 1];
  std::size_t used = 0;
  std::uint64_t offset = 0;
  bool any = false;
  for (;;) {
    auto type = nodes.read<std::uint8_t>(offset, "device path node type");
    auto subtype = nodes.read<std::uint8_t>(offset + 1, "device path node subtype");
    auto length = nodes.read<std::uint16_t>(offset + 2, "device path node length");
    if (!type || !subtype || !length) return fail(ErrorCode::kMalformed, "device path ends early",
                                                  offset);
    if (*length < 4 || !nodes.contains(offset, *length))
      return fail(ErrorCode::kMalformed, "device path node length out of range", offset);
    if (*type == END_DEVICE_PATH_TYPE) {
      if (*subtype != END_ENTIRE_DEVICE_PATH_SUBTYPE)
        return fail(ErrorCode::kUnsupported, "a device path with more than one instance", offset);
      break;
    }
    if (*type != MEDIA_DEVICE_PATH || *subtype != MEDIA_FILEPATH_DP)
      return fail(ErrorCode::kUnsupported, "a device path node that is no file path", offset);
    // PathName: UCS-2 up to the node's end or a NUL; a `\` joins two nodes (EDK2 does so too).
    const std::size_t chars = (*length - 4u) / sizeof(CHAR16);
    if (any && used < kMaxPathChars) path[used++] = kSeparator;
    for (std::size_t i = 0; i < chars; ++i) {
      CHAR16 c;
      std::memcpy(&c, nodes.data() + offset + 4 + i * sizeof(CHAR16), sizeof c);
      if (c == 0) break;
      if (used == kMaxPathChars) return fail(ErrorCode::kNotFound, "file path too long", offset);
      path[used++] = c;
    }
    any = true;
    offset += *length;
  }
  if (!any) return fail(ErrorCode::kNotFound, "a device path without a file path node");
  auto found = open(kRoot, {path, used});
  if (!found) return found;
  if (nodes_[*found].directory) return fail(ErrorCode::kNotFound, "the file path names a directory");
  return found;
}

VolumeNodeBuilder::VolumeNodeBuilder(std::span<VolumeNode> nodes, std::span<CHAR16> names)
    : nodes_(nodes), names_(names) {
  if (!nodes_.empty()) nodes_[count_++] = VolumeNode{0, {}, true, {}, false};
}

Result<bool> VolumeNodeBuilder::add_file(std::string_view path, ByteView data, bool refused) {
  if (count_ == 0) return fail(ErrorCode::kNoMemory, "no room for the volume's root");
  std::uint32_t directory = FileVolume::kRoot;
  bool named = false;
  std::size_t at = 0;
  while (at < path.size()) {
    const std::size_t end = path.find_first_of("\\/", at);
    const std::string_view part = path.substr(at, end == std::string_view::npos ? end : end - at);
    at = end == std::string_view::npos ? path.size() : end + 1;
    if (part.empty()) continue;
    const bool last = path.find_first_not_of("\\/", at) == std::string_view::npos;
    if (part == "." || part == ".." || part.size() > FileVolume::kMaxNameChars ||
        part.find('\0') != std::string_view::npos)
      return fail(ErrorCode::kMalformed, "a volume path holds . or .., a NUL or a long name");
    named = true;
    // The name in the free part of the storage; kept only when a new node takes it.
    if (names_.size() - names_used_ < part.size())
      return fail(ErrorCode::kNoMemory, "no room for the volume's names");
    const std::span<CHAR16> name = names_.subspan(names_used_, part.size());
    for (std::size_t i = 0; i < part.size(); ++i)
      name[i] = static_cast<CHAR16>(static_cast<unsigned char>(part[i]));
    std::optional<std::uint32_t> existing;
    for (std::uint32_t n = 1; n < count_; ++n)
      if (nodes_[n].parent == directory && same_volume_name(nodes_[n].name, name)) existing = n;
    if (existing) {
      if (last) return false;
      if (!nodes_[*existing].directory)
        return fail(ErrorCode::kMalformed, "a volume path goes through a file");
      directory = *existing;
      continue;
    }
    if (count_ == nodes_.size()) return fail(ErrorCode::kNoMemory, "no room for the volume's files");
    names_used_ += part.size();
    nodes_[count_] = VolumeNode{directory, name, !last, last ? data : ByteView(), last && refused};
    directory = static_cast<std::uint32_t>(count_++);
  }
  if (!named) return fail(ErrorCode::kMalformed, "a volume file needs a name");
  return true;
}

}  // namespace efikexec::efi
