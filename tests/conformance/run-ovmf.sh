#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-ovmf.sh BUILD_DIR OUTDIR [APP...]
#
# Runs each conformance application (BUILD_DIR/tests/efi_apps/APP.efi; default: all of them) under
# OVMF in QEMU, booted as \EFI\BOOT\BOOTX64.EFI from a QEMU virtual FAT drive, and writes the
# application's transcript (its "EFT: " lines, terminal escapes and CRs removed) to
# OUTDIR/APP.ovmf.txt, the raw serial log to OUTDIR/APP.ovmf.log and the wall time to
# OUTDIR/timings.txt. The applications power the VM off after "EFT: end"; the ExitBootServices
# application cannot (boot services are gone), so QEMU is stopped once its last line
# ("EFT: ebs.returned ...") shows up. A run that ends without its last line is a failure.
#
# Environment: OVMF_CODE, OVMF_VARS (firmware images), QEMU (binary), EFT_TIMEOUT (seconds per
# application, default 120: TCG boots of OVMF take seconds, the limit only catches hangs).
set -euo pipefail

# shellcheck source=tests/conformance/lib.sh
source "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
conformance_args "$0" "$@"
OVMF_CODE="${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}"
OVMF_VARS="${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}"
QEMU="${QEMU:-qemu-system-x86_64}"
EFT_TIMEOUT="${EFT_TIMEOUT:-120}"

for f in "$OVMF_CODE" "$OVMF_VARS"; do
  [[ -r "$f" ]] || { echo "run-ovmf: firmware $f missing (Debian package ovmf)" >&2; exit 1; }
done
command -v "$QEMU" >/dev/null || { echo "run-ovmf: $QEMU missing (qemu-system-x86)" >&2; exit 1; }

work="$(mktemp -d)"
qemu_pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  if [[ -n "$qemu_pid" ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The line that ends an application's transcript: "EFT: end" normally; the ExitBootServices
# application halts after writing "EFT: ebs.returned ..." to the UART itself.
final_line_re='^EFT: (end|ebs\.returned)( |$)'

: >"$OUTDIR/timings.txt"
failed=0
for app in "${apps[@]}"; do
  efi="$APPS_DIR/$app.efi"
  [[ -r "$efi" ]] || { echo "run-ovmf: $efi missing (build first)" >&2; exit 1; }
  esp="$work/$app/esp"
  mkdir -p "$esp/EFI/BOOT"
  cp "$efi" "$esp/EFI/BOOT/BOOTX64.EFI"
  # eft_files reads the files systemd-stub reads next to its image.
  [[ "$app" == eft_files ]] && "$(dirname -- "${BASH_SOURCE[0]}")/esp-files.sh" "$APPS_DIR" "$esp"
  cp "$OVMF_VARS" "$work/$app/vars.fd"
  log="$OUTDIR/$app.ovmf.log"
  : >"$log"

  start=$(date +%s.%N)
  # -nodefaults: no NIC (no PXE attempt before the disk), no VGA (ConOut is the serial port only).
  "$QEMU" -machine q35 -m 256 -nodefaults -display none -no-reboot -monitor none \
    -serial "file:$log" \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
    -drive "if=pflash,format=raw,unit=1,file=$work/$app/vars.fd" \
    -drive "if=virtio,format=raw,readonly=on,file=fat:$esp" \
    </dev/null >"$work/$app/qemu.out" 2>&1 &
  qemu_pid=$!
  deadline=$(($(date +%s) + EFT_TIMEOUT))
  status=timeout
  while :; do
    if transcript "$log" | grep -Eq "$final_line_re"; then
      status=finished
      break
    fi
    if ! kill -0 "$qemu_pid" 2>/dev/null; then
      status=exited
      break
    fi
    if [[ $(date +%s) -ge $deadline ]]; then
      break
    fi
    sleep 0.2
  done
  # The powered-off VM exits by itself; give it a moment, then stop it (the halted EBS app).
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
  end=$(date +%s.%N)
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

  transcript "$log" >"$OUTDIR/$app.ovmf.txt"
  # A run that stopped early (timeout, QEMU exit) shows as a missing final line.
  if ! grep -Eq "$final_line_re" "$OUTDIR/$app.ovmf.txt"; then
    echo "run-ovmf: $app: no final line ($status after ${seconds}s); see $log" >&2
    cat "$work/$app/qemu.out" >&2
    failed=1
  fi
  echo "$app ${seconds}s $(wc -l <"$OUTDIR/$app.ovmf.txt") lines" | tee -a "$OUTDIR/timings.txt" >&2
done
exit "$failed"
