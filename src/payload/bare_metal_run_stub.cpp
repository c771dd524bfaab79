// SPDX-License-Identifier: MIT
// TEMPORARY stand-in while src/payload/bare_metal/ does not exist (src/payload/sources.cmake
// picks it only then): the payload verifies the UKI and then reports that it cannot run it yet.
// Remove this file and bare_metal_run_stub/ together with that condition.
#include "payload/bare_metal/run_uki.hpp"

namespace efikexec::payload {

Error run_uki_on_bare_metal(const BareMetalMachine&, const BareMetalRequest&,
                            SerialConsole& console) {
  console.write("EFIKEXEC-PAYLOAD: running the UKI on bare metal is not built in\n");
  return Error{ErrorCode::kUnsupported, "running the UKI on bare metal is not built in"};
}

}  // namespace efikexec::payload
