// SPDX-License-Identifier: MIT
// PKCS#7 SignedData / SpcIndirectDataContent parsing (OpenSSL d2i plus efikexec's checks) over
// the bytes of one WIN_CERTIFICATE. Invariants: an accepted signature names a supported digest
// of the right length and a signer; checking its signature never crashes.
#include <cstddef>
#include <cstdint>

#include "fuzz_assert.hpp"
#include "kexec/verify/verify_signature.hpp"

using namespace efikexec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 0xffff) return 0;
  const pe::WinCertificate entry{0x1000, static_cast<std::uint32_t>(size + 8),
                                 ByteView(reinterpret_cast<const std::byte*>(data), size)};
  auto signature = kexec::parse_authenticode_signature(entry);
  if (!signature) {
    FUZZ_ASSERT(signature.error().message != nullptr);
    return 0;
  }
  FUZZ_ASSERT(signature->digest.size() == pe::digest_size(signature->digest_algorithm));
  FUZZ_ASSERT(signature->signer != nullptr);
  FUZZ_ASSERT(signature->signed_content.size() <= size);
  (void)kexec::signer_signature_verifies(*signature);
  return 0;
}
