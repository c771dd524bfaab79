#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-efivars.sh FIXTURES WORKDIR EFIKEXEC_BIN
#   The trust policy from the machine's own variables (issue 13): one guest under this machine's
#   Secure Boot OVMF (OVMF_CODE_4M.secboot.fd: q35 with SMM, the variable flash writable only
#   from SMM) with a variable store whose PK, KEK and db hold the test db certificate and whose
#   dbx holds the `other` certificate (make-fixtures-newer.sh: ovmf-secboot-vars/). The first
#   kernel (Debian's, booted by QEMU's -kernel) runs with Secure Boot on; efikexec verify and
#   load --dry-run without --db must read db and dbx from efivarfs: the signed UKI accepted,
#   the UKI signed by the dbx certificate refused as revoked. The kernel is in lockdown
#   [integrity]: load without --handoff (auto) takes the payload handoff, and with no payload
#   installed refuses before anything runs; with a stand-in payload signed by the db
#   certificate, kexec_file_load accepts it and unload goes through KEXEC_FILE_UNLOAD; without
#   its signature the kernel refuses it (ENODATA) and the image loaded before stays.
#   Log: WORKDIR/machine-variables.log.
set -euo pipefail
TEST_NAME=test-efivars
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"

[[ $# -eq 3 ]] || { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN" >&2; exit 2; }
FIX="$(realpath -- "$1")"
WORK="$(realpath -m -- "$2")"
BIN="$3"
require_fixture "$FIX"/{vmlinuz,uki-signed.efi,uki-other-signed.efi,keys/db.crt,keys/other.crt,modules}
NEW="${EFIKEXEC_NEWER_FIXTURES:-$FIX/newer}"
"$QEMU_DIR/../fixtures/make-fixtures-newer.sh" "$NEW" "$FIX" >&2 ||
  { note "the newer fixtures could not be made"; exit 1; }
SB_CODE="${OVMF_DIR_SYSTEM:-/usr/share/OVMF}/OVMF_CODE_4M.secboot.fd"
SB_VARS="$NEW/ovmf-secboot-vars/OVMF_VARS_4M.fd"
require_fixture "$SB_VARS"
[[ -s "$SB_CODE" ]] || { note "$SB_CODE missing (ovmf)"; exit 1; }
mkdir -p "$WORK"

LOG="$WORK/machine-variables.log"
boot() {
  "$QEMU_DIR/make-guest-initrd.sh" "$WORK/machine-variables" "$FIX" "$BIN" \
    "$QEMU_DIR/scenarios/machine-variables.sh" >/dev/null
  OVMF_CODE="$SB_CODE" OVMF_VARS="$SB_VARS" \
    "$QEMU_DIR/run-guest.sh" --bios ovmf --mem 1G --smp 1 --cpu qemu64 --timeout "$GUEST_TIMEOUT" \
    --until '^EFIKEXEC-FIRST: scenario-exit=|Kernel panic' \
    --kernel "$FIX/vmlinuz" --initrd "$WORK/machine-variables/initrd-first.cpio.gz" \
    --append "$FIRST_APPEND" --log "$LOG" \
    -- -machine smm=on -global driver=cfi.pflash01,property=secure,value=on
}

check "boots" boot
check "Secure Boot on, db and dbx in efivarfs" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: secure-boot=1$' '^EFIKEXEC-FIRST: variable db size=[1-9]' \
  '^EFIKEXEC-FIRST: variable dbx size=[1-9]' '^EFIKEXEC-FIRST: variable PK size=[1-9]' \
  '^EFIKEXEC-FIRST: lockdown=none \[integrity\] confidentiality$'
VARS='/sys/firmware/efi/efivars'
SECURITY=d719b2cb-3d3a-4596-a3bc-dad00e67656f
check "verify without --db: the db-signed UKI is accepted by efivarfs db" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  "^EFIKEXEC-FIRST: verify-signed: /fixtures/uki-signed\\.efi: accepted: .* chains to db certificate .*\\(efivarfs db \\($VARS/db-$SECURITY\\) entry 0" \
  '^EFIKEXEC-FIRST: verify-signed exit=0 loaded=0$' \
  "^EFIKEXEC-FIRST: verify-signed-json: +\"db: efivarfs db \\($VARS/db-$SECURITY\\)\",?\$" \
  "^EFIKEXEC-FIRST: verify-signed-json: +\"dbx: efivarfs dbx \\($VARS/dbx-$SECURITY\\)\",?\$" \
  '^EFIKEXEC-FIRST: verify-signed-json exit=0 loaded=0$' '!cannot read'
check "verify without --db: the UKI signed by the dbx certificate is refused as revoked" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  "^EFIKEXEC-FIRST: verify-other: /fixtures/uki-other-signed\\.efi: refused: .* revoked by dbx efivarfs dbx \\($VARS/dbx-$SECURITY\\)" \
  '^EFIKEXEC-FIRST: verify-other exit=1 loaded=0$'
check "load --dry-run without --db: the signed UKI is planned, the other refused, nothing loaded" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  "^EFIKEXEC-FIRST: load-signed: efikexec: verified /fixtures/uki-signed\\.efi: .*\\(efivarfs db \\($VARS/db-$SECURITY\\)" \
  '^EFIKEXEC-FIRST: load-signed: efikexec: dry run: plan written to /tmp/plan\.json$' \
  '^EFIKEXEC-FIRST: load-signed exit=0 loaded=0$' \
  "^EFIKEXEC-FIRST: load-other: efikexec: /fixtures/uki-other-signed\\.efi: refused: .* revoked by dbx efivarfs dbx" \
  '^EFIKEXEC-FIRST: load-other: efikexec: nothing was loaded$' '^EFIKEXEC-FIRST: load-other exit=1 loaded=0$'
check "load in lockdown without a payload: refused before anything runs, saying what to install" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: load-auto: efikexec: .*efikexec-payload\.efi: this kernel is in lockdown \[integrity\], so it refuses kexec_load; .*install the efikexec payload.*--payload FILE' \
  '^EFIKEXEC-FIRST: load-auto exit=1 loaded=0$' \
  '!^EFIKEXEC-FIRST: load-auto: efikexec: ran the image' '!^EFIKEXEC-FIRST: load-auto: efikexec: verified'
check "load in lockdown with a signed payload: kexec_file_load takes it, refuses it unsigned, unload takes it away" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: payload-dry: +"handoff": "payload",?$' \
  '^EFIKEXEC-FIRST: payload-dry: +"command_line": "efikexec\.uki_size=[0-9]+",?$' \
  '^EFIKEXEC-FIRST: payload-dry exit=0 loaded=0$' \
  '^EFIKEXEC-FIRST: payload-load: efikexec: handoff: payload \(kexec_file_load\), lockdown integrity' \
  '^EFIKEXEC-FIRST: payload-load: efikexec: payload command line: efikexec\.uki_size=[0-9]+ efikexec\.cmdline=append -- quiet$' \
  '^EFIKEXEC-FIRST: payload-load exit=0 loaded=1$' \
  '^EFIKEXEC-FIRST: payload-unsigned: efikexec: kexec_file_load failed: .*\(the payload is not signed' \
  '^EFIKEXEC-FIRST: payload-unsigned: efikexec: nothing was loaded; a previously loaded image stays in place$' \
  '^EFIKEXEC-FIRST: payload-unsigned exit=1 loaded=1$' \
  '^EFIKEXEC-FIRST: payload-unload exit=0 loaded=0$' \
  '!^EFIKEXEC-FIRST: payload-load: efikexec: ran the image'
check "list --esp: the boot-counted UKI is the default entry" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: list: \* debian\+2-1\.efi +Debian GNU/Linux 12 \(bookworm\) .* 2/1 ' \
  '^EFIKEXEC-FIRST: list exit=0 loaded=0$' '^EFIKEXEC-FIRST: done$'
summary
