// SPDX-License-Identifier: MIT
// What of the run's memory the next kernel no longer reaches once ExitBootServices() returned,
// so that no kexec segment carries it. Three kinds of memory go:
//   - the pages of a UKI's own payload sections (.linux, .initrd, .ucode, .cmdline, ...:
//     uki::kUkiSectionNames) in the image the run was given. The stubs consume them before
//     ExitBootServices(): the Linux stub copies the initrd and the command line into
//     allocations of its own, and systemd-stub starts the kernel from an image LoadImage()
//     made of .linux;
//   - data allocations (LoaderData, BootServicesCode, BootServicesData): what systemd-stub
//     assembled for the Linux stub to copy (its combined initrd), the shim's LoadFile2 initrd,
//     pool nobody freed. Taken one by one from the run's list of allocations (the map merges
//     neighbours of one type); without that list, per range of the map.
//   - the kernel's compressed payload (setup header: payload_offset, payload_length) in the
//     image the resumed Linux stub runs from, when that stub decompressed the kernel before
//     ExitBootServices() (stubs with their own decompressor: 6.1 from 6.1.82, 6.12, 7.2). That
//     shows as a LoaderCode allocation of its own, at least the payload's size, that is no
//     image (no MZ header, not the image the code runs from, not the run's image). The legacy
//     flow, which reads the payload after ExitBootServices(), makes none: it decompresses in
//     place or relocates the kernel into LoaderData (efi_relocate_kernel). The payload's first
//     and last bytes must be the verified file's at one page-aligned base of the code's
//     allocation. The words of that allocation keep nothing of the payload (below): its only
//     reader, the decompressor, has finished, and the stub's strings read as addresses on small
//     machines ("mem=" is 0x3d6d656d).
// Each goes only when nothing the next kernel reaches points into it (the roots):
//   - the captured registers, and the stack below RSP's red zone;
//   - boot_params and what it names: the command line, the initrd, code32_start, the ACPI RSDP,
//     the EFI memory map, the system table and the setup_data chain;
//   - the configuration tables and their data;
//   - the handoff's own pages.
// Other code allocations (LoaderCode: the kernel's images, decompressed or relocated) and every
// firmware type (runtime, ACPI, reserved) always stay. Where the roots cannot all be read
// (no boot_params, a broken system table or setup_data chain), nothing goes. Left-out pages
// are free RAM to the next kernel, as its EFI memory map already says (all four types are
// usable RAM after ExitBootServices()).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "efi_shim/memory.hpp"
#include "kexec/common/physical_span.hpp"
#include "kexec/run/efi_run.hpp"
#include "pe_loader/pe_image.hpp"

namespace efikexec::kexec {

struct LeftOutSpan {
  std::string name;     // the UKI's sections ("+"-joined), or a memory type
  std::uint64_t start;  // whole pages
  std::uint64_t end;
};

// What of `run`'s memory no root reaches, in address order. `image` is the verified image the
// run was given; the child's word for where it lies (run.top_image_base) is taken only when
// the whole image lies in one allocated range there and begins with the image's own headers
// (otherwise its sections stay).
std::vector<LeftOutSpan> dead_after_exit_boot_services(const RunOutcome& run,
                                                       const pe::Image& image,
                                                       std::span<const PhysicalSpan> handoff);

// `map` with the pages of `dead` made free conventional memory.
std::vector<efi::MemoryRange> without_dead(const std::vector<efi::MemoryRange>& map,
                                           std::span<const LeftOutSpan> dead);

}  // namespace efikexec::kexec
