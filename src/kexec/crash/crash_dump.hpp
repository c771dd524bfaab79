// SPDX-License-Identifier: MIT
// Crash kernels (`efikexec load -p`, docs/kdump.md): what the running kernel says about its
// crashkernel= reservation and its memory, the ELF core headers the crash kernel's /proc/vmcore
// starts from, and the view of the machine the image runs against so that everything it
// allocates lies inside the reservation.
//
// The headers are built as kexec-tools 2.0.32 builds them for `kexec -p` (kexec/crashdump-elf.c,
// kexec/arch/i386/crashdump-x86.c): one PT_NOTE per CPU at its crash_notes, one for VMCOREINFO,
// a PT_LOAD for the kernel's text, and a PT_LOAD per range of System RAM minus the reservation,
// the first 640 KiB read from the backup the trampoline makes of them at the crash (kexec-tools'
// purgatory makes the same backup).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kexec/common/host_error.hpp"
#include "kexec/crash/crash_facts.hpp"
#include "kexec/machine/machine.hpp"
#include "kexec/run/efi_run.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::kexec {

// Reads the facts of the running kernel under `root` ("" for this system; tests give a tree).
// Failures are Stage::kMachine and say what is missing: no reservation (boot with
// crashkernel=), addresses hidden from non-root readers, no crash_notes.
HostResult<CrashFacts> discover_crash_facts(const std::string& root = "");
HostResult<CrashFacts> crash_facts_from_json(const nlohmann::json& description);
nlohmann::json crash_facts_to_json(const CrashFacts& facts);

// The first 640 KiB, which the crash kernel gets as RAM (its real-mode trampoline must live
// below 1 MiB) after the trampoline copied them to the backup.
inline constexpr std::uint64_t kCrashBackupSourceSize = 640 * 1024;

// Where the crash handoff's own pages go: the top of the reservation, carved out before the image
// runs so that the map it reads (and the crash kernel's e820) already has them reserved.
struct CrashLayout {
  PhysicalSpan headers;  // the ELF core headers (elfcorehdr=)
  PhysicalSpan backup;   // the old kernel's first 640 KiB, copied at the crash
};
HostResult<CrashLayout> plan_crash_layout(const CrashFacts& facts);

// The ELF core headers for `layout`, padded to whole pages.
HostResult<std::vector<std::byte>> build_elf_core_headers(const CrashFacts& facts,
                                                          const CrashLayout& layout);

// `machine` as the image sees it for a crash load: RAM outside the reservation, and the
// layout's pages, are reserved, so every allocation lies inside the reservation.
Machine crash_machine_view(const Machine& machine, const CrashFacts& facts,
                           const CrashLayout& layout);

// The RAM of `machine` inside the first 640 KiB: what the crash kernel gets there.
std::vector<PhysicalSpan> low_ram(const Machine& machine);

// What the crash kernel gets beyond what the image left for it, written into boot_params after
// the run (docs/kdump.md says why there, and what that means for measurements).
struct CrashRequest {
  std::optional<std::string> append;  // added after the image's command line
  // A kdump initrd that replaces the one the image left (a UKI's own; an initrd for an EFI-stub
  // kernel goes to the stub through LoadFile2 instead), and the pages set aside for it.
  ByteView initrd;
  std::uint64_t initrd_page = 0;
  std::uint64_t command_line_page = 0;  // set aside for the new command line
  std::uint64_t command_line_capacity = 0;
  std::uint64_t command_line_limit = 0;  // the kernel's cmdline_size: the longest it takes
};

struct CrashHandoff {
  PhysicalSpan reservation{};
  std::uint64_t elfcorehdr = 0;
  std::uint64_t elfcorehdr_size = 0;
  PhysicalSpan backup{};
  std::string command_line;  // the crash kernel's
  std::optional<PhysicalSpan> initrd;  // the kdump initrd, when it replaced the image's
  std::size_t e820_entries = 0;
};

// After the run reached ExitBootServices(): writes the core headers at their pages, and into the
// boot_params the Linux stub left (read back as hostile: it must lie in memory the run
// allocated) `elfcorehdr=` before the command line and `append` after it, the first 640 KiB as
// RAM in the e820 table, and the kdump initrd. Failures are Stage::kPlan.
HostResult<CrashHandoff> hand_over_crash(const Machine& machine, const CrashFacts& facts,
                                         const CrashLayout& layout,
                                         std::span<const std::byte> headers,
                                         const CrashRequest& request, RunOutcome& run);

nlohmann::json crash_handoff_json(const CrashHandoff& handoff);

}  // namespace efikexec::kexec
