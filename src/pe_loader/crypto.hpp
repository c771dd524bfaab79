// SPDX-License-Identifier: MIT
// The core's view of cryptography: digest algorithms by name and size, and a Hasher the host
// implements (OpenSSL in src/kexec/). The core only feeds bytes; it never allocates, owns or
// destroys a hasher, so the interface has a protected non-virtual destructor and no deleting
// destructor (the core must not reference operator delete).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "byte_view.hpp"

namespace efikexec::pe {

// The digest algorithms Authenticode signatures and EFI signature lists name (UEFI 2.10 §32.4.1).
enum class HashAlgorithm : std::uint8_t { kSha1, kSha256, kSha384, kSha512 };
inline constexpr std::size_t kHashAlgorithmCount = 4;
inline constexpr std::size_t kMaxDigestSize = 64;

constexpr std::size_t digest_size(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1: return 20;
    case HashAlgorithm::kSha256: return 32;
    case HashAlgorithm::kSha384: return 48;
    case HashAlgorithm::kSha512: return 64;
  }
  return 0;
}

constexpr const char* hash_algorithm_name(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1: return "sha1";
    case HashAlgorithm::kSha256: return "sha256";
    case HashAlgorithm::kSha384: return "sha384";
    case HashAlgorithm::kSha512: return "sha512";
  }
  return "unknown";
}

// Receives the bytes of a digest computation. update() is called once per hashed region, in
// order; the host's implementation may compute several algorithms in the same pass.
class Hasher {
 public:
  virtual void update(ByteView bytes) = 0;

 protected:
  Hasher() = default;
  Hasher(const Hasher&) = default;
  Hasher& operator=(const Hasher&) = default;
  ~Hasher() = default;
};

}  // namespace efikexec::pe
