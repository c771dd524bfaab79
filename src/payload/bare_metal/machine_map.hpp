// SPDX-License-Identifier: MIT
// The shim's machine memory map on bare metal, built from what the kernel that loaded the
// payload handed over (untrusted: any order, overlaps, zero sizes, partial pages, wrapping
// sizes) and from what the payload itself occupies:
//  - e820 RAM becomes conventional memory (partial pages left out), the other e820 types their
//    EFI types (partial pages widened); where entries overlap, the more restrictive type wins;
//  - the legacy area [0xA0000, 1 MiB) is never RAM, as firmware reports it; RAM below it stays
//    conventional for the next kernel's real-mode trampoline (the shim never allocates below
//    1 MiB);
//  - RAM the payload uses (`in_use`) becomes EfiLoaderData: never handed out, and RAM again for
//    the next kernel once it runs;
//  - the firmware's runtime regions keep their EFI type, gain EFI_MEMORY_RUNTIME and keep the
//    virtual address the first kernel gave them, whatever e820 said there.
#pragma once

#include <cstddef>
#include <cstdint>

#include "efi_shim/fixed_vector.hpp"
#include "efi_shim/memory.hpp"
#include "payload/bare_metal/run_uki.hpp"

namespace efikexec::payload {

inline constexpr std::uint64_t kLegacyAreaStart = 0xA0000;
inline constexpr std::uint64_t kLegacyAreaEnd = 0x100000;
// x86_64 physical addresses have at most 52 bits: anything above is not memory.
inline constexpr std::uint64_t kPhysicalLimit = std::uint64_t{1} << 52;

struct MachineMap {
  static constexpr std::size_t kMaxE820 = 512;
  static constexpr std::size_t kMaxInUse = 64;
  static constexpr std::size_t kMaxRuntime = 256;
  // Half of the shim's range table: the other half is room for the image's allocations.
  static constexpr std::size_t kMaxRanges = efi::MemoryManager::kMaxRanges / 2;

  // Sorted, disjoint, page aligned: the shim's `machine` map (runtime regions carry the
  // virtual address of their first page).
  efi::FixedVector<efi::MemoryRange, kMaxRanges> ranges;

  // Scratch of the build: every range edge, and the runtime regions as checked.
  efi::FixedVector<std::uint64_t, 2 * (kMaxE820 + kMaxInUse + kMaxRuntime) + 4> bounds;
  struct RuntimeSpan {
    std::uint64_t start;
    std::uint64_t end;
    const EfiRuntimeDescriptor* descriptor;
  };
  efi::FixedVector<RuntimeSpan, kMaxRuntime> runtime;
};

// The EFI type of an e820 type (unknown types are reserved, as Linux treats them).
std::uint32_t efi_type_of_e820(std::uint32_t e820_type);

// Fills `map` (cleared first). Errors name the input that cannot be used: too many entries, a
// runtime descriptor that is misaligned, wraps, has a type firmware never marks runtime, or
// overlaps another descriptor or memory the payload uses.
Result<void> build_machine_map(const BareMetalMachine& machine, MachineMap& map);

// The highest whole run of `pages` conventional pages between 1 MiB and 4 GiB (else above 4 GiB),
// retyped EfiBootServicesData in `map`; its address.
Result<std::uint64_t> set_aside(MachineMap& map, std::uint64_t pages);

}  // namespace efikexec::payload
