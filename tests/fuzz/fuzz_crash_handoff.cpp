// SPDX-License-Identifier: MIT
// The crash handoff's reading of what the image left (src/kexec/crash/crash_dump.cpp,
// hand_over_crash): boot_params, its command line and the EFI memory map it names are the
// image's to choose. Whatever they are, the handoff returns a verdict; what it writes stays in
// memory the run allocated (or the carved core-header pages), and what it accepts is bounded.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz_assert.hpp"
#include "kexec/crash/crash_dump.hpp"

using namespace efikexec;
using namespace efikexec::kexec;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBootParams = 0x200000;  // one page the "stub" allocated
constexpr std::uint64_t kMap = 0x201000;         // where a well-behaved map would be
constexpr std::uint64_t kHandoff = 0x300000;     // command line page, then initrd pages
constexpr std::uint64_t kTop = 0x800000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static IdentityMemory* memory = [] {
    auto* created = new IdentityMemory;
    if (!created->create(kTop)) __builtin_trap();
    return created;
  }();
  // boot_params from the input's first page, the map region from the next 16 KiB; the rest of
  // the run's memory stays as the last input left it (the handoff must not care).
  std::vector<std::byte> page(kPage), map(4 * kPage);
  std::memcpy(page.data(), data, std::min<std::size_t>(size, kPage));
  if (size > kPage) std::memcpy(map.data(), data + kPage, std::min<std::size_t>(size - kPage, map.size()));
  if (!memory->write(kBootParams, page) || !memory->write(kMap, map)) __builtin_trap();

  Machine machine;
  machine.ranges = {{0, 0xa0000, RangeKind::kRam, 0}, {0x100000, kTop, RangeKind::kRam, 0}};
  CrashFacts facts;
  facts.reservations = {{0x400000, kTop}};
  facts.reservation = facts.reservations[0];
  facts.system_ram = {{0x1000, 0xa0000}, {0x100000, kTop}};
  facts.cpu_notes = {{0x1000, 0x200}};
  auto layout = plan_crash_layout(facts);
  auto headers = build_elf_core_headers(facts, *layout);
  if (!layout || !headers) __builtin_trap();

  RunOutcome run;
  run.memory.reset(memory);
  run.final_map = {{0, 0xa0000 / kPage, 0, 0, false},
                   {kBootParams, 1, EfiLoaderData, 0, true},
                   {kMap, 4, EfiLoaderData, 0, true},
                   {kHandoff, 16, EfiLoaderData, 0, true}};
  BootParamsFacts boot_params;
  boot_params.address = kBootParams;
  boot_params.command_line.assign(reinterpret_cast<const char*>(data),
                                  std::min<std::size_t>(size, 64));
  run.boot_params = boot_params;
  static const std::byte kInitrd[3 * kPage] = {};
  CrashRequest request;
  request.append = std::string("irqpoll");
  request.command_line_page = kHandoff;
  request.command_line_capacity = kPage;
  request.command_line_limit = 2047;
  request.initrd = ByteView(kInitrd, size % 2 == 0 ? sizeof kInitrd : 0);
  request.initrd_page = kHandoff + kPage;
  auto handoff = hand_over_crash(machine, facts, *layout, *headers, request, run);
  (void)run.memory.release();  // the static memory outlives the run
  if (!handoff) {
    FUZZ_ASSERT(!handoff.error().reason.empty());
    return 0;
  }
  FUZZ_ASSERT(handoff->command_line.size() <= request.command_line_limit);
  FUZZ_ASSERT(handoff->command_line.rfind("elfcorehdr=", 0) == 0);
  FUZZ_ASSERT(handoff->e820_entries <= 128);
  FUZZ_ASSERT(handoff->elfcorehdr == layout->headers.start);
  return 0;
}
