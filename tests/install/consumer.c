/* SPDX-License-Identifier: MIT */
/* A C program as a boot manager would write it, built against an installed efikexec: a dry run
 * (plan) of IMAGE trusted through the certificate DB, for a described q35 guest.
 *   consumer IMAGE DB   prints the JSON plan; exits with the CLI's status (0, 1 or 2) */
#include <efikexec.h>

#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IMAGE DB\n", argv[0]);
    return 2;
  }
  efikexec_context *ctx = efikexec_context_new();
  efikexec_options *options = efikexec_options_new();
  if (ctx == NULL || options == NULL) return 1;
  efikexec_status status = efikexec_options_set_image(options, argv[1]);
  if (status == EFIKEXEC_OK) status = efikexec_options_add_db(options, argv[2]);
  if (status == EFIKEXEC_OK) status = efikexec_options_set_efivars(options, "/nonexistent");
  if (status == EFIKEXEC_OK) status = efikexec_options_set_machine(options, "q35");
  char *plan = NULL;
  if (status == EFIKEXEC_OK) status = efikexec_plan(ctx, options, &plan);
  if (status == EFIKEXEC_OK)
    printf("%s\n", plan);
  else
    fprintf(stderr, "consumer: efikexec %s: %s: %s\n", efikexec_version(),
            efikexec_strerror(status), efikexec_last_error(ctx));
  efikexec_string_free(plan);
  efikexec_options_free(options);
  efikexec_context_free(ctx);
  return efikexec_status_exit_code(status);
}
