// SPDX-License-Identifier: MIT
// The boot volume: FileVolume's name resolution and listing, and every call of the
// SimpleFileSystem / File protocols the shim serves over it (UEFI 2.10 §13.4, §13.5), through
// the protocol pointers an image gets, in a shim built in this process.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <array>
#include <string>
#include <vector>

#include "efi_shim/fakes.hpp"
#include "efi_shim/file_volume.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/paths.hpp"
#include "efi_shim/shim.hpp"

namespace efikexec::efi {
namespace {

using testing::PathBuilder;

std::span<const CHAR16> ucs2(const std::u16string& text) {
  return {reinterpret_cast<const CHAR16*>(text.data()), text.size()};
}

ByteView bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// \EFI\Linux\uki.efi, \EFI\Linux\uki.efi.extra.d\{a.addon.efi,b.cred}, \loader\credentials\x.cred
struct Snapshot {
  std::u16string efi = u"EFI", linux_ = u"Linux", uki = u"uki.efi", extra = u"uki.efi.extra.d",
                 addon = u"a.addon.efi", cred = u"b.cred", loader = u"loader",
                 credentials = u"credentials", global = u"x.cred";
  std::string uki_data = "MZ-not-really", addon_data = "addon bytes", cred_data = "secret",
              global_data = "global secret";
  std::vector<VolumeNode> nodes;
  Snapshot() {
    nodes = {{0, {}, true, {}, false},
             {0, ucs2(efi), true, {}, false},             // 1
             {1, ucs2(linux_), true, {}, false},          // 2
             {2, ucs2(uki), false, bytes_of(uki_data), false},   // 3
             {2, ucs2(extra), true, {}, false},           // 4
             {4, ucs2(addon), false, bytes_of(addon_data), true},  // 5 (refused)
             {4, ucs2(cred), false, bytes_of(cred_data), false},   // 6
             {0, ucs2(loader), true, {}, false},          // 7
             {7, ucs2(credentials), true, {}, false},     // 8
             {8, ucs2(global), false, bytes_of(global_data), false}};  // 9
  }
};

Result<std::uint32_t> open(const FileVolume& volume, std::uint32_t from, const std::u16string& path) {
  return volume.open(from, ucs2(path));
}

TEST(FileVolume, ResolvesNamesAsFatDoes) {
  Snapshot s;
  FileVolume volume;
  ASSERT_TRUE(volume.assign(s.nodes));
  EXPECT_EQ(open(volume, 0, u"\\EFI\\Linux\\uki.efi").value(), 3u);
  EXPECT_EQ(open(volume, 0, u"efi\\LINUX\\UKI.EFI").value(), 3u);  // case-insensitive
  EXPECT_EQ(open(volume, 2, u"uki.efi.extra.d\\B.CRED").value(), 6u);  // relative
  EXPECT_EQ(open(volume, 4, u"\\loader\\credentials\\x.cred").value(), 9u);  // absolute
  EXPECT_EQ(open(volume, 4, u"..\\.\\uki.efi").value(), 3u);
  EXPECT_EQ(open(volume, 0, u"\\\\EFI\\\\Linux\\").value(), 2u);  // empty components
  EXPECT_EQ(open(volume, 0, u"").value(), 0u);
  EXPECT_EQ(open(volume, 0, u".").value(), 0u);
  EXPECT_EQ(open(volume, 4, u"\\").value(), 0u);
}

TEST(FileVolume, NothingLeadsOutOfTheVolume) {
  Snapshot s;
  FileVolume volume;
  ASSERT_TRUE(volume.assign(s.nodes));
  EXPECT_EQ(open(volume, 0, u"..").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(open(volume, 0, u"\\..\\etc\\passwd").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(open(volume, 4, u"..\\..\\..\\..").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(open(volume, 0, u"EFI/Linux/uki.efi").error().code, ErrorCode::kNotFound);  // no '/'
  EXPECT_EQ(open(volume, 0, u"\\EFI\\Linux\\uki.efi\\..").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(open(volume, 0, u"\\EFI\\Linux\\uki.efi\\x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(open(volume, 0, u"\\missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(volume.open(3, ucs2(u"x")).error().code, ErrorCode::kInvalidArgument);  // from a file
  EXPECT_EQ(volume.open(99, ucs2(u"x")).error().code, ErrorCode::kInvalidArgument);
  const std::u16string long_path(FileVolume::kMaxPathChars + 1, u'a');
  EXPECT_EQ(open(volume, 0, long_path).error().code, ErrorCode::kNotFound);
}

TEST(FileVolume, RefusesABrokenSnapshot) {
  Snapshot s;
  FileVolume volume;
  std::vector<VolumeNode> nodes = s.nodes;
  nodes[0].directory = false;
  EXPECT_FALSE(volume.assign(nodes));
  nodes = s.nodes;
  nodes[5].parent = 3;  // a file as its parent
  EXPECT_FALSE(volume.assign(nodes));
  nodes = s.nodes;
  nodes[2].parent = 5;  // a parent after it
  EXPECT_FALSE(volume.assign(nodes));
  const std::u16string upper = u"UKI.EFI", dots = u"..", slash = u"a\\b";
  nodes = s.nodes;
  nodes.push_back({2, ucs2(upper), false, {}, false});  // the same name, other case
  EXPECT_FALSE(volume.assign(nodes));
  for (const std::u16string* name : {&dots, &slash}) {
    nodes = s.nodes;
    nodes.push_back({0, ucs2(*name), false, {}, false});
    EXPECT_FALSE(volume.assign(nodes));
  }
  EXPECT_FALSE(volume.assign({}));
  // After a failed assign the volume is still the empty one.
  EXPECT_EQ(volume.size(), 1u);
}

TEST(FileVolume, ListsADirectoryInOrder) {
  Snapshot s;
  FileVolume volume;
  ASSERT_TRUE(volume.assign(s.nodes));
  std::vector<std::uint32_t> seen;
  for (auto entry = volume.next_entry(4, 0); entry; entry = volume.next_entry(4, *entry + 1))
    seen.push_back(*entry);
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{5, 6}));
  EXPECT_EQ(volume.next_entry(0, 0), 1u);
  EXPECT_EQ(volume.next_entry(0, 2), 7u);
  EXPECT_FALSE(volume.next_entry(3, 0));  // a file lists nothing
  // What Read() gives: the dot entries below the root, then the children.
  std::vector<std::pair<std::uint32_t, std::size_t>> read;
  for (auto entry = volume.directory_entry(4, 0); entry;
       entry = volume.directory_entry(4, entry->next_position))
    read.emplace_back(entry->node, entry->name.size());
  EXPECT_EQ(read, (std::vector<std::pair<std::uint32_t, std::size_t>>{{4, 1}, {2, 2}, {5, 11}, {6, 6}}));
  EXPECT_EQ(volume.directory_entry(0, 0)->node, 1u);  // the root has no dot entries
  EXPECT_FALSE(volume.directory_entry(3, 0));
  EXPECT_FALSE(volume.directory_entry(4, std::uint64_t{1} << 40));
}

// The builder both the host and the payload use: directories made once, names folded as FAT
// does, escapes refused, and a full storage an error rather than a cut volume.
TEST(VolumeNodeBuilder, BuildsInTheCallersStorageAndSaysWhenItIsFull) {
  std::array<VolumeNode, 6> nodes{};
  std::array<CHAR16, 32> names{};
  VolumeNodeBuilder builder(nodes, names);
  const std::string data = "x";
  ASSERT_TRUE(builder.add_file("EFI/Linux/a.efi", bytes_of(data)));
  EXPECT_FALSE(builder.add_file("\\efi\\LINUX\\A.EFI", bytes_of(data)).value());  // already there
  ASSERT_TRUE(builder.add_file("\\EFI\\Linux\\b.efi", bytes_of(data), true));
  EXPECT_EQ(builder.add_file("EFI/../x", bytes_of(data)).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(builder.add_file("EFI/Linux/a.efi/x", bytes_of(data)).error().code,
            ErrorCode::kMalformed);
  EXPECT_EQ(builder.add_file("//", bytes_of(data)).error().code, ErrorCode::kMalformed);
  ASSERT_EQ(builder.nodes().size(), 5u);  // root, EFI, Linux, a.efi, b.efi
  EXPECT_TRUE(builder.nodes()[4].refused);
  EXPECT_FALSE(builder.nodes()[3].refused);
  EXPECT_EQ(builder.add_file("loader/c", bytes_of(data)).error().code, ErrorCode::kNoMemory);
  FileVolume volume;
  ASSERT_TRUE(volume.assign(builder.nodes()));
  EXPECT_EQ(open(volume, 0, u"\\efi\\linux\\b.efi").value(), 4u);
  std::array<CHAR16, 4> few{};
  VolumeNodeBuilder short_of_names(nodes, few);
  EXPECT_EQ(short_of_names.add_file("long-name", bytes_of(data)).error().code,
            ErrorCode::kNoMemory);
}

TEST(FileVolume, ResolvesFilePathNodes) {
  Snapshot s;
  FileVolume volume;
  ASSERT_TRUE(volume.assign(s.nodes));
  auto resolve = [&](const std::vector<std::uint8_t>& bytes) {
    return volume.resolve_file_path({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()});
  };
  EXPECT_EQ(resolve(PathBuilder().file(u"\\EFI\\Linux\\uki.efi").end().bytes()).value(), 3u);
  // Several nodes join with '\' (EDK2 splits long paths that way).
  EXPECT_EQ(resolve(PathBuilder().file(u"\\EFI\\Linux").file(u"uki.efi.extra.d")
                        .file(u"a.addon.efi").end().bytes()).value(), 5u);
  EXPECT_EQ(resolve(PathBuilder().file(u"\\EFI\\Linux").end().bytes()).error().code,
            ErrorCode::kNotFound);  // a directory is no image
  EXPECT_EQ(resolve(PathBuilder().file(u"\\..\\x").end().bytes()).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(resolve(PathBuilder().end().bytes()).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(resolve(PathBuilder().pci(1, 0).file(u"x").end().bytes()).error().code,
            ErrorCode::kUnsupported);
  EXPECT_EQ(resolve(PathBuilder().file(u"x").end_instance().end().bytes()).error().code,
            ErrorCode::kUnsupported);
  std::vector<std::uint8_t> cut = PathBuilder().file(u"\\EFI\\Linux\\uki.efi").bytes();  // no End
  EXPECT_EQ(resolve(cut).error().code, ErrorCode::kMalformed);
  std::vector<std::uint8_t> short_node = PathBuilder().file(u"x").end().bytes();
  short_node[2] = 2;  // Length below the header
  EXPECT_EQ(resolve(short_node).error().code, ErrorCode::kMalformed);
  std::vector<std::uint8_t> long_node = PathBuilder().file(u"x").end().bytes();
  long_node[2] = 0xff;  // Length past the end
  EXPECT_EQ(resolve(long_node).error().code, ErrorCode::kMalformed);
}

// ---- The protocols, as an image calls them ----

constexpr std::uint64_t kMiB = 1 << 20;

class FakeMemory final : public PhysicalMemory {
 public:
  static constexpr std::uint64_t kSize = 64 * kMiB;
  FakeMemory() {
    base_ = static_cast<std::byte*>(mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  }
  ~FakeMemory() { munmap(base_, kSize); }
  Result<void> back(std::uint64_t address, std::uint64_t size) override {
    if (address + size > kSize) return fail(ErrorCode::kOutOfRange, "outside fake RAM");
    return {};
  }
  std::byte* pointer(std::uint64_t address) override { return base_ + address; }
  std::uint64_t address_of(const void* p) override {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base_);
  }

 private:
  std::byte* base_;
};

class NoRandom final : public Random {
 public:
  bool fill(std::span<std::byte>) override { return false; }
};
class NoConsole final : public Console {
 public:
  void write(std::string_view) override {}
};
class NoRunner final : public ImageRunner {
 public:
  EFI_STATUS call_entry(EFI_IMAGE_ENTRY_POINT, EFI_HANDLE, EFI_SYSTEM_TABLE*, std::uint64_t,
                        std::uint64_t*) override {
    return EFI_UNSUPPORTED;
  }
  [[noreturn]] void exit_to(std::uint64_t*, EFI_STATUS) override { std::abort(); }
};
class NoRunEnd final : public RunEndSink {
 public:
  void boot_services_exited(EFI_HANDLE) override {}
  [[noreturn]] void end_run(const char*, EFI_STATUS) override { std::abort(); }
};

class FileProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const MemoryRange ram[] = {{0x100000, (FakeMemory::kSize - 0x100000) / kPageSize,
                                EfiConventionalMemory, kRamAttributes, false}};
    ShimConfig config{};
    config.machine = ram;
    config.variable_storage = storage;
    config.stack_pages = 4;
    ASSERT_TRUE(shim.init(config, {&memory, &clock, &random, &console, nullptr, &runner, &end}));
    ASSERT_TRUE(shim.set_boot_volume(snapshot.nodes, true));
    EFI_BOOT_SERVICES* bs = shim.system_table()->BootServices;
    EFI_GUID guid = guids::kSimpleFileSystem;
    void* interface = nullptr;
    ASSERT_EQ(bs->LocateProtocol(&guid, nullptr, &interface), EFI_SUCCESS);
    auto* file_system = static_cast<EFI_FILE_IO_INTERFACE*>(interface);
    ASSERT_EQ(file_system->OpenVolume(file_system, &root), EFI_SUCCESS);
  }

  EFI_FILE_PROTOCOL* open(EFI_FILE_PROTOCOL* from, const std::u16string& name,
                          EFI_STATUS expected = EFI_SUCCESS, UINT64 mode = EFI_FILE_MODE_READ) {
    std::u16string copy = name;
    EFI_FILE_PROTOCOL* file = nullptr;
    EXPECT_EQ(from->Open(from, &file, reinterpret_cast<CHAR16*>(copy.data()), mode, 0), expected)
        << std::string(name.begin(), name.end());
    return file;
  }

  // The names a directory lists, reading with a buffer that is at first too small.
  std::vector<std::string> list(EFI_FILE_PROTOCOL* dir) {
    std::vector<std::string> names;
    for (;;) {
      UINTN size = 4;
      std::array<std::uint8_t, 1024> buffer{};
      EFI_STATUS status = dir->Read(dir, &size, buffer.data());
      if (status == EFI_BUFFER_TOO_SMALL) {
        EXPECT_GT(size, offsetof(EFI_FILE_INFO, FileName));
        status = dir->Read(dir, &size, buffer.data());
      }
      EXPECT_EQ(status, EFI_SUCCESS);
      if (status != EFI_SUCCESS || size == 0) break;
      const auto* info = reinterpret_cast<const EFI_FILE_INFO*>(buffer.data());
      EXPECT_EQ(info->Size, size);
      std::string name;
      for (const CHAR16* c = info->FileName; *c != 0; ++c) name.push_back(static_cast<char>(*c));
      if (info->Attribute & EFI_FILE_DIRECTORY) name += "/";
      else name += ":" + std::to_string(info->FileSize);
      names.push_back(name);
    }
    return names;
  }

  FakeMemory memory;
  testing::FakeClock clock;
  NoRandom random;
  NoConsole console;
  NoRunner runner;
  NoRunEnd end;
  std::array<std::byte, 4096> storage{};
  Shim shim;
  Snapshot snapshot;
  EFI_FILE_PROTOCOL* root = nullptr;
};

TEST_F(FileProtocolTest, OpensRelativeAndListsOneEntryPerRead) {
  EXPECT_EQ(list(root), (std::vector<std::string>{"EFI/", "loader/"}));
  EFI_FILE_PROTOCOL* linux_dir = open(root, u"efi\\linux");
  ASSERT_NE(linux_dir, nullptr);
  EFI_FILE_PROTOCOL* extra = open(linux_dir, u"UKI.EFI.EXTRA.D");
  ASSERT_NE(extra, nullptr);
  // Below the root FAT lists `.` and `..` first (systemd-stub skips names starting with '.').
  EXPECT_EQ(list(extra), (std::vector<std::string>{"./", "../", "a.addon.efi:11", "b.cred:6"}));
  EXPECT_EQ(list(extra), std::vector<std::string>{});  // at its end it stays there
  EXPECT_EQ(extra->SetPosition(extra, 1), EFI_UNSUPPORTED);
  EXPECT_EQ(extra->SetPosition(extra, 0), EFI_SUCCESS);  // rewinds
  EXPECT_EQ(list(extra).size(), 4u);
  UINT64 position = 0;
  EXPECT_EQ(extra->GetPosition(extra, &position), EFI_UNSUPPORTED);
  // A read without a buffer says the size it needs and moves nothing.
  EXPECT_EQ(extra->SetPosition(extra, 0), EFI_SUCCESS);
  UINTN size = 0;
  EXPECT_EQ(extra->Read(extra, &size, nullptr), EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(size, offsetof(EFI_FILE_INFO, FileName) + 2 * sizeof(CHAR16));  // "."
  EXPECT_EQ(list(extra).size(), 4u);
  std::array<std::uint8_t, 256> buffer{};
  EXPECT_EQ(extra->SetPosition(extra, 0), EFI_SUCCESS);
  for (int i = 0; i < 2; ++i) {  // past the dot entries
    size = buffer.size();
    ASSERT_EQ(extra->Read(extra, &size, buffer.data()), EFI_SUCCESS);
  }
  size = 0;
  EXPECT_EQ(extra->Read(extra, &size, nullptr), EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(size, offsetof(EFI_FILE_INFO, FileName) + 12 * sizeof(CHAR16));  // "a.addon.efi"
  open(extra, u"..\\..\\..\\..", EFI_NOT_FOUND);
  open(extra, u"missing.cred", EFI_NOT_FOUND);
  EXPECT_NE(open(extra, u"\\loader\\credentials\\X.CRED"), nullptr);
  EXPECT_EQ(extra->Close(extra), EFI_SUCCESS);
  EXPECT_EQ(linux_dir->Close(linux_dir), EFI_SUCCESS);
}

TEST_F(FileProtocolTest, ReadsFilesAndTheirPositions) {
  EFI_FILE_PROTOCOL* cred = open(root, u"\\EFI\\Linux\\uki.efi.extra.d\\b.cred");
  ASSERT_NE(cred, nullptr);
  char buffer[16] = {};
  UINTN size = 4;
  EXPECT_EQ(cred->Read(cred, &size, buffer), EFI_SUCCESS);
  EXPECT_EQ(std::string(buffer, size), "secr");
  UINT64 position = 0;
  EXPECT_EQ(cred->GetPosition(cred, &position), EFI_SUCCESS);
  EXPECT_EQ(position, 4u);
  size = sizeof buffer;
  EXPECT_EQ(cred->Read(cred, &size, buffer), EFI_SUCCESS);
  EXPECT_EQ(std::string(buffer, size), "et");
  size = sizeof buffer;
  EXPECT_EQ(cred->Read(cred, &size, buffer), EFI_SUCCESS);  // at the end: nothing
  EXPECT_EQ(size, 0u);
  EXPECT_EQ(cred->SetPosition(cred, ~UINT64{0}), EFI_SUCCESS);  // the end of the file
  EXPECT_EQ(cred->GetPosition(cred, &position), EFI_SUCCESS);
  EXPECT_EQ(position, 6u);
  EXPECT_EQ(cred->SetPosition(cred, 100), EFI_SUCCESS);
  size = sizeof buffer;
  EXPECT_EQ(cred->Read(cred, &size, buffer), EFI_DEVICE_ERROR);  // beyond the end
  EXPECT_EQ(cred->SetPosition(cred, 0), EFI_SUCCESS);
  size = sizeof buffer;
  EXPECT_EQ(cred->Read(cred, &size, nullptr), EFI_INVALID_PARAMETER);
  EXPECT_EQ(cred->Read(cred, nullptr, buffer), EFI_INVALID_PARAMETER);
}

TEST_F(FileProtocolTest, GetInfoAnswersTheThreeInfoTypes) {
  EFI_FILE_PROTOCOL* file = open(root, u"\\loader\\credentials\\x.cred");
  ASSERT_NE(file, nullptr);
  EFI_GUID file_info = guids::kFileInfo;
  UINTN size = 0;
  EXPECT_EQ(file->GetInfo(file, &file_info, &size, nullptr), EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(size, offsetof(EFI_FILE_INFO, FileName) + 7 * sizeof(CHAR16));
  std::array<std::uint8_t, 512> buffer{};
  EXPECT_EQ(file->GetInfo(file, &file_info, &size, buffer.data()), EFI_SUCCESS);
  const auto* info = reinterpret_cast<const EFI_FILE_INFO*>(buffer.data());
  EXPECT_EQ(info->FileSize, 13u);
  EXPECT_EQ(info->Attribute & EFI_FILE_DIRECTORY, 0u);
  EXPECT_EQ(info->FileName[0], 'x');
  // A directory says so (systemd-stub checks before it lists).
  size = buffer.size();
  EXPECT_EQ(root->GetInfo(root, &file_info, &size, buffer.data()), EFI_SUCCESS);
  EXPECT_NE(info->Attribute & EFI_FILE_DIRECTORY, 0u);

  EFI_GUID system_info = guids::kFileSystemInfo;
  size = 0;
  EXPECT_EQ(root->GetInfo(root, &system_info, &size, nullptr), EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(root->GetInfo(root, &system_info, &size, buffer.data()), EFI_SUCCESS);
  const auto* fs = reinterpret_cast<const EFI_FILE_SYSTEM_INFO*>(buffer.data());
  EXPECT_EQ(fs->Size, size);
  EXPECT_TRUE(fs->ReadOnly);
  EXPECT_EQ(fs->FreeSpace, 0u);
  EXPECT_EQ(fs->VolumeSize, 13u + 11u + 6u + 13u);
  EXPECT_EQ(fs->VolumeLabel[0], 'E');

  EFI_GUID label = guids::kFileSystemVolumeLabel;
  size = 2;
  EXPECT_EQ(file->GetInfo(file, &label, &size, buffer.data()), EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(file->GetInfo(file, &label, &size, buffer.data()), EFI_SUCCESS);
  EXPECT_EQ(reinterpret_cast<const CHAR16*>(buffer.data())[size / sizeof(CHAR16) - 1], 0);

  EFI_GUID other = guids::kSimpleFileSystem;
  size = buffer.size();
  EXPECT_EQ(file->GetInfo(file, &other, &size, buffer.data()), EFI_UNSUPPORTED);
  EXPECT_EQ(file->GetInfo(file, nullptr, &size, buffer.data()), EFI_INVALID_PARAMETER);
}

TEST_F(FileProtocolTest, EveryWriteIsRefused) {
  EFI_FILE_PROTOCOL* file = open(root, u"\\EFI\\Linux\\uki.efi");
  ASSERT_NE(file, nullptr);
  open(root, u"\\EFI\\Linux\\uki.efi", EFI_WRITE_PROTECTED,
       EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE);
  open(root, u"\\loader\\random-seed", EFI_WRITE_PROTECTED,
       EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE);
  open(root, u"\\EFI\\Linux\\uki.efi", EFI_INVALID_PARAMETER, EFI_FILE_MODE_WRITE);
  open(root, u"\\EFI\\Linux\\uki.efi", EFI_INVALID_PARAMETER, 0);
  char data[4] = {'x', 'x', 'x', 'x'};
  UINTN size = sizeof data;
  // What OVMF's FAT driver answers on a read-only volume (conformance eft_files).
  EXPECT_EQ(file->Write(file, &size, data), EFI_WRITE_PROTECTED);
  EXPECT_EQ(root->Write(root, &size, data), EFI_UNSUPPORTED);
  EXPECT_EQ(file->Flush(file), EFI_WRITE_PROTECTED);
  EXPECT_EQ(root->Flush(root), EFI_WRITE_PROTECTED);
  EFI_GUID file_info = guids::kFileInfo;
  EXPECT_EQ(file->SetInfo(file, &file_info, 0, nullptr), EFI_WRITE_PROTECTED);
  EXPECT_EQ(file->Delete(file), EFI_WARN_DELETE_FAILURE);  // closes, deletes nothing
  EXPECT_NE(open(root, u"\\EFI\\Linux\\uki.efi"), nullptr);
}

TEST_F(FileProtocolTest, LoadImageReadsTheVolumeAndRefusesRefusedImagesUnderSecureBoot) {
  std::vector<std::uint8_t> volume_path =
      PathBuilder().vendor(HARDWARE_DEVICE_PATH, HW_VENDOR_DP, guids::kBootVolume).end().bytes();
  auto with_file = [&](std::u16string_view name) {
    std::vector<std::uint8_t> path(volume_path.begin(), volume_path.end() - 4);
    std::vector<std::uint8_t> file = PathBuilder().file(name).end().bytes();
    path.insert(path.end(), file.begin(), file.end());
    return path;
  };
  EFI_HANDLE handle = nullptr;
  auto refused = with_file(u"\\EFI\\Linux\\uki.efi.extra.d\\A.ADDON.EFI");
  EXPECT_EQ(shim.load_image_service(FALSE, nullptr, testing::as_path(refused), nullptr, 0, &handle),
            EFI_ACCESS_DENIED);
  // The same bytes handed over as a buffer (systemd-stub >= 258 reads the file first).
  EXPECT_EQ(shim.load_image_service(FALSE, nullptr, nullptr, snapshot.addon_data.data(),
                                    snapshot.addon_data.size(), &handle),
            EFI_ACCESS_DENIED);
  // An accepted file is read from the volume and goes on to the PE loader, which finds no image.
  auto accepted = with_file(u"\\EFI\\Linux\\uki.efi");
  const EFI_STATUS status =
      shim.load_image_service(FALSE, nullptr, testing::as_path(accepted), nullptr, 0, &handle);
  EXPECT_NE(status, EFI_ACCESS_DENIED);
  EXPECT_NE(status, EFI_NOT_FOUND);
  auto missing = with_file(u"\\EFI\\Linux\\missing.efi");
  EXPECT_EQ(shim.load_image_service(FALSE, nullptr, testing::as_path(missing), nullptr, 0, &handle),
            EFI_NOT_FOUND);
  // Without Secure Boot the firmware verifies nothing.
  ASSERT_TRUE(shim.set_boot_volume(snapshot.nodes, false));
  EXPECT_NE(shim.load_image_service(FALSE, nullptr, testing::as_path(refused), nullptr, 0, &handle),
            EFI_ACCESS_DENIED);
}

}  // namespace
}  // namespace efikexec::efi
