// SPDX-License-Identifier: MIT
// The freestanding verifier's DER reader and Authenticode PKCS#7 SignedData parser
// (src/verifier) over the bytes of one WIN_CERTIFICATE. Invariants: every view the parser hands
// out lies inside the input; an accepted signature names a digest of its algorithm's length and
// a signer among its certificates; the DER walk and the parser agree on the outer element.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fuzz_assert.hpp"
#include "verifier/pkcs7.hpp"

using namespace efikexec;

namespace {

bool inside(ByteView part, ByteView whole) {
  return part.empty() || (part.data() >= whole.data() &&
                          part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 0xffff) return 0;
  const ByteView input(reinterpret_cast<const std::byte*>(data), size);
  // Framing alone: never deeper than the bound, offsets inside the input.
  if (auto framing = der::check_framing(input, 0x1000); !framing)
    FUZZ_ASSERT(framing.error().offset >= 0x1000 && framing.error().offset <= 0x1000 + size);

  static auto signature = std::make_unique<verifier::AuthenticodeSignature>();
  const pe::WinCertificate entry{0x1000, static_cast<std::uint32_t>(size + 8), input};
  auto parsed = verifier::parse_authenticode_signature(entry, *signature);
  if (!parsed) {
    FUZZ_ASSERT(parsed.error().message != nullptr);
    return 0;
  }
  FUZZ_ASSERT(signature->digest.size() == pe::digest_size(signature->digest_algorithm));
  FUZZ_ASSERT(inside(signature->digest, input));
  FUZZ_ASSERT(inside(signature->signed_content, input));
  FUZZ_ASSERT(inside(signature->encrypted_digest, input));
  FUZZ_ASSERT(signature->signer < signature->certificate_count);
  FUZZ_ASSERT(signature->certificate_count <= verifier::kMaxCarriedCertificates);
  if (signature->signed_attributes) FUZZ_ASSERT(inside(*signature->signed_attributes, input));
  if (signature->message_digest) FUZZ_ASSERT(inside(*signature->message_digest, input));
  for (const verifier::Certificate& certificate : signature->carried()) {
    FUZZ_ASSERT(inside(certificate.der, input));
    FUZZ_ASSERT(inside(certificate.tbs, certificate.der));
  }
  return 0;
}
