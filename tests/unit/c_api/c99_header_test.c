/* SPDX-License-Identifier: MIT */
/* Compiled as C99 with -pedantic-errors: both public headers must be plain C, and a C caller
 * must be able to drive the API (called from c_api_test.cpp). */
#include <efikexec.h>
#include <efikexec-kexec-tools.h>

#include <string.h>

/* The kexec-tools trio has kexec-tools' own function types (kexec/kexec.h probe_t, load_t,
 * usage_t), so a fork's table row takes the functions as they are. */
typedef int(probe_t)(const char *kernel_buf, off_t kernel_size);
typedef int(load_t)(int argc, char **argv, const char *kernel_buf, off_t kernel_size,
                    struct kexec_info *info);
typedef void(usage_t)(void);
struct file_type {
  const char *name;
  probe_t *probe;
  load_t *load;
  usage_t *usage;
};
static const struct file_type efi_row = {EFIKEXEC_KT_TYPE_NAME, efikexec_kt_probe,
                                         efikexec_kt_load, efikexec_kt_usage};

/* 0 when every step behaved; else the number of the step that did not. */
int efikexec_c99_smoke(const char *image) {
  efikexec_context *ctx = efikexec_context_new();
  efikexec_options *options = efikexec_options_new();
  char *json = NULL;
  int failed = 0;
  if (ctx == NULL || options == NULL) failed = 1;
  if (!failed && efikexec_options_set_image(options, image) != EFIKEXEC_OK) failed = 2;
  if (!failed && efikexec_options_set_no_verify(options, 1) != EFIKEXEC_OK) failed = 3;
  if (!failed && efikexec_options_set_profile(options, -1) != EFIKEXEC_OK) failed = 4;
  if (!failed && efikexec_inspect(ctx, options, &json) != EFIKEXEC_ERR_BAD_INPUT) failed = 5;
  if (!failed && (json != NULL || strstr(efikexec_last_error(ctx), image) == NULL)) failed = 6;
  if (!failed && efikexec_status_exit_code(EFIKEXEC_ERR_BAD_INPUT) != 2) failed = 7;
  if (!failed && strcmp(efi_row.name, "efi-uki") != 0) failed = 8;
  if (!failed && efi_row.probe("MZ", 2) != -1) failed = 9;
  efikexec_string_free(json);
  efikexec_options_free(options);
  efikexec_context_free(ctx);
  return failed;
}
