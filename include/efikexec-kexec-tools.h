/* SPDX-License-Identifier: MIT */
/*
 * A kexec-tools file type for EFI images and UKIs: the {probe, load, usage} trio of kexec-tools'
 * `struct file_type`, so that a fork adds efikexec with one table row in
 * kexec/arch/i386/kexec-x86.c (x86_64 builds use that table too):
 *
 *   { EFIKEXEC_KT_TYPE_NAME, efikexec_kt_probe, efikexec_kt_load, efikexec_kt_usage },
 *
 * The signatures are kexec-tools' probe_t, load_t and usage_t. `struct kexec_info` stays
 * kexec-tools' own: it is only declared here, never defined or read, so this header compiles
 * beside kexec-tools' kexec.h and without it.
 *
 * efikexec_kt_load does the whole load itself, including the one kexec_load(2) (on a kernel in
 * lockdown: the one kexec_file_load(2) of efikexec's signed payload, as `efikexec load`): it adds no
 * segments to `info`. On success it returns EFIKEXEC_KT_LOADED (positive), which the fork's
 * my_load() and do_kexec_file_load() must take as "done" and return 0 without their own
 * kexec_load / kexec_file_load (that would replace the image). docs/integrating-kexec-tools.md
 * lists the exact changes.
 */
#ifndef EFIKEXEC_KEXEC_TOOLS_H
#define EFIKEXEC_KEXEC_TOOLS_H

#include <sys/types.h> /* off_t */

#include "efikexec.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kexec_info;

/* The name for `kexec --type`. */
#define EFIKEXEC_KT_TYPE_NAME "efi-uki"

/* efikexec_kt_load's success: the image is loaded, the caller must not load anything. */
#define EFIKEXEC_KT_LOADED 1

/* 0 when the buffer is an x86_64 EFI application (PE32+, AMD64, subsystem 10): a UKI or an
 * EFI-stub kernel; -1 otherwise. Parses with efikexec's bounds-checked PE parser; no side
 * effects: it allocates nothing, writes no file, keeps no state and prints nothing. */
EFIKEXEC_API int efikexec_kt_probe(const char *kernel_buf, off_t kernel_size);

/* Verifies the image (db/dbx/SBAT), runs it to ExitBootServices() in efikexec's sandbox and
 * kexec_loads it; on a kernel in lockdown hands it to the signed payload instead (the C API's
 * EFIKEXEC_HANDOFF_AUTO; --efi-handoff and --efi-payload choose). Reads the options it knows from argv (see efikexec_kt_usage; others are
 * ignored, as kexec-tools' own loaders do) and never changes argv, getopt's state or `info`.
 * Returns EFIKEXEC_KT_LOADED, or -1 (kexec-tools' EFAILED) after a one-line message on stderr. */
EFIKEXEC_API int efikexec_kt_load(int argc, char **argv, const char *kernel_buf,
                                  off_t kernel_size, struct kexec_info *info);

/* Prints the options efikexec_kt_load reads, in kexec-tools' usage style, on stdout. */
EFIKEXEC_API void efikexec_kt_usage(void);

#ifdef __cplusplus
}
#endif

#endif /* EFIKEXEC_KEXEC_TOOLS_H */
