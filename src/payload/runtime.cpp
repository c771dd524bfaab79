// SPDX-License-Identifier: MIT
// What the compiler expects from a C library in a freestanding program: the mem* functions and
// strlen (the core and BearSSL need nothing else), and the C++ ABI's pure virtual call handler.
// Written as byte loops: the compiler must not turn them back into calls to themselves
// (-fno-builtin on this file, see src/payload/sources.cmake).
#include <cstddef>

extern "C" {

[[noreturn]] void payload_halt();

void* memcpy(void* destination, const void* source, std::size_t size) {
  auto* d = static_cast<unsigned char*>(destination);
  const auto* s = static_cast<const unsigned char*>(source);
  while (size--) *d++ = *s++;
  return destination;
}

void* memmove(void* destination, const void* source, std::size_t size) {
  auto* d = static_cast<unsigned char*>(destination);
  const auto* s = static_cast<const unsigned char*>(source);
  if (d < s) {
    while (size--) *d++ = *s++;
  } else {
    while (size--) d[size] = s[size];
  }
  return destination;
}

void* memset(void* destination, int value, std::size_t size) {
  auto* d = static_cast<unsigned char*>(destination);
  while (size--) *d++ = static_cast<unsigned char>(value);
  return destination;
}

int memcmp(const void* a, const void* b, std::size_t size) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (; size--; ++x, ++y)
    if (*x != *y) return *x < *y ? -1 : 1;
  return 0;
}

void* memchr(const void* bytes, int value, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (; size--; ++p)
    if (*p == static_cast<unsigned char>(value)) return const_cast<unsigned char*>(p);
  return nullptr;
}

std::size_t strlen(const char* text) {
  std::size_t n = 0;
  while (text[n]) ++n;
  return n;
}

void __cxa_pure_virtual() { payload_halt(); }

}  // extern "C"
