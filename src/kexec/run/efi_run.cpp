// SPDX-License-Identifier: MIT
#include "kexec/run/efi_run.hpp"

#include "uki/boot_params_offsets.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>
#include <tuple>

#include "efi_shim/guids.hpp"
#include "efi_shim/shim.hpp"
#include "kexec/run/child_report.hpp"
#include "uki/cpio.hpp"
#include "kexec/run/confinement.hpp"
#include "efi_call_runner.hpp"
#include "privileged.hpp"

extern "C" {
// arch/x86_64
EFI_STATUS EFIAPI efikexec_exit_boot_services_entry(EFI_HANDLE image, UINTN map_key);
extern void* efikexec_exit_boot_services_handler;
extern efikexec_cpu_context efikexec_captured_context;
extern const std::uint8_t efikexec_runtime_stub_start[];
extern const std::uint8_t efikexec_runtime_stub_end[];
}

namespace efikexec::kexec {

namespace {

constexpr std::size_t kMessageSize = kReportMessageSize;
constexpr std::size_t kConsoleSize = kReportConsoleSize;
constexpr std::size_t kTraceSize = kReportTraceSize;
constexpr std::size_t kVariableStorage = 4 << 20;
constexpr std::uint64_t kStackPages = 128;  // 512 KiB: the image's stack and the shim's frames

using SharedReport = ChildReport;

// ---- The child's world (one run per process: the signal handler reaches it through these) ----

SharedReport* g_report = nullptr;
efi::Shim* g_shim = nullptr;
timespec g_started{};
bool g_echo = false;

double seconds_since_start() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec - g_started.tv_sec) +
         static_cast<double>(now.tv_nsec - g_started.tv_nsec) / 1e9;
}

void append(char* buffer, std::uint64_t capacity, std::uint64_t& used, std::string_view text) {
  const std::uint64_t room = capacity - used;
  const std::uint64_t count = std::min<std::uint64_t>(room, text.size());
  std::memcpy(buffer + used, text.data(), count);
  used += count;
}

// The variables the image set, copied into the report; the count is written after them (no
// allocation: finish() may run in the fault handler).
void report_variables(SharedReport& report) {
  if (g_shim == nullptr) return;
  std::uint32_t count = 0;
  const std::size_t set = g_shim->variables().for_each_set_during_run(
      [&](const efi::VariableStore::VariableView& view) {
        if (count == kReportVariables) return;
        ReportVariable& out = report.variables[count++];
        const std::size_t chars = std::min(view.name.size(), kReportVariableNameChars);
        std::memcpy(out.name, view.name.data(), chars * sizeof(CHAR16));
        out.name[chars] = 0;
        out.name_cut = view.name.size() > chars ? 1 : 0;
        std::memcpy(out.guid, &view.guid, sizeof out.guid);
        out.attributes = view.attributes;
        out.size = static_cast<std::uint32_t>(view.data.size());
        out.data_used = static_cast<std::uint32_t>(std::min(view.data.size(), kReportVariableData));
        std::memcpy(out.data, view.data.data(), out.data_used);
      });
  report.variable_count = count;
  report.variables_cut = set > count ? 1 : 0;
}

[[noreturn]] void finish(RunEnd end, std::uint64_t status, std::string_view message) {
  SharedReport& report = *g_report;
  report.end = end;
  report.status = status;
  report.seconds = seconds_since_start();
  const std::size_t length = std::min(message.size(), kMessageSize - 1);
  std::memcpy(report.message, message.data(), length);
  report.message[length] = '\0';
  __atomic_store_n(&report.ended, 1, __ATOMIC_RELEASE);
  // Last, and counted only once copied (the parent reads the report after the child is gone):
  // should the image have broken the store so that reading it faults, the report stands without
  // its variables.
  report_variables(report);
  _exit(0);
}

class LinuxClock final : public efi::Clock {
 public:
  std::uint64_t monotonic_ns() override {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(now.tv_nsec);
  }
  bool wall_clock(EFI_TIME& time) override {
    timespec now{};
    tm utc{};
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &utc) == nullptr)
      return false;
    time = EFI_TIME{};
    time.Year = static_cast<UINT16>(utc.tm_year + 1900);
    time.Month = static_cast<UINT8>(utc.tm_mon + 1);
    time.Day = static_cast<UINT8>(utc.tm_mday);
    time.Hour = static_cast<UINT8>(utc.tm_hour);
    time.Minute = static_cast<UINT8>(utc.tm_min);
    time.Second = static_cast<UINT8>(utc.tm_sec);
    time.Nanosecond = static_cast<UINT32>(now.tv_nsec);
    time.TimeZone = EFI_UNSPECIFIED_TIMEZONE;
    return true;
  }
  void sleep_us(std::uint64_t microseconds) override {
    timespec delay{static_cast<time_t>(microseconds / 1000000),
                   static_cast<long>(microseconds % 1000000) * 1000};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
    }
  }
};

class LinuxRandom final : public efi::Random {
 public:
  bool fill(std::span<std::byte> out) override {
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
};

class ReportConsole final : public efi::Console {
 public:
  void write(std::string_view utf8) override {
    append(g_report->console, kConsoleSize, g_report->console_used, utf8);
    if (g_echo) (void)!::write(STDERR_FILENO, utf8.data(), utf8.size());
  }
};

class ReportTrace final : public efi::TraceSink {
 public:
  void line(std::string_view text) override {
    append(g_report->trace, kTraceSize, g_report->trace_used, text);
    append(g_report->trace, kTraceSize, g_report->trace_used, "\n");
  }
};

class ChildRunEnd final : public efi::RunEndSink {
 public:
  [[noreturn]] void boot_services_exited(EFI_HANDLE image) override {
    SharedReport& report = *g_report;
    report.context = efikexec_captured_context;
    report.system_table = reinterpret_cast<std::uint64_t>(g_shim->system_table());
    report.image_handle = reinterpret_cast<std::uint64_t>(image);
    auto ranges = g_shim->memory().ranges();
    report.range_count = static_cast<std::uint32_t>(ranges.size());
    std::copy(ranges.begin(), ranges.end(), report.ranges);
    auto allocations = g_shim->memory().allocations();
    report.allocation_count = static_cast<std::uint32_t>(allocations.size());
    report.allocations_complete = g_shim->memory().allocations_complete() ? 1 : 0;
    std::copy(allocations.begin(), allocations.end(), report.allocations);
    finish(RunEnd::kExitBootServices, EFI_SUCCESS, "ExitBootServices() reached");
  }
  [[noreturn]] void end_run(const char* reason, EFI_STATUS status) override {
    finish(RunEnd::kReset, status, reason);
  }
};

// Where an address is, in words, for fault reports.
std::string where(std::uint64_t address) {
  efi::Text text;
  if (g_shim != nullptr) g_shim->describe_address(text, address);
  return std::string(text.view());
}

const int kGregOf[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                         REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

void on_fault(int signal, siginfo_t* info, void* raw_context) {
  auto* context = static_cast<ucontext_t*>(raw_context);
  greg_t* gregs = context->uc_mcontext.gregs;
  const auto rip = static_cast<std::uint64_t>(gregs[REG_RIP]);
  const bool in_image = g_shim != nullptr && g_shim->memory().is_allocated(rip, 1);
  char text[512];

  // Ring 3 realities: a privileged instruction arrives as a general protection fault, which the
  // kernel reports as SIGSEGV from the kernel itself (not a page fault with an address).
  const bool general_protection = signal == SIGSEGV && info->si_code == SI_KERNEL;
  if (in_image && (general_protection || signal == SIGILL)) {
    std::uint8_t code[15];
    std::size_t available = 0;
    while (available < sizeof code && g_shim->memory().is_allocated(rip + available, 1)) {
      code[available] = *reinterpret_cast<const std::uint8_t*>(rip + available);
      ++available;
    }
    arch::TrapRegisters registers{};
    for (int i = 0; i < 16; ++i) registers.gpr[i] = static_cast<std::uint64_t>(gregs[kGregOf[i]]);
    registers.rip = rip;
    const arch::TrapResult trap = arch::emulate_privileged_instruction(registers, code, available);
    if (trap.outcome == arch::TrapOutcome::kEmulated) {
      for (int i = 0; i < 16; ++i) gregs[kGregOf[i]] = static_cast<greg_t>(registers.gpr[i]);
      gregs[REG_RIP] = static_cast<greg_t>(registers.rip);
      return;
    }
    if (trap.outcome == arch::TrapOutcome::kHalted) {
      std::snprintf(text, sizeof text, "the image halted (hlt at %s): its own error path",
                    where(rip).c_str());
      finish(RunEnd::kHalted, 0, text);
    }
    std::snprintf(text, sizeof text,
                  "the image executed an unsupported instruction at %s (%s; bytes %02x %02x %02x "
                  "%02x)",
                  where(rip).c_str(), trap.instruction, available > 0 ? code[0] : 0,
                  available > 1 ? code[1] : 0, available > 2 ? code[2] : 0,
                  available > 3 ? code[3] : 0);
    finish(RunEnd::kFault, 0, text);
  }
  const char* service = g_shim != nullptr ? g_shim->current_service() : nullptr;
  if (signal == SIGSYS) {  // the confinement's filter refused a system call
    const auto after = reinterpret_cast<std::uint64_t>(info->si_call_addr);
    const bool from_image = g_shim != nullptr && g_shim->memory().is_allocated(after - 2, 1);
    if (from_image)
      std::snprintf(text, sizeof text, "system call %s refused at %s: the image may make none",
                    system_call_name(info->si_syscall).c_str(), where(after - 2).c_str());
    else
      std::snprintf(text, sizeof text,
                    "system call %s refused in the shim%s%s: not one the run may make",
                    system_call_name(info->si_syscall).c_str(), service ? " during " : "",
                    service ? service : "");
    finish(RunEnd::kFault, 0, text);
  }
  if (!in_image && service != nullptr) {
    std::snprintf(text, sizeof text,
                  "%s was handed a bad pointer: %s at address 0x%llx", service,
                  strsignal(signal), static_cast<unsigned long long>(
                                         reinterpret_cast<std::uintptr_t>(info->si_addr)));
    finish(RunEnd::kFault, 0, text);
  }
  std::snprintf(text, sizeof text, "the image crashed at %s: %s accessing 0x%llx",
                where(rip).c_str(), strsignal(signal),
                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(info->si_addr)));
  finish(RunEnd::kFault, 0, text);
}

HostStatus install_fault_handlers() {
  constexpr std::size_t kAltStack = 256 * 1024;
  void* memory = mmap(nullptr, kAltStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
  stack_t alternate{};
  alternate.ss_sp = memory;
  alternate.ss_size = kAltStack;
  if (memory == MAP_FAILED || sigaltstack(&alternate, nullptr) != 0)
    return host_fail_errno(Stage::kRun, "cannot set up the fault handler stack", {});
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS})
    if (sigaction(signal, &action, nullptr) != 0)
      return host_fail_errno(Stage::kRun, "cannot install the fault handlers", {});
  return {};
}

std::u16string to_ucs2(std::string_view text) {
  std::u16string out;
  for (unsigned char c : text) out.push_back(c < 0x80 ? c : u'?');
  return out;
}

[[noreturn]] void child_main(const RunRequest& request, IdentityMemory& memory) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  clock_gettime(CLOCK_MONOTONIC, &g_started);
  g_echo = request.echo_console;
  auto set_up = [](HostStatus step) {
    if (!step) finish(RunEnd::kSetupFailed, 0, step.error().message());
  };
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ram;
  for (const MachineRange& range : request.machine->ranges)
    if (range.kind == RangeKind::kRam) ram.emplace_back(range.start, range.end);
  set_up(memory.reserve(ram));
  for (const TableCopy& table : request.machine->tables)
    set_up(memory.place_read_only(table.address, table.bytes));
  set_up(install_fault_handlers());

  static LinuxClock clock;
  static LinuxRandom random;
  static ReportConsole console;
  static ReportTrace trace;
  static arch::EfiCallRunner runner;
  static ChildRunEnd run_end;
  static std::byte variable_storage[kVariableStorage];
  auto* shim = new efi::Shim();
  g_shim = shim;

  std::vector<efi::ConfigurationTableEntry> tables;
  const Machine& machine = *request.machine;
  if (machine.acpi20_rsdp) tables.push_back({efi::guids::kAcpi20Table, *machine.acpi20_rsdp});
  if (machine.acpi10_rsdp) tables.push_back({efi::guids::kAcpi10Table, *machine.acpi10_rsdp});
  if (machine.smbios) tables.push_back({efi::guids::kSmbiosTable, *machine.smbios});
  if (machine.smbios3) tables.push_back({efi::guids::kSmbios3Table, *machine.smbios3});
  const std::vector<efi::MemoryRange> ranges = machine.efi_ranges();
  efikexec_exit_boot_services_handler = reinterpret_cast<void*>(&efi::exit_boot_services_handler);

  efi::ShimConfig config{};
  config.machine = ranges;
  config.runtime_stub_code = {reinterpret_cast<const std::byte*>(efikexec_runtime_stub_start),
                              static_cast<std::size_t>(efikexec_runtime_stub_end -
                                                       efikexec_runtime_stub_start)};
  config.exit_boot_services_entry = efikexec_exit_boot_services_entry;
  config.firmware_tables = tables;
  config.variable_storage = variable_storage;
  config.stack_pages = kStackPages;
  efi::ShimHost host{&memory, &clock, &random, &console, request.trace ? &trace : nullptr,
                     &runner, &run_end};
  if (auto ready = shim->init(config, host); !ready)
    finish(RunEnd::kSetupFailed, 0, std::string("cannot build the EFI environment: ") +
                                        ready.error().message);
  // The handoff's own pages, before the image can take the memory map apart.
  for (auto [pages, type, slot] :
       {std::tuple{request.handoff_code_pages, EfiLoaderCode, &g_report->handoff_code},
        std::tuple{request.handoff_data_pages, EfiLoaderData, &g_report->handoff_data}}) {
    if (pages == 0) continue;
    EFI_PHYSICAL_ADDRESS address = 0;
    if (shim->memory().allocate_pages(AllocateAnyPages, type, pages, &address) != EFI_SUCCESS)
      finish(RunEnd::kSetupFailed, 0, "no memory for the handoff's pages");
    *slot = address;
  }
  for (const FirmwareVariable& variable : machine.variables)
    (void)shim->variables().load_snapshot_variable(
        {reinterpret_cast<const CHAR16*>(variable.name.data()), variable.name.size()},
        variable.guid, variable.attributes, {reinterpret_cast<const std::byte*>(
                                                 variable.data.data()), variable.data.size()});

  const std::string image_path = request.image_path.empty()
                                     ? "\\EFI\\Linux\\" + request.image_name
                                     : request.image_path;
  static VolumeBuilder volume;  // lives as long as the run
  // The image first: no other file can take its path.
  if (auto added = volume.add_file(image_path, request.image); !added)
    finish(RunEnd::kSetupFailed, 0, "cannot build the boot volume: " + added.error().message());
  for (const RunRequest::BootFile& file : request.boot_files) {
    auto added = volume.add_file(file.name, file.data, file.refused);
    if (!added)
      finish(RunEnd::kSetupFailed, 0, "cannot build the boot volume: " + added.error().message());
    if (!*added)
      finish(RunEnd::kSetupFailed, 0,
             "cannot build the boot volume: " + file.name + " is there twice, or is the image");
  }
  if (auto assigned = shim->set_boot_volume(volume.nodes(), secure_boot_enabled(machine));
      !assigned)
    finish(RunEnd::kSetupFailed, 0,
           std::string("cannot build the boot volume: ") + assigned.error().message);
  const std::u16string path = to_ucs2(image_path);
  EFI_HANDLE handle = nullptr;
  EFI_STATUS status = shim->load_image(request.image,
                                       reinterpret_cast<const CHAR16*>(path.c_str()),
                                       request.label, &handle);
  if (status != EFI_SUCCESS)
    finish(RunEnd::kSetupFailed, status, "LoadImage() of the image failed");
  if (const efi::LoadedImageRecord* record = shim->images().find(handle))
    g_report->top_image_base = record->base;
  if (request.load_options) {
    const std::u16string options = to_ucs2(*request.load_options);
    status = shim->set_load_options(handle, reinterpret_cast<const CHAR16*>(options.c_str()),
                                    options.size());
    if (status != EFI_SUCCESS) finish(RunEnd::kSetupFailed, status, "cannot set LoadOptions");
  }
  if (request.initrd && shim->install_initrd(*request.initrd) != EFI_SUCCESS)
    finish(RunEnd::kSetupFailed, 0, "cannot install the initrd");

  tzset();  // the time services' zone data, read now: the confined run can open no file
  auto confined = confine({memory.fd(), true, memory.top()});
  if (!confined)
    finish(RunEnd::kSetupFailed, 0, "cannot confine the run: " + confined.error().message());
  g_report->confinement_skipped = confined->skipped;
  std::memcpy(g_report->confinement_errno, confined->skipped_errno,
              sizeof g_report->confinement_errno);

  UINTN exit_data_size = 0;
  CHAR16* exit_data = nullptr;
  status = shim->start_image(handle, &exit_data_size, &exit_data);
  const bool exited = shim->images().last_start_exited();
  char text[128];
  std::snprintf(text, sizeof text, "the image %s with status 0x%llx",
                exited ? "called Exit()" : "returned",
                static_cast<unsigned long long>(status));
  finish(exited ? RunEnd::kExited : RunEnd::kReturned, status, text);
}

// The cpio members of the initrd the Linux stub hands on (read back from the run's memory:
// untrusted, parsed by the core's bounded cpio reader).
void list_initrd_members(const IdentityMemory& memory, BootParamsFacts& facts) {
  constexpr std::uint64_t kMaxListed = 512ull << 20;
  if (facts.initrd_size == 0 || facts.initrd_size > kMaxListed) return;
  std::vector<std::byte> initrd(facts.initrd_size);
  if (!memory.read(facts.initrd_address, initrd)) return;
  std::vector<uki::CpioMember> members(BootParamsFacts::kMaxInitrdMembers);
  auto listed = uki::list_cpio_members(ByteView(initrd.data(), initrd.size()), members);
  std::size_t count = members.size();
  if (listed) count = *listed;
  else facts.initrd_members_cut = true;
  for (std::size_t i = 0; i < count; ++i)
    facts.initrd_members.push_back({std::string(members[i].name), members[i].size});
}

std::optional<BootParamsFacts> find_boot_params(const IdentityMemory& memory,
                                                const std::vector<efi::MemoryRange>& map,
                                                std::uint64_t system_table) {
  // The Linux stub allocates boot_params as LoaderData pages and, just before
  // ExitBootServices(), fills efi_info (0x1c0): the "EL64" signature and our system table.
  std::byte page[efi::kPageSize];
  for (const efi::MemoryRange& range : map) {
    if (range.type != EfiLoaderData) continue;
    for (std::uint64_t at = range.start; at < range.end(); at += efi::kPageSize) {
      if (!memory.read(at, page)) break;
      auto u32 = [&](std::size_t offset) {
        std::uint32_t value;
        std::memcpy(&value, page + offset, 4);
        return std::uint64_t{value};
      };
      using namespace uki::boot_params_offsets;
      if (std::memcmp(page + kEfiLoaderSignature, "EL64", 4) != 0 ||
          (u32(kEfiSystab) | (u32(kEfiSystabHi) << 32)) != system_table)
        continue;
      BootParamsFacts facts;
      facts.address = at;
      facts.initrd_address = u32(kRamdiskImage) | (u32(kExtRamdiskImage) << 32);
      facts.initrd_size = u32(kRamdiskSize) | (u32(kExtRamdiskSize) << 32);
      facts.efi_system_table = u32(kEfiSystab) | (u32(kEfiSystabHi) << 32);
      facts.efi_memory_map = u32(kEfiMemmap) | (u32(kEfiMemmapHi) << 32);
      facts.efi_memory_map_size = u32(kEfiMemmapSize);
      list_initrd_members(memory, facts);
      const std::uint64_t cmdline = u32(kCmdLinePtr) | (u32(kExtCmdLinePtr) << 32);
      facts.command_line_address = cmdline;
      if (cmdline != 0) {
        std::vector<char> text(4096);
        if (memory.read(cmdline, std::as_writable_bytes(std::span(text))))
          facts.command_line.assign(text.data(), strnlen(text.data(), text.size()));
      }
      return facts;
    }
  }
  return std::nullopt;
}

}  // namespace

void add_esp_files(const EspSnapshot& snapshot, std::vector<RunRequest::BootFile>& files) {
  for (const EspItem& item : snapshot.items)
    files.push_back({item.path, ByteView(item.bytes.data(), item.bytes.size()),
                     item.accepted.has_value() && !*item.accepted});
}

const char* run_end_name(RunEnd end) {
  switch (end) {
    case RunEnd::kExitBootServices: return "exit-boot-services";
    case RunEnd::kReturned: return "returned";
    case RunEnd::kExited: return "exit";
    case RunEnd::kReset: return "reset";
    case RunEnd::kHalted: return "halted";
    case RunEnd::kFault: return "crash";
    case RunEnd::kTimeout: return "timeout";
    case RunEnd::kSetupFailed: return "setup-failed";
  }
  return "unknown";
}

std::vector<E820Entry> e820_from_efi_map(const std::vector<efi::MemoryRange>& map) {
  std::vector<E820Entry> out;
  for (const efi::MemoryRange& range : map) {
    std::uint32_t type;
    switch (range.type) {
      case EfiACPIReclaimMemory: type = 3; break;
      case EfiACPIMemoryNVS: type = 4; break;
      case EfiUnusableMemory: type = 5; break;
      case 14: type = 7; break;  // EfiPersistentMemory
      case EfiLoaderCode:
      case EfiLoaderData:
      case EfiBootServicesCode:
      case EfiBootServicesData:
      case EfiConventionalMemory:
      case 15: type = 1; break;  // EfiUnacceptedMemory is accepted RAM to e820
      default: type = 2; break;
    }
    if (!out.empty() && out.back().type == type &&
        out.back().start + out.back().size == range.start) {
      out.back().size += efi::pages_to_bytes(range.pages);
      continue;
    }
    out.push_back({range.start, efi::pages_to_bytes(range.pages), type});
  }
  return out;
}

HostStatus run_efi_image(const RunRequest& request, RunOutcome& outcome) {
  outcome = RunOutcome{};
  auto memory = std::make_unique<IdentityMemory>();
  const std::uint64_t top = std::max<std::uint64_t>(request.machine->top_of_address_space(),
                                                    std::uint64_t{1} << 32);
  if (auto created = memory->create(top); !created) return created;
  void* shared = mmap(nullptr, sizeof(SharedReport), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return host_fail_errno(Stage::kRun, "cannot create the run report", {});
  // Default-initialized, not value-initialized: that would write, and so fault in, the whole
  // 17 MiB of the console and trace buffers (4,400 page faults, a tenth of a second in an
  // emulated guest) for a report that uses a few pages of them. Fresh anonymous pages read as
  // zero; what the parent reads whatever the child did is set here.
  auto* report = new (shared) SharedReport;
  report->ended = 0;
  report->console_used = 0;
  report->trace_used = 0;
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) {
    auto failure = host_fail_errno(Stage::kRun, "cannot start the run", {});
    munmap(shared, sizeof(SharedReport));
    return failure;
  }
  if (child == 0) {
    g_report = report;
    child_main(request, *memory);
  }

  // The parent only waits: the time limit is kept here, where the image cannot interfere.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(request.timeout_seconds);
  int wait_status = 0;
  bool timed_out = false;
  for (;;) {
    const pid_t done = waitpid(child, &wait_status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(child, SIGKILL);
      waitpid(child, &wait_status, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  read_child_output(*report, outcome);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ram;
  for (const MachineRange& range : request.machine->ranges)
    if (range.kind == RangeKind::kRam) ram.emplace_back(range.start, range.end);
  const ReportLimits limits{ram, memory->top(), request.handoff_code_pages,
                            request.handoff_data_pages};
  const std::uint32_t ended = __atomic_load_n(&report->ended, __ATOMIC_ACQUIRE);
  if (timed_out) {
    outcome.end = RunEnd::kTimeout;
    outcome.message = "the image did not finish within " +
                      std::to_string(request.timeout_seconds) + " s and was stopped";
  } else if (ended == 0) {
    outcome.end = RunEnd::kFault;
    outcome.message = WIFSIGNALED(wait_status)
                          ? std::string("the run was killed by ") + strsignal(WTERMSIG(wait_status))
                          : "the run ended without a report";
  } else if (auto read = ended == 1 ? read_child_report(*report, limits, outcome)
                                      : host_fail(Stage::kRun, "its end mark is corrupt");
             !read) {
    outcome.end = RunEnd::kFault;
    outcome.message = "the run's report was overwritten and is not used: " + read.error().reason;
  }
  if (outcome.end == RunEnd::kExitBootServices) {
    outcome.e820 = e820_from_efi_map(outcome.final_map);
    outcome.boot_params = find_boot_params(*memory, outcome.final_map,
                                             outcome.system_table);
    outcome.memory = std::move(memory);
  }
  munmap(shared, sizeof(SharedReport));
  return {};
}

}  // namespace efikexec::kexec
