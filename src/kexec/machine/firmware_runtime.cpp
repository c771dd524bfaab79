// SPDX-License-Identifier: MIT
#include "kexec/machine/firmware_runtime.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kexec/common/hex.hpp"

namespace efikexec::kexec {

namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kMemoryRuntime = std::uint64_t{1} << 63;  // EFI_MEMORY_RUNTIME

enum class Read { kOk, kMissing, kMalformed };

// A number as sysfs prints it ("0x1f", or decimal): the whole file, one line, no sign.
Read read_number(const fs::path& path, std::uint64_t& value) {
  std::ifstream in(path);
  if (!in) return Read::kMissing;
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789abcdefABCDEFx") !=
                                              std::string::npos)
    return Read::kMalformed;
  errno = 0;
  char* end = nullptr;
  value = std::strtoull(text.c_str(), &end, 0);
  return errno == 0 && end != nullptr && *end == '\0' ? Read::kOk : Read::kMalformed;
}

HostStatus malformed(const fs::path& path, const std::string& what) {
  return host_fail(Stage::kMachine, "the firmware's runtime map is malformed: " + what,
                   path.string());
}

HostResult<std::uint64_t> required_number(const fs::path& path) {
  std::uint64_t value = 0;
  switch (read_number(path, value)) {
    case Read::kOk: return value;
    case Read::kMissing:
      return std::unexpected(malformed(path, "a file is missing").error());
    case Read::kMalformed:
      return std::unexpected(malformed(path, "not a number").error());
  }
  return value;
}

}  // namespace

HostResult<FirmwareRuntimeFacts> read_firmware_runtime(const std::string& efi_dir) {
  const fs::path efi = efi_dir;
  const fs::path map = efi / "runtime-map";
  FirmwareRuntimeFacts facts;
  std::error_code ec;
  if (!fs::is_directory(map, ec)) {
    facts.unavailable = map.string() + " is missing (a kernel without CONFIG_EFI_RUNTIME_MAP, "
                                       "or booted with efi=noruntime)";
    return facts;
  }
  FirmwareRuntime runtime;
  for (const auto& entry : fs::directory_iterator(map, ec)) {
    if (!entry.is_directory()) continue;
    RuntimeRegion region{};
    std::uint64_t type = 0;
    for (auto [name, slot] : {std::pair{"phys_addr", &region.physical},
                              std::pair{"virt_addr", &region.virtual_address},
                              std::pair{"num_pages", &region.pages},
                              std::pair{"attribute", &region.attribute},
                              std::pair{"type", &type}}) {
      auto value = required_number(entry.path() / name);
      if (!value) return std::unexpected(std::move(value.error()));
      *slot = *value;
    }
    const fs::path where = entry.path();
    if (type > 0xffffffffu) return std::unexpected(malformed(where / "type", "not a memory type").error());
    region.type = static_cast<std::uint32_t>(type);
    if (region.physical % kPage != 0 || region.virtual_address % kPage != 0)
      return std::unexpected(malformed(where, "an address is not page aligned").error());
    if (region.pages == 0 || region.pages > (~std::uint64_t{0} >> 12) ||
        region.physical > ~std::uint64_t{0} - region.pages * kPage ||
        region.virtual_address > ~std::uint64_t{0} - region.pages * kPage)
      return std::unexpected(malformed(where / "num_pages", "the region is empty or wraps").error());
    // A kernel that was itself started with a whole memory map (by efikexec) lists every
    // descriptor of it; only those marked EFI_MEMORY_RUNTIME are the firmware's.
    if ((region.attribute & kMemoryRuntime) == 0) continue;
    runtime.regions.push_back(region);
  }
  if (ec) return host_fail(Stage::kMachine, "cannot list the firmware's runtime map", map.string());
  if (runtime.regions.empty()) {
    facts.unavailable = map.string() + " lists no regions";
    return facts;
  }
  std::sort(runtime.regions.begin(), runtime.regions.end(),
            [](const RuntimeRegion& a, const RuntimeRegion& b) { return a.physical < b.physical; });
  for (std::size_t i = 1; i < runtime.regions.size(); ++i)
    if (runtime.regions[i].physical < runtime.regions[i - 1].end())
      return std::unexpected(
          malformed(map, "regions overlap at " + hex_u64(runtime.regions[i].physical)).error());

  switch (read_number(efi / "runtime", runtime.runtime_reported)) {
    case Read::kOk: break;
    case Read::kMissing:
      facts.unavailable = (efi / "runtime").string() + " is missing (no runtime services table)";
      return facts;
    case Read::kMalformed: return std::unexpected(malformed(efi / "runtime", "not a number").error());
  }
  for (auto [name, slot] : {std::pair{"fw_vendor", &runtime.fw_vendor},
                            std::pair{"config_table", &runtime.config_table}}) {
    auto value = required_number(efi / name);
    if (!value) return std::unexpected(std::move(value.error()));
    *slot = *value;
  }
  // After a firmware boot the kernel reports the table's physical address (it read it before
  // SetVirtualAddressMap); after a kexec, the virtual one it was handed. Either way it lies in
  // a runtime region, and the next kernel needs the virtual address.
  const std::uint64_t table = runtime.runtime_reported;
  for (const RuntimeRegion& region : runtime.regions) {
    if (table >= region.physical && table < region.end()) {
      runtime.runtime_services = region.virtual_address + (table - region.physical);
      break;
    }
    if (table >= region.virtual_address && table < region.virtual_address + region.pages * kPage) {
      runtime.runtime_services = table;
      break;
    }
  }
  if (runtime.runtime_services == 0)
    return std::unexpected(
        malformed(efi / "runtime", "the runtime services table " + hex_u64(table) +
                                       " lies in no region of the runtime map").error());
  facts.runtime = std::move(runtime);
  return facts;
}

}  // namespace efikexec::kexec
