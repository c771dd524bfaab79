// SPDX-License-Identifier: MIT
// Running an EFI image in the shim, isolated in a forked child: the child reserves the machine's
// physical address range, identity-maps the memory the image is given, answers the privileged
// instructions real stubs execute in ring 3, and ends by writing a report the parent reads. A
// crash, a hang or a wild write ends the child only; the parent and anything loaded before are
// untouched, and nothing of the run is used unless it reached ExitBootServices() cleanly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpu_context.h"
#include "efi_shim/memory.hpp"
#include "kexec/esp/esp_volume.hpp"
#include "kexec/common/host_error.hpp"
#include "kexec/machine/identity_memory.hpp"
#include "kexec/machine/machine.hpp"
#include "pe_loader/byte_view.hpp"

namespace efikexec::kexec {

struct RunRequest {
  ByteView image;                     // the (verified) image file
  std::string image_name = "image.efi";  // its file name on the shim's boot volume
  // Its full path on the boot volume ("\\EFI\\Linux\\NAME" when empty): what the image
  // sees as its LoadedImage FilePath (systemd-stub derives NAME.extra.d from it).
  std::string image_path;
  // Further files on the boot volume: their paths on it (`\` or `/` separated, directories made
  // as needed), e.g. a kernel's initrd= or the ESP's add-ons; the bytes stay the caller's. A
  // `refused` image fails LoadImage with EFI_ACCESS_DENIED when the machine's variables say
  // Secure Boot is on. The image itself is on the volume at its path too.
  struct BootFile {
    std::string name;
    ByteView data;
    bool refused = false;
  };
  std::vector<BootFile> boot_files;
  const char* label = nullptr;        // its name in traces (null: after what it is)
  std::optional<std::string> load_options;  // becomes LoadOptions (UCS-2)
  std::optional<ByteView> initrd;     // served through LoadFile2 on the initrd media path
  const Machine* machine = nullptr;
  bool trace = false;                 // record every service call
  bool echo_console = false;          // copy the image's console output to stderr as it comes
  unsigned timeout_seconds = 30;
  // Pages to set aside before the image runs, so the map it hands over already accounts for
  // them: the trampoline (loader code) and its page tables (loader data). 0: none.
  std::uint64_t handoff_code_pages = 0;
  std::uint64_t handoff_data_pages = 0;
};

enum class RunEnd {
  kExitBootServices,  // reached the handoff: the context and the final map are valid
  kReturned,          // the image's entry point returned
  kExited,            // the image called Exit()
  kReset,             // the image called ResetSystem()
  kHalted,            // the image executed HLT (the Linux stub's error path)
  kFault,             // a crash, an unsupported instruction, a bad pointer
  kTimeout,           // the time limit ran out
  kSetupFailed,       // the child could not build the environment
};
const char* run_end_name(RunEnd end);

// What the Linux EFI stub left in boot_params for the kernel (found in the run's memory).
struct BootParamsFacts {
  std::uint64_t address = 0;
  std::string command_line;
  std::uint64_t command_line_address = 0;
  std::uint64_t initrd_address = 0;
  std::uint64_t initrd_size = 0;
  // The members of the uncompressed cpio archives in that initrd (uki/cpio.hpp): what
  // systemd-stub added (credentials under .extra/, extensions, ...), at most kMaxInitrdMembers.
  struct InitrdMember {
    std::string name;
    std::uint64_t size = 0;
  };
  static constexpr std::size_t kMaxInitrdMembers = 256;
  std::vector<InitrdMember> initrd_members;
  bool initrd_members_cut = false;
  std::uint64_t efi_system_table = 0;
  std::uint64_t efi_memory_map = 0;
  std::uint64_t efi_memory_map_size = 0;
};

struct E820Entry {
  std::uint64_t start;
  std::uint64_t size;
  std::uint32_t type;  // E820_TYPE_*: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable, 7 PMEM
};

// A variable the image set during the run (SetVariable), as the parent read it from the report.
struct ImageVariable {
  std::string name;  // UTF-8; ends in "..." when the report cut it
  std::string guid;  // 8-4-4-4-12, lower case
  std::uint32_t attributes = 0;
  std::uint64_t size = 0;  // of the whole data
  // The data as text when it is a NUL-terminated UCS-2 string of printable characters (what
  // systemd's loader variables are); otherwise `hex` holds its first bytes.
  std::optional<std::string> text;
  std::string hex;
  bool data_cut = false;  // `hex` covers only the first bytes
};

struct RunOutcome {
  RunEnd end = RunEnd::kSetupFailed;
  std::uint64_t status = 0;        // EFI status returned, passed to Exit or ResetSystem
  std::string message;             // how it ended, in words
  std::string console;             // the image's console output
  std::vector<std::string> trace;  // one line per call with --trace
  double seconds_in_image = 0;     // wall time of the run in the child
  // The confinement steps this machine did not allow (docs/threat-model.md), in words.
  std::vector<std::string> confinement_skipped;
  // The variables the image set (for every end the child reported), in the order the store holds
  // them; `variables_cut` when it set more than the report keeps.
  std::vector<ImageVariable> variables_set;
  bool variables_cut = false;

  // Valid for kExitBootServices:
  efikexec_cpu_context context{};
  std::vector<efi::MemoryRange> final_map;
  // Each allocation on its own (the map merges neighbours of one type), when the child's list
  // was complete and every entry lies in allocated memory of the map; else empty.
  std::vector<efi::MemoryManager::Allocation> allocations;
  std::uint64_t system_table = 0;
  std::uint64_t image_handle = 0;
  // Where the image given to the run was mapped, as the child reported it (unchecked: the
  // image could have written it; handoff/liveness.hpp checks it against the map).
  std::uint64_t top_image_base = 0;
  std::optional<BootParamsFacts> boot_params;
  std::uint64_t handoff_code = 0;  // where the pages set aside for the handoff are
  std::uint64_t handoff_data = 0;
  std::vector<E820Entry> e820;     // the map as the Linux stub turns it into e820
  // The physical memory the image wrote (read it for kexec segments).
  std::unique_ptr<IdentityMemory> memory;
};

// The ESP snapshot's files as the run's boot volume files (views into the snapshot, which must
// live as long as the request), each add-on refused as its verdict says.
void add_esp_files(const EspSnapshot& snapshot, std::vector<RunRequest::BootFile>& files);

// Runs the image; an error (Stage::kRun) only when the run could not be started at all. How the
// image itself ended is in `outcome`.
HostStatus run_efi_image(const RunRequest& request, RunOutcome& outcome);

// The Linux stub's EFI-to-e820 translation (arch/x86/boot/compressed... setup_e820).
std::vector<E820Entry> e820_from_efi_map(const std::vector<efi::MemoryRange>& map);

}  // namespace efikexec::kexec
