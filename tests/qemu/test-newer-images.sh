#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-newer-images.sh FIXTURES WORKDIR EFIKEXEC_BIN [SCENARIO...]
#   Today's distributions end to end (issue 8): a first kernel runs the static efikexec from its
#   initramfs, which loads a signed UKI and kexecs into it; the second kernel's init reports what
#   it got. Scenarios (default: all):
#     uki257      Debian 6.1 first kernel (OVMF 2022.11) -> systemd-stub 257 + Linux 6.12 UKI
#     uki262      Debian 6.1 first kernel (OVMF 2022.11) -> systemd-stub 262 + Linux 7.2 UKI
#                 (the stub starts the kernel itself)
#     profile2    Debian 6.1 first kernel -> profile 2 of the three-profile UKI (--profile 2)
#     first72     Linux 7.2 first kernel booted by OVMF 2026.08 -> the bookworm UKI
#     bigrd       Debian 6.1 first kernel -> systemd-stub 262 + Linux 6.1 UKI with a 96 MiB
#                 initrd (made here): the second kernel has all of it, and the plan carried at
#                 most 1.1 x (the kernel's init_size + the initrd + 2 MiB of tables)
#   Each second kernel must report its own command line, its initrd, ACPI (with a DSDT), EFI, and
#   all the RAM the firmware gave the first kernel but what a kernel keeps for itself (compared
#   with a direct boot of the same UKI by the same OVMF from an ESP: measured once per UKI and
#   firmware in this run, in WORKDIR/reference-*.memtotal).
#   FIXTURES: tests/fixtures/make-fixtures.sh; the newer images come from
#   tests/fixtures/make-fixtures-newer.sh into EFIKEXEC_NEWER_FIXTURES (default FIXTURES/newer).
#   Logs: WORKDIR/NAME.log; timings: WORKDIR/timings.txt.
set -euo pipefail
TEST_NAME=test-newer-images
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"

[[ $# -ge 3 ]] || { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN [SCENARIO...]" >&2; exit 2; }
FIX="$(realpath -m -- "$1")"
WORK="$(realpath -m -- "$2")"
BIN="$3"
shift 3
SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -gt 0 ]] || SCENARIOS=(uki257 uki262 profile2 first72 bigrd)
require_fixture "$FIX"/{vmlinuz,uki-signed.efi,initrd-second.cpio.gz,keys/db.crt,modules}
NEW="${EFIKEXEC_NEWER_FIXTURES:-$FIX/newer}"
"$QEMU_DIR/../fixtures/make-fixtures-newer.sh" "$NEW" "$FIX" >&2 ||
  { note "the newer fixtures could not be made"; exit 1; }
mkdir -p "$WORK"
: >"$WORK/timings.txt"
# The references are this run's: another QEMU or firmware build may give another MemTotal.
rm -f "$WORK"/reference-*.memtotal

# A kernel keeps some RAM for itself whoever boots it; a kexec'd one may see this much less
# than the same image booted by the firmware (the handoff keeps the runtime services stubs and
# tables: well under 2 MiB).
SLACK_KB=2048

# boot NAME IMAGE PROFILE KERNEL OVMF_DIR: the first kernel loads /fixtures/IMAGE (newer/...
# for the overlay's files) and kexecs into it.
boot() {
  local name="$1" image="$2" profile="$3" kernel="$4" ovmf="$5" append start
  append="$FIRST_APPEND efikexec.image=$image"
  [[ -z "$profile" ]] || append+=" efikexec.profile=$profile"
  start=$EPOCHREALTIME
  overlay_boot "$name" "$QEMU_DIR/scenarios/kexec-newer-uki.sh" "$kernel" "$ovmf" "$append"
  timing "$name" "$start"
}

timing() {
  local name="$1" start="$2" log="$WORK/$1.log" load
  load="$(tr -d '\r' <"$log" | sed -n 's/^EFIKEXEC-FIRST: load-seconds=//p' | head -n1)"
  awk -v n="$name" -v s="$start" -v e="$EPOCHREALTIME" -v l="${load:--}" \
    'BEGIN { printf "%-10s guest %5.1f s (efikexec load in the TCG guest: %s s)\n", n, e - s, l }' \
    >>"$WORK/timings.txt"
}

# reference_memtotal UKI OVMF_DIR: MemTotal of the UKI booted by OVMF itself from an ESP.
reference_memtotal() {
  local uki="$1" ovmf="$2" key cache img log size_kb
  key="$(cat "$uki" "$ovmf/OVMF_CODE_4M.fd" | sha256sum | cut -c1-16)"
  cache="$WORK/reference-$key.memtotal"
  if [[ ! -s "$cache" ]]; then
    img="$WORK/reference-$key.img"
    log="$WORK/reference-$key.log"
    size_kb=$(($(stat -Lc %s "$uki") / 1024 + 4096))
    rm -f "$img"
    mkfs.fat -C -n EFIKEXEC "$img" "$size_kb" >/dev/null
    mmd -i "$img" ::/EFI ::/EFI/BOOT
    mcopy -i "$img" "$uki" ::/EFI/BOOT/BOOTX64.EFI
    OVMF_CODE="$ovmf/OVMF_CODE_4M.fd" OVMF_VARS="$ovmf/OVMF_VARS_4M.fd" \
      "$QEMU_DIR/run-guest.sh" --bios ovmf --mem 1G --smp 1 --timeout "$GUEST_TIMEOUT" \
      --until '^EFIKEXEC-SECOND: done|Kernel panic' --disk "$img" --log "$log" >&2 || return 1
    rm -f "$img"
    memtotal_of "$log" >"$cache"
    [[ -s "$cache" ]] || { rm -f "$cache"; return 1; }
  fi
  cat "$cache"
}

# second_world NAME CMDLINE_REGEX KERNEL_REGEX REFERENCE_UKI OVMF_DIR
second_world() {
  local name="$1" cmdline="$2" kernel="$3" uki="$4" ovmf="$5" log="$WORK/$1.log" got want
  "$QEMU_DIR/expect.sh" "$log" '^EFIKEXEC-FIRST: load-status=1$' \
    "^EFIKEXEC-SECOND: cmdline=$cmdline\$" "^EFIKEXEC-SECOND: kernel=$kernel\$" \
    '^EFIKEXEC-SECOND: initrd=second$' '^EFIKEXEC-SECOND: acpi=yes$' \
    '^EFIKEXEC-SECOND: acpi_dsdt=yes$' '^EFIKEXEC-SECOND: efi=yes$' '^EFIKEXEC-SECOND: done$' \
    '!Kernel panic' '!BUG:' || return 1
  got="$(memtotal_of "$log")"
  want="$(reference_memtotal "$uki" "$ovmf")" || { note "$name: no reference boot"; return 1; }
  note "$name: second kernel MemTotal ${got:-none} kB; the same UKI booted by OVMF: $want kB"
  echo "$name memtotal_kb=${got:-none} reference_kb=$want" >>"$WORK/timings.txt"
  [[ -n "$got" && "$got" -ge $((want - SLACK_KB)) ]]
}

# big_initrd_uki OUT: systemd-stub 262 (which copies the initrds it hands on into one buffer)
# and the bookworm kernel, signed with db; its initrd is the fixture's and then an archive with
# BALLAST_MIB of random bytes and an /init that reports their digest before running the
# fixture's (kept as /init.second). Sets BALLAST_SHA256 and BIG_INITRD_BYTES.
BALLAST_MIB=96
big_initrd_uki() {
  local out="$1" dir="$WORK/bigrd.parts"
  rm -rf "$dir"
  mkdir -p "$dir/root"
  head -c $((BALLAST_MIB << 20)) /dev/urandom >"$dir/root/ballast"
  BALLAST_SHA256="$(sha256sum "$dir/root/ballast" | cut -d' ' -f1)"
  gzip -dc "$FIX/initrd-second.cpio.gz" | (cd "$dir/root" && cpio -i --quiet init)
  mv "$dir/root/init" "$dir/root/init.second"
  printf '#!/bin/sh\necho "EFIKEXEC-SECOND: ballast=$(/bin/busybox sha256sum /ballast | cut -d" " -f1)"\nexec /init.second\n' \
    >"$dir/root/init"
  chmod 755 "$dir/root/init"
  (cd "$dir/root" && printf '%s\n' init init.second ballast | cpio -o -H newc -R 0:0 --quiet) \
    >"$dir/ballast.cpio"
  # The kernel reads an uncompressed archive after a compressed one at a 4-byte boundary only.
  cp "$FIX/initrd-second.cpio.gz" "$dir/initrd"
  head -c $(((4 - $(stat -c %s "$dir/initrd") % 4) % 4)) /dev/zero >>"$dir/initrd"
  cat "$dir/ballast.cpio" >>"$dir/initrd"
  BIG_INITRD_BYTES="$(stat -c %s "$dir/initrd")"
  cp "$NEW/os-release" "$dir/osrel"
  printf 'console=ttyS0 efikexec.uki=bigrd panic=-1' >"$dir/cmdline"
  "$QEMU_DIR/../fixtures/objcopy-uki.sh" "$dir/uki.efi" "$NEW/stub-262.efi.stub" \
    ".osrel=$dir/osrel" ".cmdline=$dir/cmdline" ".initrd=$dir/initrd" ".linux=$FIX/vmlinuz"
  sbsign --key "$FIX/keys/db.key" --cert "$FIX/keys/db.crt" --output "$out" "$dir/uki.efi" \
    >/dev/null 2>&1
  rm -rf "$dir"
}

# big_initrd_bytes LOG: what the plan carried, against 1.1 x (init_size + initrd + 2 MiB).
big_initrd_bytes() {
  local carried init_size bound
  carried="$(tr -d '\r' <"$1" | sed -n 's/^EFIKEXEC-FIRST: efikexec: [0-9]* segments, \([0-9.]*\) MiB.*/\1/p' |
    head -n1)"
  init_size=$((16#$(od -An -tx4 -j $((0x260)) -N4 "$FIX/vmlinuz" | tr -d ' ')))
  bound="$(awk -v i="$init_size" -v r="$BIG_INITRD_BYTES" 'BEGIN { printf "%.1f", 1.1 * (i + r + 2 * 1048576) / 1048576 }')"
  note "bigrd: the plan carried ${carried:-?} MiB; init_size $((init_size >> 20)) MiB, initrd $((BIG_INITRD_BYTES >> 20)) MiB: bound $bound MiB"
  echo "bigrd carried_mib=${carried:-none} bound_mib=$bound" >>"$WORK/timings.txt"
  [[ -n "$carried" ]] && awk -v c="$carried" -v b="$bound" 'BEGIN { exit !(c <= b) }'
}

OVMF_SYSTEM="$WORK/ovmf-system"
system_ovmf "$OVMF_SYSTEM"

for scenario in "${SCENARIOS[@]}"; do
  case "$scenario" in
  uki257 | uki262)
    if [[ $scenario == uki257 ]]; then u=257-6.12 k='6\.12\..*'; else u=262-7.2 k='7\.2\..*'; fi
    overlay_begin "$scenario"
    overlay_add "$scenario" "fixtures/newer/uki-$u-signed.efi" "$NEW/uki-$u-signed.efi"
    check "$scenario: boots" boot "$scenario" "newer/uki-$u-signed.efi" "" "$FIX/vmlinuz" \
      "$OVMF_SYSTEM"
    check "$scenario: second kernel has the UKI's world and all its RAM" second_world "$scenario" \
      "console=ttyS0 efikexec\\.uki=$u panic=-1" "$k" "$NEW/uki-$u-signed.efi" "$OVMF_SYSTEM"
    ;;
  profile2)
    overlay_begin profile2
    overlay_add profile2 fixtures/newer/uki-profiles-signed.efi "$NEW/uki-profiles-signed.efi"
    check "profile2: boots" boot profile2 newer/uki-profiles-signed.efi 2 "$FIX/vmlinuz" \
      "$OVMF_SYSTEM"
    check "profile2: load said profile 2" "$QEMU_DIR/expect.sh" "$WORK/profile2.log" \
      '^EFIKEXEC-FIRST: efikexec: .*LoadOptions "@2"'
    # The reference: profile 0 booted by OVMF (its boot manager passes no "@N"); the RAM is
    # the same for every profile.
    check "profile2: second kernel runs profile 2" second_world profile2 \
      'console=ttyS0 efikexec\.profile=2 panic=-1' '6\.12\..*' "$NEW/uki-profiles-signed.efi" \
      "$OVMF_SYSTEM"
    ;;
  first72)
    overlay_begin first72
    overlay_first_kernel_modules first72 "$NEW/modules-7.2"
    check "first72: boots" boot first72 uki-signed.efi "" "$NEW/vmlinuz-7.2" "$NEW/ovmf-2026.08"
    check "first72: the first kernel is 7.2 under OVMF 2026.08" "$QEMU_DIR/expect.sh" \
      "$WORK/first72.log" '^EFIKEXEC-FIRST: kernel=7\.2\.' \
      '^EFIKEXEC-FIRST: firmware=EFI v2\.[0-9.]+ by .*EDK II' '^EFIKEXEC-FIRST: bios_version=.*2026\.08'
    check "first72: the bookworm UKI boots" second_world first72 \
      'console=ttyS0 efikexec\.uki=1 panic=-1' '6\.1\..*' "$FIX/uki-signed.efi" \
      "$NEW/ovmf-2026.08"
    ;;
  bigrd)
    overlay_begin bigrd
    big_initrd_uki "$WORK/bigrd.overlay.uki"
    overlay_add bigrd fixtures/newer/uki-bigrd-signed.efi "$WORK/bigrd.overlay.uki"
    rm -f "$WORK/bigrd.overlay.uki"
    # The first kernel holds the UKI in its initramfs, and the run the initrd's three copies.
    OVERLAY_MEM=2G check "bigrd: boots" boot bigrd newer/uki-bigrd-signed.efi "" "$FIX/vmlinuz" \
      "$OVMF_SYSTEM"
    check "bigrd: the second kernel has the whole initrd" "$QEMU_DIR/expect.sh" \
      "$WORK/bigrd.log" '^EFIKEXEC-FIRST: load-status=1$' "^EFIKEXEC-SECOND: ballast=$BALLAST_SHA256\$" \
      '^EFIKEXEC-SECOND: initrd=second$' '^EFIKEXEC-SECOND: cmdline=console=ttyS0 efikexec\.uki=bigrd panic=-1$' \
      '^EFIKEXEC-SECOND: done$' '!Kernel panic' '!BUG:'
    check "bigrd: the plan left out the copies the kernel no longer reaches" \
      big_initrd_bytes "$WORK/bigrd.log"
    ;;
  *)
    note "unknown scenario $scenario"
    FAILED=$((FAILED + 1))
    ;;
  esac
done
cat "$WORK/timings.txt" >&2
summary
