#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-second-direct.sh FIXTURES WORKDIR [direct-ovmf|direct-seabios|uki-ovmf|all]
#   Reference boots of the *second* world without efikexec, proving the fixtures work:
#   direct-ovmf     vmlinuz + initrd-second.cpio.gz started by OVMF through the EFI stub
#                   (QEMU -kernel/-initrd/-append)
#   direct-seabios  the same as a legacy boot (no EFI)
#   uki-ovmf        uki.efi as \EFI\BOOT\BOOTX64.EFI on a FAT ESP image, found and started by
#                   OVMF's boot manager: systemd-stub runs, and the second kernel must come up
#                   with the UKI's own .cmdline and .initrd. This is what efikexec must reproduce.
#   Logs: WORKDIR/second-*.log. FIXTURES is the output folder of tests/fixtures/make-fixtures.sh.
#
# needs (uki-ovmf): mtools dosfstools
set -euo pipefail
TEST_NAME=test-second-direct
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"

[[ $# -ge 2 && $# -le 3 ]] || {
  echo "usage: $0 FIXTURES WORKDIR [direct-ovmf|direct-seabios|uki-ovmf|all]" >&2
  exit 2
}
FIX="$(realpath -m -- "$1")"
WORK="$2"
WHICH="${3:-all}"
require_fixture "$FIX"/{vmlinuz,initrd-second.cpio.gz,uki.efi}
mkdir -p "$WORK"

DIRECT_APPEND="console=ttyS0 quiet loglevel=4 panic=-1 efikexec.direct=1"
UKI_CMDLINE_RE='console=ttyS0 efikexec\.uki=1 panic=-1'

direct() {
  "$QEMU_DIR/run-guest.sh" --bios "$1" --mem 1G --smp 1 --timeout "$GUEST_TIMEOUT" \
    --kernel "$FIX/vmlinuz" --initrd "$FIX/initrd-second.cpio.gz" --append "$DIRECT_APPEND" \
    --log "$WORK/second-direct-$1.log"
}

# A FAT ESP holding the UKI at the removable-media path: with no boot entries in its fresh
# variable store, OVMF's boot manager falls back to \EFI\BOOT\BOOTX64.EFI on each disk.
make_esp() {
  local img="$WORK/esp-uki.img" size_kb
  size_kb=$(($(stat -Lc %s "$FIX/uki.efi") / 1024 + 4096))
  rm -f "$img"
  mkfs.fat -C -n EFIKEXEC "$img" "$size_kb" >/dev/null
  mmd -i "$img" ::/EFI ::/EFI/BOOT
  mcopy -i "$img" "$FIX/uki.efi" ::/EFI/BOOT/BOOTX64.EFI
}
uki() {
  make_esp
  "$QEMU_DIR/run-guest.sh" --bios ovmf --mem 1G --smp 1 --timeout "$GUEST_TIMEOUT" \
    --disk "$WORK/esp-uki.img" --log "$WORK/second-uki-ovmf.log"
}

# No end anchor on the first line: the kernel may still be printing when /init starts, and
# its messages then share the serial line with it.
second_common=('^EFIKEXEC-SECOND: up' '^EFIKEXEC-SECOND: initrd=second$'
  '^EFIKEXEC-SECOND: acpi=yes$' '^EFIKEXEC-SECOND: memtotal_kb=[0-9]{6,}$'
  '^EFIKEXEC-SECOND: cpus=1$' '^EFIKEXEC-SECOND: done$' '!Kernel panic')

if [[ "$WHICH" == all || "$WHICH" == direct-ovmf ]]; then
  check "direct-ovmf: boots and powers off" direct ovmf
  check "direct-ovmf: second world up" "$QEMU_DIR/expect.sh" "$WORK/second-direct-ovmf.log" \
    "${second_common[@]}" '^EFIKEXEC-SECOND: efi=yes$' \
    '^EFIKEXEC-SECOND: cmdline=.*efikexec\.direct=1'
fi
if [[ "$WHICH" == all || "$WHICH" == direct-seabios ]]; then
  check "direct-seabios: boots and powers off" direct seabios
  check "direct-seabios: second world up" "$QEMU_DIR/expect.sh" "$WORK/second-direct-seabios.log" \
    "${second_common[@]}" '^EFIKEXEC-SECOND: efi=no$' \
    '^EFIKEXEC-SECOND: cmdline=.*efikexec\.direct=1'
fi
if [[ "$WHICH" == all || "$WHICH" == uki-ovmf ]]; then
  check "uki-ovmf: boots and powers off" uki
  check "uki-ovmf: UKI's cmdline and initrd used" "$QEMU_DIR/expect.sh" "$WORK/second-uki-ovmf.log" \
    "${second_common[@]}" '^EFIKEXEC-SECOND: efi=yes$' \
    "^EFIKEXEC-SECOND: cmdline=${UKI_CMDLINE_RE}\$"
fi
summary
