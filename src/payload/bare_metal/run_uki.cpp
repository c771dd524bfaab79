// SPDX-License-Identifier: MIT
#include "payload/bare_metal/run_uki.hpp"

#include <new>

#include "efi_call_runner.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/shim.hpp"
#include "payload/bare_metal/bare_metal_host.hpp"
#include "payload/bare_metal/run_uki_with.hpp"
#include "pe_loader/pe_image.hpp"
#include "uki/load_options.hpp"
#include "uki/uki.hpp"

extern "C" {
// arch/x86_64/runtime_stubs.S: what the runtime services table points at after the handoff.
extern const std::uint8_t efikexec_runtime_stub_start[];
extern const std::uint8_t efikexec_runtime_stub_end[];
}

namespace efikexec::payload {

namespace {

// The UKI's path on the shim's boot volume (systemd-stub derives NAME.extra.d and
// LoaderImageIdentifier from it).
constexpr char16_t kUkiPath[] = u"\\EFI\\Linux\\uki.efi";

Error failure(SerialConsole& serial, Error error) {
  serial.write("efikexec: cannot run the UKI: ");
  serial.write(error.message);
  if (error.has_offset()) {
    serial.write(" (at ");
    write_hex(serial, error.offset);
    serial.write(")");
  }
  serial.write("\r\n");
  return error;
}

Error failure(SerialConsole& serial, ErrorCode code, const char* message) {
  return failure(serial, Error{code, message});
}

// A failure the image reported: its EFI status is the error's offset.
Error image_failure(SerialConsole& serial, const char* message, EFI_STATUS status) {
  serial.write("efikexec: cannot run the UKI: ");
  serial.write(message);
  serial.write(" (status ");
  write_hex(serial, status);
  serial.write(")\r\n");
  return Error{ErrorCode::kImageFault, message, status};
}

// Copies an ASCII command line into UCS-2 (anything else becomes '?', as the confined run does).
void to_ucs2(std::string_view text, CHAR16* out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out[i] = c < 0x80 ? c : u'?';
  }
  out[text.size()] = 0;
}

}  // namespace

Result<void> add_secure_boot_variables(efi::VariableStore& variables, std::uint8_t secure_boot) {
  constexpr std::uint8_t kDisabled = 2;
  constexpr std::uint8_t kEnabled = 3;
  if (secure_boot != kDisabled && secure_boot != kEnabled) return {};
  constexpr UINT32 kAttributes = EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;
  static constexpr char16_t kSecureBootName[] = u"SecureBoot";
  static constexpr char16_t kSetupModeName[] = u"SetupMode";
  const std::byte enabled{secure_boot == kEnabled ? std::uint8_t{1} : std::uint8_t{0}};
  const std::byte user_mode{0};
  if (auto added = variables.load_snapshot_variable(
          {reinterpret_cast<const CHAR16*>(kSecureBootName), std::size(kSecureBootName) - 1}, efi::guids::kGlobalVariable, kAttributes,
          {&enabled, 1});
      !added)
    return added;
  return variables.load_snapshot_variable({reinterpret_cast<const CHAR16*>(kSetupModeName),
                                           std::size(kSetupModeName) - 1},
                                          efi::guids::kGlobalVariable, kAttributes, {&user_mode, 1});
}

Error run_uki_with(const BareMetalMachine& machine, const BareMetalRequest& request,
                   SerialConsole& serial, const BareMetalServices& services, MachineMap& map) {
  // What the UKI is, for its command line and profiles (the caller verified it; this only reads
  // its structure again, bounds-checked as always).
  const ByteView uki_bytes(request.uki);
  auto image = pe::Image::parse(uki_bytes);
  if (!image) return failure(serial, image.error());
  if (!image->is_x86_64())
    return failure(serial, ErrorCode::kUnsupported, "the UKI is not an x86_64 image");
  const uki::Uki uki = uki::Uki::from_image(*image);
  if (!request.extra_initrd.empty() && uki.kind() == uki::ImageKind::kUki &&
      uki.find(".initrd", request.profile) != nullptr)
    return failure(serial, ErrorCode::kInvalidArgument,
                   "the UKI carries its own initrd; an extra initrd is for EFI-stub kernels and "
                   "UKIs without one");
  uki::CommandLineRequest wanted;
  wanted.profile = request.profile;
  if (!request.command_line.empty()) {
    if (request.replace_command_line)
      wanted.command_line = request.command_line;
    else
      wanted.append = request.command_line;
  }
  auto options_length = uki::compose_load_options(uki, wanted, {});
  if (!options_length) return failure(serial, options_length.error());

  // The machine as EFI sees it, and the shim's own pages out of it.
  if (auto built = build_machine_map(machine, map); !built) return failure(serial, built.error());
  const std::uint64_t shim_bytes = (sizeof(efi::Shim) + efi::kPageSize - 1) & ~(efi::kPageSize - 1);
  auto own = set_aside(map, efi::bytes_to_pages(shim_bytes + kVariableStorageBytes));
  if (!own) return failure(serial, own.error());

  IdentityPhysicalMemory identity(map.ranges.span());
  efi::PhysicalMemory& memory = services.memory != nullptr ? *services.memory : identity;
  if (auto backed = memory.back(*own, shim_bytes + kVariableStorageBytes); !backed)
    return failure(serial, backed.error());
  IdentityReader identity_reader(map);
  PhysicalReader& reader = services.reader != nullptr ? *services.reader : identity_reader;
  const FirmwareTables found = find_firmware_tables(machine, reader);
  efi::ConfigurationTableEntry tables[4];
  const std::size_t table_count = configuration_tables(found, tables);
  if (found.acpi20 == 0 && found.acpi10 == 0)
    serial.write("efikexec: warning: no ACPI tables found for the next kernel\r\n");

  auto* shim = new (memory.pointer(*own)) efi::Shim();
  efi::ShimConfig config{};
  config.machine = map.ranges.span();
  config.runtime_stub_code = {reinterpret_cast<const std::byte*>(efikexec_runtime_stub_start),
                              static_cast<std::size_t>(efikexec_runtime_stub_end -
                                                       efikexec_runtime_stub_start)};
  config.exit_boot_services_entry = nullptr;  // the handler itself: it returns to the image
  config.firmware_tables = {tables, table_count};
  config.variable_storage = {memory.pointer(*own + shim_bytes), kVariableStorageBytes};
  config.stack_pages = kEfiStackPages;
  SerialConsoleOutput console(serial);
  const efi::ShimHost host{&memory,         services.clock,  services.random, &console,
                           services.trace,  services.runner, services.run_end};
  if (auto ready = shim->init(config, host); !ready) return failure(serial, ready.error());
  if (auto added = add_secure_boot_variables(shim->variables(), machine.secure_boot); !added)
    return failure(serial, added.error());

  EFI_HANDLE handle = nullptr;
  const char* label = uki.kind() == uki::ImageKind::kUki ? "sdstub" : nullptr;
  EFI_STATUS status = shim->load_image(uki_bytes, reinterpret_cast<const CHAR16*>(kUkiPath),
                                       label, &handle);
  if (status != EFI_SUCCESS)
    return image_failure(serial, "LoadImage() of the UKI failed", status);
  if (*options_length) {
    // In pool memory, as everything the image can see.
    const std::size_t length = **options_length;
    void* text = nullptr;
    void* wide = nullptr;
    if (shim->memory().allocate_pool(EfiBootServicesData, length + 1, &text) != EFI_SUCCESS ||
        shim->memory().allocate_pool(EfiBootServicesData, (length + 1) * sizeof(CHAR16),
                                     &wide) != EFI_SUCCESS)
      return failure(serial, ErrorCode::kNoMemory, "no memory for the command line");
    (void)uki::compose_load_options(uki, wanted, {static_cast<char*>(text), length});
    to_ucs2({static_cast<const char*>(text), length}, static_cast<CHAR16*>(wide));
    status = shim->set_load_options(handle, static_cast<const CHAR16*>(wide), length);
    (void)shim->memory().free_pool(wide);
    (void)shim->memory().free_pool(text);
    if (status != EFI_SUCCESS) return image_failure(serial, "cannot set LoadOptions", status);
  }
  if (!request.extra_initrd.empty() &&
      shim->install_initrd(ByteView(request.extra_initrd)) != EFI_SUCCESS)
    return failure(serial, ErrorCode::kNoMemory, "cannot install the initrd");

  UINTN exit_data_size = 0;
  CHAR16* exit_data = nullptr;
  status = shim->start_image(handle, &exit_data_size, &exit_data);
  return image_failure(serial,
                       shim->images().last_start_exited()
                           ? "the UKI called Exit() without starting its kernel"
                           : "the UKI returned without starting its kernel",
                       status);
}

namespace {

// Large, so not on the payload's stack; constant-initialized, so no constructor has to run.
constinit MachineMap g_map{};

}  // namespace

Error run_uki_on_bare_metal(const BareMetalMachine& machine, const BareMetalRequest& request,
                            SerialConsole& serial) {
  X86PortIo ports;
  TscCounter counter;
  const std::optional<std::uint64_t> hz = tsc_frequency(ports, counter);
  if (!hz) serial.write("efikexec: warning: the TSC frequency is unknown; timers are guesses\r\n");
  TscClock clock(ports, counter, hz.value_or(0));
  CpuRandom random;
  if (!random.has_rdrand() && !random.has_rdseed())
    serial.write("efikexec: warning: no RDRAND/RDSEED: the EFI RNG protocol fails\r\n");
  arch::EfiCallRunner runner;
  BareMetalRunEnd run_end(serial, ports, counter, clock.hz());
  // The state UEFI promises an image (specification §2.3.4): MXCSR 0x1F80, x87 control 0x037F.
  const std::uint32_t mxcsr = 0x1F80;
  const std::uint16_t fcw = 0x037F;
  asm volatile("ldmxcsr %0; fldcw %1" : : "m"(mxcsr), "m"(fcw));
  BareMetalServices services;
  services.clock = &clock;
  services.random = &random;
  services.runner = &runner;
  services.run_end = &run_end;
  return run_uki_with(machine, request, serial, services, g_map);
}

}  // namespace efikexec::payload
