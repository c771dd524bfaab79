// SPDX-License-Identifier: MIT
#include "kexec/handoff/trampoline.hpp"

#include <gelf.h>
#include <libelf.h>

#include <cstring>

#include "efi_shim/efi_types.hpp"
#include "handoff_tables.hpp"

extern "C" {
// The object file itself, embedded by the build (trampoline_object.S).
extern const std::uint8_t efikexec_trampoline_object[];
extern const std::uint8_t efikexec_trampoline_object_end[];
}

namespace efikexec::kexec {

namespace {

constexpr std::uint16_t kCodeSelector = 0x38;  // as trampoline.S loads it

class ElfHandle {
 public:
  explicit ElfHandle(std::vector<char>& bytes) : elf_(elf_memory(bytes.data(), bytes.size())) {}
  ~ElfHandle() {
    if (elf_ != nullptr) elf_end(elf_);
  }
  Elf* get() const { return elf_; }

 private:
  Elf* elf_;
};

}  // namespace

HostStatus Trampoline::load() {
  if (elf_version(EV_CURRENT) == EV_NONE)
    return host_fail(Stage::kPlan, "libelf is unusable");
  std::vector<char> bytes(efikexec_trampoline_object, efikexec_trampoline_object_end);
  ElfHandle elf(bytes);
  if (elf.get() == nullptr || elf_kind(elf.get()) != ELF_K_ELF)
    return host_fail(Stage::kPlan, "the embedded trampoline is not an ELF object");
  std::size_t text_index = 0;
  Elf_Scn* symbols = nullptr;
  Elf_Scn* relocations = nullptr;
  std::size_t string_index = 0;
  if (elf_getshdrstrndx(elf.get(), &string_index) != 0)
    return host_fail(Stage::kPlan, "the trampoline object has no section names");
  for (Elf_Scn* section = nullptr; (section = elf_nextscn(elf.get(), section)) != nullptr;) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) == nullptr) continue;
    const char* name = elf_strptr(elf.get(), string_index, header.sh_name);
    if (name != nullptr && std::strcmp(name, ".text") == 0) {
      text_index = elf_ndxscn(section);
      Elf_Data* data = elf_getdata(section, nullptr);
      if (data == nullptr || data->d_buf == nullptr) break;
      const auto* begin = static_cast<const std::uint8_t*>(data->d_buf);
      code_.assign(begin, begin + data->d_size);
    } else if (header.sh_type == SHT_SYMTAB) {
      symbols = section;
    }
  }
  for (Elf_Scn* section = nullptr; (section = elf_nextscn(elf.get(), section)) != nullptr;) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) != nullptr && header.sh_type == SHT_RELA &&
        header.sh_info == text_index)
      relocations = section;
  }
  if (code_.empty() || symbols == nullptr)
    return host_fail(Stage::kPlan, "the trampoline object lacks its code or symbols");
  GElf_Shdr symbol_header;
  gelf_getshdr(symbols, &symbol_header);
  Elf_Data* symbol_data = elf_getdata(symbols, nullptr);
  const std::size_t symbol_count = symbol_header.sh_size / symbol_header.sh_entsize;
  std::vector<GElf_Sym> table(symbol_count);
  for (std::size_t i = 0; i < symbol_count; ++i) {
    gelf_getsym(symbol_data, static_cast<int>(i), &table[i]);
    const char* name = elf_strptr(elf.get(), symbol_header.sh_link, table[i].st_name);
    if (name != nullptr && *name != '\0' && table[i].st_shndx == text_index)
      symbols_[name] = table[i].st_value;
  }
  if (relocations != nullptr) {
    GElf_Shdr header;
    gelf_getshdr(relocations, &header);
    Elf_Data* data = elf_getdata(relocations, nullptr);
    for (std::size_t i = 0; i < header.sh_size / header.sh_entsize; ++i) {
      GElf_Rela rela;
      gelf_getrela(data, static_cast<int>(i), &rela);
      const std::size_t symbol = GELF_R_SYM(rela.r_info);
      if (symbol >= table.size() || (table[symbol].st_shndx != text_index &&
                                     GELF_ST_TYPE(table[symbol].st_info) != STT_SECTION))
        return host_fail(Stage::kPlan, "the trampoline refers to something outside itself");
      relocations_.push_back({rela.r_offset, static_cast<std::uint32_t>(GELF_R_TYPE(rela.r_info)),
                              table[symbol].st_value, rela.r_addend});
    }
  }
  return {};
}

bool Trampoline::symbol(const std::string& name, std::uint64_t& offset) const {
  auto found = symbols_.find(name);
  if (found == symbols_.end()) return false;
  offset = found->second;
  return true;
}

HostResult<std::vector<std::uint8_t>> Trampoline::place(std::uint64_t base,
                                                        const Parameters& parameters) const {
  std::vector<std::uint8_t> out = code_;
  for (const Relocation& relocation : relocations_) {
    const std::uint64_t target = base + relocation.symbol_value + relocation.addend;
    if (relocation.offset + 8 > out.size())
      return host_fail(Stage::kPlan, "trampoline relocation outside its code");
    if (relocation.type == R_X86_64_64) {
      std::memcpy(out.data() + relocation.offset, &target, 8);
    } else if (relocation.type == R_X86_64_PC32 || relocation.type == R_X86_64_PLT32) {
      const std::int64_t displacement =
          static_cast<std::int64_t>(target - (base + relocation.offset));
      const auto value = static_cast<std::int32_t>(displacement);
      std::memcpy(out.data() + relocation.offset, &value, 4);
    } else
      return host_fail(Stage::kPlan, "unsupported relocation type in the trampoline object");
  }
  std::uint64_t pml4, pml5, context, idt, idt_end, fault, serial_mark, backup_source,
      backup_destination, backup_size, zero_ranges, zero_count;
  if (!symbol("efikexec_trampoline_pml4", pml4) || !symbol("efikexec_trampoline_pml5", pml5) ||
      !symbol("efikexec_trampoline_serial_mark", serial_mark) ||
      !symbol("efikexec_trampoline_backup_source", backup_source) ||
      !symbol("efikexec_trampoline_backup_destination", backup_destination) ||
      !symbol("efikexec_trampoline_backup_size", backup_size) ||
      !symbol("efikexec_trampoline_zero_ranges", zero_ranges) ||
      !symbol("efikexec_trampoline_zero_count", zero_count) ||
      !symbol("efikexec_trampoline_context", context) ||
      !symbol("efikexec_trampoline_idt", idt) || !symbol("efikexec_trampoline_end", idt_end) ||
      !symbol("efikexec_trampoline_fault", fault))
    return host_fail(Stage::kPlan, "the trampoline object lacks a symbol the loader fills");
  std::memcpy(out.data() + pml4, &parameters.pml4, 8);
  std::memcpy(out.data() + pml5, &parameters.pml5, 8);
  out[serial_mark] = parameters.serial_mark ? 1 : 0;
  std::memcpy(out.data() + backup_source, &parameters.backup_source, 8);
  std::memcpy(out.data() + backup_destination, &parameters.backup_destination, 8);
  std::memcpy(out.data() + backup_size, &parameters.backup_size, 8);
  if (parameters.zero_ranges.size() > kTrampolineZeroRanges)
    return host_fail(Stage::kPlan, "more zero ranges than the trampoline clears");
  for (std::size_t i = 0; i < parameters.zero_ranges.size(); ++i) {
    const PhysicalSpan& range = parameters.zero_ranges[i];
    if (range.start % efi::kPageSize != 0 || range.end % efi::kPageSize != 0 ||
        range.end <= range.start)
      return host_fail(Stage::kPlan, "a zero range for the trampoline is not whole pages");
    const std::uint64_t entry[2] = {range.start, range.size()};
    std::memcpy(out.data() + zero_ranges + i * sizeof entry, entry, sizeof entry);
  }
  const std::uint64_t count = parameters.zero_ranges.size();
  std::memcpy(out.data() + zero_count, &count, 8);
  std::memcpy(out.data() + context, &parameters.context, sizeof parameters.context);
  arch::write_idt_gates({reinterpret_cast<std::byte*>(out.data()) + idt, idt_end - idt},
                        base + fault, kCodeSelector);
  return out;
}

}  // namespace efikexec::kexec
