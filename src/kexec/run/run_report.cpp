// SPDX-License-Identifier: MIT
#include <nlohmann/json.hpp>

#include "kexec/run/run_report.hpp"

#include "kexec/common/hex.hpp"

namespace efikexec::kexec {

namespace {

using nlohmann::json;

const char* e820_type_name(std::uint32_t type) {
  switch (type) {
    case 1: return "ram";
    case 2: return "reserved";
    case 3: return "acpi";
    case 4: return "nvs";
    case 5: return "unusable";
    case 7: return "pmem";
    default: return "other";
  }
}

json context_json(const efikexec_cpu_context& c) {
  return {{"rip", hex_u64(c.rip)},       {"rsp", hex_u64(c.rsp)},
          {"rflags", hex_u64(c.rflags)}, {"rbx", hex_u64(c.rbx)},
          {"rbp", hex_u64(c.rbp)},       {"rdi", hex_u64(c.rdi)},
          {"rsi", hex_u64(c.rsi)},       {"r12", hex_u64(c.r12)},
          {"r13", hex_u64(c.r13)},       {"r14", hex_u64(c.r14)},
          {"r15", hex_u64(c.r15)},       {"mxcsr", hex_u64(c.mxcsr)},
          {"fcw", hex_u64(c.fcw)}};
}

json variables_json(const RunOutcome& outcome) {
  json out = json::array();
  for (const ImageVariable& variable : outcome.variables_set) {
    json entry = {{"name", variable.name},
                  {"guid", variable.guid},
                  {"attributes", hex_u64(variable.attributes)},
                  {"size", variable.size}};
    if (variable.text) {
      entry["text"] = *variable.text;
    } else {
      entry["hex"] = variable.hex;
      entry["hex_cut"] = variable.data_cut;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

std::string render_variables_set(const RunOutcome& outcome) {
  // Hex beyond this many bytes is left to --json.
  constexpr std::size_t kHexChars = 2 * 32;
  std::string out;
  for (const ImageVariable& variable : outcome.variables_set) {
    out += "efikexec: the image set " + variable.name + " (" + variable.guid + "): ";
    if (variable.text) {
      out += *variable.text;
    } else {
      out += "hex " + variable.hex.substr(0, kHexChars);
      if (variable.data_cut || variable.hex.size() > kHexChars) out += "...";
      out += " (" + std::to_string(variable.size) + " bytes)";
    }
    out += "\n";
  }
  if (outcome.variables_cut)
    out += "efikexec: the image set more variables than the run's report keeps\n";
  return out;
}

json run_outcome_json(const RunOutcome& outcome) {
  json out = {{"end", run_end_name(outcome.end)},
              {"status", hex_u64(outcome.status)},
              {"message", outcome.message},
              {"seconds", outcome.seconds_in_image},
              {"console", outcome.console},
              {"confinement", {{"skipped", outcome.confinement_skipped}}},
              {"variables_set", variables_json(outcome)},
              {"variables_cut", outcome.variables_cut}};
  if (!outcome.trace.empty()) out["trace"] = outcome.trace;
  if (outcome.end != RunEnd::kExitBootServices) return out;
  out["context"] = context_json(outcome.context);
  out["system_table"] = hex_u64(outcome.system_table);
  json e820 = json::array();
  for (const E820Entry& entry : outcome.e820)
    e820.push_back({{"start", hex_u64(entry.start)},
                    {"size", hex_u64(entry.size)},
                    {"type", e820_type_name(entry.type)}});
  out["e820"] = e820;
  if (outcome.boot_params) {
    const BootParamsFacts& facts = *outcome.boot_params;
    out["boot_params"] = {{"address", hex_u64(facts.address)},
                          {"command_line", facts.command_line},
                          {"initrd_address", hex_u64(facts.initrd_address)},
                          {"initrd_size", facts.initrd_size},
                          {"efi_system_table", hex_u64(facts.efi_system_table)},
                          {"efi_memory_map", hex_u64(facts.efi_memory_map)},
                          {"efi_memory_map_size", facts.efi_memory_map_size}};
    json members = json::array();
    for (const BootParamsFacts::InitrdMember& member : facts.initrd_members)
      members.push_back({{"name", member.name}, {"size", member.size}});
    out["boot_params"]["initrd_cpio_members"] = members;
    out["boot_params"]["initrd_cpio_members_cut"] = facts.initrd_members_cut;
  } else {
    out["boot_params"] = nullptr;
  }
  return out;
}

std::string render_run_outcome(const RunOutcome& outcome) {
  std::string out = outcome.console;
  if (!out.empty() && out.back() != '\n') out += "\n";
  if (!outcome.trace.empty()) {
    out += "== trace ==\n";
    for (const std::string& line : outcome.trace) out += line + "\n";
  }
  if (outcome.end == RunEnd::kExitBootServices) {
    const efikexec_cpu_context& c = outcome.context;
    out += "== ExitBootServices() reached: captured context ==\n";
    out += "  rip " + hex_u64(c.rip) + "  rsp " + hex_u64(c.rsp) + "  rflags " +
           hex_u64(c.rflags) + "\n";
    out += "  rbx " + hex_u64(c.rbx) + "  rbp " + hex_u64(c.rbp) + "  rdi " + hex_u64(c.rdi) +
           "  rsi " + hex_u64(c.rsi) + "\n";
    out += "  r12 " + hex_u64(c.r12) + "  r13 " + hex_u64(c.r13) + "  r14 " + hex_u64(c.r14) +
           "  r15 " + hex_u64(c.r15) + "\n";
    out += "  mxcsr " + hex_u64(c.mxcsr) + "  fcw " + hex_u64(c.fcw) + "  system table " +
           hex_u64(outcome.system_table) + "\n";
    if (outcome.boot_params) {
      const BootParamsFacts& facts = *outcome.boot_params;
      out += "== boot_params left by the Linux stub (at " + hex_u64(facts.address) + ") ==\n";
      out += "  command line: " + facts.command_line + "\n";
      out += "  initrd: " + std::to_string(facts.initrd_size) + " bytes at " +
             hex_u64(facts.initrd_address) + "\n";
      for (const BootParamsFacts::InitrdMember& member : facts.initrd_members)
        out += "  initrd cpio member: " + member.name + " (" + std::to_string(member.size) +
               " bytes)\n";
      if (facts.initrd_members_cut) out += "  initrd cpio members: more not listed\n";
      out += "  EFI system table " + hex_u64(facts.efi_system_table) + ", memory map " +
             hex_u64(facts.efi_memory_map) + " (" + std::to_string(facts.efi_memory_map_size) +
             " bytes)\n";
    }
    out += "== e820 (from the final memory map) ==\n";
    for (const E820Entry& entry : outcome.e820)
      out += "  " + hex_u64(entry.start) + "-" + hex_u64(entry.start + entry.size - 1) + " " +
             e820_type_name(entry.type) + "\n";
  }
  if (!outcome.confinement_skipped.empty()) {
    out += "confinement: skipped (not allowed on this machine):";
    for (const std::string& step : outcome.confinement_skipped) out += " " + step + ";";
    out.back() = '\n';
  }
  out += render_variables_set(outcome);
  out += std::string("ended: ") + run_end_name(outcome.end) + " (" + outcome.message + ")\n";
  return out;
}

}  // namespace efikexec::kexec
