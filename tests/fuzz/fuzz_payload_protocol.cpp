// SPDX-License-Identifier: MIT
// The payload protocol's command line and bundle cut (src/payload/protocol.hpp): any text either
// parses into sizes that split_bundle then checks against a ramdisk, or is refused.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_assert.hpp"
#include "payload/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace efikexec;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto request = payload::parse_protocol_command_line(text);
  if (!request) return 0;
  FUZZ_ASSERT(request->uki_size != 0);
  FUZZ_ASSERT(request->command_line.empty() ||
              (request->command_line.data() >= text.data() &&
               request->command_line.data() + request->command_line.size() <= text.data() + size));
  // A ramdisk as long as the input: the cut stays inside it or is refused.
  const std::vector<std::byte> ramdisk(size);
  const ByteView view(ramdisk.data(), ramdisk.size());
  auto bundle = payload::split_bundle(view, *request);
  if (!bundle) return 0;
  FUZZ_ASSERT(bundle->uki.data() == ramdisk.data() && bundle->uki.size() == request->uki_size);
  FUZZ_ASSERT(bundle->extra_initrd.size() == request->initrd_size);
  if (!bundle->extra_initrd.empty())
    FUZZ_ASSERT(bundle->extra_initrd.data() + bundle->extra_initrd.size() <=
                ramdisk.data() + ramdisk.size());
  return 0;
}
