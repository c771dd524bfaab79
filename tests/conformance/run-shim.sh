#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-shim.sh BUILD_DIR OUTDIR [APP...]
#
# Runs each conformance application (BUILD_DIR/tests/efi_apps/APP.efi; default: all) under
# efikexec's own boot-services shim with `efikexec run-efi` and writes, like run-ovmf.sh:
#   OUTDIR/APP.shim.log     everything run-efi printed (stdout and stderr)
#   OUTDIR/APP.shim.txt     the application's transcript: its "EFT: " lines, CRs removed
#   OUTDIR/APP.shim.ending  how the run ended, one normalised word (+ status):
#                           exit-boot-services | returned STATUS | exit STATUS | timeout |
#                           crash | unknown
#
# The interface assumed of `efikexec run-efi --timeout S IMAGE` (issue 4 item 7):
#   - the image's console output (ConOut, StdErr) is printed on stdout as it comes;
#   - the last line of stdout says how the run ended.
# Only ending_of() below knows the wording of that last line; adapt it there.
#
# Environment: EFIKEXEC (binary, default BUILD_DIR/efikexec), RUN_EFI_ARGS (extra arguments,
# e.g. --machine DESC), EFT_SHIM_TIMEOUT (seconds given to --timeout, default 20).
set -euo pipefail

# shellcheck source=tests/conformance/lib.sh
source "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
conformance_args "$0" "$@"
EFIKEXEC="${EFIKEXEC:-$BUILD_DIR/efikexec}"
EFT_SHIM_TIMEOUT="${EFT_SHIM_TIMEOUT:-20}"
read -r -a run_efi_args <<<"${RUN_EFI_ARGS:-}"

[[ -x "$EFIKEXEC" ]] || { echo "run-shim: $EFIKEXEC missing (build first)" >&2; exit 1; }

# ending_of LINE: the normalised ending from run-efi's last line. The patterns are guesses at
# the wording ("... ExitBootServices ...", "... returned <Status>", "... Exit(<Status>) ...",
# "... timeout ...", "... signal/fault ..."): the first that matches wins.
ending_of() {
  local line="$1" status
  # The status, if the line names one: EFI_ACCESS_DENIED, AccessDenied or 0x800000000000000f,
  # written the way the transcripts spell statuses (AccessDenied).
  status="$(grep -Eo 'EFI_[A-Z0-9_]*[A-Z0-9]|0x[0-9a-fA-F]+' <<<"$line" | head -n1 || true)"
  [[ -n "$status" ]] ||
    status="$(grep -Eo '\<(Success|[A-Z][a-z]+([A-Z][a-z]+)+)\>' <<<"$line" | tail -n1 || true)"
  if [[ "$status" == EFI_* ]]; then
    status="$(sed -E 's/^EFI_//; s/([A-Z])([A-Z0-9]*)_?/\1\L\2/g' <<<"$status")"
  fi
  if grep -Eqi 'exitbootservices|exit_boot_services|exit-boot-services' <<<"$line"; then
    echo exit-boot-services
  elif grep -Eqi 'timed? ?out' <<<"$line"; then
    echo timeout
  elif grep -Eqi 'signal|fault|crash|killed|trap' <<<"$line"; then
    echo crash
  elif grep -Eqi '\<exit(ed)?\>' <<<"$line"; then
    echo "exit ${status:-?}"
  elif grep -Eqi 'return(ed)?' <<<"$line"; then
    echo "returned ${status:-?}"
  else
    echo unknown
  fi
}

failed=0
for app in "${apps[@]}"; do
  efi="$APPS_DIR/$app.efi"
  [[ -r "$efi" ]] || { echo "run-shim: $efi missing (build first)" >&2; exit 1; }
  log="$OUTDIR/$app.shim.log"
  start=$(date +%s.%N)
  rc=0
  # The outer timeout only guards against run-efi itself hanging.
  # eft_files: the same files as under OVMF, the application at \EFI\BOOT\BOOTX64.EFI on them.
  app_args=("$efi")
  if [[ "$app" == eft_files ]]; then
    esp="$OUTDIR/$app.esp"
    rm -rf "$esp" && mkdir -p "$esp/EFI/BOOT"
    cp "$efi" "$esp/EFI/BOOT/BOOTX64.EFI"
    "$(dirname -- "${BASH_SOURCE[0]}")/esp-files.sh" "$APPS_DIR" "$esp"
    app_args=(--esp "$esp" "$esp/EFI/BOOT/BOOTX64.EFI")
  fi
  timeout --kill-after=5 $((EFT_SHIM_TIMEOUT + 30)) \
    "$EFIKEXEC" run-efi --timeout "$EFT_SHIM_TIMEOUT" "${run_efi_args[@]}" "${app_args[@]}" \
    >"$log.stdout" 2>"$log.stderr" </dev/null || rc=$?
  end=$(date +%s.%N)
  { cat "$log.stdout"; cat "$log.stderr"; } >"$log"
  transcript "$log.stdout" >"$OUTDIR/$app.shim.txt"
  last="$(tr -d '\r' <"$log.stdout" | grep -v '^[[:space:]]*$' | tail -n1 || true)"
  ending_of "$last" >"$OUTDIR/$app.shim.ending"
  rm -f "$log.stdout" "$log.stderr"
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  echo "$app ${seconds}s rc=$rc ending=$(cat "$OUTDIR/$app.shim.ending") $(wc -l <"$OUTDIR/$app.shim.txt") lines" >&2
  if [[ ! -s "$OUTDIR/$app.shim.txt" ]]; then
    echo "run-shim: $app printed no transcript; see $log" >&2
    failed=1
  fi
done
exit "$failed"
