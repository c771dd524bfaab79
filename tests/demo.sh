#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# demo.sh BUILD_DIR FIXTURES_DIR
#   The main job on the embedded default: a QEMU/OVMF guest (Debian's kernel, booted by OVMF)
#   verifies the default signed UKI with efikexec, runs it to ExitBootServices(), kexecs into it,
#   and the UKI's kernel comes up. Prints a transcript of each step.
set -euo pipefail
build="$(realpath "$1")"
fixtures="$(realpath "$2")"
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
work="$build/demo"
mkdir -p "$work"
uki="$fixtures/uki-signed.efi"

heading() { printf '\n== %s\n' "$*"; }

heading "The image: $(basename "$uki") (a UKI: systemd-stub + Debian's kernel + an initramfs)"
"$build/efikexec" inspect "$uki" | grep -E '^(kind|cmdline|uname|linux|os-release|signatures|sbat)' || true

heading "Verification against db = the test certificate (the same check runs inside the guest)"
"$build/efikexec" verify --db "$fixtures/keys/db.crt" --efivars /nonexistent "$uki"

heading "Booting a QEMU/OVMF guest; in it: efikexec load --db db.crt $(basename "$uki"); efikexec exec"
"$here/qemu/make-guest-initrd.sh" "$work/guest" "$fixtures" "$build/efikexec-static" \
  "$here/qemu/scenarios/kexec-signed-uki.sh" >/dev/null
started=$(date +%s)
"$here/qemu/run-guest.sh" --bios ovmf --mem 1G --smp 1 --timeout 300 \
  --until '^EFIKEXEC-SECOND: done|^EFIKEXEC-FIRST: exec returned|Kernel panic' \
  --kernel "$fixtures/vmlinuz" --initrd "$work/guest/initrd-first.cpio.gz" \
  --append "console=ttyS0 quiet loglevel=4 panic=-1" --log "$work/serial.log" >/dev/null 2>&1 || true
log="$(tr -d '\r' <"$work/serial.log" | sed 's/\x1b\[[0-9;=]*[A-Za-z]//g')"

heading "In the first kernel (efikexec's own output)"
sed -n 's/^EFIKEXEC-FIRST: //p' <<<"$log" | grep -v '^up$'

heading "After kexec: the second kernel's first lines"
grep -E '^\[ *0\.0+\] (Linux version|Command line|efi: )' <<<"$log" | head -n 8 || true

heading "The second kernel's init reports"
sed -n 's/^EFIKEXEC-SECOND: //p' <<<"$log"

heading "Result"
if grep -q '^EFIKEXEC-SECOND: done' <<<"$log" &&
   grep -q '^EFIKEXEC-SECOND: cmdline=console=ttyS0 efikexec.uki=1 panic=-1$' <<<"$log"; then
  echo "The signed UKI booted through efikexec in $(($(date +%s) - started)) s of guest time," \
    "with its own command line and initrd. Serial log: $work/serial.log"
else
  echo "The demo did not reach the second kernel; serial log: $work/serial.log" >&2
  exit 1
fi

heading "Next to kexec-tools 2.0.32, on a signed three-profile UKI (measured in three more guests)"
if [[ -d "$fixtures/newer" ]]; then
  "$here/qemu/kexec-tools-compare.sh" "$fixtures" "$work/kexec-tools" "$build/efikexec-static" \
    2>"$work/kexec-tools.log" ||
    echo "(the comparison did not complete; see $work/kexec-tools.log)"
else
  echo "(needs the newer fixtures: tests/fixtures/make-fixtures-newer.sh $fixtures/newer $fixtures)"
fi
