// SPDX-License-Identifier: MIT
// The firmware tables the next kernel needs (ACPI, SMBIOS), found from what the kernel that
// loaded the payload passed on: boot_params.acpi_rsdp_addr, the SETUP_EFI setup_data (the real
// system table's configuration table array and SMBIOS, at physical addresses) and the real
// system table itself. All of it is untrusted: every structure is read through a reader that
// refuses memory outside the machine's mapped ranges, the setup_data chain is walked a bounded
// number of steps, and a table that can be read must carry its signature (and checksum) to be
// passed on. A table that cannot be read (firmware memory the payload does not map) is passed on
// as given: the next kernel checks it again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "efi_shim/shim.hpp"
#include "payload/bare_metal/machine_map.hpp"
#include "payload/bare_metal/run_uki.hpp"

namespace efikexec::payload {

// Physical memory as far as the payload may read it.
class PhysicalReader {
 public:
  // False, with nothing read, when any byte of [address, address + out.size()) is not readable.
  virtual bool read(std::uint64_t address, std::span<std::byte> out) = 0;

 protected:
  ~PhysicalReader() = default;
};

// Reads through the identity map, only inside the map's ranges the payload's page tables cover:
// RAM (whatever it was typed), ACPI memory and the firmware's runtime code and data. Reserved
// ranges and MMIO may be device memory and are never read.
class IdentityReader final : public PhysicalReader {
 public:
  explicit IdentityReader(const MachineMap& map) : map_(map) {}
  bool read(std::uint64_t address, std::span<std::byte> out) override;
  // The range check alone (also used by tests).
  bool readable(std::uint64_t address, std::uint64_t size) const;

 private:
  const MachineMap& map_;
};

struct FirmwareTables {
  std::uint64_t acpi20 = 0;  // RSDP with revision >= 2 (or of unknown revision)
  std::uint64_t acpi10 = 0;  // RSDP with revision 0
  std::uint64_t smbios = 0;  // SMBIOS 2.x entry point ("_SM_")
  std::uint64_t smbios3 = 0; // SMBIOS 3 entry point ("_SM3_")
  // For the next kernel's SETUP_EFI (uki/linux_setup_data.hpp): the loading kernel's SETUP_EFI
  // was found (and its fw_vendor), and the real system table's RuntimeServices, at the virtual
  // address the loading kernel gave it (0 when the system table could not be read).
  bool setup_efi = false;
  std::uint64_t fw_vendor = 0;
  std::uint64_t runtime_services = 0;
};

inline constexpr std::size_t kMaxSetupData = 64;
inline constexpr std::size_t kMaxConfigurationTables = 256;

FirmwareTables find_firmware_tables(const BareMetalMachine& machine, PhysicalReader& reader);

// The tables as the shim's configuration tables (at most 4 entries); returns how many.
std::size_t configuration_tables(const FirmwareTables& tables,
                                 std::span<efi::ConfigurationTableEntry, 4> out);

}  // namespace efikexec::payload
