// SPDX-License-Identifier: MIT
// kexec-tools' file-type trio for EFI images and UKIs (include/efikexec-kexec-tools.h), written
// as a client of the C API: the load is efikexec_load, so the fork gets exactly what the CLI and
// every other C caller get. kexec-tools' conventions kept here: probe returns 0 for "mine" and a
// negative number otherwise; load returns a negative number (EFAILED) after saying why on stderr;
// usage prints the type's options in the same column style as bzImage's.
#include <efikexec-kexec-tools.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kexec/common/host_error.hpp"
#include "pe_loader/pe_format.hpp"
#include "pe_loader/pe_image.hpp"

namespace {

using efikexec::kexec::HostResult;
using efikexec::kexec::Stage;
using efikexec::kexec::host_fail;

constexpr int kFailed = -1;  // kexec-tools' EFAILED

// What efikexec_kt_load reads from kexec-tools' argv.
struct KtArguments {
  std::optional<std::string> line;  // --command-line / --append (kexec-tools: both set it)
  bool reuse_cmdline = false;
  std::string initrd;
  std::vector<std::string> db, dbx;
  std::optional<std::string> sbat_level, efivars, machine, payload;
  efikexec_handoff handoff = EFIKEXEC_HANDOFF_AUTO;
  bool no_verify = false;
  long profile = -1;
  unsigned long timeout = 0;  // 0: the library's default
  bool crash = false;         // -p/--load-panic
};

bool parse_number(const std::string& text, unsigned long max, unsigned long& out) {
  if (text.empty() || text[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long value = std::strtoul(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value > max) return false;
  out = value;
  return true;
}

// Reads argv without getopt, so kexec-tools' getopt state (optind, the permutation) is left as
// it was. Options this type does not know are skipped, as kexec-tools' own loaders skip the
// generic ones; a short-option cluster is scanned only for -p (a crash kernel: kexec-tools' -p
// is load-and-panic) and for -t, whose value is the next word when not attached.
HostResult<KtArguments> parse_arguments(int argc, char** argv) {
  KtArguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i] == nullptr ? std::string_view() : argv[i];
    if (word == "--") break;
    if (word.size() > 1 && word[0] == '-' && word[1] != '-') {
      for (std::size_t k = 1; k < word.size(); ++k) {
        if (word[k] == 'p') args.crash = true;
        if (word[k] == 't') {
          if (k + 1 == word.size()) ++i;
          break;
        }
      }
      continue;
    }
    if (word.substr(0, 2) != "--") continue;
    const std::size_t equals = word.find('=');
    const std::string name(word.substr(2, equals == std::string_view::npos ? word.npos
                                                                             : equals - 2));
    static constexpr const char* kWithValue[] = {
        "command-line", "append", "initrd", "ramdisk", "efi-db", "efi-dbx",
        "efi-sbat-level", "efi-efivars", "efi-machine", "efi-profile", "efi-timeout",
        "efi-handoff", "efi-payload"};
    bool takes_value = false;
    for (const char* known : kWithValue) takes_value = takes_value || name == known;
    std::string value;
    if (takes_value) {
      if (equals != std::string_view::npos) {
        value = std::string(word.substr(equals + 1));
      } else if (i + 1 < argc && argv[i + 1] != nullptr) {
        value = argv[++i];
      } else
        return host_fail(Stage::kRequest, "--" + name + " needs a value");
    }
    unsigned long number = 0;
    if (name == "command-line" || name == "append") {
      args.line = value;
    } else if (name == "reuse-cmdline") {
      args.reuse_cmdline = true;
    } else if (name == "initrd" || name == "ramdisk") {
      args.initrd = value;
    } else if (name == "efi-db") {
      args.db.push_back(value);
    } else if (name == "efi-dbx") {
      args.dbx.push_back(value);
    } else if (name == "efi-sbat-level") {
      args.sbat_level = value;
    } else if (name == "efi-efivars") {
      args.efivars = value;
    } else if (name == "efi-machine") {
      args.machine = value;
    } else if (name == "efi-payload") {
      args.payload = value;
    } else if (name == "efi-handoff") {
      if (value == "auto")
        args.handoff = EFIKEXEC_HANDOFF_AUTO;
      else if (value == "trampoline")
        args.handoff = EFIKEXEC_HANDOFF_TRAMPOLINE;
      else if (value == "payload")
        args.handoff = EFIKEXEC_HANDOFF_PAYLOAD;
      else
        return host_fail(Stage::kRequest, "--efi-handoff wants auto, trampoline or payload, got '" +
                                              value + "'");
    } else if (name == "efi-no-verify") {
      args.no_verify = true;
    } else if (name == "efi-profile") {
      if (!parse_number(value, 0xffff, number))
        return host_fail(Stage::kRequest,
                         "--efi-profile wants a profile number, got '" + value + "'");
      args.profile = static_cast<long>(number);
    } else if (name == "efi-timeout") {
      if (!parse_number(value, 3600, number) || number == 0)
        return host_fail(Stage::kRequest,
                         "--efi-timeout wants 1 to 3600 seconds, got '" + value + "'");
      args.timeout = number;
    } else if (name == "load-panic") {
      args.crash = true;
    } else if (name == "load-preserve-context") {
      return host_fail(Stage::kRequest, "--" + name + " is not supported for EFI images");
    }
  }
  return args;
}

struct ContextFree {
  void operator()(efikexec_context* ctx) const { efikexec_context_free(ctx); }
};
struct OptionsFree {
  void operator()(efikexec_options* options) const { efikexec_options_free(options); }
};

// The arguments as C API options; the first setter that fails names the status.
efikexec_status apply(const KtArguments& args, efikexec_options* o) {
  efikexec_status status = EFIKEXEC_OK;
  auto set = [&status](efikexec_status result) {
    if (status == EFIKEXEC_OK) status = result;
  };
  // kexec-tools' rule: with --reuse-cmdline the given line is appended to the running one.
  if (args.line) {
    set(args.reuse_cmdline ? efikexec_options_set_append(o, args.line->c_str())
                           : efikexec_options_set_command_line(o, args.line->c_str()));
  }
  set(efikexec_options_set_reuse_cmdline(o, args.reuse_cmdline));
  if (!args.initrd.empty()) set(efikexec_options_set_initrd(o, args.initrd.c_str()));
  for (const std::string& file : args.db) set(efikexec_options_add_db(o, file.c_str()));
  for (const std::string& file : args.dbx) set(efikexec_options_add_dbx(o, file.c_str()));
  if (args.sbat_level) set(efikexec_options_set_sbat_level(o, args.sbat_level->c_str()));
  if (args.efivars) set(efikexec_options_set_efivars(o, args.efivars->c_str()));
  if (args.machine) set(efikexec_options_set_machine(o, args.machine->c_str()));
  if (args.payload) set(efikexec_options_set_payload(o, args.payload->c_str()));
  set(efikexec_options_set_handoff(o, args.handoff));
  set(efikexec_options_set_no_verify(o, args.no_verify));
  set(efikexec_options_set_profile(o, static_cast<int>(args.profile)));
  set(efikexec_options_set_load_panic(o, args.crash));
  if (args.timeout != 0) set(efikexec_options_set_timeout(o, static_cast<unsigned>(args.timeout)));
  return status;
}

int load(int argc, char** argv, const char* kernel_buf, off_t kernel_size) {
  auto parsed = parse_arguments(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "efikexec: %s\n", parsed.error().message().c_str());
    return kFailed;
  }
  const KtArguments& args = *parsed;
  std::unique_ptr<efikexec_context, ContextFree> ctx(efikexec_context_new());
  std::unique_ptr<efikexec_options, OptionsFree> options(efikexec_options_new());
  if (!ctx || !options) {
    std::fprintf(stderr, "efikexec: out of memory\n");
    return kFailed;
  }
  efikexec_status status = efikexec_options_set_image_memory(
      options.get(), kernel_buf, static_cast<size_t>(kernel_size));
  if (status == EFIKEXEC_OK) status = apply(args, options.get());
  if (status != EFIKEXEC_OK) {
    std::fprintf(stderr, "efikexec: options: %s\n", efikexec_strerror(status));
    return kFailed;
  }
  status = efikexec_load(ctx.get(), options.get());
  if (status != EFIKEXEC_OK) {
    std::fprintf(stderr, "efikexec: %s: %s\n", efikexec_strerror(status),
                 efikexec_last_error(ctx.get()));
    return kFailed;
  }
  return EFIKEXEC_KT_LOADED;
}

}  // namespace

extern "C" {

int efikexec_kt_probe(const char* kernel_buf, off_t kernel_size) {
  if (kernel_buf == nullptr || kernel_size <= 0) return kFailed;
  // The core parser allocates nothing and reports by value: nothing to clean up afterwards.
  const auto image = efikexec::pe::Image::parse(efikexec::ByteView(
      reinterpret_cast<const std::byte*>(kernel_buf), static_cast<std::size_t>(kernel_size)));
  if (!image || !image->is_x86_64() ||
      image->subsystem() != static_cast<std::uint16_t>(efikexec::pe::Subsystem::kEfiApplication))
    return kFailed;
  return 0;
}

int efikexec_kt_load(int argc, char** argv, const char* kernel_buf, off_t kernel_size,
                     struct kexec_info* /*info: kexec-tools' own, left alone*/) {
  if (kernel_buf == nullptr || kernel_size <= 0) {
    std::fprintf(stderr, "efikexec: no image\n");
    return kFailed;
  }
  try {
    return load(argc, argv, kernel_buf, kernel_size);
  } catch (...) {
    // Only the argument copies can throw here (out of memory); the C API catches its own.
    std::fprintf(stderr, "efikexec: out of memory\n");
    return kFailed;
  }
}

void efikexec_kt_usage(void) {
  std::printf(
      "    --command-line=STRING Set the EFI image's command line (LoadOptions) to STRING.\n"
      "    --append=STRING       Set the EFI image's command line to STRING.\n"
      "    --reuse-cmdline       Use the running kernel's command line; --append adds to it.\n"
      "    --initrd=FILE         Serve FILE to an EFI-stub kernel as its initrd (LoadFile2).\n"
      "    --ramdisk=FILE        Same as --initrd.\n"
      "    --efi-db=FILE         Allow: certificate, .esl or .auth; replaces the machine's db.\n"
      "    --efi-dbx=FILE        Revoke: certificate, .esl or .auth; replaces the machine's dbx.\n"
      "    --efi-sbat-level=FILE SBAT revocation level; replaces the machine's SbatLevelRT.\n"
      "    --efi-efivars=DIR     Read db, dbx and SbatLevelRT from DIR (default efivarfs).\n"
      "    --efi-no-verify       Do not verify the image's signature (explicit opt-out).\n"
      "    --efi-profile=N       Boot profile N of a multi-profile UKI.\n"
      "    --efi-timeout=SECONDS Time the image may run before ExitBootServices (default 30).\n"
      "    --efi-machine=SPEC    Load for the described machine SPEC (q35[:MIB] or a JSON file).\n"
      "    --efi-handoff=PATH    auto (default), trampoline or payload (see below).\n"
      "    --efi-payload=FILE    The signed payload for the payload handoff.\n"
      "    The image runs to ExitBootServices() in efikexec's sandbox and is loaded with\n"
      "    kexec_load; on a kernel in lockdown (auto) it is verified, not run, and handed to\n"
      "    efikexec's signed payload, loaded with kexec_file_load. With -p/--load-panic\n"
      "    the image runs inside the crashkernel= reservation and is loaded as the crash\n"
      "    kernel (kexec_load, not in lockdown); --initrd then replaces a UKI's own.\n"
      "    kexec-tools' own kexec_file_load (-s) is not supported.\n");
}

}  // extern "C"
