#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-kexec-tools-fork.sh FIXTURES WORKDIR EFIKEXEC_BIN BUILD_DIR
#   The kexec-tools fork (issue 15): integration/kexec-tools/build-fork.sh builds kexec-tools
#   2.0.32 from Debian's source package with the patch series and BUILD_DIR's libefikexec.a; in
#   an OVMF guest (scenarios/kexec-tools-fork.sh) its `kexec -l` of a bzImage still uses
#   kexec-tools' own loader, a stranger's UKI is refused, and `kexec -l --efi-db …` of the signed
#   UKI goes through efikexec; `kexec -e` boots it with the UKI's .cmdline and .initrd.
#   Log: WORKDIR/fork.log.
set -euo pipefail
TEST_NAME=test-kexec-tools-fork
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"
[[ $# -eq 4 ]] || { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN BUILD_DIR" >&2; exit 2; }
FIX="$(realpath -m -- "$1")"
WORK="$2"
BIN="$3"
BUILD="$4"
require_fixture "$FIX"/{vmlinuz,uki-signed.efi,uki-other-signed.efi,keys/db.crt,initrd-second.cpio.gz}
mkdir -p "$WORK"

fork="$("$QEMU_DIR/../../integration/kexec-tools/build-fork.sh" "$BUILD" "$BUILD/kexec-tools-fork" |
  tail -n1)" || { note "the kexec-tools fork could not be built"; exit 1; }
OVMF="$WORK/ovmf"
system_ovmf "$OVMF"
overlay_begin fork
overlay_add fork bin/kexec "$fork"
check "guest ran" overlay_boot fork "$QEMU_DIR/scenarios/kexec-tools-fork.sh" "$FIX/vmlinuz" \
  "$OVMF" "console=ttyS0 quiet loglevel=4 panic=-1"
LOG="$WORK/fork.log"
check "kexec -h lists the efi-uki type and its options" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: help: efi-uki$' '^EFIKEXEC-FIRST: help: --efi-db=FILE'
check "a bzImage still goes through kexec-tools' own loader" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: bzimage loaded=1$' '^EFIKEXEC-FIRST: unloaded loaded=0$' \
  '!^EFIKEXEC-FIRST: bzimage: efikexec'
check "a stranger's UKI is refused by efikexec, nothing loaded" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: stranger: efikexec: .*(not trusted|unknown signer|no chain)' \
  '^EFIKEXEC-FIRST: stranger loaded=0$'
check "the signed UKI loaded through efikexec" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: uki loaded=1$' '!^EFIKEXEC-FIRST: uki: Cannot load'
check "kexec -e: the UKI's kernel with its .cmdline and its .initrd" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-SECOND: up' \
  '^EFIKEXEC-SECOND: cmdline=console=ttyS0 efikexec\.uki=1 panic=-1$' \
  '^EFIKEXEC-SECOND: initrd=second$' '^EFIKEXEC-SECOND: acpi=yes$' '!^EFIKEXEC-FIRST: exec returned'
summary
