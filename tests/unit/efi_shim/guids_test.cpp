// SPDX-License-Identifier: MIT
// The trace names of GUIDs (src/efi_shim/guid_names.inc, shared with the OVMF tracer): the
// GUIDs the shim uses under their own names, the reference traces' spelling, and no name for a
// GUID the list does not hold.
#include <gtest/gtest.h>

#include <string_view>

#include "efi_shim/guids.hpp"

namespace efikexec::efi {
namespace {

std::string_view name_of(const EFI_GUID& guid) {
  const char* name = guids::name(guid);
  return name != nullptr ? name : "";
}

TEST(GuidNames, TheShimsOwnGuidsCarryTheirTraceNames) {
  EXPECT_EQ(name_of(guids::kLoadedImage), "LoadedImage");
  EXPECT_EQ(name_of(guids::kSimpleFileSystem), "SimpleFileSystem");
  EXPECT_EQ(name_of(guids::kLoadFile2), "LoadFile2");
  EXPECT_EQ(name_of(guids::kRng), "RNG");
  EXPECT_EQ(name_of(guids::kFileInfo), "FileInfo");
  EXPECT_EQ(name_of(guids::kGlobalVariable), "EFI_GLOBAL_VARIABLE");
  EXPECT_EQ(name_of(guids::kSystemdLoaderVendor), "SYSTEMD_LOADER_VENDOR");
  EXPECT_EQ(name_of(guids::kImageSecurityDatabase), "IMAGE_SECURITY_DATABASE");
  EXPECT_EQ(name_of(guids::kLinuxInitrdMedia), "LINUX_EFI_INITRD_MEDIA");
  EXPECT_EQ(name_of(guids::kLinuxRandomSeed), "LINUX_EFI_RANDOM_SEED_TABLE");
  EXPECT_EQ(name_of(guids::kBootVolume), "EFIKEXEC_BOOT_VOLUME");
  EXPECT_EQ(name_of(guids::efi_guid(pe::kShimLockGuid)), "SHIM_LOCK");
}

TEST(GuidNames, AnUnlistedGuidHasNoName) {
  const EFI_GUID unlisted = {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0xff}};
  EXPECT_EQ(guids::name(unlisted), nullptr);
}

}  // namespace
}  // namespace efikexec::efi
