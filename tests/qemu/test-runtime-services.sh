#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-runtime-services.sh FIXTURES WORKDIR EFIKEXEC_BIN
#   The firmware's EFI runtime services after an efikexec kexec (issue 13): two boots of one
#   writable copy of the OVMF variable store.
#   1. The first kernel (Debian's, booted by OVMF) counts its efivarfs variables and loads the
#      signed EFI-stub kernel with an initrd whose /init is guest/runtime-services-second.sh;
#      the second kernel must enter EFI virtual mode the kexec way (no "Unable to switch EFI
#      into virtual mode"), list as many variables as the first and write a non-volatile
#      variable (SetVariable through the firmware). Then efikexec in the second kernel loads the
#      same kernel again with its own command line and executes it: it must find the firmware's
#      runtime services in the runtime map the second kernel exposes, with the same runtime
#      table, and the third kernel must come up in EFI virtual mode with ACPI and the memory of
#      the second, list the variables plus the new one, read that variable back, and reset
#      through EFI (reboot=efi: ResetSystem). Three kernels, one firmware boot.
#   2. The same variable store booted again: the first kernel finds that variable.
#   GetTime is not checked on its own: Debian's kernel has no efi_test module and x86 reads the
#   time from the CMOS clock; it is called through the same runtime table as the variables.
#   Logs: WORKDIR/runtime-services.log, WORKDIR/after-reset.log.
set -euo pipefail
TEST_NAME=test-runtime-services
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"

[[ $# -eq 3 ]] || { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN" >&2; exit 2; }
FIX="$(realpath -- "$1")"
WORK="$(realpath -m -- "$2")"
BIN="$3"
require_fixture "$FIX"/{vmlinuz,vmlinuz-signed.efi,initrd-second.cpio.gz,keys/db.crt,modules}
OVMF="${OVMF_DIR_SYSTEM:-/usr/share/OVMF}"
[[ -s "$OVMF/OVMF_CODE_4M.fd" && -s "$OVMF/OVMF_VARS_4M.fd" ]] ||
  { note "$OVMF/OVMF_CODE_4M.fd or OVMF_VARS_4M.fd missing (ovmf)"; exit 1; }
mkdir -p "$WORK"
cp "$OVMF/OVMF_VARS_4M.fd" "$WORK/vars.fd"

# The second kernel's initrd: the fixtures' one, and over it this test's /init and efivarfs.ko,
# and efikexec with the third kernel's initrd (the same without efikexec).
runtime_second_initrd "$WORK/runtime-third.cpio.gz"
runtime_second_initrd "$WORK/runtime-second.cpio.gz" "$BIN" "$WORK/runtime-third.cpio.gz"

# The first kernel's initramfs: the usual one, and the second initrd in /fixtures.
first="$WORK/first.overlay"
rm -rf "$first"
mkdir -p "$first/fixtures"
cp "$WORK/runtime-second.cpio.gz" "$first/fixtures/runtime-second.cpio.gz"
"$QEMU_DIR/make-guest-initrd.sh" "$WORK/runtime-services" "$FIX" "$BIN" \
  "$QEMU_DIR/scenarios/runtime-services.sh" >/dev/null
(cd "$first" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  cpio --null -o -H newc -R 0:0 --quiet) | gzip -1n >"$WORK/first-overlay.cpio.gz"
cat "$WORK/runtime-services/initrd-first.cpio.gz" "$WORK/first-overlay.cpio.gz" \
  >"$WORK/first.cpio.gz"

# boot LOG APPEND UNTIL: the first kernel on the variable store WORK/vars.fd.
boot() {
  OVMF_CODE="$OVMF/OVMF_CODE_4M.fd" \
    "$QEMU_DIR/run-guest.sh" --bios ovmf --mem 1G --smp 1 --timeout "$GUEST_TIMEOUT" \
    --vars "$WORK/vars.fd" --until "$3" --kernel "$FIX/vmlinuz" --initrd "$WORK/first.cpio.gz" \
    --append "$2" --log "$1"
}
LOG="$WORK/runtime-services.log"
AFTER="$WORK/after-reset.log"

# The reset ends QEMU (-no-reboot); the --until patterns only cut short a failure.
check "kexec, a second kexec, then a reset from the third kernel" \
  boot "$LOG" "$FIRST_APPEND" \
  '^EFIKEXEC-FIRST: exec returned|^EFIKEXEC-(SECOND|THIRD): reset returned|Kernel panic'
check "the load hands the firmware's runtime services over" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: efikexec: the next kernel runs with the firmware.s EFI runtime services \([1-9][0-9]* runtime regions' \
  '^EFIKEXEC-FIRST: load-status=1$' '!first test variable already there'
check "second kernel: EFI in virtual mode the kexec way, by the firmware" "$QEMU_DIR/expect.sh" \
  "$LOG" '^EFIKEXEC-TRAMPOLINE: entered$' '^EFIKEXEC-SECOND: up$' '^EFIKEXEC-SECOND: virtual-mode=ok$' \
  '^EFIKEXEC-SECOND: dmesg .*efi: EFI v[0-9.]+ by EDK II' \
  '!Unable to switch EFI into virtual mode' '!BUG:' '!Oops'
first_count="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-FIRST: first efivars=//p' | head -n1)"
second_count="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-SECOND: second efivars=//p' | head -n1)"
note "efivarfs: ${first_count:-?} variables in the first kernel, ${second_count:-?} in the second"
same_count() { [[ -n "$first_count" && "$first_count" -gt 0 && "$first_count" == "$second_count" ]]; }
check "second kernel: efivarfs lists as many variables as the first" same_count
# efikexec in the second kernel reads the runtime map that kernel exposes (its whole EFI map:
# only the EFI_MEMORY_RUNTIME entries count) and would hand the same runtime table on.
runtime_table="$(tr -d '\r' <"$LOG" |
  sed -n "s/^EFIKEXEC-FIRST: efikexec: the next kernel runs with the firmware's EFI runtime services (.*runtime services table \(0x[0-9a-f]*\),.*/\1/p" | head -n1)"
check "second kernel: efikexec there hands the same runtime services on, and loads the third" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  "^EFIKEXEC-SECOND: chain: efikexec: the next kernel runs with the firmware's EFI runtime services \([1-9][0-9]* runtime regions .*runtime services table ${runtime_table:-none}," \
  '^EFIKEXEC-SECOND: chain exit=0 loaded=1$' '!^EFIKEXEC-SECOND: chain exec returned'
check "second kernel: SetVariable of a non-volatile variable" "$QEMU_DIR/expect.sh" \
  "$LOG" '^EFIKEXEC-SECOND: set-variable=ok$' '^EFIKEXEC-SECOND: read-back=efikexec-runtime$' \
  '!^EFIKEXEC-SECOND: resetting$'
check "third kernel: its own command line, EFI in virtual mode, ACPI, the variable read back" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-THIRD: up$' \
  '^EFIKEXEC-THIRD: cmdline=console=ttyS0 panic=-1 reboot=efi efikexec.third=1$' \
  '^EFIKEXEC-THIRD: virtual-mode=ok$' '^EFIKEXEC-THIRD: acpi=yes$' \
  '^EFIKEXEC-THIRD: dmesg .*efi: EFI v[0-9.]+ by EDK II' \
  '^EFIKEXEC-THIRD: read-back=efikexec-runtime$' '^EFIKEXEC-THIRD: resetting$' \
  '!^EFIKEXEC-THIRD: reset returned'
third_count="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-THIRD: third efivars=//p' | head -n1)"
note "efivarfs: ${third_count:-?} variables in the third kernel"
one_more() { [[ -n "$third_count" && -n "$second_count" && "$third_count" -eq $((second_count + 1)) ]]; }
check "third kernel: efivarfs lists the second's variables and the one it wrote" one_more
second_kb="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-SECOND: memtotal_kb=//p' | head -n1)"
third_kb="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-THIRD: memtotal_kb=//p' | head -n1)"
check "third kernel: the machine's memory (MemTotal ${third_kb:-?} kB, second kernel ${second_kb:-?} kB)" \
  test -n "$third_kb" -a -n "$second_kb" -a "${third_kb:-0}" -ge $(( ${second_kb:-0} * 98 / 100 ))
check "the same variable store booted again" \
  boot "$AFTER" "$FIRST_APPEND efikexec.after_reset=1" '^EFIKEXEC-FIRST: done|Kernel panic'
check "the variable written in the second kernel survived the reset" "$QEMU_DIR/expect.sh" \
  "$AFTER" '^EFIKEXEC-FIRST: after-reset variable=efikexec-runtime attributes=7$'
summary
