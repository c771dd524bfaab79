// SPDX-License-Identifier: MIT
// EFI_SIGNATURE_LIST walking, plain or behind an EFI_VARIABLE_AUTHENTICATION_2 header.
// Invariants: every entry lies inside the input, fixed-size types have their size, and the
// validating count equals the number of entries a reader returns.
#include <cstddef>
#include <cstdint>

#include "fuzz_assert.hpp"
#include "pe_loader/signature_list.hpp"

using namespace efikexec;

namespace {

void walk(ByteView lists) {
  auto count = pe::validate_signature_lists(lists);
  pe::SignatureListReader reader(lists);
  std::size_t seen = 0;
  for (;;) {
    auto entry = reader.next();
    if (!entry) {
      FUZZ_ASSERT(!count);
      return;
    }
    if (!*entry) break;
    const pe::SignatureEntry& signature = **entry;
    FUZZ_ASSERT(signature.data.data() >= lists.data());
    FUZZ_ASSERT(signature.data.data() + signature.data.size() <= lists.data() + lists.size());
    FUZZ_ASSERT(!signature.data.empty());
    if (signature.type.kind == pe::SignatureKind::kImageHash)
      FUZZ_ASSERT(signature.data.size() == pe::digest_size(signature.type.algorithm));
    ++seen;
  }
  FUZZ_ASSERT(count && *count == seen);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView bytes(reinterpret_cast<const std::byte*>(data), size);
  walk(bytes);
  if (auto payload = pe::authenticated_variable_payload(bytes)) {
    FUZZ_ASSERT(payload->data() + payload->size() == bytes.data() + size);
    walk(*payload);
  }
  return 0;
}
