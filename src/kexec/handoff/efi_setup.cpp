// SPDX-License-Identifier: MIT
#include "kexec/handoff/efi_setup.hpp"

#include <cstring>

#include "efi_shim/crc32.hpp"
#include "efi_shim/efi_types.hpp"
#include "kexec/common/hex.hpp"
#include "kexec/run/child_report.hpp"

namespace efikexec::kexec {

namespace {

// EFI_SYSTEM_TABLE (UEFI 2.10 §4.3, x64): where the fields read or written here are.
constexpr std::size_t kSystabCrc = 0x10;
constexpr std::size_t kSystabVendor = 0x18;
constexpr std::size_t kSystabRuntime = 0x58;
constexpr std::size_t kSystabTableCount = 0x68;
constexpr std::size_t kSystabTables = 0x70;
constexpr std::size_t kSystabSize = sizeof(EFI_SYSTEM_TABLE);
static_assert(kSystabSize == 0x78 && offsetof(EFI_SYSTEM_TABLE, FirmwareVendor) == kSystabVendor &&
              offsetof(EFI_SYSTEM_TABLE, RuntimeServices) == kSystabRuntime &&
              offsetof(EFI_SYSTEM_TABLE, NumberOfTableEntries) == kSystabTableCount &&
              offsetof(EFI_SYSTEM_TABLE, ConfigurationTable) == kSystabTables);
constexpr std::size_t kConfigurationTableEntry = sizeof(EFI_CONFIGURATION_TABLE);
// More tables than any firmware publishes: a count beyond it is the image's doing.
constexpr std::uint64_t kMaxConfigurationTables = 1024;

std::uint64_t u64_at(std::span<const std::byte> bytes, std::size_t offset) {
  std::uint64_t value = 0;
  std::memcpy(&value, bytes.data() + offset, 8);
  return value;
}

void put(std::span<std::byte> bytes, std::size_t offset, const void* value, std::size_t size) {
  std::memcpy(bytes.data() + offset, value, size);
}

RuntimeHandover stubs(std::string why) {
  RuntimeHandover handover;
  handover.description = "the next kernel runs without EFI runtime services: " + std::move(why);
  return handover;
}

}  // namespace

std::expected<SystemTablePointers, std::string> read_system_table_pointers(const RunOutcome& run) {
  std::array<std::byte, kSystabSize> systab{};
  if (run.memory == nullptr || !in_allocated(run.final_map, run.system_table, kSystabSize) ||
      !run.memory->read(run.system_table, systab))
    return std::unexpected("the system table lies outside the run's memory");
  if (u64_at(systab, 0) != EFI_SYSTEM_TABLE_SIGNATURE)
    return std::unexpected("the system table's signature was overwritten");
  SystemTablePointers found;
  found.firmware_vendor = u64_at(systab, kSystabVendor);
  found.runtime_services = u64_at(systab, kSystabRuntime);
  found.array = u64_at(systab, kSystabTables);
  found.count = u64_at(systab, kSystabTableCount);
  if (found.count > kMaxConfigurationTables ||
      (found.count != 0 &&
       !in_allocated(run.final_map, found.array, found.count * kConfigurationTableEntry)))
    return std::unexpected("the system table's configuration tables (" +
                           std::to_string(found.count) + " at " + hex_u64(found.array) +
                           ") lie outside the run's memory");
  std::vector<std::byte> entries(found.count * kConfigurationTableEntry);
  if (!run.memory->read(found.array, entries))
    return std::unexpected("the configuration tables cannot be read");
  for (std::uint64_t i = 0; i < found.count; ++i)
    found.tables.push_back(u64_at(entries, i * kConfigurationTableEntry +
                                               offsetof(EFI_CONFIGURATION_TABLE, VendorTable)));
  return found;
}

HostResult<RuntimeHandover> hand_over_runtime_services(const Machine& machine, RunOutcome& run,
                                                        std::uint64_t page) {
  if (!machine.efi_booted)
    return stubs("this machine did not boot through EFI (the shim's stubs answer "
                 "EFI_UNSUPPORTED)");
  if (!machine.firmware_runtime)
    return stubs(machine.firmware_runtime_unavailable.empty()
                     ? std::string("the machine description gives no firmware runtime map")
                     : machine.firmware_runtime_unavailable);
  const FirmwareRuntime& firmware = *machine.firmware_runtime;
  if (run.memory == nullptr || page == 0) return stubs("the run set aside no page for SETUP_EFI");
  if (!run.boot_params)
    return stubs("the image left no Linux boot_params naming the shim's system table");
  const std::uint64_t boot_params = run.boot_params->address;
  if (!in_allocated(run.final_map, boot_params, efi::kPageSize) ||
      !in_allocated(run.final_map, page, efi::pages_to_bytes(kEfiSetupPages)))
    return stubs("boot_params or the SETUP_EFI page lies outside the run's memory");

  // The system table the kernel receives, and the configuration tables it names.
  auto configuration = read_system_table_pointers(run);
  if (!configuration) return stubs(std::move(configuration.error()));
  const std::uint64_t tables = configuration->array;
  const std::uint64_t count = configuration->count;
  std::array<std::byte, kSystabSize> systab{};
  if (!run.memory->read(run.system_table, systab))
    return stubs("the system table lies outside the run's memory");

  std::array<std::byte, 8> link{};
  if (!run.memory->read(boot_params + kBootParamsSetupData, link))
    return host_fail(Stage::kPlan, "cannot read boot_params in the run's memory");
  // The kernel reads the configuration tables from SETUP_EFI but their number from the system
  // table it was given: both name the shim's array (the firmware's ACPI and SMBIOS tables, and
  // what the image installed), so they agree.
  const auto entry = efi_setup_entry(u64_at(link, 0), firmware.fw_vendor,
                                     firmware.runtime_services, tables, machine.smbios.value_or(0));
  const std::uint64_t first = page;
  std::array<std::byte, 8> new_link{};
  put(new_link, 0, &first, 8);
  const std::uint64_t runtime = firmware.runtime_services;
  put(systab, kSystabRuntime, &runtime, 8);
  const std::uint32_t zero = 0;
  put(systab, kSystabCrc, &zero, 4);
  const std::uint32_t crc = efi::crc32(systab);
  put(systab, kSystabCrc, &crc, 4);
  if (!run.memory->write(page, entry) ||
      !run.memory->write(boot_params + kBootParamsSetupData, new_link) ||
      !run.memory->write(run.system_table, systab))
    return host_fail(Stage::kPlan, "cannot write the firmware's runtime services into the run's "
                                   "memory");
  RuntimeHandover handover;
  handover.firmware = true;
  handover.setup_data = page;
  handover.runtime_services = runtime;
  handover.config_tables = tables;
  handover.config_table_count = count;
  handover.description = "the next kernel runs with the firmware's EFI runtime services (" +
                         std::to_string(firmware.regions.size()) +
                         " runtime regions at the running kernel's virtual addresses, runtime "
                         "services table " + hex_u64(runtime) + ", SETUP_EFI at " +
                         hex_u64(page) + ")";
  return handover;
}

}  // namespace efikexec::kexec
