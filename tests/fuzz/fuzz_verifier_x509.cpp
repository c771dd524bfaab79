// SPDX-License-Identifier: MIT
// The freestanding verifier's X.509 certificate parser (src/verifier/x509). Invariants: an
// accepted certificate spans the whole input; its TBSCertificate, names and algorithms lie
// inside it; an RSA key is two minimal magnitudes; the CA rating is one OpenSSL can give; and
// parsing the TBSCertificate's own bytes as a certificate never succeeds.
#include <cstddef>
#include <cstdint>

#include "fuzz_assert.hpp"
#include "verifier/x509.hpp"

using namespace efikexec;

namespace {

bool inside(ByteView part, ByteView whole) {
  return part.empty() || (part.data() >= whole.data() &&
                          part.data() + part.size() <= whole.data() + whole.size());
}

bool minimal(ByteView magnitude) {
  return !magnitude.empty() && (magnitude.size() == 1 || magnitude.data()[0] != std::byte{0});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 0xffff) return 0;
  const ByteView input(reinterpret_cast<const std::byte*>(data), size);
  auto certificate = verifier::parse_certificate(input, 0x2000);
  if (!certificate) {
    FUZZ_ASSERT(certificate.error().message != nullptr);
    FUZZ_ASSERT(certificate.error().offset >= 0x2000 && certificate.error().offset <= 0x2000 + size);
    return 0;
  }
  FUZZ_ASSERT(certificate->der.data() == input.data() && certificate->der.size() == size);
  FUZZ_ASSERT(inside(certificate->tbs, certificate->der));
  FUZZ_ASSERT(inside(certificate->issuer, certificate->tbs));
  FUZZ_ASSERT(inside(certificate->subject, certificate->tbs));
  FUZZ_ASSERT(inside(certificate->tbs_signature_algorithm, certificate->tbs));
  FUZZ_ASSERT(inside(certificate->signature, certificate->der));
  if (certificate->rsa_key) {
    FUZZ_ASSERT(minimal(certificate->rsa_key->modulus));
    FUZZ_ASSERT(minimal(certificate->rsa_key->exponent));
    FUZZ_ASSERT(inside(certificate->rsa_key->modulus, certificate->tbs));
  }
  const int rating = verifier::ca_rating(*certificate);
  FUZZ_ASSERT(rating == 0 || rating == 1 || rating == 3 || rating == 4);
  FUZZ_ASSERT(!verifier::parse_certificate(certificate->tbs).has_value());
  return 0;
}
