#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-payload.sh FIXTURES WORKDIR LINK_PAYLOAD --cc CC --fault-run ARCHIVE -- ARCHIVE...
#   The payload (docs/payload.md) after a real kexec_file_load in an OVMF guest (no Secure Boot):
#   a payload is linked with the fixture db certificate built in (LINK_PAYLOAD is
#   arch/x86_64/payload/link-payload.sh, CC and the ARCHIVEs are the build's) and signed with the
#   db key; the guest loads it with the bundle of the signed fixture UKI, executes it, and the
#   payload (built with --trust both: it also reads the firmware's variables, Secure Boot off)
#   reports its entry, the verdict (accepted) and its verification time, then runs the
#   UKI on bare metal: the UKI's kernel boots with its own command line and initrd, ACPI, SMBIOS
#   and the firmware's runtime services. A second guest does the same with the tampered UKI:
#   the payload refuses it and resets. A third guest runs a payload whose bare-metal run is the
#   --fault-run stand-in (tests/qemu/payload/fault_run.cpp): it reads every e820 RAM range through
#   the payload's page tables, then an unmapped address, and the payload's exception handler
#   reports the page fault and resets. A fourth guest boots under Secure Boot (OVMF secboot code,
#   the variable store of make-fixtures-newer.sh with the fixture db enrolled and the `other`
#   certificate in dbx; the first kernel is locked down): the kernel refuses the unsigned payload
#   and accepts the signed one, a payload built with no db of its own that takes its anchors from
#   the firmware (--trust firmware): it reads db and dbx through the firmware's GetVariable,
#   accepts the UKI and boots it; the next kernel knows Secure Boot is on and locks down. A fifth
#   guest, under Secure Boot too, hands that payload the UKI signed with the `other` key: the
#   payload refuses it as revoked by the firmware's dbx and resets. Logs:
#   WORKDIR/payload-{good,tampered,fault,secure-boot,revoked}.log; WORKDIR/measurements.txt
#   holds the verification time and the payload's size.
set -euo pipefail
TEST_NAME=test-payload
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"

[[ $# -ge 8 && "$4" == --cc && "$6" == --fault-run && "$8" == -- ]] ||
  { echo "usage: $0 FIXTURES WORKDIR LINK_PAYLOAD --cc CC --fault-run ARCHIVE -- ARCHIVE..." >&2
    exit 2; }
FIX="$(realpath -m -- "$1")"
WORK="$(realpath -m -- "$2")"
LINK="$3"
CC="$5"
FAULT_RUN="$7"
shift 8
BIN=-
require_fixture "$FIX"/{vmlinuz,keys/db.crt,keys/db.key,uki-signed.efi,uki-tampered.efi,uki-other-signed.efi,modules}
NEW="${EFIKEXEC_NEWER_FIXTURES:-$FIX/newer}"
"$QEMU_DIR/../fixtures/make-fixtures-newer.sh" "$NEW" "$FIX" >&2 ||
  { note "the newer fixtures could not be made"; exit 1; }
SB_CODE="${OVMF_DIR_SYSTEM:-/usr/share/OVMF}/OVMF_CODE_4M.secboot.fd"
require_fixture "$NEW/ovmf-secboot-vars/OVMF_VARS_4M.fd"
[[ -s "$SB_CODE" ]] || { note "$SB_CODE missing (ovmf)"; exit 1; }
mkdir -p "$WORK"

PAYLOAD="$WORK/payload-signed.efi"
"$LINK" --cc "$CC" --out "$WORK/payload.efi" --db "$FIX/keys/db.crt" -- "$@" ||
  { note "the payload could not be linked"; exit 1; }
sbsign --key "$FIX/keys/db.key" --cert "$FIX/keys/db.crt" --output "$PAYLOAD" \
  "$WORK/payload.efi" >/dev/null 2>&1 || { note "sbsign failed"; exit 1; }
# The fixture db built in and the firmware's anchors too (--trust both): the first guest's.
BOTH_PAYLOAD="$WORK/payload-both-signed.efi"
"$LINK" --cc "$CC" --out "$WORK/payload-both.efi" --trust both --db "$FIX/keys/db.crt" -- "$@" ||
  { note "the both-trust payload could not be linked"; exit 1; }
sbsign --key "$FIX/keys/db.key" --cert "$FIX/keys/db.crt" --output "$BOTH_PAYLOAD" \
  "$WORK/payload-both.efi" >/dev/null 2>&1 || { note "sbsign failed"; exit 1; }
# No db of its own: only what the firmware's db, dbx and SbatLevelRT say.
FIRMWARE_PAYLOAD="$WORK/payload-firmware-signed.efi"
"$LINK" --cc "$CC" --out "$WORK/payload-firmware.efi" --trust firmware -- "$@" ||
  { note "the firmware-trust payload could not be linked"; exit 1; }
sbsign --key "$FIX/keys/db.key" --cert "$FIX/keys/db.crt" --output "$FIRMWARE_PAYLOAD" \
  "$WORK/payload-firmware.efi" >/dev/null 2>&1 || { note "sbsign failed"; exit 1; }
"$LINK" --cc "$CC" --out "$WORK/payload-fault.efi" --db "$FIX/keys/db.crt" \
  --object "$FAULT_RUN" -- "$@" || { note "the fault payload could not be linked"; exit 1; }
cc -O2 -static -o "$WORK/payload-kexec" "$QEMU_DIR/guest/payload-kexec.c" ||
  { note "payload-kexec (tests/qemu/guest/payload-kexec.c) could not be built"; exit 1; }

# bundle UKI OUT: the UKI, zero padding to a multiple of 4096 (protocol v1, no extra initrd).
bundle() {
  cp "$1" "$2"
  truncate -s $(( ($(stat -c %s "$1") + 4095) / 4096 * 4096 )) "$2"
}

OVMF_SYSTEM="$WORK/ovmf-system"
system_ovmf "$OVMF_SYSTEM"
OVMF_SECURE="$WORK/ovmf-secure-boot"
mkdir -p "$OVMF_SECURE"
ln -sf "$SB_CODE" "$OVMF_SECURE/OVMF_CODE_4M.fd"
ln -sf "$NEW/ovmf-secboot-vars/OVMF_VARS_4M.fd" "$OVMF_SECURE/OVMF_VARS_4M.fd"
for which in good tampered fault secure-boot revoked; do
  payload="$PAYLOAD"
  case "$which" in
    good) uki="$FIX/uki-signed.efi" payload="$BOTH_PAYLOAD" ;;
    tampered) uki="$FIX/uki-tampered.efi" ;;
    fault) uki="$FIX/uki-signed.efi" payload="$WORK/payload-fault.efi" ;;
    secure-boot) uki="$FIX/uki-signed.efi" payload="$FIRMWARE_PAYLOAD" ;;
    revoked) uki="$FIX/uki-other-signed.efi" payload="$FIRMWARE_PAYLOAD" ;;
  esac
  name="payload-$which"
  overlay_begin "$name"
  overlay_add "$name" bin/payload-kexec "$WORK/payload-kexec"
  overlay_add "$name" fixtures/payload/payload.efi "$payload"
  bundle "$uki" "$WORK/$which.bundle"
  overlay_add "$name" "fixtures/payload/$which.bundle" "$WORK/$which.bundle"
  append="$FIRST_APPEND efikexec.bundle=$which.bundle efikexec.uki_size=$(stat -c %s "$uki")"
  if [[ $which == secure-boot ]]; then
    overlay_add "$name" fixtures/payload/unsigned.efi "$WORK/payload.efi"
    check "$which: guest ran" overlay_boot "$name" "$QEMU_DIR/scenarios/payload-secure-boot.sh" \
      "$FIX/vmlinuz" "$OVMF_SECURE" "$append" \
      -- -machine smm=on -global driver=cfi.pflash01,property=secure,value=on
  elif [[ $which == revoked ]]; then
    check "$which: guest ran" overlay_boot "$name" "$QEMU_DIR/scenarios/payload-kexec.sh" \
      "$FIX/vmlinuz" "$OVMF_SECURE" "$append" \
      -- -machine smm=on -global driver=cfi.pflash01,property=secure,value=on
  else
    check "$which: guest ran" overlay_boot "$name" "$QEMU_DIR/scenarios/payload-kexec.sh" \
      "$FIX/vmlinuz" "$OVMF_SYSTEM" "$append"
  fi
done

# The UKI's own command line (its .cmdline; the fixture's starts with console=ttyS0 efikexec.uki=1).
SECOND_UP=('^EFIKEXEC-SECOND: up$' '^EFIKEXEC-SECOND: cmdline=console=ttyS0 efikexec\.uki=1 '
  '^EFIKEXEC-SECOND: initrd=second$' '^EFIKEXEC-SECOND: acpi=yes$' '^EFIKEXEC-SECOND: acpi_dsdt=yes$'
  '^EFIKEXEC-SECOND: efi_runtime=yes$' '^EFIKEXEC-SECOND: smbios=yes$' '^EFIKEXEC-SECOND: done$'
  '^efikexec: the next kernel runs with the firmware.s EFI runtime services' 'efi: EFI v[0-9.]+ by EDK II'
  '!Unable to switch EFI into virtual mode' '!EFIKEXEC-PAYLOAD: exception'
  '!EFIKEXEC-PAYLOAD: resetting the machine' '!Kernel panic')
check "good: loaded, entered, accepted, run on bare metal; the UKI's kernel boots with ACPI and runtime services" \
  "$QEMU_DIR/expect.sh" "$WORK/payload-good.log" '^EFIKEXEC-FIRST: load loaded=1$' \
  '^EFIKEXEC-PAYLOAD: entry at 0x[0-9a-f]+ boot_params=0x' \
  '^EFIKEXEC-PAYLOAD: page tables loaded' \
  '^EFIKEXEC-PAYLOAD: uki size=[0-9]+ extra initrd size=0$' \
  '^EFIKEXEC-PAYLOAD: verification took [0-9]+ us' \
  '^EFIKEXEC-PAYLOAD: verdict: accepted$' "${SECOND_UP[@]}" '!EFIKEXEC-FIRST: exec returned'
# second_kernel_log NAME: what the guest NAME printed after the payload accepted the UKI.
second_kernel_log() {
  tr -d '\r' <"$WORK/payload-$1.log" | sed -n '/^EFIKEXEC-PAYLOAD: verdict: accepted/,$p' \
    >"$WORK/payload-$1.second.log"
  echo "$WORK/payload-$1.second.log"
}
# Built with --trust both: the built-in db and whatever the firmware (no Secure Boot) has; the
# runtime services were called before the UKI's kernel calls them again (efi_runtime=yes above).
check "good: the payload built with both reads the firmware's variables, says Secure Boot is off" \
  "$QEMU_DIR/expect.sh" "$WORK/payload-good.log" \
  '^EFIKEXEC-PAYLOAD: trust: both: db [1-9][0-9]* entries, dbx [0-9]+ entries, SbatLevel [0-9]+ rows \(the firmware has:' \
  '^EFIKEXEC-PAYLOAD: trust: Secure Boot is off: the firmware.s variables are not authenticated$' \
  '!EFIKEXEC-PAYLOAD: trust: the firmware.s runtime services cannot be reached'
check "tampered: the payload built with builtin never reads the firmware" "$QEMU_DIR/expect.sh" \
  "$WORK/payload-tampered.log" '^EFIKEXEC-PAYLOAD: trust: builtin: db 1 entries, dbx 0 entries, SbatLevel 0 rows$'
check "good: without Secure Boot the next kernel is told so" "$QEMU_DIR/expect.sh" \
  "$(second_kernel_log good)" 'secureboot: Secure boot disabled' '!secureboot: Secure boot enabled'
check "tampered: refused by the payload, reset" "$QEMU_DIR/expect.sh" \
  "$WORK/payload-tampered.log" '^EFIKEXEC-FIRST: load loaded=1$' \
  '^EFIKEXEC-PAYLOAD: entry at ' '^EFIKEXEC-PAYLOAD: verdict: refused: ' \
  "^EFIKEXEC-PAYLOAD: reset through the firmware's ResetSystem\\(\\)\$" \
  '^EFIKEXEC-PAYLOAD: resetting the machine$' '!EFIKEXEC-PAYLOAD: verdict: accepted' \
  '!EFIKEXEC-PAYLOAD: exception'

check "fault: every RAM range mapped, the page fault reported, reset" "$QEMU_DIR/expect.sh" \
  "$WORK/payload-fault.log" '^EFIKEXEC-PAYLOAD: verdict: accepted$' \
  '^EFIKEXEC-PAYLOAD: test run: every e820 RAM range is mapped$' \
  '^EFIKEXEC-PAYLOAD: test run: reading 0x[0-9a-f]+$' \
  '^EFIKEXEC-PAYLOAD: exception vector=14 error=0x0 rip=0x[0-9a-f]+ rsp=0x[0-9a-f]+ cr2=0x[0-9a-f]+$' \
  '^EFIKEXEC-PAYLOAD: resetting the machine$'
check "secure boot: lockdown, unsigned payload refused, signed accepted, the UKI boots" \
  "$QEMU_DIR/expect.sh" "$WORK/payload-secure-boot.log" \
  '^EFIKEXEC-FIRST: lockdown=none \[integrity\] confidentiality$' \
  '^EFIKEXEC-FIRST: unsigned: payload-kexec: kexec_file_load: ' \
  '^EFIKEXEC-FIRST: unsigned loaded=0$' '^EFIKEXEC-FIRST: signed loaded=1$' \
  '^EFIKEXEC-PAYLOAD: e820 entries=[0-9]+ secure_boot=3 ' \
  '^EFIKEXEC-PAYLOAD: verdict: accepted$' "${SECOND_UP[@]}"
# The built-in db is empty: the UKI was accepted through the firmware's db (the fixture db
# certificate), read with GetVariable at the runtime services' virtual addresses.
check "secure boot: the payload without a db of its own trusts the firmware's db and dbx" \
  "$QEMU_DIR/expect.sh" "$WORK/payload-secure-boot.log" \
  '^EFIKEXEC-PAYLOAD: trust: firmware: db 1 entries, dbx 1 entries, SbatLevel [0-9]+ rows \(the firmware has: db dbx' \
  '!EFIKEXEC-PAYLOAD: trust: the firmware.s runtime services cannot be reached' \
  '!EFIKEXEC-PAYLOAD: trust: Secure Boot is off' '!EFIKEXEC-PAYLOAD: exception'
check "revoked: the firmware's dbx revokes the other key's UKI in the payload, reset" \
  "$QEMU_DIR/expect.sh" "$WORK/payload-revoked.log" '^EFIKEXEC-FIRST: load loaded=1$' \
  '^EFIKEXEC-PAYLOAD: e820 entries=[0-9]+ secure_boot=3 ' \
  '^EFIKEXEC-PAYLOAD: trust: firmware: db 1 entries, dbx 1 entries' \
  '^EFIKEXEC-PAYLOAD: verdict: refused: revoked: a certificate of the signature is revoked by dbx' \
  '^EFIKEXEC-PAYLOAD: resetting the machine$' '!EFIKEXEC-PAYLOAD: verdict: accepted' \
  '!EFIKEXEC-PAYLOAD: exception'
# The stubs saw SecureBoot=1 (from the first kernel's boot_params.secure_boot), so the next kernel
# knows it runs under Secure Boot and locks down as the first one did.
check "secure boot: the next kernel is told Secure Boot is on and locks down" "$QEMU_DIR/expect.sh" \
  "$(second_kernel_log secure-boot)" 'secureboot: Secure boot enabled' \
  'Kernel is locked down from EFI Secure Boot' 'EFI stub: UEFI Secure Boot is enabled' '!secureboot: Secure boot disabled'
# The fault is at the address the run read.
fault_log="$(tr -d '\r' <"$WORK/payload-fault.log")"
read_at="$(sed -n 's/^EFIKEXEC-PAYLOAD: test run: reading //p' <<<"$fault_log" | head -n1)"
cr2="$(sed -n 's/^EFIKEXEC-PAYLOAD: exception vector=14 .* cr2=//p' <<<"$fault_log" | head -n1)"
check "fault: CR2 ($cr2) is the address read ($read_at)" test -n "$cr2" -a "$cr2" = "$read_at"

{
  echo "payload size (unsigned): $(stat -c %s "$WORK/payload.efi") bytes"
  echo "payload size (signed): $(stat -c %s "$PAYLOAD") bytes"
  tr -d '\r' <"$WORK/payload-good.log" | grep -a '^EFIKEXEC-PAYLOAD: verification took' || true
} | tee "$WORK/measurements.txt" >&2
summary
