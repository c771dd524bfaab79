// SPDX-License-Identifier: MIT
#include "pe_loader/decimal.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace efikexec {
namespace {

TEST(Decimal, EveryWidthFromZeroToTheLargest) {
  EXPECT_EQ(Decimal(0).view(), "0");
  EXPECT_EQ(Decimal(7).view(), "7");
  EXPECT_EQ(Decimal(10).view(), "10");
  EXPECT_EQ(Decimal(4096).view(), "4096");
  EXPECT_EQ(Decimal(UINT32_MAX).view(), "4294967295");
  EXPECT_EQ(Decimal(UINT64_MAX).view(), "18446744073709551615");
  static_assert(Decimal(1234).view() == "1234");
}

}  // namespace
}  // namespace efikexec
