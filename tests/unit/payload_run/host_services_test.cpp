// SPDX-License-Identifier: MIT
// The bare-metal host services that a test process can run as they are: the identity memory's
// check, RDRAND/RDSEED, the serial console, and the end of a run (the reset requested on the
// ports, the reason on the serial console; the final halt is ring 0's, so in a test process it
// faults).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cpuid.h>

#include <cstring>
#include <string>
#include <vector>

#include "payload/bare_metal/bare_metal_host.hpp"

namespace efikexec::payload {
namespace {

class StringSerial final : public SerialConsole {
 public:
  void write(std::string_view text) override { out.append(text); }
  std::string out;
};

TEST(HostServices, IdentityMemoryBacksOnlyMemoryTheShimMayHandOut) {
  const efi::MemoryRange map[] = {
      {0x100000, 0x100, EfiConventionalMemory, efi::kRamAttributes, false},
      {0x200000, 0x10, EfiBootServicesData, efi::kRamAttributes, false},
      {0x210000, 0x10, EfiLoaderData, efi::kRamAttributes, false},
      {0x300000, 0x10, EfiACPIReclaimMemory, efi::kRamAttributes, false}};
  IdentityPhysicalMemory memory(map);
  EXPECT_TRUE(memory.back(0x100000, 0x100000)) << "conventional memory";
  EXPECT_TRUE(memory.back(0x1ff000, 0x2000)) << "conventional, then the shim's own pages";
  EXPECT_FALSE(memory.back(0x20f000, 0x2000)) << "into memory the payload uses";
  EXPECT_FALSE(memory.back(0x300000, 0x1000)) << "ACPI tables";
  EXPECT_FALSE(memory.back(0x400000, 0x1000)) << "a hole";
  EXPECT_FALSE(memory.back(~std::uint64_t{0} - 0xfff, 0x2000)) << "wraps";
  EXPECT_EQ(memory.pointer(0x123000), reinterpret_cast<std::byte*>(0x123000));
  EXPECT_EQ(memory.address_of(reinterpret_cast<void*>(0x123000)), 0x123000u);
}

TEST(HostServices, RandomComesFromTheCpuOrNotAtAll) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  const bool rdrand = (ecx & (1u << 30)) != 0;
  CpuRandom random;
  EXPECT_EQ(random.has_rdrand(), rdrand);
  std::vector<std::byte> a(61), b(61);
  if (!random.has_rdrand() && !random.has_rdseed()) {
    EXPECT_FALSE(random.fill(a));
    return;
  }
  ASSERT_TRUE(random.fill(a));
  ASSERT_TRUE(random.fill(b));
  EXPECT_NE(a, b);
}

TEST(HostServices, ConsoleAndHexGoToTheSerialPort) {
  StringSerial serial;
  SerialConsoleOutput console(serial);
  console.write("EFI stub: hello\r\n");
  write_hex(serial, 0);
  serial.write(" ");
  write_hex(serial, 0x8000000000000015);
  EXPECT_EQ(serial.out, "EFI stub: hello\r\n0x0 0x8000000000000015");
}

class NullPorts final : public PortIo, public CycleCounter {
 public:
  std::uint8_t in8(std::uint16_t) override { return 0; }
  void out8(std::uint16_t port, std::uint8_t value) override {
    if (writes != nullptr && *count < 16) writes[(*count)++] = port << 8 | value;
  }
  std::uint64_t read() override { return ++cycles; }
  std::uint32_t* writes = nullptr;
  std::uint32_t* count = nullptr;
  std::uint64_t cycles = 0;
};

TEST(HostServices, ExitBootServicesReturnsAndResetSystemResetsTheMachine) {
  StringSerial serial;
  NullPorts ports;
  BareMetalRunEnd run_end(serial, ports, ports, 1000);
  run_end.boot_services_exited(nullptr);  // returns: the image goes on
  EXPECT_NE(serial.out.find("ExitBootServices() succeeded"), std::string::npos);

  // end_run in a child: the reset is asked of the firmware first (a fake ResetSystem that
  // returns, as one that failed would), then on the ports, the reason written, then the CPU is
  // halted (which a test process cannot do: it dies there).
  struct Shared {
    std::uint32_t writes[16];
    std::uint32_t count;
    std::uint32_t firmware_resets;
    char serial[512];
  };
  auto* shared = static_cast<Shared*>(mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(shared, MAP_FAILED);
  std::memset(shared, 0, sizeof *shared);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    class SharedSerial final : public SerialConsole {
     public:
      explicit SharedSerial(Shared* s) : s_(s) {}
      void write(std::string_view text) override {
        const std::size_t used = std::strlen(s_->serial);
        const std::size_t count = std::min(text.size(), sizeof s_->serial - 1 - used);
        std::memcpy(s_->serial + used, text.data(), count);
      }
      Shared* s_;
    } child_serial(shared);
    NullPorts child_ports;
    child_ports.writes = shared->writes;
    child_ports.count = &shared->count;
    static Shared* counted = shared;
    BareMetalRunEnd child_end(child_serial, child_ports, child_ports, 1000,
                              [] { ++counted->firmware_resets; });
    // The halt (CLI, in ring 3) faults: the child ends with 42 there.
    signal(SIGSEGV, [](int) { _exit(42); });
    child_end.end_run("the image called ResetSystem()", EFI_SUCCESS);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42)
      << "end_run() goes on to halt (interrupts off: ring 0 only)";
  const std::string text = shared->serial;
  EXPECT_NE(text.find("the image called ResetSystem() (status 0x0): resetting the machine"),
            std::string::npos)
      << text;
  EXPECT_EQ(shared->firmware_resets, 1u);
  const std::size_t through_firmware = text.find("reset through the firmware's ResetSystem()");
  ASSERT_NE(through_firmware, std::string::npos) << text;
  EXPECT_LT(text.find("resetting the machine"), through_firmware) << text;
  ASSERT_EQ(shared->count, 3u);
  EXPECT_EQ(shared->writes[0], (kResetControlPort << 8) | 0x02u);
  EXPECT_EQ(shared->writes[1], (kResetControlPort << 8) | 0x06u);
  EXPECT_EQ(shared->writes[2], (kKeyboardCommandPort << 8) | 0xFEu);
  munmap(shared, sizeof(Shared));
}

}  // namespace
}  // namespace efikexec::payload
