// SPDX-License-Identifier: MIT
// Fuzz targets check invariants, not only "no crash": a broken one aborts, which libFuzzer
// reports with the input.
#pragma once

#include <cstdlib>

#define FUZZ_ASSERT(condition) \
  do {                         \
    if (!(condition)) abort(); \
  } while (0)
