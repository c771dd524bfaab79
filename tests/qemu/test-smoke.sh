#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-smoke.sh FIXTURES WORKDIR [ovmf|seabios|all]
#   Boots the first kernel (no efikexec) with the smoke scenario, under OVMF (an EFI boot:
#   /sys/firmware/efi and everything efikexec reads must be there) and under SeaBIOS (a legacy
#   boot: no /sys/firmware/efi). The serial logs, WORKDIR/smoke-*.log, describe the guest
#   machine (memory maps, runtime map, configuration tables, SMBIOS).
#   FIXTURES is the output folder of tests/fixtures/make-fixtures.sh.
set -euo pipefail
TEST_NAME=test-smoke
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"

[[ $# -ge 2 && $# -le 3 ]] || { echo "usage: $0 FIXTURES WORKDIR [ovmf|seabios|all]" >&2; exit 2; }
FIX="$(realpath -m -- "$1")"
WORK="$2"
WHICH="${3:-all}"
require_fixture "$FIX"/{vmlinuz,uki-signed.efi,modules}
mkdir -p "$WORK"

"$QEMU_DIR/make-guest-initrd.sh" "$WORK/smoke-initrd" "$FIX" - \
  "$QEMU_DIR/scenarios/smoke-first-boot.sh" >/dev/null

boot() {
  local bios="$1"
  "$QEMU_DIR/run-guest.sh" --bios "$bios" --mem 1G --smp 1 --timeout "$GUEST_TIMEOUT" \
    --kernel "$FIX/vmlinuz" --initrd "$WORK/smoke-initrd/initrd-first.cpio.gz" \
    --append "$FIRST_APPEND" --log "$WORK/smoke-$bios.log"
}

if [[ "$WHICH" == all || "$WHICH" == ovmf ]]; then
  check "ovmf: boots and powers off" boot ovmf
  check "ovmf: EFI boot, machine described" "$QEMU_DIR/expect.sh" "$WORK/smoke-ovmf.log" \
    '^EFIKEXEC-FIRST: up$' '^EFIKEXEC-FIRST: efi=yes$' \
    '^EFIKEXEC-FIRST: have /proc/iomem=yes$' '^EFIKEXEC-FIRST: have /sys/firmware/memmap=yes$' \
    '^EFIKEXEC-FIRST: have /sys/firmware/efi/runtime-map=yes$' \
    '^EFIKEXEC-FIRST: have /sys/firmware/efi/systab=yes$' \
    '^EFIKEXEC-FIRST: have /sys/firmware/dmi/tables=yes$' \
    '^EFIKEXEC-DUMP systab: ACPI20=0x[0-9a-f]+$' '^EFIKEXEC-DUMP systab: SMBIOS=0x[0-9a-f]+$' \
    '^EFIKEXEC-DUMP runtime-map: phys=' \
    '^EFIKEXEC-FIRST: smoke=ok$' '^EFIKEXEC-FIRST: scenario-exit=0$' \
    '!Kernel panic' '!insmod .* failed'
fi
if [[ "$WHICH" == all || "$WHICH" == seabios ]]; then
  check "seabios: boots and powers off" boot seabios
  check "seabios: legacy boot, machine described" "$QEMU_DIR/expect.sh" "$WORK/smoke-seabios.log" \
    '^EFIKEXEC-FIRST: up$' '^EFIKEXEC-FIRST: efi=no$' \
    '^EFIKEXEC-FIRST: have /proc/iomem=yes$' '^EFIKEXEC-FIRST: have /sys/firmware/memmap=yes$' \
    '^EFIKEXEC-FIRST: have /sys/firmware/dmi/tables=yes$' \
    '^EFIKEXEC-DUMP rsdp: bios-area scan: RSD PTR at 0x[0-9a-f]+$' \
    '^EFIKEXEC-FIRST: smoke=ok$' '^EFIKEXEC-FIRST: scenario-exit=0$' '!Kernel panic'
fi
summary
