// SPDX-License-Identifier: MIT
#include "boot_params.hpp"

#include "uki/boot_params_offsets.hpp"

namespace efikexec::payload {

namespace {

using namespace uki::boot_params_offsets;

template <class T>
Result<std::uint64_t> field(ByteView page, std::uint64_t offset, const char* what) {
  auto value = page.read<LittleEndian<T>>(offset, what);
  if (!value) return std::unexpected(value.error());
  return static_cast<std::uint64_t>(value->get());
}

#define EFX_FIELD(var, type, offset, what)                  \
  auto var##_r = field<type>(page, offset, what);           \
  if (!var##_r) return std::unexpected(var##_r.error());    \
  const std::uint64_t var = *var##_r

}  // namespace

Result<BootParamsFacts> read_boot_params(ByteView page) {
  if (page.size() < kBootParamsSize)
    return fail(ErrorCode::kTruncated, "boot_params is shorter than a page", page.size());
  BootParamsFacts facts;
  EFX_FIELD(magic, std::uint32_t, kHeaderMagic, "boot_params header magic");
  if (magic != 0x53726448)  // "HdrS"
    return fail(ErrorCode::kBadMagic, "boot_params carries no HdrS setup header", kHeaderMagic);
  EFX_FIELD(version, std::uint16_t, kVersion, "boot_params protocol version");
  facts.protocol_version = static_cast<std::uint16_t>(version);
  EFX_FIELD(rsdp, std::uint64_t, kAcpiRsdpAddr, "boot_params acpi_rsdp_addr");
  facts.acpi_rsdp = rsdp;
  EFX_FIELD(secure_boot, std::uint8_t, kSecureBoot, "boot_params secure_boot");
  facts.secure_boot = static_cast<std::uint8_t>(secure_boot);
  EFX_FIELD(ramdisk_lo, std::uint32_t, kRamdiskImage, "boot_params ramdisk_image");
  EFX_FIELD(ramdisk_hi, std::uint32_t, kExtRamdiskImage, "boot_params ext_ramdisk_image");
  EFX_FIELD(size_lo, std::uint32_t, kRamdiskSize, "boot_params ramdisk_size");
  EFX_FIELD(size_hi, std::uint32_t, kExtRamdiskSize, "boot_params ext_ramdisk_size");
  facts.ramdisk_address = ramdisk_lo | ramdisk_hi << 32;
  facts.ramdisk_size = size_lo | size_hi << 32;
  if (!checked_add(facts.ramdisk_address, facts.ramdisk_size))
    return fail(ErrorCode::kOverflow, "boot_params ramdisk range overflows", kRamdiskImage);
  EFX_FIELD(cmd_lo, std::uint32_t, kCmdLinePtr, "boot_params cmd_line_ptr");
  EFX_FIELD(cmd_hi, std::uint32_t, kExtCmdLinePtr, "boot_params ext_cmd_line_ptr");
  facts.command_line = cmd_lo | cmd_hi << 32;
  EFX_FIELD(cmd_size, std::uint32_t, kCmdlineSize, "boot_params cmdline_size");
  facts.command_line_size = static_cast<std::uint32_t>(cmd_size);
  EFX_FIELD(setup_data, std::uint64_t, kSetupData, "boot_params setup_data");
  facts.setup_data = setup_data;

  EFX_FIELD(signature, std::uint32_t, kEfiLoaderSignature, "efi_info efi_loader_signature");
  EFX_FIELD(systab_lo, std::uint32_t, kEfiSystab, "efi_info efi_systab");
  EFX_FIELD(systab_hi, std::uint32_t, kEfiSystabHi, "efi_info efi_systab_hi");
  EFX_FIELD(desc_size, std::uint32_t, kEfiMemdescSize, "efi_info efi_memdesc_size");
  EFX_FIELD(desc_version, std::uint32_t, kEfiMemdescVersion, "efi_info efi_memdesc_version");
  EFX_FIELD(map_lo, std::uint32_t, kEfiMemmap, "efi_info efi_memmap");
  EFX_FIELD(map_hi, std::uint32_t, kEfiMemmapHi, "efi_info efi_memmap_hi");
  EFX_FIELD(map_size, std::uint32_t, kEfiMemmapSize, "efi_info efi_memmap_size");
  facts.efi.loader_signature = static_cast<std::uint32_t>(signature);
  facts.efi.system_table = systab_lo | systab_hi << 32;
  facts.efi.descriptor_size = static_cast<std::uint32_t>(desc_size);
  facts.efi.descriptor_version = static_cast<std::uint32_t>(desc_version);
  facts.efi.memory_map = map_lo | map_hi << 32;
  facts.efi.memory_map_size = static_cast<std::uint32_t>(map_size);

  EFX_FIELD(count, std::uint8_t, kE820Entries, "boot_params e820_entries");
  if (count > kMaxE820Entries)
    return fail(ErrorCode::kOutOfRange, "boot_params e820_entries is past 128", kE820Entries);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t at = kE820Table + i * kE820EntrySize;
    EFX_FIELD(address, std::uint64_t, at, "e820 entry address");
    EFX_FIELD(size, std::uint64_t, at + 8, "e820 entry size");
    EFX_FIELD(type, std::uint32_t, at + 16, "e820 entry type");
    if (size == 0) return fail(ErrorCode::kMalformed, "an e820 entry has size 0", at);
    if (!checked_add(address, size))
      return fail(ErrorCode::kOverflow, "an e820 entry's range overflows", at);
    facts.e820[i] = {address, size, static_cast<std::uint32_t>(type)};
  }
  facts.e820_count = count;
  return facts;
}

Result<std::size_t> efi_memory_map_count(ByteView map, std::uint32_t descriptor_size) {
  if (descriptor_size < kEfiMemoryDescriptorMinSize)
    return fail(ErrorCode::kMalformed, "efi_memdesc_size is smaller than a descriptor");
  if (map.size() % descriptor_size != 0)
    return fail(ErrorCode::kMalformed, "efi_memmap_size is not a multiple of efi_memdesc_size");
  return map.size() / descriptor_size;
}

Result<EfiMemoryDescriptor> efi_memory_descriptor(ByteView map, std::uint32_t descriptor_size,
                                                  std::size_t index) {
  auto count = efi_memory_map_count(map, descriptor_size);
  if (!count) return std::unexpected(count.error());
  if (index >= *count) return fail(ErrorCode::kOutOfRange, "EFI memory descriptor index");
  const std::uint64_t at = static_cast<std::uint64_t>(index) * descriptor_size;
  EfiMemoryDescriptor d{};
  auto type = map.read<Le32>(at, "EFI memory descriptor Type");
  auto physical = map.read<Le64>(at + 8, "EFI memory descriptor PhysicalStart");
  auto virt = map.read<Le64>(at + 16, "EFI memory descriptor VirtualStart");
  auto pages = map.read<Le64>(at + 24, "EFI memory descriptor NumberOfPages");
  auto attribute = map.read<Le64>(at + 32, "EFI memory descriptor Attribute");
  if (!type || !physical || !virt || !pages || !attribute)
    return fail(ErrorCode::kTruncated, "EFI memory descriptor", at);
  d.type = *type;
  d.physical_start = *physical;
  d.virtual_start = *virt;
  d.pages = *pages;
  d.attribute = *attribute;
  if (d.pages > (~std::uint64_t{0} >> 12) || !checked_add(d.physical_start, d.pages << 12))
    return fail(ErrorCode::kOverflow, "an EFI memory descriptor's range overflows", at);
  return d;
}

Result<SetupDataHeader> read_setup_data_header(ByteView node) {
  auto next = node.read<Le64>(0, "setup_data next");
  auto type = node.read<Le32>(8, "setup_data type");
  auto length = node.read<Le32>(12, "setup_data len");
  if (!next || !type || !length) return fail(ErrorCode::kTruncated, "setup_data header", 0);
  return SetupDataHeader{*next, *type, *length};
}

Result<std::string_view> command_line_text(ByteView bytes) {
  const std::string_view chars = bytes.chars();
  const std::size_t nul = chars.find('\0');
  if (nul == std::string_view::npos)
    return fail(ErrorCode::kTruncated, "the command line has no NUL within cmdline_size",
                bytes.size());
  return slice(chars, 0, nul);
}

bool inside_e820(std::span<const E820Entry> e820, std::uint64_t address, std::uint64_t size,
                 std::uint32_t type) {
  for (const E820Entry& entry : e820) {
    if (entry.type != type || address < entry.address) continue;
    if (range_fits(address - entry.address, size, entry.size)) return true;
  }
  return false;
}

}  // namespace efikexec::payload
