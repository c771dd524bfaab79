// SPDX-License-Identifier: MIT
// The trampoline (arch/x86_64/trampoline.S) as the loader places it: the ELF object built with
// efikexec is embedded in the program and read with libelf, so symbol offsets and relocations
// come from the object itself, never from hand-kept numbers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cpu_context.h"
#include "kexec/common/host_error.hpp"
#include "kexec/common/physical_span.hpp"

namespace efikexec::kexec {

// How many ranges the trampoline clears at entry (efikexec_trampoline_zero_ranges).
inline constexpr std::size_t kTrampolineZeroRanges = 16;

class Trampoline {
 public:
  // Reads the embedded object: its one code section, symbols and relocations.
  HostStatus load();

  std::uint64_t size() const { return code_.size(); }
  // Offset of a symbol of the object; false if it has no such symbol.
  bool symbol(const std::string& name, std::uint64_t& offset) const;

  struct Parameters {
    std::uint64_t pml4;
    std::uint64_t pml5;
    efikexec_cpu_context context;
    bool serial_mark = false;  // a line on COM1 at entry, for benchmarks (load --serial-mark)
    // Crash kernels: copy [backup_source, +backup_size) to backup_destination at entry.
    std::uint64_t backup_source = 0;
    std::uint64_t backup_destination = 0;
    std::uint64_t backup_size = 0;
    // Memory the image left holding only zeros, which no segment carries: cleared at entry,
    // page-aligned, at most kTrampolineZeroRanges.
    std::vector<PhysicalSpan> zero_ranges;
  };
  // The blob for physical address `base`: relocated, with the parameters and the IDT filled in.
  HostResult<std::vector<std::uint8_t>> place(std::uint64_t base,
                                              const Parameters& parameters) const;

 private:
  struct Relocation {
    std::uint64_t offset;
    std::uint32_t type;
    std::uint64_t symbol_value;  // offset of the target within the section
    std::int64_t addend;
  };
  std::vector<std::uint8_t> code_;
  std::map<std::string, std::uint64_t> symbols_;
  std::vector<Relocation> relocations_;
};

}  // namespace efikexec::kexec
