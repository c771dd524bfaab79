/* SPDX-License-Identifier: MIT */
/*
 * efikexec C API: inspect, verify, plan (dry run), load, exec and unload an EFI image or UKI from
 * C99 or C++ (a kexec-tools fork, an initramfs boot manager). Reference: docs/c-api.md.
 *
 * Conventions, the same for every function:
 *  - Handles are opaque. An efikexec_options describes one image and how to load it; an
 *    efikexec_context carries the last error message and the kexec system calls. Neither is
 *    thread-safe; use one context per thread.
 *  - Every operation returns an efikexec_status. On failure, efikexec_last_error(ctx) says why in
 *    one line (valid until the next call on that context).
 *  - Strings handed out (char **out) are allocated by the library and released with
 *    efikexec_string_free(). On failure *out is set to NULL.
 *  - Nothing throws, aborts or prints: C++ exceptions and allocation failures inside the library
 *    come back as EFIKEXEC_ERR_INTERNAL or EFIKEXEC_ERR_NO_MEMORY.
 */
#ifndef EFIKEXEC_H
#define EFIKEXEC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EFIKEXEC_API __attribute__((visibility("default")))
#else
#define EFIKEXEC_API
#endif

/* The C API's version; the shared library's SONAME follows the major number. */
#define EFIKEXEC_API_VERSION_MAJOR 0
#define EFIKEXEC_API_VERSION_MINOR 1

typedef enum efikexec_status {
  EFIKEXEC_OK = 0,
  EFIKEXEC_ERR_INVALID_ARGUMENT = 1, /* API misuse: a NULL handle, no image, a bad value */
  EFIKEXEC_ERR_BAD_INPUT = 2,        /* unreadable or malformed image, key file or initrd */
  EFIKEXEC_ERR_REFUSED = 3,          /* the trust policy refused the image (untrusted, dbx, SBAT) */
  EFIKEXEC_ERR_RUN = 4,              /* the image did not reach ExitBootServices() (fault, exit,
                                        timeout), or its plan could not be made */
  EFIKEXEC_ERR_KEXEC = 5,            /* a kexec system call failed or is forbidden */
  EFIKEXEC_ERR_NO_MEMORY = 6,
  EFIKEXEC_ERR_INTERNAL = 7          /* an unexpected failure inside the library */
} efikexec_status;

/* A static, human-readable name of a status ("refused by the trust policy"). Never NULL. */
EFIKEXEC_API const char *efikexec_strerror(efikexec_status status);

/* The efikexec command line's exit status for a status: 0 ok, 1 refused or failed, 2 bad input
 * or bad arguments (docs/cli.md), so a boot manager can treat both the same way. */
EFIKEXEC_API int efikexec_status_exit_code(efikexec_status status);

/* The library's version, "MAJOR.MINOR.PATCH". */
EFIKEXEC_API const char *efikexec_version(void);

/* Releases a string the library handed out. NULL is ignored. */
EFIKEXEC_API void efikexec_string_free(char *text);

/* ---- context -------------------------------------------------------------------------------- */

typedef struct efikexec_context efikexec_context;

/* NULL when out of memory. */
EFIKEXEC_API efikexec_context *efikexec_context_new(void);
EFIKEXEC_API void efikexec_context_free(efikexec_context *ctx);
/* The last failure's message on this context ("" after a success); owned by the context. */
EFIKEXEC_API const char *efikexec_last_error(const efikexec_context *ctx);

/* ---- options -------------------------------------------------------------------------------- */

typedef struct efikexec_options efikexec_options;

/* NULL when out of memory. Defaults: trust from the machine's db/dbx/SbatLevelRT (efivarfs),
 * the image's own command line, this machine, a 30 s time limit. */
EFIKEXEC_API efikexec_options *efikexec_options_new(void);
EFIKEXEC_API void efikexec_options_free(efikexec_options *options);

/* Every setter returns EFIKEXEC_OK or EFIKEXEC_ERR_INVALID_ARGUMENT (NULL options, or a value
 * out of range) or EFIKEXEC_ERR_NO_MEMORY. String arguments are copied. A NULL string clears
 * an optional setting. */

/* The image to work on: a file (read once, when an operation starts). */
EFIKEXEC_API efikexec_status efikexec_options_set_image(efikexec_options *options,
                                                        const char *path);
/* The image as bytes already in memory (e.g. a buffer kexec-tools read): copied into an
 * anonymous memory file now, so the caller may free `data` on return. */
EFIKEXEC_API efikexec_status efikexec_options_set_image_memory(efikexec_options *options,
                                                               const void *data, size_t size);
/* Trust: each db/dbx file is an X.509 certificate (PEM/DER), an EFI_SIGNATURE_LIST (.esl) or
 * an .auth file; any given replaces the machine's variable of that kind. Repeatable. */
EFIKEXEC_API efikexec_status efikexec_options_add_db(efikexec_options *options,
                                                     const char *path);
EFIKEXEC_API efikexec_status efikexec_options_add_dbx(efikexec_options *options,
                                                      const char *path);
/* shim's SbatLevel text file; replaces the machine's SbatLevelRT. */
EFIKEXEC_API efikexec_status efikexec_options_set_sbat_level(efikexec_options *options,
                                                             const char *path);
/* Where the machine's db/dbx/SbatLevelRT are read (default /sys/firmware/efi/efivars). */
EFIKEXEC_API efikexec_status efikexec_options_set_efivars(efikexec_options *options,
                                                          const char *directory);
/* Non-zero: do not verify at all (the explicit opt-out of the CLI's --no-verify). Refused
 * together with db/dbx/SBAT files when an operation starts. */
EFIKEXEC_API efikexec_status efikexec_options_set_no_verify(efikexec_options *options,
                                                            int no_verify);
/* The command line the image gets as LoadOptions (replaces its own). */
EFIKEXEC_API efikexec_status efikexec_options_set_command_line(efikexec_options *options,
                                                               const char *command_line);
/* Appended to the image's own command line, or to the reused one. */
EFIKEXEC_API efikexec_status efikexec_options_set_append(efikexec_options *options,
                                                         const char *append);
/* Non-zero: start from this kernel's /proc/cmdline (without initrd= and BOOT_IMAGE=). */
EFIKEXEC_API efikexec_status efikexec_options_set_reuse_cmdline(efikexec_options *options,
                                                                int reuse);
/* Served to the image as its initrd (LoadFile2), for EFI-stub kernels and UKIs without one. */
EFIKEXEC_API efikexec_status efikexec_options_set_initrd(efikexec_options *options,
                                                         const char *path);
/* Boot profile of a multi-profile UKI; a negative number clears it. */
EFIKEXEC_API efikexec_status efikexec_options_set_profile(efikexec_options *options,
                                                          int profile);
/* The machine to load for: NULL or "" this one, "q35" or "q35:MIB" a described QEMU guest, or
 * a machine description file (JSON, docs/cli.md). For plans (dry runs). */
EFIKEXEC_API efikexec_status efikexec_options_set_machine(efikexec_options *options,
                                                          const char *spec);
/* Seconds the image may run before ExitBootServices() (1 to 3600; default 30). */
EFIKEXEC_API efikexec_status efikexec_options_set_timeout(efikexec_options *options,
                                                          unsigned seconds);

/* How the loaded image gets control after kexec (docs/architecture.md, docs/payload.md). */
typedef enum efikexec_handoff {
  EFIKEXEC_HANDOFF_AUTO = 0,       /* the default: PAYLOAD when the kernel is in lockdown
                                      (/sys/kernel/security/lockdown), else TRAMPOLINE */
  EFIKEXEC_HANDOFF_TRAMPOLINE = 1, /* run the image to ExitBootServices() here, kexec_load */
  EFIKEXEC_HANDOFF_PAYLOAD = 2     /* verify only, then kexec_file_load of the signed payload
                                      with the image in its bundle */
} efikexec_handoff;

/* The handoff to use; any other value is EFIKEXEC_ERR_INVALID_ARGUMENT. (This and the next
 * came with the payload handoff: new functions only, the ABI stays compatible.) */
EFIKEXEC_API efikexec_status efikexec_options_set_handoff(efikexec_options *options,
                                                          efikexec_handoff handoff);
/* The signed payload for the payload handoff; NULL or "" the installed one. */
EFIKEXEC_API efikexec_status efikexec_options_set_payload(efikexec_options *options,
                                                          const char *path);
/* Non-zero: load a crash kernel, booted when this kernel panics (kdump, docs/kdump.md): the
 * image runs inside the crashkernel= reservation, kexec_load with KEXEC_ON_CRASH, elfcorehdr=
 * and the append text reach its command line through boot_params, and the initrd replaces a
 * UKI's own. The trampoline handoff only: a kernel in lockdown gives EFIKEXEC_ERR_KEXEC. */
EFIKEXEC_API efikexec_status efikexec_options_set_load_panic(efikexec_options *options,
                                                             int load_panic);

/* ---- operations ----------------------------------------------------------------------------- */

/* What the image is: the JSON document of `efikexec inspect --json`. Honours the image and the
 * profile of `options`. */
EFIKEXEC_API efikexec_status efikexec_inspect(efikexec_context *ctx,
                                              const efikexec_options *options, char **json);

/* Would the trust policy of `options` let the image run? EFIKEXEC_OK when accepted,
 * EFIKEXEC_ERR_REFUSED (the reason in efikexec_last_error) or EFIKEXEC_ERR_BAD_INPUT. */
EFIKEXEC_API efikexec_status efikexec_verify(efikexec_context *ctx,
                                             const efikexec_options *options);

/* Dry run: verify, run the image to ExitBootServices() in the sandbox and plan the kexec
 * segments, without any kexec system call. *plan_json is `efikexec load --dry-run`'s plan, with
 * "handoff" and "lockdown"; on the payload handoff (nothing runs) it names the payload, the
 * bundle and the command line kexec_file_load would get. */
EFIKEXEC_API efikexec_status efikexec_plan(efikexec_context *ctx,
                                           const efikexec_options *options, char **plan_json);

/* The same as efikexec_plan, then the one kexec_load(2) of the plan, or on the payload handoff
 * the one kexec_file_load(2) of the payload (the image is verified, not run). On failure nothing
 * new is loaded and an image loaded before stays. Needs root (CAP_SYS_BOOT). On a kernel in
 * lockdown without a payload (AUTO) it fails with EFIKEXEC_ERR_KEXEC before anything runs. */
EFIKEXEC_API efikexec_status efikexec_load(efikexec_context *ctx,
                                           const efikexec_options *options);

/* Boots the loaded image now (reboot(LINUX_REBOOT_CMD_KEXEC)); returns only on failure. */
EFIKEXEC_API efikexec_status efikexec_exec(efikexec_context *ctx);

/* Unloads the loaded image: kexec_file_load(KEXEC_FILE_UNLOAD) on a kernel in lockdown,
 * kexec_load otherwise. */
EFIKEXEC_API efikexec_status efikexec_unload(efikexec_context *ctx);
/* Unloads the crash kernel (kexec_load with KEXEC_ON_CRASH and no segments). */
EFIKEXEC_API efikexec_status efikexec_unload_crash(efikexec_context *ctx);

/* *loaded = 1 when a kexec image is loaded (/sys/kernel/kexec_loaded), else 0. */
EFIKEXEC_API efikexec_status efikexec_is_loaded(efikexec_context *ctx, int *loaded);

#ifdef __cplusplus
}
#endif

#endif /* EFIKEXEC_H */
