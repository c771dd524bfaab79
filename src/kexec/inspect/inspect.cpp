// SPDX-License-Identifier: MIT
#include <nlohmann/json.hpp>

#include "kexec/inspect/inspect.hpp"

#include <cstdio>

#include "kexec/common/digest.hpp"
#include "kexec/common/hex.hpp"
#include "kexec/verify/verify.hpp"
#include "kexec/verify/verify_signature.hpp"
#include "pe_loader/authenticode.hpp"
#include "uki/load_options.hpp"

namespace efikexec::kexec {

namespace {

using nlohmann::json;

const char* machine_name(std::uint16_t machine) {
  switch (static_cast<pe::Machine>(machine)) {
    case pe::Machine::kI386: return "i386";
    case pe::Machine::kArm: return "arm";
    case pe::Machine::kArmThumb2: return "arm-thumb2";
    case pe::Machine::kAmd64: return "x86_64";
    case pe::Machine::kArm64: return "arm64";
    case pe::Machine::kRiscv64: return "riscv64";
    case pe::Machine::kLoongArch64: return "loongarch64";
  }
  return "unknown";
}

const char* subsystem_name(std::uint16_t subsystem) {
  switch (static_cast<pe::Subsystem>(subsystem)) {
    case pe::Subsystem::kEfiApplication: return "efi-application";
    case pe::Subsystem::kEfiBootServiceDriver: return "efi-boot-service-driver";
    case pe::Subsystem::kEfiRuntimeDriver: return "efi-runtime-driver";
    case pe::Subsystem::kEfiRom: return "efi-rom";
  }
  return "not-efi";
}

json xloadflag_names(std::uint16_t flags) {
  static constexpr struct {
    std::uint16_t bit;
    const char* name;
  } kFlags[] = {{uki::kXlfKernel64, "kernel-64"},
                {uki::kXlfCanBeLoadedAbove4G, "can-be-loaded-above-4g"},
                {uki::kXlfEfiHandover32, "efi-handover-32"},
                {uki::kXlfEfiHandover64, "efi-handover-64"},
                {uki::kXlfEfiKexec, "efi-kexec"},
                {uki::kXlf5LevelEnabled, "5level-enabled"},
                {uki::kXlfMemEncryption, "mem-encryption"}};
  json names = json::array();
  for (auto flag : kFlags)
    if (flags & flag.bit) names.push_back(flag.name);
  return names;
}

json linux_header_report(ByteView kernel) {
  auto header = uki::parse_linux_boot_header(kernel);
  if (!header) return nullptr;
  char protocol[16];
  std::snprintf(protocol, sizeof protocol, "%u.%02u", header->protocol_version >> 8,
                header->protocol_version & 0xff);
  return {{"protocol", protocol},
          {"kernel_version", std::string(header->kernel_version)},
          {"setup_sects", header->setup_sects},
          {"init_size", header->init_size},
          {"kernel_alignment", header->kernel_alignment},
          {"relocatable", header->relocatable},
          {"pref_address", header->pref_address},
          {"cmdline_size", header->cmdline_size},
          {"handover_offset", header->handover_offset},
          {"xloadflags", xloadflag_names(header->xloadflags)}};
}

json os_release_report(ByteView bytes) {
  json fields = json::object();
  uki::for_each_os_release_field(bytes.chars(), [&](std::string_view key, std::string_view value) {
    fields[std::string(key)] = std::string(value);
  });
  return fields;
}

json section_report(const uki::Uki& uki, const uki::Uki::Entry& entry) {
  const pe::Section& section = *entry.section;
  json report = {{"name", std::string(section.name())},
                 {"virtual_address", section.virtual_address},
                 {"virtual_size", section.virtual_size},
                 {"raw_offset", section.raw_offset},
                 {"raw_size", section.raw_size},
                 {"characteristics", section.characteristics},
                 {"sha256", sha256_hex(uki.image().section_data(section))}};
  if (uki.profile_count() > 0)
    report["profile"] = entry.profile == uki::Uki::kBase ? json(nullptr) : json(entry.profile);
  return report;
}

std::string text_of(const uki::Uki& uki, std::string_view name, std::optional<unsigned> profile) {
  const pe::Section* section = uki.find(name, profile);
  return section ? section_text(uki.image().section_data(*section)) : std::string();
}

json profiles_report(const uki::Uki& uki, std::optional<unsigned> selected) {
  json list = json::array();
  for (unsigned index = 0; index < uki.profile_count(); ++index) {
    json profile = {{"index", index}, {"cmdline", text_of(uki, ".cmdline", index)}};
    const pe::Section* own = uki.find(".profile", index);
    profile["fields"] = own ? os_release_report(uki.image().section_data(*own)) : json::object();
    list.push_back(profile);
  }
  return {{"count", uki.profile_count()},
          {"selected", selected ? json(*selected) : json(nullptr)},
          {"list", list}};
}

// Who signed the image; a signature that does not parse is listed with its error, since
// inspect describes what is there and `verify` judges it.
json signatures_report(const pe::Image& image) {
  json entries = json::array();
  auto authenticode = pe::Authenticode::parse(image);
  if (!authenticode)
    return {{"count", 0}, {"entries", entries}, {"error", authenticode.error().message}};
  for (const pe::WinCertificate& certificate : authenticode->certificates()) {
    auto signature = parse_authenticode_signature(certificate);
    if (signature)
      entries.push_back({{"signer", signature->signer_subject},
                         {"issuer", signature->signer_issuer},
                         {"digest_algorithm", pe::hash_algorithm_name(signature->digest_algorithm)}});
    else
      entries.push_back({{"offset", certificate.offset}, {"error", signature.error().message}});
  }
  return {{"count", authenticode->certificates().size()}, {"entries", entries}};
}

json sbat_report(const pe::Image& image) {
  json rows = json::array();
  auto sections = read_sbat_sections(image);
  if (!sections) return rows;
  for (const SbatSection& section : *sections)
    for (const pe::SbatEntry& entry : section.entries)
      rows.push_back({{"component", std::string(entry.component)},
                      {"generation", entry.generation},
                      {"vendor", std::string(entry.vendor)},
                      {"package", std::string(entry.package)},
                      {"version", std::string(entry.version)},
                      {"url", std::string(entry.url)},
                      {"source", section.owner}});
  return rows;
}

}  // namespace

std::string section_text(ByteView bytes) { return std::string(uki::section_text_view(bytes)); }

json inspect_image(const std::string& path, const uki::Uki& uki, const InspectOptions& options) {
  const pe::Image& image = uki.image();
  const std::optional<unsigned> profile = options.profile;
  json report = {{"file", path},
                 {"size", image.file().size()},
                 {"kind", uki::image_kind_name(uki.kind())},
                 {"machine", machine_name(image.machine())},
                 {"subsystem", subsystem_name(image.subsystem())},
                 {"entry_point", image.entry_point()},
                 {"image_base", image.image_base()},
                 {"size_of_image", image.size_of_image()},
                 {"size_of_headers", image.size_of_headers()},
                 {"section_alignment", image.section_alignment()},
                 {"file_alignment", image.file_alignment()},
                 {"image_version", std::to_string(image.major_image_version()) + "." +
                                       std::to_string(image.minor_image_version())},
                 {"dll_characteristics", image.dll_characteristics()}};
  json sections = json::array();
  for (const auto& entry : uki.entries()) sections.push_back(section_report(uki, entry));
  report["sections"] = sections;
  report["overlay"] = {{"offset", image.end_of_raw_data()}, {"size", image.overlay_size()}};
  auto certificates = image.directory(pe::DirectoryIndex::kCertificate);
  report["certificate_table"] =
      certificates ? json{{"offset", certificates->virtual_address}, {"size", certificates->size}}
                   : json(nullptr);
  report["signatures"] = signatures_report(image);
  report["sbat"] = sbat_report(image);

  if (uki.kind() == uki::ImageKind::kUki) {
    report["profiles"] = profiles_report(uki, profile);
    report["cmdline"] = text_of(uki, ".cmdline", profile);
    report["uname"] = text_of(uki, ".uname", profile);
    const pe::Section* osrel = uki.find(".osrel", profile);
    report["os_release"] = osrel ? os_release_report(image.section_data(*osrel)) : json::object();
    const pe::Section* kernel = uki.find(".linux", profile);
    report["linux"] = kernel ? linux_header_report(image.section_data(*kernel)) : json(nullptr);
  } else {
    report["linux"] = linux_header_report(image.file());
  }
  return report;
}

namespace {

std::string field(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

}  // namespace

std::string profile_problem(const uki::Uki& uki, unsigned profile) {
  if (uki.kind() != uki::ImageKind::kUki)
    return "profile " + std::to_string(profile) + " does not exist: profiles are a UKI's, and "
           "this is no UKI";
  if (uki.check_profile(profile)) return "";
  const unsigned count = uki.profile_count();
  return "profile " + std::to_string(profile) + " does not exist (" +
         (count == 0 ? std::string("the UKI has no .profile sections: only its default, 0")
                     : "the UKI has profiles 0 to " + std::to_string(count - 1)) +
         ")";
}

std::string render_inspect_text(const json& report) {
  std::string out;
  auto line = [&](const std::string& label, const std::string& value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%-18s", (label + ":").c_str());
    out += buffer + value + "\n";
  };
  line("file", field(report["file"]) + " (" + std::to_string(report["size"].get<std::uint64_t>()) +
                   " bytes)");
  line("kind", field(report["kind"]));
  line("machine", field(report["machine"]));
  line("subsystem", field(report["subsystem"]));
  line("entry point", hex_u64(report["entry_point"]) + " (RVA)");
  line("image base", hex_u64(report["image_base"]));
  line("size of image", hex_u64(report["size_of_image"]));
  if (report.contains("profiles")) {
    const json& profiles = report["profiles"];
    std::string count = std::to_string(profiles["count"].get<unsigned>());
    if (!profiles["selected"].is_null()) count += " (showing profile " + field(profiles["selected"]) + ")";
    line("profiles", count);
    // What each profile means: its .profile fields (ID, TITLE) and its command line.
    for (const json& profile : profiles["list"]) {
      std::string fields;
      for (const auto& [key, value] : profile["fields"].items())
        fields += (fields.empty() ? "" : " ") + key + "=" + field(value);
      const bool selected = profile["index"] == profiles["selected"];
      line(std::string(selected ? "* @" : "  @") + field(profile["index"]),
           (fields.empty() ? std::string("-") : fields) + "; cmdline: " +
               field(profile["cmdline"]));
    }
    line("cmdline", field(report["cmdline"]));
    line("uname", field(report["uname"]));
    const json& osrel = report["os_release"];
    if (osrel.contains("PRETTY_NAME")) line("os-release", field(osrel["PRETTY_NAME"]));
  }
  if (!report["linux"].is_null()) {
    const json& linux_header = report["linux"];
    line("linux", field(linux_header["kernel_version"]));
    line("boot protocol", field(linux_header["protocol"]) + ", init_size " +
                              hex_u64(linux_header["init_size"]) + ", xloadflags " +
                              linux_header["xloadflags"].dump());
  }
  const json& overlay = report["overlay"];
  line("overlay", std::to_string(overlay["size"].get<std::uint64_t>()) + " bytes at " +
                      hex_u64(overlay["offset"]));
  if (!report["certificate_table"].is_null())
    line("certificates", std::to_string(report["certificate_table"]["size"].get<std::uint64_t>()) +
                             " bytes at " + hex_u64(report["certificate_table"]["offset"]));
  const json& signatures = report["signatures"];
  std::string signers = std::to_string(signatures["count"].get<std::size_t>());
  for (const json& entry : signatures["entries"])
    signers += entry.contains("error")
                   ? "; unreadable: " + field(entry["error"])
                   : "; " + field(entry["signer"]) + " (issuer " + field(entry["issuer"]) + ", " +
                         field(entry["digest_algorithm"]) + ")";
  line("signatures", signers);
  std::string sbat;
  for (const json& row : report["sbat"])
    sbat += (sbat.empty() ? "" : " ") + field(row["component"]) + "," + field(row["generation"]) +
            (row["source"] == "image" ? "" : "(" + field(row["source"]) + ")");
  line("sbat", sbat.empty() ? "-" : sbat);
  out += "sections:\n";
  char header[128];
  std::snprintf(header, sizeof header, "  %-9s %-10s %-10s %-10s %-10s %-7s %s\n", "name", "vaddr",
                "vsize", "raw-off", "raw-size", "profile", "sha256");
  out += header;
  for (const json& section : report["sections"]) {
    char row[256];
    std::snprintf(row, sizeof row, "  %-9s %-10s %-10s %-10s %-10s %-7s %s\n",
                  field(section["name"]).c_str(), hex_u64(section["virtual_address"]).c_str(),
                  hex_u64(section["virtual_size"]).c_str(), hex_u64(section["raw_offset"]).c_str(),
                  hex_u64(section["raw_size"]).c_str(),
                  section.contains("profile") ? field(section["profile"]).c_str() : "-",
                  field(section["sha256"]).c_str());
    out += row;
  }
  return out;
}

}  // namespace efikexec::kexec
