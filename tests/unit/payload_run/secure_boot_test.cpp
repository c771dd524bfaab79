// SPDX-License-Identifier: MIT
// The Secure Boot state the payload gives the images: from the loading kernel's
// boot_params.secure_boot, as read-only SecureBoot and SetupMode variables.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "efi_shim/guids.hpp"
#include "payload/bare_metal/run_uki_with.hpp"

namespace efikexec::payload {
namespace {

struct Store {
  alignas(8) std::array<std::byte, 4096> arena{};
  efi::VariableStore variables{arena};
};

// The variable's one byte, or -1 when GetVariable does not find it.
int byte_of(efi::VariableStore& variables, const char16_t* name, UINT32* attributes = nullptr) {
  std::uint8_t value = 0;
  UINTN size = sizeof value;
  UINT32 found_attributes = 0;
  const EFI_STATUS status = variables.get_variable(
      reinterpret_cast<const CHAR16*>(name), &efi::guids::kGlobalVariable, &found_attributes, &size,
      &value);
  if (attributes != nullptr) *attributes = found_attributes;
  if (status == EFI_NOT_FOUND) return -1;
  EXPECT_EQ(status, EFI_SUCCESS);
  EXPECT_EQ(size, 1u);
  return value;
}

TEST(SecureBootState, EnabledByTheLoadingKernelIsSecureBootOneAndUserMode) {
  Store store;
  ASSERT_TRUE(add_secure_boot_variables(store.variables, 3));
  UINT32 attributes = 0;
  EXPECT_EQ(byte_of(store.variables, u"SecureBoot", &attributes), 1);
  EXPECT_EQ(attributes, EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS);
  EXPECT_EQ(byte_of(store.variables, u"SetupMode"), 0);
  // Read-only to the images, as on firmware: a stub cannot switch it off.
  const std::uint8_t off = 0;
  EXPECT_EQ(store.variables.set_variable(reinterpret_cast<const CHAR16*>(u"SecureBoot"),
                                         &efi::guids::kGlobalVariable,
                                         EFI_VARIABLE_BOOTSERVICE_ACCESS |
                                             EFI_VARIABLE_RUNTIME_ACCESS,
                                         1, &off),
            EFI_WRITE_PROTECTED);
  EXPECT_EQ(byte_of(store.variables, u"SecureBoot"), 1);
}

TEST(SecureBootState, DisabledIsSecureBootZero) {
  Store store;
  ASSERT_TRUE(add_secure_boot_variables(store.variables, 2));
  EXPECT_EQ(byte_of(store.variables, u"SecureBoot"), 0);
  EXPECT_EQ(byte_of(store.variables, u"SetupMode"), 0);
}

TEST(SecureBootState, UnsetOrUnknownAddsNothing) {
  for (const std::uint8_t mode : {0, 1, 4, 255}) {
    Store store;
    ASSERT_TRUE(add_secure_boot_variables(store.variables, mode));
    EXPECT_EQ(byte_of(store.variables, u"SecureBoot"), -1) << int{mode};
    EXPECT_EQ(store.variables.size(), 0u) << int{mode};
  }
}

}  // namespace
}  // namespace efikexec::payload
