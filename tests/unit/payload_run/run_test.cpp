// SPDX-License-Identifier: MIT
// The bare-metal run of the real signed fixture UKI, as far as a test process can take it: in a
// forked child, physical memory is identity mapped at fixed addresses (the confined run's
// IdentityMemory), the few privileged instructions the stubs execute in ring 3 are answered as
// the confined run answers them, and port I/O is a fake. systemd-stub and the Linux stub run
// against the bare-metal host: ExitBootServices() returns EFI_SUCCESS to the Linux stub, which
// then jumps to the kernel it decompressed. That jump is caught: when ExitBootServices()
// succeeds, every page of loader code that is neither a loaded image nor the allocation the
// ExitBootServices() call came from (systemd-stub >= 258 copies the Linux stub into pages of its
// own) loses its execute permission, so the kernel's first instruction faults, with RIP at the
// kernel's entry and RSI at the boot_params the Linux stub built.
#include <cpuid.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "efi_call_runner.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/shim.hpp"
#include "kexec/image/file_bytes.hpp"
#include "kexec/inspect/inspect.hpp"
#include "kexec/machine/identity_memory.hpp"
#include "payload/bare_metal/bare_metal_host.hpp"
#include "payload/bare_metal/run_uki_with.hpp"
#include "privileged.hpp"
#include "support/prerequisites.hpp"
#include "uki/uki.hpp"

namespace efikexec::payload {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kRam = 1024 * kMiB;
constexpr std::uint64_t kAcpiRsdp = kRam - 0x700000 + 0x14;

enum class End : std::uint32_t {
  kNone,
  kKernelEntered,   // the jump to the kernel was caught
  kReturned,        // run_uki_with returned an error
  kEndRun,          // the image asked to end the run (ResetSystem)
  kFaultBefore,     // a fault before ExitBootServices()
  kFaultAfter,      // a fault after it, not at the kernel's entry
};

struct Report {
  End end;
  std::uint32_t exit_boot_services_calls;
  std::uint64_t rip;
  std::uint64_t rsi;
  std::uint64_t system_table;
  bool rip_in_loader_code;
  bool rip_in_loaded_image;
  bool boot_params_valid;  // efi_info's "EL64" (the stub >= 6.1.82 copies no "HdrS" header)
  std::uint64_t boot_params_systab;
  std::uint64_t initrd_size;
  bool acpi_table_installed;
  char exit_boot_services_caller[64];  // where the ExitBootServices() call came from
  char command_line[1024];
  char message[512];
  char serial[16384];
  std::uint64_t serial_used;
};

Report* g_report = nullptr;
bool g_exited = false;

void note(const char* text) {
  std::snprintf(g_report->message, sizeof g_report->message, "%s", text);
}

class CapturedSerial final : public SerialConsole {
 public:
  void write(std::string_view text) override {
    const std::uint64_t room = sizeof g_report->serial - 1 - g_report->serial_used;
    const std::size_t count = text.size() < room ? text.size() : room;
    std::memcpy(g_report->serial + g_report->serial_used, text.data(), count);
    g_report->serial_used += count;
  }
};

// Port I/O nobody answers (the CMOS clock reads as absent).
class SilentPorts final : public PortIo {
 public:
  std::uint8_t in8(std::uint16_t) override { return 0xFF; }
  void out8(std::uint16_t, std::uint8_t) override {}
};

// The bare-metal physical memory, backed in this process: the pages the shim hands out are
// mapped at virtual == physical on demand.
class BackedMemory final : public efi::PhysicalMemory {
 public:
  explicit BackedMemory(kexec::IdentityMemory& memory) : memory_(memory) {}
  Result<void> back(std::uint64_t address, std::uint64_t size) override {
    return memory_.back(address, size);
  }
  std::byte* pointer(std::uint64_t address) override { return memory_.pointer(address); }
  std::uint64_t address_of(const void* pointer) override { return memory_.address_of(pointer); }

 private:
  kexec::IdentityMemory& memory_;
};

std::uint64_t g_exit_boot_services_return = 0;

// The allocation an address is in, as the shim names it ("pages@#N" for the pages of traced
// AllocatePages call N, the image's label, "?" when unknown).
std::string allocation_of(std::uint64_t address) {
  efi::Text text;
  efi::active_shim().describe_address(text, address);
  const std::string_view name = text.view();
  return std::string(name.substr(0, name.find('+')));
}

// ExitBootServices() as the image finds it: notes where the call came from, then the shim's.
EFI_STATUS EFIAPI recording_exit_boot_services(EFI_HANDLE image, UINTN map_key) {
  g_exit_boot_services_return = reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
  return efi::exit_boot_services_handler(image, map_key);
}

// The ring-0 runner, which puts the recording ExitBootServices() in the table before the first
// image starts.
class RecordingRunner final : public efi::ImageRunner {
 public:
  EFI_STATUS call_entry(EFI_IMAGE_ENTRY_POINT entry, EFI_HANDLE handle,
                        EFI_SYSTEM_TABLE* system_table, std::uint64_t stack_top,
                        std::uint64_t* frame) override {
    if (stack_top != 0) {
      system_table->BootServices->ExitBootServices = recording_exit_boot_services;
      efi::active_shim().update_table_crc(&system_table->BootServices->Hdr);
    }
    return runner_.call_entry(entry, handle, system_table, stack_top, frame);
  }
  [[noreturn]] void exit_to(std::uint64_t* frame, EFI_STATUS status) override {
    runner_.exit_to(frame, status);
  }

 private:
  arch::EfiCallRunner runner_;
};

// Traced calls are what make the shim remember which AllocatePages call made which pages; the
// lines themselves are not needed.
class DiscardedTrace final : public efi::TraceSink {
 public:
  void line(std::string_view) override {}
};

// What the bare-metal run end does, plus what catches the jump: the kernel's pages (loader
// code that is no loaded image) lose their execute permission.
class CatchingRunEnd final : public efi::RunEndSink {
 public:
  explicit CatchingRunEnd(SerialConsole& serial) : serial_(serial) {}
  void boot_services_exited(EFI_HANDLE) override {
    ++g_report->exit_boot_services_calls;
    g_exited = true;
    serial_.write("efikexec: ExitBootServices() succeeded; the UKI starts its kernel\r\n");
    const EFI_SYSTEM_TABLE* table = efi::active_shim().system_table();
    for (UINTN i = 0; i < table->NumberOfTableEntries; ++i)
      if (efi::guid_equal(table->ConfigurationTable[i].VendorGuid, efi::guids::kAcpi20Table) &&
          reinterpret_cast<std::uint64_t>(table->ConfigurationTable[i].VendorTable) == kAcpiRsdp)
        g_report->acpi_table_installed = true;
    const std::string caller = allocation_of(g_exit_boot_services_return);
    std::snprintf(g_report->exit_boot_services_caller,
                  sizeof g_report->exit_boot_services_caller, "%s", caller.c_str());
    for (const efi::MemoryRange& range : efi::active_shim().memory().ranges()) {
      if (range.type != EfiLoaderCode || !range.allocated) continue;
      for (std::uint64_t page = range.start; page < range.end(); page += efi::kPageSize) {
        if (efi::active_shim().images().containing(page) != nullptr) continue;
        if (caller[0] != '?' && allocation_of(page) == caller) continue;
        mprotect(reinterpret_cast<void*>(page), efi::kPageSize, PROT_READ | PROT_WRITE);
      }
    }
  }
  [[noreturn]] void end_run(const char* reason, EFI_STATUS) override {
    g_report->end = End::kEndRun;
    note(reason);
    _exit(0);
  }

 private:
  SerialConsole& serial_;
};

const int kGregOf[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                         REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

bool allocated(std::uint64_t address, std::uint64_t size) {
  return efi::active_shim().memory().is_allocated(address, size);
}

// After ExitBootServices() the Linux stub reads CR3 and CR4 (efi_5level_switch): answered as
// the payload's CPU would be, in the paging mode a kernel picks on it: 5-level where CPUID
// offers LA57 (the stub then found the mode it wants), 4-level elsewhere. Either way the stub
// has nothing to switch, and this run cannot execute its 32-bit switching code.
bool cpu_offers_la57() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 16)) != 0;
}

bool emulate_control_register_read(greg_t* gregs, const std::uint8_t* code, std::size_t available) {
  std::size_t at = 0;
  std::uint8_t rex = 0;
  if (available > 0 && (code[0] & 0xF0) == 0x40) rex = code[at++];
  if (available < at + 3 || code[at] != 0x0F || code[at + 1] != 0x20) return false;
  const std::uint8_t modrm = code[at + 2];
  const unsigned control = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
  const unsigned target = (modrm & 7) | ((rex & 1) ? 8 : 0);
  if ((modrm >> 6) != 3) return false;
  std::uint64_t value;
  switch (control) {
    case 0: value = arch::kEmulatedCr0; break;
    case 3: value = 0x1000; break;
    case 4: value = cpu_offers_la57() ? 0x1020 : 0x20; break;  // PAE, LA57
    default: return false;
  }
  gregs[kGregOf[target]] = static_cast<greg_t>(value);
  gregs[REG_RIP] += static_cast<greg_t>(at + 3);
  return true;
}

void on_fault(int signal, siginfo_t* info, void* raw) {
  auto* context = static_cast<ucontext_t*>(raw);
  greg_t* gregs = context->uc_mcontext.gregs;
  const auto rip = static_cast<std::uint64_t>(gregs[REG_RIP]);
  std::uint8_t code[15];
  std::size_t available = 0;
  while (available < sizeof code && allocated(rip + available, 1)) {
    code[available] = *reinterpret_cast<const std::uint8_t*>(rip + available);
    ++available;
  }
  const bool general_protection = signal == SIGSEGV && info->si_code == SI_KERNEL;
  if (!g_exited && (general_protection || signal == SIGILL)) {
    arch::TrapRegisters registers{};
    for (int i = 0; i < 16; ++i) registers.gpr[i] = static_cast<std::uint64_t>(gregs[kGregOf[i]]);
    registers.rip = rip;
    if (arch::emulate_privileged_instruction(registers, code, available).outcome ==
        arch::TrapOutcome::kEmulated) {
      for (int i = 0; i < 16; ++i) gregs[kGregOf[i]] = static_cast<greg_t>(registers.gpr[i]);
      gregs[REG_RIP] = static_cast<greg_t>(registers.rip);
      return;
    }
  }
  if (g_exited && general_protection && emulate_control_register_read(gregs, code, available))
    return;

  Report& report = *g_report;
  report.rip = rip;
  report.rsi = static_cast<std::uint64_t>(gregs[REG_RSI]);
  report.system_table = reinterpret_cast<std::uint64_t>(efi::active_shim().system_table());
  const efi::MemoryRange* range = efi::active_shim().memory().find(rip);
  report.rip_in_loader_code = range != nullptr && range->type == EfiLoaderCode && range->allocated;
  report.rip_in_loaded_image = efi::active_shim().images().containing(rip) != nullptr;
  const bool fetch_fault = signal == SIGSEGV && !general_protection &&
                           reinterpret_cast<std::uint64_t>(info->si_addr) == rip;
  const bool caught = g_exited && fetch_fault && report.rip_in_loader_code &&
                      !report.rip_in_loaded_image;
  if (!g_exited) {
    report.end = End::kFaultBefore;
  } else if (caught) {
    report.end = End::kKernelEntered;
  } else {
    report.end = End::kFaultAfter;
  }
  int length = std::snprintf(
      report.message, sizeof report.message, "signal %d at 0x%llx (si_addr 0x%llx), code", signal,
      static_cast<unsigned long long>(rip),
      static_cast<unsigned long long>(reinterpret_cast<std::uint64_t>(info->si_addr)));
  for (std::size_t i = 0; i < available && length > 0 && length < 400; ++i)
    length += std::snprintf(report.message + length, sizeof report.message - length, " %02x",
                            code[i]);
  // boot_params as the Linux stub left it for the kernel (read only inside allocated memory).
  const std::uint64_t params = report.rsi;
  if (report.end == End::kKernelEntered && allocated(params, 4096)) {
    auto u32 = [&](std::size_t offset) {
      std::uint32_t value;
      std::memcpy(&value, reinterpret_cast<const void*>(params + offset), 4);
      return std::uint64_t{value};
    };
    report.boot_params_systab = u32(0x1c4) | (u32(0x1d8) << 32);
    report.boot_params_valid =
        std::memcmp(reinterpret_cast<const void*>(params + 0x1c0), "EL64", 4) == 0;
    report.initrd_size = u32(0x21c) | (u32(0x0c4) << 32);
    const std::uint64_t cmdline = u32(0x228) | (u32(0x0c8) << 32);
    if (cmdline != 0 && allocated(cmdline, 1)) {
      std::size_t n = 0;
      while (n + 1 < sizeof report.command_line && allocated(cmdline + n, 1) &&
             *reinterpret_cast<const char*>(cmdline + n) != 0) {
        report.command_line[n] = *reinterpret_cast<const char*>(cmdline + n);
        ++n;
      }
    }
  }
  _exit(0);
}

void install_handlers() {
  static std::vector<std::uint8_t> stack(256 * 1024);
  stack_t alternate{};
  alternate.ss_sp = stack.data();
  alternate.ss_size = stack.size();
  sigaltstack(&alternate, nullptr);
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP}) sigaction(signal, &action, nullptr);
}

// A q35 guest of 1 GiB as its kernel's boot_params describe it after an EFI boot.
const std::vector<E820Range> kE820 = {
    {0, 0x9f000, 1},
    {0x9f000, 0x61000, 2},
    {0x100000, 0x700000, 1},
    {0x800000, 0x8000, 4},
    {0x808000, 0x8000, 1},
    {0x810000, 0xf0000, 4},
    {0x900000, kRam - 0x900000 - 0x900000, 1},
    {kRam - 0x900000, 0x200000, 2},
    {kRam - 0x700000, 0x20000, 3},
    {kRam - 0x6e0000, 0xe0000, 4},
    {kRam - 0x600000, 0x600000, 1},
    {0xb0000000, 0x10000000, 2}};
const std::vector<EfiRuntimeDescriptor> kRuntime = {
    {EfiRuntimeServicesData, kRam - 0x900000, 0xfffffffeee000000, 0x100,
     EFI_MEMORY_WB | EFI_MEMORY_RUNTIME},
    {EfiRuntimeServicesCode, kRam - 0x800000, 0xfffffffeef000000, 0x100,
     EFI_MEMORY_WB | EFI_MEMORY_RUNTIME}};
// The payload, its stack and page tables, and the bundle: never handed out.
const std::vector<E820Range> kInUse = {{0x1000000, 0x200000, 0}, {0x30000000, 0x4000000, 0}};

[[noreturn]] void child(const BareMetalRequest& request) {
  install_handlers();
  kexec::IdentityMemory memory;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ram;
  for (const E820Range& range : kE820)
    if (range.type == 1) ram.emplace_back(range.address, range.address + range.size);
  if (auto created = memory.create(kRam); !created) {
    note("cannot create the identity memory");
    _exit(1);
  }
  if (auto reserved = memory.reserve(ram); !reserved) {
    note("cannot reserve RAM");
    _exit(1);
  }
  CapturedSerial serial;
  SilentPorts ports;
  TscCounter counter;
  TscClock clock(ports, counter, 2'000'000'000);
  CpuRandom random;
  RecordingRunner runner;
  DiscardedTrace trace;
  CatchingRunEnd run_end(serial);
  BackedMemory backed(memory);
  struct NothingReadable final : PhysicalReader {
    bool read(std::uint64_t, std::span<std::byte>) override { return false; }
  } reader;
  BareMetalServices services;
  services.memory = &backed;
  services.reader = &reader;
  services.clock = &clock;
  services.random = &random;
  services.runner = &runner;
  services.run_end = &run_end;
  services.trace = &trace;
  static MachineMap map;
  const BareMetalMachine machine{kE820, kInUse, kRuntime, kAcpiRsdp, 0, 0};
  const Error error = run_uki_with(machine, request, serial, services, map);
  g_report->end = End::kReturned;
  std::snprintf(g_report->message, sizeof g_report->message, "%s", error.message);
  _exit(0);
}

Report run_in_child(const BareMetalRequest& request) {
  void* shared = mmap(nullptr, sizeof(Report), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                      -1, 0);
  EXPECT_NE(shared, MAP_FAILED);
  g_report = new (shared) Report{};
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) child(request);
  int status = 0;
  waitpid(pid, &status, 0);
  Report report = *g_report;
  munmap(shared, sizeof(Report));
  g_report = nullptr;
  EXPECT_TRUE(WIFEXITED(status)) << "the child died by signal " << WTERMSIG(status);
  report.serial[sizeof report.serial - 1] = 0;
  return report;
}

// Runs the fixture `name` with `append` appended (and `profile`), and checks that the kernel was
// entered with the boot_params the Linux stub built from what it was given.
void expect_kernel_entered(const std::string& path, std::optional<std::uint32_t> profile = {}) {
  auto bytes = kexec::FileBytes::read(path);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto image = pe::Image::parse(bytes->view());
  ASSERT_TRUE(image.has_value());
  const uki::Uki uki = uki::Uki::from_image(*image);
  const std::string cmdline =
      kexec::section_text(image->section_data(*uki.find(".cmdline", profile)));

  BareMetalRequest request{};
  request.uki = {bytes->view().data(), bytes->view().size()};
  request.command_line = "efikexec.test=bare-metal";
  request.replace_command_line = false;
  request.profile = profile;
  const Report report = run_in_child(request);
  ASSERT_EQ(report.end, End::kKernelEntered)
      << path << ": " << report.message << "\nExitBootServices() called from "
      << report.exit_boot_services_caller << "\nserial:\n" << report.serial;
  EXPECT_EQ(report.exit_boot_services_calls, 1u) << "ExitBootServices() succeeded once";
  EXPECT_TRUE(report.rip_in_loader_code);
  EXPECT_FALSE(report.rip_in_loaded_image) << "the decompressed kernel, not a stub";
  EXPECT_TRUE(report.boot_params_valid) << "RSI is the boot_params the Linux stub built";
  EXPECT_EQ(report.boot_params_systab, report.system_table);
  EXPECT_EQ(std::string(report.command_line), cmdline + " efikexec.test=bare-metal");
  // systemd-stub >= 257 adds a cpio of its own to the UKI's initrd.
  EXPECT_GE(report.initrd_size, uki.find(".initrd", profile)->virtual_size);
  EXPECT_NE(std::string(report.serial).find("ExitBootServices() succeeded"), std::string::npos);
  EXPECT_TRUE(report.acpi_table_installed) << "the next kernel finds ACPI";
}

TEST(BareMetalRun, TheSignedUkiExitsBootServicesAndJumpsToItsKernel) {
  EFIKEXEC_NEED_FIXTURE(path, "uki-signed.efi");
  expect_kernel_entered(path);
}

TEST(BareMetalRun, NewerStubsAndKernelsJumpToTheirKernelsToo) {
  EFIKEXEC_NEED_FIXTURE(stub257, "newer/uki-257-6.12-signed.efi");
  EFIKEXEC_NEED_FIXTURE(stub262, "newer/uki-262-7.2-signed.efi");
  expect_kernel_entered(stub257);
  expect_kernel_entered(stub262);
}

TEST(BareMetalRun, AProfileOfAMultiProfileUkiIsBooted) {
  EFIKEXEC_NEED_FIXTURE(path, "newer/uki-profiles-signed.efi");
  expect_kernel_entered(path, 1);
}

// An image that does not start a kernel: how it ends comes back to the payload (or, for
// ResetSystem(), ends the run), after Exit() unwound to the call that entered it.
Report run_misbehave(const char* mode) {
  auto bytes = kexec::FileBytes::read(std::string(EFT_APPS_DIR) + "/eft_misbehave.efi");
  EXPECT_TRUE(bytes) << bytes.error().message();
  if (!bytes) return Report{};
  BareMetalRequest request{};
  request.uki = {bytes->view().data(), bytes->view().size()};
  request.command_line = mode;
  request.replace_command_line = true;
  return run_in_child(request);
}

TEST(BareMetalRun, ReturnExitAndResetComeBackAsTheyShould) {
  Report returned = run_misbehave("return-error");
  EXPECT_EQ(returned.end, End::kReturned) << returned.message;
  EXPECT_STREQ(returned.message, "the UKI returned without starting its kernel");
  EXPECT_NE(std::string(returned.serial).find("(status 0x8000000000000001)"), std::string::npos)
      << returned.serial;
  Report exited = run_misbehave("exit-aborted");
  EXPECT_EQ(exited.end, End::kReturned) << exited.message;
  EXPECT_STREQ(exited.message, "the UKI called Exit() without starting its kernel");
  EXPECT_NE(std::string(exited.serial).find("(status 0x8000000000000015)"), std::string::npos)
      << exited.serial;
  EXPECT_NE(std::string(exited.serial).find("EFT: begin misbehave"), std::string::npos)
      << "the image's console is the serial port";
  Report reset = run_misbehave("reset");
  EXPECT_EQ(reset.end, End::kEndRun) << reset.message;
  EXPECT_STREQ(reset.message, "the image called ResetSystem()");
}

TEST(BareMetalRun, AnExtraInitrdNextToTheUkisOwnIsRefusedBeforeAnythingRuns) {
  EFIKEXEC_NEED_FIXTURE(path, "uki-signed.efi");
  auto bytes = kexec::FileBytes::read(path);
  ASSERT_TRUE(bytes) << bytes.error().message();
  const std::byte initrd[16] = {};
  BareMetalRequest request{};
  request.uki = {bytes->view().data(), bytes->view().size()};
  request.extra_initrd = initrd;
  const Report report = run_in_child(request);
  ASSERT_EQ(report.end, End::kReturned) << report.message;
  EXPECT_NE(std::string(report.message).find("carries its own initrd"), std::string::npos);
  EXPECT_NE(std::string(report.serial).find("cannot run the UKI"), std::string::npos);
  EXPECT_EQ(report.exit_boot_services_calls, 0u);
}

TEST(BareMetalRun, AProfileTheUkiDoesNotHaveIsRefused) {
  EFIKEXEC_NEED_FIXTURE(path, "uki-signed.efi");
  auto bytes = kexec::FileBytes::read(path);
  ASSERT_TRUE(bytes) << bytes.error().message();
  BareMetalRequest request{};
  request.uki = {bytes->view().data(), bytes->view().size()};
  request.profile = 7;
  const Report report = run_in_child(request);
  ASSERT_EQ(report.end, End::kReturned) << report.message;
  EXPECT_EQ(report.exit_boot_services_calls, 0u);
}

}  // namespace
}  // namespace efikexec::payload
