#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# measure-boot.sh FIXTURES WORKDIR
#   Measures TCG boot times (wall clock, from QEMU start to a serial line) for NOTES.md:
#   the first kernel to `EFIKEXEC-FIRST: up` with the smoke initramfs (fixtures included) over
#   OVMF with 1/2 GiB and 1/2 vCPUs, SeaBIOS, a plain qemu64 CPU; and the second kernel to
#   `EFIKEXEC-SECOND: done`, booted directly and as a UKI from an ESP. Prints a Markdown table.
set -euo pipefail
TEST_NAME=measure-boot
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 FIXTURES WORKDIR" >&2; exit 2; }
FIX="$1"
WORK="$2"
need_fixtures "$FIX" vmlinuz initrd-second.cpio.gz uki.efi
mkdir -p "$WORK"
INITRD="$("$QEMU_DIR/make-guest-initrd.sh" "$WORK/measure-initrd" "$FIX" - \
  "$QEMU_DIR/scenarios/smoke-first-boot.sh")"
ESP="$WORK/measure-esp.img"
rm -f "$ESP"
mkfs.fat -C -n EFIKEXEC "$ESP" $(($(stat -Lc %s "$FIX/uki.efi") / 1024 + 4096)) >/dev/null
mmd -i "$ESP" ::/EFI ::/EFI/BOOT
mcopy -i "$ESP" "$FIX/uki.efi" ::/EFI/BOOT/BOOTX64.EFI

# run LABEL UNTIL RUN-GUEST-ARGS...: one boot, stopped at the first line matching UNTIL.
run() {
  local label="$1" until="$2" t0 t1
  shift 2
  t0="$(date +%s.%N)"
  if "$QEMU_DIR/run-guest.sh" --timeout "$GUEST_TIMEOUT" --until "$until" \
    --log "$WORK/measure.log" "$@" 2>/dev/null; then
    t1="$(date +%s.%N)"
    printf "| %s | %.1f s |\n" "$label" "$(awk "BEGIN{print $t1 - $t0}")"
  else
    printf '| %s | failed (status %s) |\n' "$label" "$?"
  fi
}

first=(--kernel "$FIX/vmlinuz" --initrd "$INITRD" --append "$FIRST_APPEND")
up='EFIKEXEC-FIRST: up'
echo "| boot (TCG, q35) | to the marker line |"
echo "|---|---|"
run "first kernel, OVMF, 1 GiB, 1 vCPU" "$up" --bios ovmf --mem 1G --smp 1 "${first[@]}"
run "first kernel, OVMF, 1 GiB, 2 vCPUs" "$up" --bios ovmf --mem 1G --smp 2 "${first[@]}"
run "first kernel, OVMF, 2 GiB, 1 vCPU" "$up" --bios ovmf --mem 2G --smp 1 "${first[@]}"
run "first kernel, OVMF, 2 GiB, 2 vCPUs" "$up" --bios ovmf --mem 2G --smp 2 "${first[@]}"
run "first kernel, OVMF, 1 GiB, 1 vCPU, -cpu qemu64" "$up" --bios ovmf --mem 1G --smp 1 \
  --cpu qemu64 "${first[@]}"
run "first kernel, SeaBIOS, 1 GiB, 1 vCPU" "$up" --bios seabios --mem 1G --smp 1 "${first[@]}"
run "second kernel direct, OVMF, 1 GiB, 1 vCPU" 'EFIKEXEC-SECOND: done' --bios ovmf --mem 1G \
  --smp 1 --kernel "$FIX/vmlinuz" --initrd "$FIX/initrd-second.cpio.gz" \
  --append "console=ttyS0 quiet loglevel=4 panic=-1"
run "UKI from ESP, OVMF, 1 GiB, 1 vCPU" 'EFIKEXEC-SECOND: done' --bios ovmf --mem 1G --smp 1 \
  --disk "$ESP"
