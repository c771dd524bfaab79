// SPDX-License-Identifier: MIT
// A library that does what the core must not (allocate through the host): the symbol check has
// to reject it, or it would pass anything.
#include <cstdlib>

void* efikexec_core_symbols_canary(std::size_t size) { return std::malloc(size); }
