#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-first-boot.sh FIXTURES WORKDIR EFIKEXEC_BIN PAYLOAD_PATH LINK_PAYLOAD --cc CC -- ARCHIVE...
#   A real first boot (issue 13): OVMF with Secure Boot (the variable store of
#   make-fixtures-newer.sh: PK/KEK/db the fixture db certificate) boots a GPT disk whose ESP
#   (FAT, built here with sfdisk, mkfs.fat and mtools) holds systemd-boot (trixie's 257, signed
#   with the db key) and two Boot Loader Specification Type #2 entries in EFI/Linux, UKIs made
#   here with ukify and systemd-stub 257, signed with the db key:
#     first.efi   the fixtures' Debian kernel with the first-kernel initramfs (efikexec, the
#                 scenarios/first-boot.sh scenario, the modules for the disk and FAT, and the
#                 payload installed at PAYLOAD_PATH, linked with the fixture db and signed);
#     second.efi  the same kernel with guest/runtime-services-second.sh as /init.
#   Each UKI has the same NAME.efi.extra.d: a command-line add-on signed with the db key
#   (efikexec.addon=signed), an unsigned one (efikexec.addon=unsigned), a credential and a small
#   system extension file; \loader\credentials holds a global credential (issue 16).
#   loader.conf makes first.efi the default. In the first kernel (locked down) efikexec mounts
#   the ESP, lists the entries, loads second.efi without --db (db from efivarfs; through the
#   payload, as lockdown requires) and executes it. The second kernel must run with the
#   firmware's runtime services, the signed add-on's command line and not the unsigned one's, and
#   the same /.extra (credentials, extension) as the first kernel got under the firmware (the
#   payload carried the ESP's files and verified the add-ons itself), see LoaderDevicePartUUID (the ESP's partition UUID) and the other
#   variables systemd-boot set, and its own command line. It writes a non-volatile variable, then
#   loads a third kernel the same way (the signed EFI-stub kernel with its own initrd and command
#   line, the machine's db from efivarfs again, through the payload) and executes it: the third
#   kernel must have runtime services (the variable reads back), ACPI, its command line and the
#   second kernel's memory. Three kernels, one firmware boot.
#   Log: WORKDIR/first-boot.log.
set -euo pipefail
TEST_NAME=test-first-boot
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"
# shellcheck source=SCRIPTDIR/payload-lib.sh
. "$QEMU_DIR/payload-lib.sh"

payload_test_arguments "$@"
require_fixture "$FIX"/{vmlinuz,keys/db.crt,keys/db.key,initrd-second.cpio.gz,modules}
for tool in sfdisk mkfs.fat mcopy mmd dpkg-deb sbsign; do
  command -v "$tool" >/dev/null || { note "$tool missing (fdisk, dosfstools, mtools, dpkg, sbsigntool)"; exit 1; }
done
rm -rf "$WORK"
mkdir -p "$WORK"
OVMF_SECURE="$WORK/ovmf-secure-boot"
secure_boot_ovmf "$OVMF_SECURE" || exit 1
NEW="${EFIKEXEC_NEWER_FIXTURES:-$FIX/newer}"
require_fixture "$NEW/stub-257.efi.stub" "$NEW/addon-257.efi.stub" "$NEW/ukify/usr/bin/ukify"
sdboot_deb="$(find "$NEW/debs" -name 'systemd-boot-efi_257*_amd64.deb' | sort | tail -n1)"
[[ -n "$sdboot_deb" ]] || { note "no systemd-boot-efi 257 package in $NEW/debs (make-fixtures-newer.sh)"; exit 1; }

# sign IN OUT: signed with the db key, as a distribution signs its boot chain.
sign() {
  sbsign --key "$FIX/keys/db.key" --cert "$FIX/keys/db.crt" --output "$2" "$1" >/dev/null 2>&1 ||
    { note "sbsign $1 failed"; return 1; }
}
# ukify ARGS...: trixie's ukify (make-fixtures-newer.sh unpacked it), with the Python modules
# that script unpacked when this machine's python3 lacks them.
ukify() {
  local path="" dir
  for dir in "$NEW"/pylib-*/usr/lib/python3/dist-packages; do
    [[ -d "$dir" ]] && path="$dir${path:+:$path}"
  done
  PYTHONPATH="$path" SOURCE_DATE_EPOCH=0 /usr/bin/python3 "$NEW/ukify/usr/bin/ukify" "$@" >/dev/null
}
ukify_build() { ukify build --stub="$NEW/stub-257.efi.stub" --linux="$FIX/vmlinuz" "$@"; }

dpkg-deb -x "$sdboot_deb" "$WORK/systemd-boot"
sign "$WORK/systemd-boot/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$WORK/BOOTX64.EFI" || exit 1
link_signed_payload "$WORK/payload.efi" "$WORK/payload-signed.efi" "$FIX/keys/db.crt" \
  "$FIX/keys/db.key" "$LINK" "$CC" "${ARCHIVES[@]}" || exit 1

# The first kernel's initramfs, with the disk and FAT modules and the installed payload.
GUEST_EXTRA_MODULES="virtio_pci virtio_blk vfat nls_cp437 nls_ascii nls_utf8" \
  "$QEMU_DIR/make-guest-initrd.sh" "$WORK/first" "$FIX" "$BIN" \
  "$QEMU_DIR/scenarios/first-boot.sh" >/dev/null
overlay_begin first
overlay_add first "${PAYLOAD_PATH#/}" "$WORK/payload-signed.efi"
(cd "$WORK/first.overlay" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  cpio --null -o -H newc -R 0:0 --quiet) | gzip -1n >"$WORK/first-overlay.cpio.gz"
cat "$WORK/first/initrd-first.cpio.gz" "$WORK/first-overlay.cpio.gz" >"$WORK/first-initrd.cpio.gz"
# The second kernel's initramfs: guest/runtime-services-second.sh as /init, efikexec, the
# payload, and the third kernel's initramfs (the same /init without efikexec).
runtime_second_initrd "$WORK/third-initrd.cpio.gz"
runtime_second_initrd "$WORK/second-initrd.cpio.gz" "$BIN" "$WORK/third-initrd.cpio.gz" \
  "$WORK/payload-signed.efi" "$PAYLOAD_PATH"

ukify_build --initrd="$WORK/first-initrd.cpio.gz" --cmdline="$FIRST_APPEND efikexec.first_boot=1" \
  --output="$WORK/first.efi" || { note "ukify build first.efi failed"; exit 1; }
ukify_build --initrd="$WORK/second-initrd.cpio.gz" \
  --cmdline="console=ttyS0 panic=-1 reboot=efi efikexec.uki=2" \
  --output="$WORK/second.efi" || { note "ukify build second.efi failed"; exit 1; }
sign "$WORK/first.efi" "$WORK/first-signed.efi" || exit 1
sign "$WORK/second.efi" "$WORK/second-signed.efi" || exit 1
# The ESP's add-ons, credentials and extension for both UKIs.
ukify build --stub="$NEW/addon-257.efi.stub" --cmdline="efikexec.addon=signed" \
  --output="$WORK/signed-unsigned.addon.efi" || { note "ukify build (add-on) failed"; exit 1; }
sign "$WORK/signed-unsigned.addon.efi" "$WORK/signed.addon.efi" || exit 1
ukify build --stub="$NEW/addon-257.efi.stub" --cmdline="efikexec.addon=unsigned" \
  --output="$WORK/unsigned.addon.efi" || { note "ukify build (add-on) failed"; exit 1; }
printf 'local secret' >"$WORK/local.cred"
printf 'global secret' >"$WORK/global.cred"
printf 'a small system extension' >"$WORK/tools.sysext.raw"

# The disk: GPT, one ESP partition from 1 MiB, FAT32, with a fixed partition UUID.
PART_UUID=6566696b-6578-6563-2d66-697273746231
esp_mib=$(( ($(stat -c %s "$WORK/first-signed.efi") + $(stat -c %s "$WORK/second-signed.efi")) / 1048576 + 52 ))
DISK="$WORK/disk.img"
truncate -s $(( (esp_mib + 2) * 1048576 )) "$DISK"
printf 'label: gpt\nstart=2048, size=%s, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=%s, name="ESP"\n' \
  $((esp_mib * 2048)) "$PART_UUID" | sfdisk --quiet "$DISK" ||
  { note "sfdisk could not partition the disk"; exit 1; }
mkfs.fat -F 32 -n ESP --offset 2048 "$DISK" $((esp_mib * 1024)) >/dev/null ||
  { note "mkfs.fat failed"; exit 1; }
printf 'timeout 0\ndefault first.efi\n' >"$WORK/loader.conf"
esp="$DISK@@1M"
extra_files=("$WORK/signed.addon.efi" "$WORK/unsigned.addon.efi" "$WORK/local.cred"
  "$WORK/tools.sysext.raw")
if ! { mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/Linux ::/loader ::/loader/credentials \
  ::/EFI/Linux/first.efi.extra.d ::/EFI/Linux/second.efi.extra.d &&
  mcopy -i "$esp" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI &&
  mcopy -i "$esp" "$WORK/first-signed.efi" ::/EFI/Linux/first.efi &&
  mcopy -i "$esp" "$WORK/second-signed.efi" ::/EFI/Linux/second.efi &&
  mcopy -i "$esp" "${extra_files[@]}" ::/EFI/Linux/first.efi.extra.d/ &&
  mcopy -i "$esp" "${extra_files[@]}" ::/EFI/Linux/second.efi.extra.d/ &&
  mcopy -i "$esp" "$WORK/global.cred" ::/loader/credentials/global.cred &&
  mcopy -i "$esp" "$WORK/loader.conf" ::/loader/loader.conf; }; then
  note "mtools could not fill the ESP"
  exit 1
fi

LOG="$WORK/first-boot.log"
boot() {
  OVMF_CODE="$OVMF_SECURE/OVMF_CODE_4M.fd" OVMF_VARS="$OVMF_SECURE/OVMF_VARS_4M.fd" \
    "$QEMU_DIR/run-guest.sh" --bios ovmf --mem 1G --smp 1 --timeout "$GUEST_TIMEOUT" \
    --disk "$DISK" --log "$LOG" \
    --until '^EFIKEXEC-FIRST: exec returned|^EFIKEXEC-(SECOND|THIRD): reset returned|Kernel panic' \
    -- "${SECURE_BOOT_QEMU[@]}"
}
check "OVMF, systemd-boot, the first UKI, a kexec into the second, one into a third, its reset" boot
check "first kernel: started by systemd-boot from the ESP, Secure Boot, lockdown" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-FIRST: lockdown=none \[integrity\] confidentiality$' \
  "^EFIKEXEC-FIRST: loader-variable LoaderDevicePartUUID=($PART_UUID|${PART_UUID^^})\$" \
  '^EFIKEXEC-FIRST: loader-variable LoaderInfo=systemd-boot 257' \
  '^EFIKEXEC-FIRST: loader-variable LoaderEntrySelected=first\.efi$' \
  '^EFIKEXEC-FIRST: esp mounted$'
check "first kernel: the firmware's LoadImage took the signed add-on and refused the unsigned one" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-FIRST: cmdline=.* efikexec\.addon=signed' \
  '!^EFIKEXEC-FIRST: cmdline=.*efikexec\.addon=unsigned'
# extras TAG: the /.extra lines of one kernel, without the tag.
extras() { tr -d '\r' <"$LOG" | sed -n "s/^EFIKEXEC-$1: extra //p"; }
local_sha="$(sha256sum <"$WORK/local.cred" | cut -d' ' -f1)"
check "first kernel: the credentials and the extension under /.extra" \
  "$QEMU_DIR/expect.sh" "$LOG" "^EFIKEXEC-FIRST: extra credentials/local\.cred $local_sha\$" \
  '^EFIKEXEC-FIRST: extra global_credentials/global\.cred [0-9a-f]{64}$' \
  '^EFIKEXEC-FIRST: extra sysext/tools\.sysext\.raw [0-9a-f]{64}$'
check "first kernel: efikexec lists the ESP's entries, systemd-boot's default first" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-FIRST: list: \* first\.efi ' \
  '^EFIKEXEC-FIRST: list: +second\.efi ' '^EFIKEXEC-FIRST: list exit=0 loaded=0$'
check "first kernel: second.efi loaded without --db (efivarfs db), through the payload" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  "^EFIKEXEC-FIRST: load: efikexec: verified .*second\\.efi: .*efivarfs db" \
  '^EFIKEXEC-FIRST: load: efikexec: handoff: payload \(kexec_file_load\), lockdown integrity' \
  '^EFIKEXEC-FIRST: load exit=0 loaded=1$'
check "first kernel: efikexec offered the ESP's files and judged the add-ons before kexec" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: load: efikexec: ESP addon \\EFI\\Linux\\second\.efi\.extra\.d\\signed\.addon\.efi [0-9]+ bytes sha256 [0-9a-f]{64}: accepted' \
  '^EFIKEXEC-FIRST: load: efikexec: ESP addon \\EFI\\Linux\\second\.efi\.extra\.d\\unsigned\.addon\.efi [0-9]+ bytes sha256 [0-9a-f]{64}: refused' \
  '^EFIKEXEC-FIRST: load: efikexec: ESP credential \\loader\\credentials\\global\.cred '
check "payload: the ESP's files arrived, the add-ons verified again by the payload" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-PAYLOAD: esp: EFI/Linux/second\.efi\.extra\.d/signed\.addon\.efi [0-9]+ bytes: accepted$' \
  '^EFIKEXEC-PAYLOAD: esp: EFI/Linux/second\.efi\.extra\.d/unsigned\.addon\.efi [0-9]+ bytes: refused: unknown-signer: image is not signed' \
  '^EFIKEXEC-PAYLOAD: esp: loader/credentials/global\.cred 13 bytes: data$'
check "second kernel: its own command line, runtime services, the boot loader's variables" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-PAYLOAD: verdict: accepted$' '^EFIKEXEC-SECOND: up$' \
  '^EFIKEXEC-SECOND: cmdline=console=ttyS0 panic=-1 reboot=efi efikexec\.uki=2 efikexec\.addon=signed$' \
  '^EFIKEXEC-SECOND: virtual-mode=ok$' '^EFIKEXEC-SECOND: acpi=yes$' \
  "^EFIKEXEC-SECOND: loader-variable LoaderDevicePartUUID=($PART_UUID|${PART_UUID^^})\$" \
  '^EFIKEXEC-SECOND: loader-variable LoaderInfo=systemd-boot 257' \
  '^EFIKEXEC-SECOND: set-variable=ok$' '!EFIKEXEC-PAYLOAD: exception'
check "second kernel: the third loaded without --db (efivarfs db), through the payload" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-SECOND: chain: efikexec: handoff: payload \(kexec_file_load\), lockdown integrity' \
  '^EFIKEXEC-SECOND: chain: efikexec: verified /fixtures/vmlinuz-signed\.efi: .*efivarfs db' \
  '^EFIKEXEC-SECOND: chain exit=0 loaded=1$' '!^EFIKEXEC-SECOND: chain exec returned'
check "third kernel: its own command line, runtime services, ACPI, the variable read back" \
  "$QEMU_DIR/expect.sh" "$LOG" '^EFIKEXEC-THIRD: up$' \
  '^EFIKEXEC-THIRD: cmdline=console=ttyS0 panic=-1 reboot=efi efikexec.third=1$' \
  '^EFIKEXEC-THIRD: virtual-mode=ok$' '^EFIKEXEC-THIRD: acpi=yes$' \
  '^EFIKEXEC-THIRD: dmesg .*efi: EFI v[0-9.]+ by EDK II' \
  "^EFIKEXEC-THIRD: loader-variable LoaderDevicePartUUID=($PART_UUID|${PART_UUID^^})\$" \
  '^EFIKEXEC-THIRD: read-back=efikexec-runtime$' '^EFIKEXEC-THIRD: resetting$' \
  '!^EFIKEXEC-THIRD: reset returned'
first_extras="$(extras FIRST)"
second_extras="$(extras SECOND)"
check "second kernel: the same /.extra as the first kernel under the firmware ($(wc -l <<<"$second_extras") files)" \
  test -n "$first_extras" -a "$first_extras" = "$second_extras"
second_kb="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-SECOND: memtotal_kb=//p' | head -n1)"
third_kb="$(tr -d '\r' <"$LOG" | sed -n 's/^EFIKEXEC-THIRD: memtotal_kb=//p' | head -n1)"
check "third kernel: the machine's memory (MemTotal ${third_kb:-?} kB, second kernel ${second_kb:-?} kB)" \
  test -n "$third_kb" -a -n "$second_kb" -a "${third_kb:-0}" -ge $(( ${second_kb:-0} * 98 / 100 ))
summary
