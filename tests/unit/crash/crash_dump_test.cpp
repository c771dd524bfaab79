// SPDX-License-Identifier: MIT
// Crash kernels (crash/crash_dump.hpp): the facts read from a fake kernel tree, their JSON form,
// the pages carved out of the reservation, the ELF core headers read back as the crash kernel's
// /proc/vmcore reads them, the machine the image sees, and a dry run of the signed UKI as a crash
// kernel over a fake kexec layer.
#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "esp/temp_tree.hpp"
#include "kexec/common/hex.hpp"
#include "kexec/crash/crash_dump.hpp"
#include "kexec/load/loader.hpp"
#include "loader/fake_kexec.hpp"
#include "support/prerequisites.hpp"

namespace efikexec::kexec {

bool operator==(const PhysicalSpan& a, const PhysicalSpan& b) {
  return a.start == b.start && a.end == b.end;
}
std::ostream& operator<<(std::ostream& out, const PhysicalSpan& span) {
  return out << "[" << hex_u64(span.start) << ", " << hex_u64(span.end) << ")";
}

namespace {

using efikexec::testing::TempTree;

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t k640K = 640 * 1024;
constexpr std::uint64_t kNoPhysical = ~std::uint64_t{0};
// A direct map moved by KASLR (1 GiB steps), so that the default base cannot pass for it.
constexpr std::uint64_t kPageOffset = 0xffff8f3a40000000ull;

// /proc/iomem of a machine booted with crashkernel=512M,high crashkernel=128M,low: the low
// reservation nested in the RAM below 4 GiB, the high one at the top of the RAM above it.
constexpr const char* kIomem =
    "00000000-00000fff : Reserved\n"
    "00001000-0009ffff : System RAM\n"
    "000a0000-000fffff : Reserved\n"
    "  000a0000-000bffff : PCI Bus 0000:00\n"
    "  000f0000-000fffff : System ROM\n"
    "00100000-7ffdffff : System RAM\n"
    "  01000000-01ffffff : Kernel code\n"
    "  02000000-0262ffff : Kernel rodata\n"
    "  2b000000-32ffffff : Crash kernel\n"
    "7ffe0000-7fffffff : Reserved\n"
    "80000000-afffffff : PCI Bus 0000:00\n"
    "  80000000-8fffffff : 0000:00:02.0\n"
    "fed00000-fed003ff : HPET 0\n"
    "100000000-27fffffff : System RAM\n"
    "  260000000-27fffffff : Crash kernel\n"
    "280000000-2bfffffff : Persistent Memory\n"
    // A dax device onlined as RAM: nested, so not a range of the machine's own RAM.
    "  280000000-2bfffffff : dax0.0\n"
    "    280000000-2bfffffff : System RAM\n";

std::string program_headers_file(const std::vector<Elf64_Phdr>& headers) {
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_CORE;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_phoff = sizeof header;
  header.e_ehsize = sizeof header;
  header.e_phentsize = sizeof(Elf64_Phdr);
  header.e_phnum = static_cast<Elf64_Half>(headers.size());
  std::string bytes(sizeof header + headers.size() * sizeof(Elf64_Phdr), '\0');
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + sizeof header, headers.data(), headers.size() * sizeof(Elf64_Phdr));
  return bytes;
}

Elf64_Phdr kcore_load(std::uint64_t vaddr, std::uint64_t paddr, std::uint64_t size) {
  Elf64_Phdr phdr{};
  phdr.p_type = PT_LOAD;
  phdr.p_flags = PF_R | PF_W | PF_X;
  phdr.p_vaddr = vaddr;
  phdr.p_paddr = paddr;
  phdr.p_filesz = phdr.p_memsz = size;
  return phdr;
}

// /proc/kcore's program headers as fs/proc/kcore.c writes them: mappings that are not RAM
// (vmalloc, modules) carry p_paddr = -1 and come first here, so that taking one of them would
// show; the modules area lies above the kernel text base and would pass for the text.
std::string kcore() {
  return program_headers_file({
      kcore_load(0xffffc90000000000ull, kNoPhysical, 0x1000000000ull),
      kcore_load(0xffffffffc0000000ull, kNoPhysical, 0x3f000000),
      kcore_load(0xffffffff81000000ull, 0x1000000, 0x2200000),
      kcore_load(kPageOffset + 0x1000, 0x1000, 0x9f000),
      kcore_load(kPageOffset + 0x100000, 0x100000, 0x7fee0000),
  });
}

void write_cpu(const TempTree& tree, unsigned cpu, const std::string& notes,
               const std::string& size) {
  const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/";
  tree.write(dir + "crash_notes", notes);
  if (!size.empty()) tree.write(dir + "crash_notes_size", size);
}

// A kernel tree with a reservation, CPUs 0, 1, 2 and 10, VMCOREINFO and /proc/kcore.
void write_kernel_tree(const TempTree& tree, const std::string& iomem = kIomem) {
  tree.write("proc/iomem", iomem);
  write_cpu(tree, 0, "27fa1d000\n", "464\n");
  write_cpu(tree, 1, "27fa5d000\n", "464\n");
  write_cpu(tree, 2, "27fa9d000\n", "464\n");
  write_cpu(tree, 10, "27fc1d000\n", "464\n");
  // Neighbours of the CPU directories that are not CPUs.
  tree.write("sys/devices/system/cpu/cpufreq/crash_notes", "1000\n");
  tree.write("sys/devices/system/cpu/cpu2x/crash_notes", "1000\n");
  tree.write("sys/devices/system/cpu/possible", "0-10\n");
  tree.write("sys/kernel/vmcoreinfo", "2a4f3c0 1024\n");
  tree.write("proc/kcore", kcore());
}

TEST(CrashFacts, AreReadFromTheKernelsFiles) {
  TempTree tree;
  write_kernel_tree(tree);
  auto facts = discover_crash_facts(tree.root());
  ASSERT_TRUE(facts) << facts.error().message();

  EXPECT_EQ(facts->reservation, (PhysicalSpan{0x260000000, 0x280000000})) << "the high one";
  ASSERT_EQ(facts->reservations.size(), 2u);
  EXPECT_EQ(facts->reservations[0], (PhysicalSpan{0x2b000000, 0x33000000}));
  EXPECT_EQ(facts->reservations[1], (PhysicalSpan{0x260000000, 0x280000000}));
  const std::vector<PhysicalSpan> ram{
      {0x1000, 0xa0000}, {0x100000, 0x7ffe0000}, {0x100000000, 0x280000000}};
  EXPECT_EQ(facts->system_ram, ram);

  ASSERT_EQ(facts->cpu_notes.size(), 4u);
  const std::uint64_t addresses[] = {0x27fa1d000, 0x27fa5d000, 0x27fa9d000, 0x27fc1d000};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(facts->cpu_notes[i].address, addresses[i]) << "CPU order is numeric, at " << i;
    EXPECT_EQ(facts->cpu_notes[i].size, 464u) << "crash_notes_size is decimal";
  }

  ASSERT_TRUE(facts->vmcoreinfo.has_value());
  EXPECT_EQ(facts->vmcoreinfo->address, 0x2a4f3c0u);
  EXPECT_EQ(facts->vmcoreinfo->size, 0x1024u) << "vmcoreinfo's size is hex";

  ASSERT_TRUE(facts->page_offset.has_value());
  EXPECT_EQ(*facts->page_offset, kPageOffset);
  ASSERT_TRUE(facts->kernel_text.has_value());
  EXPECT_EQ(facts->kernel_text->virtual_address, 0xffffffff81000000ull);
  EXPECT_EQ(facts->kernel_text->physical_address, 0x1000000u);
  EXPECT_EQ(facts->kernel_text->size, 0x2200000u);
}

// crashkernel=128M,high beside the default 256 MiB low one: kexec_load takes crash segments only
// in crashk_res, the high one, although it is the smaller.
TEST(CrashFacts, TheHighReservationIsTheOneKexecLoadTakes) {
  TempTree tree;
  write_kernel_tree(tree, "00001000-0009ffff : System RAM\n"
                          "00100000-7ffdffff : System RAM\n"
                          "  6f000000-7effffff : Crash kernel\n"
                          "100000000-27fffffff : System RAM\n"
                          "  277000000-27effffff : Crash kernel\n");
  auto facts = discover_crash_facts(tree.root());
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_EQ(facts->reservation, (PhysicalSpan{0x277000000, 0x27f000000}));
  EXPECT_EQ(facts->reservations.size(), 2u);
}

TEST(CrashFacts, TakeAPageForNotesOfKernelsWithoutTheirSize) {
  TempTree tree;
  write_kernel_tree(tree);
  write_cpu(tree, 3, "27fadd000", "");
  auto facts = discover_crash_facts(tree.root());
  ASSERT_TRUE(facts) << facts.error().message();
  ASSERT_EQ(facts->cpu_notes.size(), 5u);
  EXPECT_EQ(facts->cpu_notes[3].address, 0x27fadd000u);
  EXPECT_EQ(facts->cpu_notes[3].size, kPage);
}

TEST(CrashFacts, WithoutAReservationTheKernelMustBeBootedWithCrashkernel) {
  TempTree tree;
  std::string iomem = kIomem;
  for (std::size_t at; (at = iomem.find("Crash kernel")) != std::string::npos;)
    iomem.replace(at, 12, "Reserved");
  write_kernel_tree(tree, iomem);
  auto facts = discover_crash_facts(tree.root());
  ASSERT_FALSE(facts);
  EXPECT_EQ(facts.error().stage, Stage::kMachine);
  EXPECT_NE(facts.error().reason.find("crashkernel="), std::string::npos)
      << facts.error().message();
}

TEST(CrashFacts, AnIomemOfZerosSaysRootIsNeeded) {
  TempTree tree;
  // What a reader without CAP_SYS_ADMIN sees of the same file.
  write_kernel_tree(tree,
                    "00000000-00000000 : Reserved\n"
                    "00000000-00000000 : System RAM\n"
                    "  00000000-00000000 : Kernel code\n"
                    "  00000000-00000000 : Crash kernel\n"
                    "00000000-00000000 : System RAM\n");
  auto facts = discover_crash_facts(tree.root());
  ASSERT_FALSE(facts);
  EXPECT_EQ(facts.error().stage, Stage::kMachine);
  EXPECT_NE(facts.error().reason.find("root"), std::string::npos) << facts.error().message();
}

TEST(CrashFacts, WithoutCrashNotesTheKernelCannotDump) {
  TempTree tree;
  tree.write("proc/iomem", kIomem);
  tree.write("sys/devices/system/cpu/cpu0/online", "1\n");
  tree.write("sys/devices/system/cpu/cpu1/crash_notes", "0\n");  // unset
  tree.write("sys/kernel/vmcoreinfo", "2a4f3c0 1024\n");
  auto facts = discover_crash_facts(tree.root());
  ASSERT_FALSE(facts);
  EXPECT_EQ(facts.error().stage, Stage::kMachine);
  EXPECT_NE(facts.error().reason.find("crash_notes"), std::string::npos)
      << facts.error().message();
}

// Facts of a machine with low and high reservations, a RAM range entirely below 640 KiB and
// one across it.
CrashFacts two_reservation_facts() {
  CrashFacts facts;
  facts.reservations = {{0x2b000000, 0x33000000}, {0x260000000, 0x280000000}};
  facts.reservation = facts.reservations[1];
  facts.system_ram = {{0x1000, 0x50000}, {0x60000, 0x7ffe0000}, {0x100000000, 0x280000000}};
  facts.cpu_notes = {{0x27fa1d000, 464}, {0x27fa5d000, 464}, {0x27fa9d000, 464}};
  facts.vmcoreinfo = CrashNote{0x2a4f3c0, 0x1024};
  facts.page_offset = kPageOffset;
  facts.kernel_text = CrashFacts::KernelText{0xffffffff81000000ull, 0x1000000, 0x2200000};
  return facts;
}

void expect_same_facts(const CrashFacts& a, const CrashFacts& b) {
  EXPECT_EQ(a.reservation, b.reservation);
  EXPECT_EQ(a.reservations, b.reservations);
  EXPECT_EQ(a.system_ram, b.system_ram);
  ASSERT_EQ(a.cpu_notes.size(), b.cpu_notes.size());
  for (std::size_t i = 0; i < a.cpu_notes.size(); ++i) {
    EXPECT_EQ(a.cpu_notes[i].address, b.cpu_notes[i].address) << i;
    EXPECT_EQ(a.cpu_notes[i].size, b.cpu_notes[i].size) << i;
  }
  ASSERT_EQ(a.vmcoreinfo.has_value(), b.vmcoreinfo.has_value());
  if (a.vmcoreinfo) {
    EXPECT_EQ(a.vmcoreinfo->address, b.vmcoreinfo->address);
    EXPECT_EQ(a.vmcoreinfo->size, b.vmcoreinfo->size);
  }
  EXPECT_EQ(a.page_offset, b.page_offset);
  ASSERT_EQ(a.kernel_text.has_value(), b.kernel_text.has_value());
  if (a.kernel_text) {
    EXPECT_EQ(a.kernel_text->virtual_address, b.kernel_text->virtual_address);
    EXPECT_EQ(a.kernel_text->physical_address, b.kernel_text->physical_address);
    EXPECT_EQ(a.kernel_text->size, b.kernel_text->size);
  }
}

TEST(CrashFacts, RoundTripThroughJson) {
  const CrashFacts facts = two_reservation_facts();
  const nlohmann::json json = crash_facts_to_json(facts);
  auto back = crash_facts_from_json(json);
  ASSERT_TRUE(back) << back.error().message() << "\n" << json.dump(2);
  expect_same_facts(*back, facts);

  // Without the optional parts, which a description may leave out or set to null.
  CrashFacts bare;
  bare.reservations = {{0x2b000000, 0x3b000000}};
  bare.reservation = bare.reservations[0];
  bare.system_ram = {{0x100000, 0x40000000}};
  bare.cpu_notes = {{0x3e000000, 464}};
  auto bare_back = crash_facts_from_json(crash_facts_to_json(bare));
  ASSERT_TRUE(bare_back) << bare_back.error().message();
  expect_same_facts(*bare_back, bare);
  nlohmann::json without = crash_facts_to_json(bare);
  for (const char* key : {"vmcoreinfo", "page_offset", "kernel_text"}) without.erase(key);
  auto without_back = crash_facts_from_json(without);
  ASSERT_TRUE(without_back) << without_back.error().message();
  expect_same_facts(*without_back, bare);

  // A machine description carries them under "crash".
  Machine machine = described_q35_machine(1024);
  machine.crash = facts;
  auto described = machine_from_json(machine_to_json(machine));
  ASSERT_TRUE(described) << described.error().message();
  ASSERT_TRUE(described->crash.has_value());
  expect_same_facts(*described->crash, facts);
}

TEST(CrashFacts, RefuseMalformedDescriptions) {
  const nlohmann::json good = crash_facts_to_json(two_reservation_facts());
  ASSERT_TRUE(crash_facts_from_json(good));
  auto refusal = [](const nlohmann::json& description) -> std::string {
    auto facts = crash_facts_from_json(description);
    if (facts) return "accepted";
    EXPECT_EQ(facts.error().stage, Stage::kMachine);
    return facts.error().reason;
  };
  // The values as JSON text: a braced list of two strings would be an object to nlohmann.
  auto with = [&good](const char* key, const char* value) {
    nlohmann::json changed = good;
    changed[key] = nlohmann::json::parse(value);
    return changed;
  };
  nlohmann::json no_reservations = good;
  no_reservations.erase("reservations");
  EXPECT_NE(refusal(no_reservations).find("\"reservations\""), std::string::npos);
  for (const char* spans : {R"([])", R"([["0x3b000000", "0x2b000000"]])",
                            R"([["0x2b000000", "0x2b000000"]])", R"([["0x2b000000", "junk"]])",
                            R"([["0x2b000000"]])", R"(["0x2b000000", "0x3b000000"])"})
    EXPECT_NE(refusal(with("reservations", spans)).find("\"reservations\""), std::string::npos)
        << spans;
  EXPECT_NE(refusal(with("system_ram", R"([["0x2000", "0x1000"]])")).find("\"system_ram\""),
            std::string::npos);
  for (const char* notes : {R"([{"address": "0x3e000000"}])",
                            R"([{"address": "0x3e000000", "size": 0}])", R"([{"size": 464}])"})
    EXPECT_NE(refusal(with("cpu_notes", notes)).find("a CPU note"), std::string::npos) << notes;
  EXPECT_NE(refusal(with("vmcoreinfo", R"({"address": "0x2a4f3c0"})")).find("\"vmcoreinfo\""),
            std::string::npos);
  EXPECT_NE(refusal(with("kernel_text", R"({"virtual": "0xffffffff81000000", "size": 1})"))
                .find("\"kernel_text\""),
            std::string::npos);
  // What is refused here, spelled right, is accepted: the refusals above are for what they say.
  EXPECT_EQ(refusal(with("reservations", R"([["0x2b000000", "0x3b000000"]])")), "accepted");
  EXPECT_EQ(refusal(with("cpu_notes", R"([{"address": "0x3e000000", "size": 464}])")),
            "accepted");
  EXPECT_NE(refusal(nlohmann::json::array()).find("an object"), std::string::npos);

  // In a machine description the refusal is the description's.
  nlohmann::json machine = machine_to_json(described_q35_machine(1024));
  machine["crash"] = no_reservations;
  auto described = machine_from_json(machine);
  ASSERT_FALSE(described);
  EXPECT_NE(described.error().reason.find("crash"), std::string::npos);
}

TEST(CrashLayout, PutsTheHeadersAtTheTopOfTheReservationAndTheBackupRightBelow) {
  const CrashFacts facts = two_reservation_facts();
  auto layout = plan_crash_layout(facts);
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_EQ(layout->headers, (PhysicalSpan{0x280000000 - kPage, 0x280000000}));
  EXPECT_EQ(layout->backup, (PhysicalSpan{0x280000000 - kPage - k640K, 0x280000000 - kPage}));
  EXPECT_EQ(layout->backup.size(), kCrashBackupSourceSize);
}

TEST(CrashLayout, RefusesAReservationWithoutRoomForItsOwnPages) {
  CrashFacts facts = two_reservation_facts();
  facts.reservations = {{0x10000000, 0x10000000 + k640K + kPage}};
  facts.reservation = facts.reservations[0];
  auto layout = plan_crash_layout(facts);
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().stage, Stage::kPlan);
  EXPECT_NE(layout.error().reason.find(std::to_string(k640K + kPage) + " bytes"),
            std::string::npos)
      << layout.error().message();

  // One page more leaves a page for the image, and the layout takes the rest.
  facts.reservations[0].end += kPage;
  facts.reservation = facts.reservations[0];
  auto fits = plan_crash_layout(facts);
  ASSERT_TRUE(fits) << fits.error().message();
  EXPECT_EQ(fits->backup.start, facts.reservation.start + kPage);
  EXPECT_EQ(fits->headers.end, facts.reservation.end);
}

struct CoreFile {
  Elf64_Ehdr header{};
  std::vector<Elf64_Phdr> phdrs;
};

CoreFile parse_core(const std::vector<std::byte>& bytes) {
  CoreFile core;
  EXPECT_GE(bytes.size(), sizeof core.header);
  if (bytes.size() < sizeof core.header) return core;
  std::memcpy(&core.header, bytes.data(), sizeof core.header);
  EXPECT_EQ(std::memcmp(core.header.e_ident, ELFMAG, SELFMAG), 0);
  EXPECT_EQ(core.header.e_ident[EI_CLASS], ELFCLASS64);
  EXPECT_EQ(core.header.e_ident[EI_DATA], ELFDATA2LSB);
  EXPECT_EQ(core.header.e_type, ET_CORE);
  EXPECT_EQ(core.header.e_machine, EM_X86_64);
  EXPECT_EQ(core.header.e_phentsize, sizeof(Elf64_Phdr));
  const std::uint64_t end = core.header.e_phoff + core.header.e_phnum * sizeof(Elf64_Phdr);
  EXPECT_LE(end, bytes.size());
  if (end > bytes.size()) return core;
  core.phdrs.resize(core.header.e_phnum);
  std::memcpy(core.phdrs.data(), bytes.data() + core.header.e_phoff,
              core.phdrs.size() * sizeof(Elf64_Phdr));
  return core;
}

void expect_note(const Elf64_Phdr& phdr, const CrashNote& note) {
  EXPECT_EQ(phdr.p_type, PT_NOTE);
  EXPECT_EQ(phdr.p_offset, note.address);
  EXPECT_EQ(phdr.p_filesz, note.size);
}

void expect_ram(const Elf64_Phdr& phdr, const PhysicalSpan& piece, std::uint64_t offset) {
  EXPECT_EQ(phdr.p_type, PT_LOAD) << piece;
  EXPECT_EQ(phdr.p_paddr, piece.start) << piece;
  EXPECT_EQ(phdr.p_vaddr, kPageOffset + piece.start) << piece;
  EXPECT_EQ(phdr.p_offset, offset) << piece;
  EXPECT_EQ(phdr.p_filesz, piece.size()) << piece;
  EXPECT_EQ(phdr.p_memsz, piece.size()) << piece;
}

TEST(CoreHeaders, DescribeTheNotesTheKernelTextAndTheRamOutsideEveryReservation) {
  const CrashFacts facts = two_reservation_facts();
  auto layout = plan_crash_layout(facts);
  ASSERT_TRUE(layout) << layout.error().message();
  auto bytes = build_elf_core_headers(facts, *layout);
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(bytes->size(), layout->headers.size());
  EXPECT_EQ(bytes->size() % kPage, 0u);
  const CoreFile core = parse_core(*bytes);
  ASSERT_EQ(core.phdrs.size(), 3u + 1u + 1u + 5u);

  for (std::size_t i = 0; i < 3; ++i) expect_note(core.phdrs[i], facts.cpu_notes[i]);
  expect_note(core.phdrs[3], *facts.vmcoreinfo);

  const Elf64_Phdr& text = core.phdrs[4];
  EXPECT_EQ(text.p_type, PT_LOAD);
  EXPECT_EQ(text.p_vaddr, 0xffffffff81000000ull);
  EXPECT_EQ(text.p_paddr, 0x1000000u);
  EXPECT_EQ(text.p_offset, 0x1000000u);
  EXPECT_EQ(text.p_memsz, 0x2200000u);

  // Low memory comes from the backup (the crash kernel runs there); the rest is where it was.
  const std::uint64_t backup = layout->backup.start;
  expect_ram(core.phdrs[5], {0x1000, 0x50000}, backup + 0x1000);
  expect_ram(core.phdrs[6], {0x60000, k640K}, backup + 0x60000);
  expect_ram(core.phdrs[7], {k640K, 0x2b000000}, k640K);
  expect_ram(core.phdrs[8], {0x33000000, 0x7ffe0000}, 0x33000000);
  expect_ram(core.phdrs[9], {0x100000000, 0x260000000}, 0x100000000);
}

TEST(CoreHeaders, TakeMorePagesForAMachineOfManyRamRanges) {
  CrashFacts facts = two_reservation_facts();
  facts.reservations = {{0x40000000, 0x50000000}};
  facts.reservation = facts.reservations[0];
  facts.system_ram.clear();
  // 100 ranges of 4 MiB above the reservation, one page apart.
  for (std::uint64_t i = 0; i < 100; ++i) {
    const std::uint64_t start = 0x100000000 + i * (0x400000 + kPage);
    facts.system_ram.push_back({start, start + 0x400000});
  }
  auto layout = plan_crash_layout(facts);
  ASSERT_TRUE(layout) << layout.error().message();
  const std::uint64_t phdrs = 3 + 1 + 1 + 100;
  const std::uint64_t pages = (sizeof(Elf64_Ehdr) + phdrs * sizeof(Elf64_Phdr) + kPage - 1) / kPage;
  ASSERT_GT(pages, 1u);
  EXPECT_EQ(layout->headers, (PhysicalSpan{0x50000000 - pages * kPage, 0x50000000}));
  EXPECT_EQ(layout->backup.end, layout->headers.start);
  auto bytes = build_elf_core_headers(facts, *layout);
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(bytes->size(), pages * kPage);
  const CoreFile core = parse_core(*bytes);
  ASSERT_EQ(core.phdrs.size(), phdrs);
  for (std::size_t i = 0; i < 100; ++i)
    expect_ram(core.phdrs[5 + i], facts.system_ram[i], facts.system_ram[i].start);

  // Headers for pages planned for other facts are refused, not cut.
  CrashLayout short_layout = *layout;
  short_layout.headers.start += kPage;
  EXPECT_FALSE(build_elf_core_headers(facts, short_layout));
}

// What crash_machine_view promises of any machine: RAM only between the reservation's start and
// the backup, every other range as it was, and the whole still sorted and disjoint.
void expect_crash_view(const Machine& machine, const CrashFacts& facts,
                       const CrashLayout& layout) {
  const Machine view = crash_machine_view(machine, facts, layout);
  std::uint64_t previous_end = 0;
  for (const MachineRange& range : view.ranges) {
    EXPECT_LT(range.start, range.end);
    EXPECT_GE(range.start, previous_end) << "sorted and disjoint at " << hex_u64(range.start);
    previous_end = range.end;
    if (range.kind == RangeKind::kRam) {
      EXPECT_GE(range.start, facts.reservation.start) << hex_u64(range.start);
      EXPECT_LE(range.end, layout.backup.start) << hex_u64(range.start);
    }
  }
  // Each range of the machine is covered by the view exactly: RAM split as above, the rest kept.
  for (const MachineRange& original : machine.ranges) {
    std::uint64_t cursor = original.start;
    for (const MachineRange& range : view.ranges) {
      if (range.end <= original.start || range.start >= original.end) continue;
      EXPECT_EQ(range.start, cursor) << "a gap in " << hex_u64(original.start);
      EXPECT_LE(range.end, original.end);
      cursor = range.end;
      if (original.kind != RangeKind::kRam) {
        EXPECT_EQ(range.start, original.start);
        EXPECT_EQ(range.end, original.end);
        EXPECT_EQ(range.kind, original.kind);
        EXPECT_EQ(range.attribute, original.attribute);
        continue;
      }
      const bool inside = range.start >= facts.reservation.start && range.end <= layout.backup.start;
      EXPECT_EQ(range.kind, inside ? RangeKind::kRam : RangeKind::kReserved)
          << "[" << hex_u64(range.start) << ", " << hex_u64(range.end) << ")";
    }
    EXPECT_EQ(cursor, original.end) << "covered up to the end of " << hex_u64(original.start);
  }
}

CrashFacts q35_facts(const Machine& machine, PhysicalSpan reservation) {
  CrashFacts facts;
  facts.reservations = {reservation};
  facts.reservation = reservation;
  for (const MachineRange& range : machine.ranges)
    if (range.kind == RangeKind::kRam) facts.system_ram.push_back({range.start, range.end});
  facts.cpu_notes = {{0x3e6a1000, 464}};
  facts.vmcoreinfo = CrashNote{0x2a4f3c0, 0x1024};
  facts.page_offset = kPageOffset;
  facts.kernel_text = CrashFacts::KernelText{0xffffffff81000000ull, 0x1000000, 0x2200000};
  return facts;
}

TEST(CrashView, LeavesTheImageRamOnlyInsideTheReservationBelowTheHandoffsPages) {
  const Machine machine = described_q35_machine(4096);
  const CrashFacts facts = q35_facts(machine, {0x2b000000, 0x3b000000});
  auto layout = plan_crash_layout(facts);
  ASSERT_TRUE(layout) << layout.error().message();
  expect_crash_view(machine, facts, *layout);

  const Machine view = crash_machine_view(machine, facts, *layout);
  EXPECT_EQ(view.ram_bytes(), layout->backup.start - 0x2b000000);
  EXPECT_EQ(view.ranges.size(), machine.ranges.size() + 2) << "one RAM range cut in three";
  EXPECT_EQ(view.top_of_ram(), layout->backup.start);

  // A reservation across firmware ranges: the RAM between them stays RAM, they stay theirs.
  const CrashFacts across = q35_facts(machine, {0x700000, 0x2700000});
  auto across_layout = plan_crash_layout(across);
  ASSERT_TRUE(across_layout) << across_layout.error().message();
  expect_crash_view(machine, across, *across_layout);
  EXPECT_EQ(crash_machine_view(machine, across, *across_layout).ram_bytes(),
            (0x800000 - 0x700000) + (0x810000 - 0x808000) +
                (across_layout->backup.start - 0x900000));
}

TEST(CrashView, LowRamIsTheRamBelow640KiB) {
  Machine machine;
  machine.ranges = {
      {0, 0x1000, RangeKind::kReserved, 0},
      {0x1000, 0x58000, RangeKind::kRam, 0},
      {0x58000, 0x60000, RangeKind::kAcpiNvs, 0},
      {0x60000, 0x200000, RangeKind::kRam, 0},
      {0x200000, 0x40000000, RangeKind::kRam, 0},
  };
  const std::vector<PhysicalSpan> expected{{0x1000, 0x58000}, {0x60000, k640K}};
  EXPECT_EQ(low_ram(machine), expected);
  EXPECT_EQ(low_ram(described_q35_machine(1024)), (std::vector<PhysicalSpan>{{0, k640K}}));
}

// The signed UKI run as a crash kernel in a described q35 guest whose crash facts come from its
// description file, as `efikexec load -p --machine FILE --dry-run` runs it.
LoadRequest crash_request(const TempTree& tree, PhysicalSpan reservation) {
  Machine machine = described_q35_machine(1024);
  machine.crash = q35_facts(machine, reservation);
  tree.write("machine.json", machine_to_json(machine).dump(2));
  LoadRequest request;
  request.image_path = efikexec::testing::fixture_path("uki-signed.efi");
  request.trust.no_verify = true;
  request.trust.efivars_directory = "/nonexistent";
  request.machine_spec = tree.path("machine.json");
  request.timeout_seconds = 60;
  request.handoff = Handoff::kTrampoline;
  request.crash = true;
  request.append = "irqpoll nr_cpus=1";
  return request;
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(CrashLoad, PlansTheUkiInsideTheReservationAndLoadsItIntoTheCrashSlot) {
  EFIKEXEC_NEED_FIXTURE(uki, "uki-signed.efi");
  TempTree tree;
  const PhysicalSpan reservation{0x2b000000, 0x3b000000};
  LoadResult result;
  auto prepared = prepare_kexec(crash_request(tree, reservation), result);
  ASSERT_TRUE(prepared) << prepared.error().message() << "\n" << result.run.console;
  ASSERT_TRUE(result.machine.crash.has_value());
  auto layout = plan_crash_layout(*result.machine.crash);
  ASSERT_TRUE(layout);

  const KexecPlan& plan = result.plan;
  ASSERT_TRUE(plan.crash.has_value());
  EXPECT_EQ(plan.crash->reservation, reservation);
  EXPECT_EQ(plan.crash->elfcorehdr, layout->headers.start);
  EXPECT_EQ(plan.crash->elfcorehdr_size, layout->headers.size());
  EXPECT_EQ(plan.crash->backup, layout->backup);
  EXPECT_GE(plan.entry, reservation.start);
  EXPECT_LT(plan.entry, reservation.end);
  int core_headers = 0;
  for (const PlannedSegment& segment : plan.segments) {
    EXPECT_GE(segment.destination, reservation.start) << segment.contents;
    EXPECT_LE(segment.destination + segment.memsz, reservation.end) << segment.contents;
    if (segment.contents != "ElfCoreHeaders") continue;
    ++core_headers;
    EXPECT_EQ(segment.destination, layout->headers.start);
    EXPECT_EQ(segment.memsz, layout->headers.size());
  }
  EXPECT_EQ(core_headers, 1);

  // The headers in the run's memory are the ones built for these facts.
  auto expected_headers = build_elf_core_headers(*result.machine.crash, *layout);
  ASSERT_TRUE(expected_headers);
  std::vector<std::byte> written(layout->headers.size());
  ASSERT_TRUE(result.run.memory->read(layout->headers.start, written));
  EXPECT_TRUE(written == *expected_headers);

  // elfcorehdr= first, the image's own line, --append last and only once (not in LoadOptions).
  const std::string& line = plan.crash->command_line;
  EXPECT_EQ(line.rfind("elfcorehdr=" + hex_u64(layout->headers.start) + " ", 0), 0u) << line;
  EXPECT_TRUE(ends_with(line, " irqpoll nr_cpus=1")) << line;
  EXPECT_EQ(line.find("irqpoll"), line.rfind("irqpoll")) << line;
  ASSERT_TRUE(result.run.boot_params.has_value());
  EXPECT_NE(line.find(result.run.boot_params->command_line), std::string::npos) << line;
  // ... and it is the line boot_params points the crash kernel at (cmd_line_ptr, 0x228).
  std::uint32_t pointer = 0;
  ASSERT_TRUE(result.run.memory->read(result.run.boot_params->address + 0x228,
                                      std::as_writable_bytes(std::span(&pointer, 1))));
  std::vector<std::byte> text(line.size() + 1);
  ASSERT_TRUE(result.run.memory->read(pointer, text));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(text.data())), line);

  FakeKexec fake;
  auto committed = commit_kexec(result, fake);
  ASSERT_TRUE(committed) << committed.error().message();
  EXPECT_EQ(fake.loads, 1);
  EXPECT_EQ(fake.slot, KexecSlot::kCrash);
  EXPECT_EQ(fake.entry, plan.entry);
  EXPECT_EQ(fake.recorded.size(), plan.segments.size());
}

TEST(CrashLoad, RefusesAReservationTooSmallForTheImageBeforeRunningIt) {
  EFIKEXEC_NEED_FIXTURE(uki, "uki-signed.efi");
  TempTree tree;
  LoadResult result;
  auto prepared = prepare_kexec(crash_request(tree, {0x2b000000, 0x2c000000}), result);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().stage, Stage::kRequest);
  EXPECT_NE(prepared.error().reason.find("16 MiB crash kernel reservation"), std::string::npos)
      << prepared.error().message();
  EXPECT_NE(prepared.error().reason.find("needs at least"), std::string::npos)
      << prepared.error().message();
  EXPECT_EQ(result.run.memory, nullptr) << "the image must not have run";
}

// A kernel in lockdown refuses kexec_load, and the payload does not load crash kernels: refused
// before anything is read or run, whatever --handoff says.
TEST(CrashLoad, IsRefusedUnderLockdownBeforeAnythingRuns) {
  EFIKEXEC_NEED_FIXTURE(uki, "uki-signed.efi");
  TempTree tree;
  tree.write("root/sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
  for (Handoff handoff : {Handoff::kAuto, Handoff::kPayload}) {
    LoadRequest request = crash_request(tree, {0x2b000000, 0x3b000000});
    request.system_root = tree.path("root");
    request.handoff = handoff;
    LoadResult result;
    auto prepared = prepare_kexec(request, result);
    ASSERT_FALSE(prepared);
    EXPECT_EQ(prepared.error().stage, Stage::kKexec);
    EXPECT_NE(prepared.error().reason.find("lockdown [integrity]"), std::string::npos)
        << prepared.error().message();
    EXPECT_FALSE(result.image.has_value()) << "nothing may have been read";
    EXPECT_EQ(result.run.memory, nullptr) << "the image must not have run";
  }
  FakeKexec kernel;
  auto unloaded = unload_kexec(Handoff::kPayload, kernel, KexecSlot::kCrash);
  ASSERT_FALSE(unloaded);
  EXPECT_EQ(kernel.unloads + kernel.file_unloads, 0);
}

}  // namespace
}  // namespace efikexec::kexec
