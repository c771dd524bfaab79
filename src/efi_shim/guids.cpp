// SPDX-License-Identifier: MIT
#include "efi_shim/guids.hpp"

namespace efikexec::efi::guids {

namespace {

struct Named {
  EFI_GUID guid;
  const char* name;
};

// Names as the OVMF reference traces print them, so traces of the shim compare line by line.
#define EFIKEXEC_GUID_NAME(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7, text) \
  {{d1, d2, d3, {b0, b1, b2, b3, b4, b5, b6, b7}}, text},
constexpr Named kNames[] = {
#include "efi_shim/guid_names.inc"
};
#undef EFIKEXEC_GUID_NAME

}  // namespace

const char* name(const EFI_GUID& guid) {
  for (const Named& entry : kNames)
    if (guid_equal(entry.guid, guid)) return entry.name;
  return nullptr;
}

}  // namespace efikexec::efi::guids
