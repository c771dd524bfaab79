// SPDX-License-Identifier: MIT
// The C API (include/efikexec.h) over the host layer. Every entry point is a thin wrapper:
// check the handles, run the C++ pipeline, and turn its result into an efikexec_status in one
// place. Nothing C++ crosses the boundary: the host layer's libraries (nlohmann, the standard
// library) can throw, so each entry catches everything.
#include <efikexec.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "kexec/api/c_api_internal.hpp"
#include "kexec/api/status.hpp"
#include "kexec/image/opened_image.hpp"
#include "kexec/inspect/inspect.hpp"
#include "kexec/load/loader.hpp"
#include "kexec/verify/verified_image.hpp"
#include "uki/uki.hpp"

#ifndef EFIKEXEC_VERSION
#define EFIKEXEC_VERSION "0.0.0"
#endif

using efikexec::kexec::KexecSyscalls;
using efikexec::kexec::LoadRequest;
using efikexec::kexec::LoadResult;

namespace efikexec::kexec {
std::string system_root_for_new_options();
}

struct efikexec_options {
  LoadRequest request{.system_root = efikexec::kexec::system_root_for_new_options()};
  int image_memfd = -1;  // set_image_memory: the copy, named by request.image_path

  ~efikexec_options() {
    if (image_memfd >= 0) close(image_memfd);
  }
};

struct efikexec_context {
  std::string last_error;
  std::unique_ptr<KexecSyscalls> syscalls;  // made on first use
};

namespace efikexec::kexec {

namespace {

std::mutex factory_mutex;
KexecSyscallsFactory syscalls_factory;  // empty: the real system calls
std::string system_root;                // set_system_root_for_testing

KexecSyscalls& context_syscalls(efikexec_context& ctx) {
  if (!ctx.syscalls) {
    std::lock_guard lock(factory_mutex);
    ctx.syscalls = syscalls_factory ? syscalls_factory() : linux_kexec_syscalls();
  }
  return *ctx.syscalls;
}

efikexec_status fail(efikexec_context& ctx, efikexec_status status, std::string message) {
  ctx.last_error = std::move(message);
  return status;
}

// A stage's failure: its status, and its message for efikexec_last_error().
efikexec_status fail(efikexec_context& ctx, const HostError& error) {
  return fail(ctx, status_for(error), error.message());
}

// Runs one entry point: clears the context's message, and turns anything thrown into a status
// (a message that cannot be stored for lack of memory is left empty).
template <class Body>
efikexec_status guarded(efikexec_context* ctx, Body&& body) noexcept {
  if (ctx == nullptr) return EFIKEXEC_ERR_INVALID_ARGUMENT;
  ctx->last_error.clear();
  try {
    return body(*ctx);
  } catch (const std::bad_alloc&) {
    ctx->last_error.clear();
    return EFIKEXEC_ERR_NO_MEMORY;
  } catch (const std::exception& e) {
    try {
      ctx->last_error = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    return EFIKEXEC_ERR_INTERNAL;
  } catch (...) {
    return EFIKEXEC_ERR_INTERNAL;
  }
}

// The same for the option setters, which have no context to report into.
template <class Body>
efikexec_status guarded_set(efikexec_options* options, Body&& body) noexcept {
  if (options == nullptr) return EFIKEXEC_ERR_INVALID_ARGUMENT;
  try {
    return body(options->request);
  } catch (const std::bad_alloc&) {
    return EFIKEXEC_ERR_NO_MEMORY;
  } catch (...) {
    return EFIKEXEC_ERR_INTERNAL;
  }
}

// A malloc'd copy, so that C callers free it with efikexec_string_free (free).
efikexec_status hand_out(efikexec_context& ctx, const std::string& text, char** out) {
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy == nullptr) return fail(ctx, EFIKEXEC_ERR_NO_MEMORY, "out of memory");
  std::memcpy(copy, text.c_str(), text.size() + 1);
  *out = copy;
  return EFIKEXEC_OK;
}

std::string dump(const nlohmann::json& document) {
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

// What an operation needs before it starts: an image, and options that agree.
efikexec_status check_request(efikexec_context& ctx, const efikexec_options* options) {
  if (options == nullptr) return fail(ctx, EFIKEXEC_ERR_INVALID_ARGUMENT, "no options");
  const LoadRequest& r = options->request;
  if (r.image_path.empty())
    return fail(ctx, EFIKEXEC_ERR_INVALID_ARGUMENT, "no image (efikexec_options_set_image)");
  const TrustOptions& t = r.trust;
  if (t.no_verify && (!t.db_files.empty() || !t.dbx_files.empty() || !t.sbat_level_file.empty()))
    return fail(ctx, EFIKEXEC_ERR_INVALID_ARGUMENT,
                "no-verify excludes db, dbx and SBAT level files");
  if (r.reuse_cmdline && r.command_line)
    return fail(ctx, EFIKEXEC_ERR_INVALID_ARGUMENT,
                "reuse-cmdline excludes a command line (use append)");
  return EFIKEXEC_OK;
}

efikexec_status prepare(efikexec_context& ctx, const efikexec_options* options,
                        LoadResult& result) {
  if (efikexec_status status = check_request(ctx, options); status != EFIKEXEC_OK)
    return status;
  if (auto prepared = prepare_kexec(options->request, result); !prepared)
    return fail(ctx, prepared.error());
  return EFIKEXEC_OK;
}

// A setter that cannot fail once `valid` holds.
template <class Apply>
efikexec_status setter(efikexec_options* options, bool valid, Apply&& apply) noexcept {
  return guarded_set(options, [&](LoadRequest& r) {
    if (!valid) return EFIKEXEC_ERR_INVALID_ARGUMENT;
    apply(r);
    return EFIKEXEC_OK;
  });
}

std::string string_or_empty(const char* text) { return text == nullptr ? std::string() : text; }

std::optional<std::string> optional_string(const char* text) {
  return text == nullptr ? std::nullopt : std::optional<std::string>(text);
}

}  // namespace

std::string system_root_for_new_options() {
  std::lock_guard lock(factory_mutex);
  return system_root;
}

void set_system_root_for_testing(std::string root) {
  std::lock_guard lock(factory_mutex);
  system_root = std::move(root);
}

void set_kexec_syscalls_factory_for_testing(KexecSyscallsFactory factory) {
  std::lock_guard lock(factory_mutex);
  syscalls_factory = std::move(factory);
}

}  // namespace efikexec::kexec

using namespace efikexec::kexec;

extern "C" {

const char* efikexec_strerror(efikexec_status status) {
  switch (status) {
    case EFIKEXEC_OK: return "success";
    case EFIKEXEC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case EFIKEXEC_ERR_BAD_INPUT: return "unreadable or malformed input";
    case EFIKEXEC_ERR_REFUSED: return "refused by the trust policy";
    case EFIKEXEC_ERR_RUN: return "the image did not reach ExitBootServices()";
    case EFIKEXEC_ERR_KEXEC: return "the kexec system call failed";
    case EFIKEXEC_ERR_NO_MEMORY: return "out of memory";
    case EFIKEXEC_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* efikexec_version(void) { return EFIKEXEC_VERSION; }

void efikexec_string_free(char* text) { std::free(text); }

efikexec_context* efikexec_context_new(void) { return new (std::nothrow) efikexec_context; }

void efikexec_context_free(efikexec_context* ctx) { delete ctx; }

const char* efikexec_last_error(const efikexec_context* ctx) {
  return ctx == nullptr ? "no context" : ctx->last_error.c_str();
}

efikexec_options* efikexec_options_new(void) { return new (std::nothrow) efikexec_options; }

void efikexec_options_free(efikexec_options* options) { delete options; }

efikexec_status efikexec_options_set_image(efikexec_options* options, const char* path) {
  return guarded_set(options, [&](LoadRequest& r) {
    if (path == nullptr || *path == '\0') return EFIKEXEC_ERR_INVALID_ARGUMENT;
    r.image_path = path;
    if (options->image_memfd >= 0) close(std::exchange(options->image_memfd, -1));
    return EFIKEXEC_OK;
  });
}

efikexec_status efikexec_options_set_image_memory(efikexec_options* options, const void* data,
                                                  size_t size) {
  return guarded_set(options, [&](LoadRequest& r) {
    if (data == nullptr || size == 0) return EFIKEXEC_ERR_INVALID_ARGUMENT;
    // A memory file rather than a temporary one: nothing is written to any file system, and
    // the pipeline reads it through /proc/self/fd like any image file.
    const int fd = memfd_create("efikexec-image", MFD_CLOEXEC);
    if (fd < 0) return errno == ENOMEM ? EFIKEXEC_ERR_NO_MEMORY : EFIKEXEC_ERR_INTERNAL;
    const char* bytes = static_cast<const char*>(data);
    for (size_t done = 0; done < size;) {
      const ssize_t n = write(fd, bytes + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fd);
        return EFIKEXEC_ERR_NO_MEMORY;
      }
      done += static_cast<size_t>(n);
    }
    if (options->image_memfd >= 0) close(options->image_memfd);
    options->image_memfd = fd;
    r.image_path = "/proc/self/fd/" + std::to_string(fd);
    return EFIKEXEC_OK;
  });
}

efikexec_status efikexec_options_add_db(efikexec_options* options, const char* path) {
  return setter(options, path != nullptr,
                [&](LoadRequest& r) { r.trust.db_files.emplace_back(path); });
}

efikexec_status efikexec_options_add_dbx(efikexec_options* options, const char* path) {
  return setter(options, path != nullptr,
                [&](LoadRequest& r) { r.trust.dbx_files.emplace_back(path); });
}

efikexec_status efikexec_options_set_sbat_level(efikexec_options* options, const char* path) {
  return setter(options, true,
                [&](LoadRequest& r) { r.trust.sbat_level_file = string_or_empty(path); });
}

efikexec_status efikexec_options_set_efivars(efikexec_options* options, const char* directory) {
  return setter(options, true, [&](LoadRequest& r) {
    r.trust.efivars_directory = directory == nullptr ? kEfivarsDirectory : directory;
  });
}

efikexec_status efikexec_options_set_no_verify(efikexec_options* options, int no_verify) {
  return setter(options, true, [&](LoadRequest& r) { r.trust.no_verify = no_verify != 0; });
}

efikexec_status efikexec_options_set_command_line(efikexec_options* options,
                                                  const char* command_line) {
  return setter(options, true,
                [&](LoadRequest& r) { r.command_line = optional_string(command_line); });
}

efikexec_status efikexec_options_set_append(efikexec_options* options, const char* append) {
  return setter(options, true, [&](LoadRequest& r) { r.append = optional_string(append); });
}

efikexec_status efikexec_options_set_reuse_cmdline(efikexec_options* options, int reuse) {
  return setter(options, true, [&](LoadRequest& r) { r.reuse_cmdline = reuse != 0; });
}

efikexec_status efikexec_options_set_initrd(efikexec_options* options, const char* path) {
  return setter(options, true, [&](LoadRequest& r) { r.initrd_path = string_or_empty(path); });
}

efikexec_status efikexec_options_set_load_panic(efikexec_options* options, int load_panic) {
  return setter(options, true, [&](LoadRequest& r) { r.crash = load_panic != 0; });
}

efikexec_status efikexec_options_set_profile(efikexec_options* options, int profile) {
  return setter(options, true, [&](LoadRequest& r) {
    r.profile = profile < 0 ? std::nullopt : std::optional<unsigned>(profile);
  });
}

efikexec_status efikexec_options_set_machine(efikexec_options* options, const char* spec) {
  return setter(options, true, [&](LoadRequest& r) { r.machine_spec = string_or_empty(spec); });
}

efikexec_status efikexec_options_set_timeout(efikexec_options* options, unsigned seconds) {
  return guarded_set(options, [&](LoadRequest& r) {
    // The CLI's --timeout range.
    if (seconds < 1 || seconds > 3600) return EFIKEXEC_ERR_INVALID_ARGUMENT;
    r.timeout_seconds = seconds;
    return EFIKEXEC_OK;
  });
}

efikexec_status efikexec_options_set_handoff(efikexec_options* options,
                                             efikexec_handoff handoff) {
  return guarded_set(options, [&](LoadRequest& r) {
    switch (handoff) {
      case EFIKEXEC_HANDOFF_AUTO: r.handoff = Handoff::kAuto; return EFIKEXEC_OK;
      case EFIKEXEC_HANDOFF_TRAMPOLINE: r.handoff = Handoff::kTrampoline; return EFIKEXEC_OK;
      case EFIKEXEC_HANDOFF_PAYLOAD: r.handoff = Handoff::kPayload; return EFIKEXEC_OK;
    }
    return EFIKEXEC_ERR_INVALID_ARGUMENT;
  });
}

efikexec_status efikexec_options_set_payload(efikexec_options* options, const char* path) {
  return setter(options, true, [&](LoadRequest& r) { r.payload_path = string_or_empty(path); });
}

efikexec_status efikexec_inspect(efikexec_context* ctx, const efikexec_options* options,
                                 char** json) {
  if (json != nullptr) *json = nullptr;
  return guarded(ctx, [&](efikexec_context& c) {
    if (json == nullptr) return fail(c, EFIKEXEC_ERR_INVALID_ARGUMENT, "no output pointer");
    if (efikexec_status status = check_request(c, options); status != EFIKEXEC_OK)
      return status;
    const LoadRequest& r = options->request;
    auto opened = open_image(r.image_path);
    if (!opened) return fail(c, opened.error());
    const efikexec::uki::Uki uki = efikexec::uki::Uki::from_image(opened->image);
    if (r.profile && !uki.check_profile(*r.profile))
      return fail(c, EFIKEXEC_ERR_BAD_INPUT,
                  r.image_path + ": no profile " + std::to_string(*r.profile));
    return hand_out(c, dump(inspect_image(r.image_path, uki, {r.profile})), json);
  });
}

efikexec_status efikexec_verify(efikexec_context* ctx, const efikexec_options* options) {
  return guarded(ctx, [&](efikexec_context& c) {
    if (efikexec_status status = check_request(c, options); status != EFIKEXEC_OK)
      return status;
    if (options->request.trust.no_verify)
      return fail(c, EFIKEXEC_ERR_INVALID_ARGUMENT, "verify with no-verify set");
    auto image = open_verified_image(options->request.image_path, options->request.trust);
    if (!image) return fail(c, image.error());
    return EFIKEXEC_OK;
  });
}

efikexec_status efikexec_plan(efikexec_context* ctx, const efikexec_options* options,
                              char** plan_text) {
  if (plan_text != nullptr) *plan_text = nullptr;
  return guarded(ctx, [&](efikexec_context& c) {
    if (plan_text == nullptr) return fail(c, EFIKEXEC_ERR_INVALID_ARGUMENT, "no output pointer");
    LoadResult result;
    if (efikexec_status status = prepare(c, options, result); status != EFIKEXEC_OK)
      return status;
    return hand_out(c, dump(load_json(result)), plan_text);
  });
}

efikexec_status efikexec_load(efikexec_context* ctx, const efikexec_options* options) {
  return guarded(ctx, [&](efikexec_context& c) {
    LoadResult result;
    if (efikexec_status status = prepare(c, options, result); status != EFIKEXEC_OK)
      return status;
    if (auto committed = commit_kexec(result, context_syscalls(c)); !committed)
      return fail(c, committed.error());
    return EFIKEXEC_OK;
  });
}

efikexec_status efikexec_exec(efikexec_context* ctx) {
  return guarded(ctx, [&](efikexec_context& c) {
    return fail(c, context_syscalls(c).execute());  // returns only on failure
  });
}

namespace {

efikexec_status unload_slot(efikexec_context* ctx, KexecSlot slot) {
  return guarded(ctx, [&](efikexec_context& c) {
    auto decision = decide_handoff(Handoff::kAuto, system_root_for_new_options());
    if (!decision) return fail(c, decision.error());
    if (auto unloaded = unload_kexec(decision->handoff, context_syscalls(c), slot); !unloaded)
      return fail(c, unloaded.error());
    return EFIKEXEC_OK;
  });
}

}  // namespace

efikexec_status efikexec_unload(efikexec_context* ctx) {
  return unload_slot(ctx, KexecSlot::kNormal);
}

efikexec_status efikexec_unload_crash(efikexec_context* ctx) {
  return unload_slot(ctx, KexecSlot::kCrash);
}

efikexec_status efikexec_is_loaded(efikexec_context* ctx, int* loaded) {
  return guarded(ctx, [&](efikexec_context& c) {
    if (loaded == nullptr) return fail(c, EFIKEXEC_ERR_INVALID_ARGUMENT, "no output pointer");
    *loaded = context_syscalls(c).loaded(KexecSlot::kNormal) ? 1 : 0;
    return EFIKEXEC_OK;
  });
}

}  // extern "C"
