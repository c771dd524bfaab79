// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <string>

#include "efi_shim/device_path.hpp"
#include "efi_shim/paths.hpp"

namespace efikexec::efi {
namespace {

using testing::as_path;
using testing::boot_file_path;
using testing::kInitrdMedia;
using testing::PathBuilder;

std::string text_of(const EFI_DEVICE_PATH* path, GuidNamer namer = nullptr) {
  Text out;
  append_device_path(out, path, namer);
  return std::string(out.view());
}

const char* name_initrd(const EFI_GUID& guid) {
  return guid_equal(guid, kInitrdMedia) ? "LINUX_EFI_INITRD_MEDIA" : nullptr;
}

TEST(DevicePathText, SpellsTheNodesOfTheReferenceTraces) {
  auto disk = boot_file_path();
  EXPECT_EQ(text_of(as_path(disk)),
            "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)/HD(1,MBR,0xbe1afdfa,0x3f,0xfbfc1)/"
            "\"\\\\target.efi\"");
  auto initrd = PathBuilder().ven_media(kInitrdMedia).end().bytes();
  EXPECT_EQ(text_of(as_path(initrd), name_initrd), "VenMedia(LINUX_EFI_INITRD_MEDIA)");
  EXPECT_EQ(text_of(as_path(initrd)), "VenMedia(5568e427-68fc-4f3d-ac74-ca555231cc68)");
}

TEST(DevicePathText, VendorDataMemoryMappedGptAndAcpi) {
  EFI_GUID guid = {0x11223344, 0x5566, 0x7788, {0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00}};
  auto hw = PathBuilder().vendor(HARDWARE_DEVICE_PATH, HW_VENDOR_DP, guid, {0xde, 0xad}).end().bytes();
  EXPECT_EQ(text_of(as_path(hw)), "VenHw(11223344-5566-7788-99aa-bbccddeeff00,dead)");

  auto mm = PathBuilder()
                .node(HARDWARE_DEVICE_PATH, HW_MEMMAP_DP,
                      PathBuilder::cat(PathBuilder::cat(PathBuilder::le(EfiLoaderCode, 4),
                                                        PathBuilder::le(0x100000, 8)),
                                       PathBuilder::le(0x1fffff, 8)))
                .end()
                .bytes();
  EXPECT_EQ(text_of(as_path(mm)), "MemoryMapped(0x1,0x100000,0x1fffff)");

  std::vector<std::uint8_t> hd = PathBuilder::cat(
      PathBuilder::cat(PathBuilder::le(2, 4), PathBuilder::le(0x800, 8)), PathBuilder::le(0x1000, 8));
  std::vector<std::uint8_t> signature(16);
  std::memcpy(signature.data(), &guid, 16);
  hd = PathBuilder::cat(hd, signature);
  hd.push_back(2);
  hd.push_back(SIGNATURE_TYPE_GUID);
  auto gpt = PathBuilder().node(MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP, hd).end().bytes();
  EXPECT_EQ(text_of(as_path(gpt)), "HD(2,GPT,11223344-5566-7788-99aa-bbccddeeff00,0x800,0x1000)");

  // EISA PNP0501 (a serial port) and a non-EISA _HID.
  auto acpi = PathBuilder()
                  .node(ACPI_DEVICE_PATH, ACPI_DP,
                        PathBuilder::cat(PathBuilder::le(0x050141d0, 4), PathBuilder::le(1, 4)))
                  .end()
                  .bytes();
  EXPECT_EQ(text_of(as_path(acpi)), "Acpi(PNP0501,0x1)");
}

TEST(DevicePathText, UnknownNodesInstancesAndSpecialPaths) {
  auto unknown = PathBuilder().node(0x05, 0x01, {0x01, 0x02, 0xff}).end().bytes();
  EXPECT_EQ(text_of(as_path(unknown)), "Path(5,1,0102ff)");
  // A known type whose node is too short for its fields falls back to the generic form.
  auto short_pci = PathBuilder().node(HARDWARE_DEVICE_PATH, HW_PCI_DP, {0x01}).end().bytes();
  EXPECT_EQ(text_of(as_path(short_pci)), "Path(1,1,01)");
  auto two = PathBuilder().pci_root(0).end_instance().pci_root(1).end().bytes();
  EXPECT_EQ(text_of(as_path(two)), "PciRoot(0x0),PciRoot(0x1)");
  auto empty = PathBuilder().end().bytes();
  EXPECT_EQ(text_of(as_path(empty)), "<empty>");
  EXPECT_EQ(text_of(nullptr), "NULL");
  auto bad = PathBuilder().pci_root(0).bytes();
  bad.insert(bad.end(), {0x01, 0x01, 0x02, 0x00});  // Length 2: shorter than the header
  EXPECT_EQ(text_of(as_path(bad)), "PciRoot(0x0)/<malformed>");
}

TEST(DevicePathText, FilePathNodesNeedNoAlignment) {
  // A 5-byte node before the file path leaves its name at an odd address.
  auto path = PathBuilder().node(0x05, 0x02, {0x07}).file(u"\\EFI\\BOOT").end().bytes();
  EXPECT_EQ(text_of(as_path(path)), "Path(5,2,07)/\"\\\\EFI\\\\BOOT\"");
}

TEST(DevicePathWalk, SizesOfWholePathsAndFirstInstances) {
  auto disk = boot_file_path();
  EXPECT_EQ(device_path_size(as_path(disk)), disk.size());
  EXPECT_EQ(device_path_instance_size(as_path(disk)), disk.size() - 4);
  auto two = PathBuilder().pci_root(0).end_instance().pci_root(1).end().bytes();
  EXPECT_EQ(device_path_size(as_path(two)), two.size());
  EXPECT_EQ(device_path_instance_size(as_path(two)), 12u);
  EXPECT_FALSE(device_path_size(nullptr));
  EXPECT_FALSE(device_path_is_end(as_path(disk)));
  auto end = PathBuilder().end().bytes();
  EXPECT_TRUE(device_path_is_end(as_path(end)));
  EXPECT_FALSE(device_path_is_end(nullptr));
}

TEST(DevicePathWalk, RejectsShortNodesAndPathsWithoutEnd) {
  auto zero = PathBuilder().pci_root(0).bytes();
  zero.insert(zero.end(), {0x01, 0x01, 0x00, 0x00});  // Length 0 would loop forever
  EXPECT_FALSE(device_path_size(as_path(zero)));
  EXPECT_FALSE(device_path_instance_size(as_path(zero)));

  // 80 KiB of 4-byte vendor-less nodes and no End: the walk gives up at the 64 KiB cap without
  // reading past it.
  std::vector<std::uint8_t> endless;
  while (endless.size() < 80 * 1024) endless.insert(endless.end(), {0x05, 0x05, 0x04, 0x00});
  EXPECT_FALSE(device_path_size(as_path(endless)));
  DevicePathReader reader(as_path(endless));
  std::size_t nodes = 0;
  while (reader.next()) ++nodes;
  EXPECT_TRUE(reader.malformed());
  EXPECT_EQ(nodes, kMaxDevicePathSize / 4);

  // A node whose Length runs past the cap.
  DevicePathReader capped(as_path(zero), 6);
  EXPECT_FALSE(capped.next());
  EXPECT_TRUE(capped.malformed());
}

TEST(DevicePathWalk, PrefixesAndEquality) {
  auto controller = PathBuilder().pci_root(0).pci(0x1f, 2).end().bytes();
  auto disk = PathBuilder().pci_root(0).pci(0x1f, 2).sata(0, 0xffff, 0).end().bytes();
  auto file = boot_file_path();
  EXPECT_EQ(device_path_prefix_size(as_path(controller), as_path(file)), 18u);  // ACPI 12 + PCI 6
  EXPECT_EQ(device_path_prefix_size(as_path(disk), as_path(file)), 28u);        // + SATA 10
  EXPECT_EQ(device_path_prefix_size(as_path(file), as_path(file)), file.size() - 4);
  EXPECT_FALSE(device_path_prefix_size(as_path(file), as_path(disk)));
  auto other = PathBuilder().pci_root(0).pci(0x1f, 3).end().bytes();
  EXPECT_FALSE(device_path_prefix_size(as_path(other), as_path(file)));
  // The empty path is a prefix of everything (a root handle).
  auto empty = PathBuilder().end().bytes();
  EXPECT_EQ(device_path_prefix_size(as_path(empty), as_path(file)), 0u);
  // Only the first instance of the searched path counts.
  auto multi = PathBuilder().pci_root(1).end_instance().pci_root(0).pci(0x1f, 2).end().bytes();
  EXPECT_FALSE(device_path_prefix_size(as_path(controller), as_path(multi)));

  auto copy = disk;
  EXPECT_TRUE(device_path_equal(as_path(disk), as_path(copy)));
  EXPECT_FALSE(device_path_equal(as_path(disk), as_path(controller)));
  EXPECT_FALSE(device_path_equal(nullptr, as_path(disk)));
}

}  // namespace
}  // namespace efikexec::efi
