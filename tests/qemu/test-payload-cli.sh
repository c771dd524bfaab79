#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-payload-cli.sh FIXTURES WORKDIR EFIKEXEC_BIN PAYLOAD_PATH LINK_PAYLOAD --cc CC -- ARCHIVE...
#   `efikexec load` and `exec` on a Secure Boot machine, end to end (docs/payload.md): OVMF's
#   Secure Boot code with the variable store of make-fixtures-newer.sh (PK/KEK/db: the fixture
#   db certificate, dbx: the `other` certificate); the first kernel (Debian's) is locked down
#   [integrity]. The payload, linked with the fixture db built in and signed with the db key,
#   is installed at PAYLOAD_PATH, where efikexec finds it without --payload.
#   Guest 1: a UKI signed by a key the machine does not know and the tampered UKI are refused
#   by efikexec before any system call; the signed UKI is loaded through kexec_file_load (the
#   payload handoff, chosen by lockdown) and executed: the payload verifies it again and boots
#   it, and its kernel comes up with its own command line and initrd, ACPI, SMBIOS, the
#   firmware's runtime services, Secure Boot and lockdown.
#   Guests 2 and 3: the tampered UKI, then the stranger's, with --no-verify: efikexec loads them,
#   and the payload refuses each after the kexec and resets the machine through the firmware
#   (--no-verify cannot switch the payload's check off).
#   Logs: WORKDIR/payload-cli-{exec,bypass,bypass-stranger}.log.
set -euo pipefail
TEST_NAME=test-payload-cli
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"
# shellcheck source=SCRIPTDIR/payload-lib.sh
. "$QEMU_DIR/payload-lib.sh"

payload_test_arguments "$@"
require_fixture "$FIX"/{vmlinuz,keys/db.crt,keys/db.key,uki.efi,uki-signed.efi,uki-tampered.efi,modules}
mkdir -p "$WORK"
OVMF_SECURE="$WORK/ovmf-secure-boot"
secure_boot_ovmf "$OVMF_SECURE" || exit 1

link_signed_payload "$WORK/payload.efi" "$WORK/payload-signed.efi" "$FIX/keys/db.crt" \
  "$FIX/keys/db.key" "$LINK" "$CC" "${ARCHIVES[@]}" || exit 1
# A stranger: a key made now, in neither db nor dbx.
openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=efikexec test stranger/" \
  -keyout "$WORK/stranger.key" -out "$WORK/stranger.crt" >/dev/null 2>&1 ||
  { note "openssl could not make the stranger's key"; exit 1; }
sbsign --key "$WORK/stranger.key" --cert "$WORK/stranger.crt" --output "$WORK/uki-stranger.efi" \
  "$FIX/uki.efi" >/dev/null 2>&1 || { note "sbsign failed"; exit 1; }

for mode in exec bypass bypass-stranger; do
  name="payload-cli-$mode"
  overlay_begin "$name"
  overlay_add "$name" "${PAYLOAD_PATH#/}" "$WORK/payload-signed.efi"
  overlay_add "$name" fixtures/payload/uki-stranger.efi "$WORK/uki-stranger.efi"
  check "$mode: guest ran" overlay_boot "$name" "$QEMU_DIR/scenarios/payload-cli.sh" \
    "$FIX/vmlinuz" "$OVMF_SECURE" "$FIRST_APPEND efikexec.payload_cli=$mode" \
    -- "${SECURE_BOOT_QEMU[@]}"
done

LOG="$WORK/payload-cli-exec.log"
check "exec: refusals before any kexec: a stranger's signature, a tampered image" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-FIRST: lockdown=none \[integrity\] confidentiality$' \
  '^EFIKEXEC-FIRST: stranger: efikexec: .*uki-stranger\.efi: refused: ' \
  '^EFIKEXEC-FIRST: stranger exit=1 loaded=0$' \
  '^EFIKEXEC-FIRST: tampered: efikexec: .*uki-tampered\.efi: refused: ' \
  '^EFIKEXEC-FIRST: tampered exit=1 loaded=0$'
check "exec: the dry run names the payload handoff and the installed payload" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-FIRST: dry: +"handoff": "payload",?$' \
  "^EFIKEXEC-FIRST: dry: +\"path\": \"${PAYLOAD_PATH//./\\.}\",?\$" \
  '^EFIKEXEC-FIRST: dry exit=0 loaded=0$'
check "exec: the signed UKI loaded through kexec_file_load by the installed payload" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: signed: efikexec: handoff: payload \(kexec_file_load\), lockdown integrity' \
  '^EFIKEXEC-FIRST: signed exit=0 loaded=1$' '!^EFIKEXEC-FIRST: signed: efikexec: ran the image'
tr -d '\r' <"$LOG" | sed -n '/^EFIKEXEC-PAYLOAD: verdict: accepted/,$p' >"$WORK/second.log"
check "exec: the payload verified and booted it: own command line, initrd, ACPI, runtime services" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-PAYLOAD: e820 entries=[0-9]+ secure_boot=3 ' \
  '^EFIKEXEC-PAYLOAD: verification took [0-9]+ us' '^EFIKEXEC-PAYLOAD: verdict: accepted$' \
  '^EFIKEXEC-SECOND: up$' '^EFIKEXEC-SECOND: cmdline=console=ttyS0 efikexec\.uki=1 ' \
  '^EFIKEXEC-SECOND: initrd=second$' '^EFIKEXEC-SECOND: acpi=yes$' \
  '^EFIKEXEC-SECOND: efi_runtime=yes$' '^EFIKEXEC-SECOND: smbios=yes$' \
  '^EFIKEXEC-SECOND: done$' '!EFIKEXEC-FIRST: exec returned' '!EFIKEXEC-PAYLOAD: exception' \
  '^efikexec: the next kernel runs with the firmware.s EFI runtime services' \
  'efi: EFI v[0-9.]+ by EDK II' '!Unable to switch EFI into virtual mode'
check "exec: the next kernel runs under Secure Boot, locked down" "$QEMU_DIR/expect.sh" \
  "$WORK/second.log" 'Kernel is locked down from EFI Secure Boot' 'secureboot: Secure boot enabled'
# Full memory: the second kernel's MemTotal against the first kernel's (the payload's own pages
# and the bundle return to the kernel as RAM; the UKI's kernel decides what it reserves).
first_kb="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-FIRST: memtotal_kb=//p' | head -n1)"
second_kb="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-SECOND: memtotal_kb=//p' | head -n1)"
check "exec: the next kernel has the machine's memory (MemTotal $second_kb kB, first kernel $first_kb kB)" \
  test -n "$second_kb" -a -n "$first_kb" -a "${second_kb:-0}" -ge $(( ${first_kb:-0} * 95 / 100 ))

LOG="$WORK/payload-cli-bypass.log"
check "bypass: --no-verify loads the tampered UKI; the payload refuses it and resets" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-FIRST: bypass exit=0 loaded=1$' \
  '^EFIKEXEC-PAYLOAD: verdict: refused: hash-mismatch' \
  "^EFIKEXEC-PAYLOAD: reset through the firmware's ResetSystem\\(\\)\$" \
  '^EFIKEXEC-PAYLOAD: resetting the machine$' '!^EFIKEXEC-SECOND: up' \
  '!EFIKEXEC-PAYLOAD: verdict: accepted'
check "bypass: --no-verify loads the stranger's UKI; the payload refuses it and resets" \
  "$QEMU_DIR/expect.sh" "$WORK/payload-cli-bypass-stranger.log" \
  '^EFIKEXEC-FIRST: bypass exit=0 loaded=1$' '^EFIKEXEC-PAYLOAD: verdict: refused: unknown-signer' \
  "^EFIKEXEC-PAYLOAD: reset through the firmware's ResetSystem\\(\\)\$" \
  '^EFIKEXEC-PAYLOAD: resetting the machine$' '!^EFIKEXEC-SECOND: up' \
  '!EFIKEXEC-PAYLOAD: verdict: accepted'
{
  tr -d '\r' <"$WORK/payload-cli-exec.log" | grep -a '^EFIKEXEC-PAYLOAD: verification took' || true
  tr -d '\r' <"$WORK/payload-cli-exec.log" | grep -a '^EFIKEXEC-FIRST: signed: efikexec: timings' || true
} | tee "$WORK/measurements.txt" >&2
summary
