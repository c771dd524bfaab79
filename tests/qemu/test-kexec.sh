#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-kexec.sh FIXTURES WORKDIR EFIKEXEC_BIN [SCENARIO...]
#   The handoff end to end (issue 5): a first kernel (Debian's, booted by OVMF or SeaBIOS) runs
#   the static efikexec from its initramfs, which loads an image and kexecs into it; the second
#   kernel's init reports what it got. Scenarios (default: all):
#     signed-uki    the signed UKI boots: its .cmdline, its initrd, ACPI, full memory
#     refusals      unsigned/tampered/other-signer/no-trust refused, nothing loaded; a refused
#                   load after a good one leaves the good one, which boots
#     bare-kernel   a signed EFI-stub kernel with --initrd and --append
#     big-smp       the signed UKI in a 2 GiB guest with 2 CPUs
#     seabios       the signed UKI from a first kernel booted by SeaBIOS (no EFI)
#     la57          the signed UKI from a first kernel running 5-level paging (-cpu max)
#     zeros         tests/efi_apps' eft_zeros.efi over memory full of a pattern: the runs of
#                   zeros no segment carries are zeros when the image resumes (EFIKEXEC_EFT_DIR:
#                   the built EFI test applications)
set -euo pipefail
TEST_NAME=test-kexec
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"

[[ $# -ge 3 ]] || { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN [SCENARIO...]" >&2; exit 2; }
FIX="$(realpath -m -- "$1")"
WORK="$2"
BIN="$3"
shift 3
SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -gt 0 ]] || SCENARIOS=(signed-uki refusals bare-kernel big-smp seabios la57 zeros)
require_fixture "$FIX"/{vmlinuz,uki-signed.efi,uki.efi,uki-tampered.efi,uki-other-signed.efi} \
  "$FIX"/{vmlinuz-signed.efi,initrd-second.cpio.gz,keys/db.crt,modules}
mkdir -p "$WORK"

# The second kernel must see all the RAM a direct boot of the same kernel and initrd by OVMF
# sees with the same memory size, measured in this run (reference_memtotal), but what the handoff
# keeps for itself: the runtime services stubs and tables and the boot memory map, well under
# SLACK_KB. (A fixed figure would pin one OVMF and one kernel build: 975548 kB at 1 GiB when it
# was measured with bookworm's.)
SLACK_KB=2048
rm -f "$WORK"/reference-*.memtotal

# reference_memtotal MEM: MemTotal of vmlinuz + initrd-second booted by OVMF itself (QEMU
# -kernel), once per MEM in this run.
reference_memtotal() {
  local mem="$1" cache="$WORK/reference-$1.memtotal" log="$WORK/reference-$1.log"
  if [[ ! -s "$cache" ]]; then
    "$QEMU_DIR/run-guest.sh" --bios ovmf --mem "$mem" --smp 1 --timeout "$GUEST_TIMEOUT" \
      --until '^EFIKEXEC-SECOND: done|Kernel panic' --kernel "$FIX/vmlinuz" \
      --initrd "$FIX/initrd-second.cpio.gz" --append "$FIRST_APPEND efikexec.direct=1" \
      --log "$log" >&2 || return 1
    memtotal_of "$log" >"$cache"
    [[ -s "$cache" ]] || { rm -f "$cache"; return 1; }
  fi
  cat "$cache"
}

# boot NAME SCENARIO_SCRIPT BIOS MEM SMP [CPU]; GUEST_EXTRA=DIR: DIR's files are added to the
# first kernel's initramfs as a second archive.
boot() {
  local name="$1" script="$2" bios="$3" mem="$4" smp="$5" cpu="${6:-qemu64}"
  "$QEMU_DIR/make-guest-initrd.sh" "$WORK/$name" "$FIX" "$BIN" \
    "$QEMU_DIR/scenarios/$script" >/dev/null
  if [[ -n "${GUEST_EXTRA:-}" ]]; then
    (cd "$GUEST_EXTRA" && find . -mindepth 1 | cpio -o -H newc --quiet | gzip -1) \
      >>"$WORK/$name/initrd-first.cpio.gz"
  fi
  "$QEMU_DIR/run-guest.sh" --bios "$bios" --mem "$mem" --smp "$smp" --cpu "$cpu" \
    --timeout "$GUEST_TIMEOUT" \
    --until '^EFIKEXEC-SECOND: done|^EFIKEXEC-FIRST: exec returned|Kernel panic|^EFT: zeros\.after' \
    --kernel "$FIX/vmlinuz" --initrd "$WORK/$name/initrd-first.cpio.gz" \
    --append "$FIRST_APPEND" --log "$WORK/$name.log"
}

# second_world_ok NAME MEM CMDLINE_REGEX: the second kernel came up with what it should have.
second_world_ok() {
  local log="$WORK/$1.log" mem="$2" cmdline="$3" got want
  "$QEMU_DIR/expect.sh" "$log" "^EFIKEXEC-SECOND: cmdline=$cmdline\$" \
    '^EFIKEXEC-SECOND: initrd=second$' '^EFIKEXEC-SECOND: acpi=yes$' \
    '^EFIKEXEC-SECOND: acpi_dsdt=yes$' '^EFIKEXEC-SECOND: done$' '!Kernel panic' || return 1
  got="$(memtotal_of "$log")"
  want="$(reference_memtotal "$mem")" || { note "$1: no reference boot at $mem"; return 1; }
  note "$1: second kernel MemTotal ${got:-none} kB; a direct OVMF boot at $mem: $want kB"
  if [[ -z "$got" || "$got" -lt $((want - SLACK_KB)) ]]; then
    note "$1: second kernel sees ${got:-no} kB, expected at least $((want - SLACK_KB))"
    return 1
  fi
}

UKI_CMDLINE='console=ttyS0 efikexec\.uki=1 panic=-1'
for scenario in "${SCENARIOS[@]}"; do
  case "$scenario" in
  signed-uki)
    check "signed-uki: boots" boot signed-uki kexec-signed-uki.sh ovmf 1G 1
    check "signed-uki: loaded" "$QEMU_DIR/expect.sh" "$WORK/signed-uki.log" \
      '^EFIKEXEC-FIRST: efikexec: verified /fixtures/uki-signed\.efi: ' \
      '^EFIKEXEC-FIRST: load-status=1$'
    check "signed-uki: second kernel has the UKI's world" second_world_ok signed-uki 1G \
      "$UKI_CMDLINE"
    # The firmware's runtime services at the first kernel's virtual addresses (SETUP_EFI): the
    # kernel takes the kexec path into virtual mode (qemu.runtime-services checks variables).
    check "signed-uki: EFI tables used, the firmware's runtime services kept" \
      "$QEMU_DIR/expect.sh" "$WORK/signed-uki.log" '^EFIKEXEC-SECOND: efi=yes$' \
      "^EFIKEXEC-FIRST: efikexec: the next kernel runs with the firmware's EFI runtime services" \
      'efi: EFI v2\.70 by EDK II' '!Unable to switch EFI into virtual mode' '!BUG:' '!Oops'
    ;;
  refusals)
    check "refusals: boots" boot refusals kexec-refusals.sh ovmf 1G 1
    check "refusals: each refused with its reason, nothing loaded" "$QEMU_DIR/expect.sh" \
      "$WORK/refusals.log" \
      '^EFIKEXEC-FIRST: unsigned: efikexec: .*uki\.efi: refused: .*(no signature|unsigned|not signed)' \
      '^EFIKEXEC-FIRST: unsigned exit=1 loaded=0$' \
      '^EFIKEXEC-FIRST: tampered: efikexec: .*refused: .*(hash|digest)' \
      '^EFIKEXEC-FIRST: tampered exit=1 loaded=0$' \
      '^EFIKEXEC-FIRST: other-signer: efikexec: .*refused: ' \
      '^EFIKEXEC-FIRST: other-signer exit=1 loaded=0$' \
      '^EFIKEXEC-FIRST: no-trust-source exit=[12] loaded=0$' \
      '^EFIKEXEC-FIRST: signed exit=0 loaded=1$' \
      '^EFIKEXEC-FIRST: tampered-after-good exit=1 loaded=1$' \
      '^EFIKEXEC-FIRST: first kernel still running$'
    check "refusals: the good image boots" second_world_ok refusals 1G "$UKI_CMDLINE"
    ;;
  bare-kernel)
    check "bare-kernel: boots" boot bare-kernel kexec-bare-kernel.sh ovmf 1G 1
    check "bare-kernel: --append and --initrd reach it" second_world_ok bare-kernel 1G \
      'console=ttyS0 panic=-1 efikexec\.bare=1'
    ;;
  big-smp)
    check "big-smp: boots" boot big-smp kexec-signed-uki.sh ovmf 2G 2
    check "big-smp: second kernel has 2 GiB and 2 CPUs" second_world_ok big-smp 2G \
      "$UKI_CMDLINE"
    check "big-smp: both CPUs up" "$QEMU_DIR/expect.sh" "$WORK/big-smp.log" \
      '^EFIKEXEC-SECOND: cpus=2$'
    ;;
  seabios)
    check "seabios: boots" boot seabios kexec-signed-uki.sh seabios 1G 1
    check "seabios: the UKI boots from a first kernel without EFI" second_world_ok seabios 1G \
      "$UKI_CMDLINE"
    # No firmware runtime services to keep: the shim's stubs answer EFI_UNSUPPORTED and Linux
    # turns EFI runtime off and boots on.
    check "seabios: no firmware runtime services, turned off safely" \
      "$QEMU_DIR/expect.sh" "$WORK/seabios.log" \
      '^EFIKEXEC-FIRST: efikexec: the next kernel runs without EFI runtime services: this machine did not boot through EFI' \
      'efi: EFI v2\.70 by efikexec' \
      'efi: Unable to switch EFI into virtual mode \(status=8000000000000003\)' '!BUG:' '!Oops'
    ;;
  la57)
    check "la57: boots" boot la57 kexec-signed-uki.sh ovmf 1G 1 max
    check "la57: the first kernel runs 5-level paging" "$QEMU_DIR/expect.sh" "$WORK/la57.log" \
      '^EFIKEXEC-FIRST: first kernel paging=5-level$'
    check "la57: the UKI boots through the PML5 tables" second_world_ok la57 1G "$UKI_CMDLINE"
    ;;
  zeros)
    eft="${EFIKEXEC_EFT_DIR:-$(dirname -- "$BIN")/tests/efi_apps}/eft_zeros.efi"
    require_fixture "$eft"
    rm -rf "$WORK/zeros-extra"
    mkdir -p "$WORK/zeros-extra/eft"
    cp "$eft" "$WORK/zeros-extra/eft/"
    GUEST_EXTRA="$WORK/zeros-extra" check "zeros: boots" boot zeros kexec-zeros.sh ovmf 1G 1
    check "zeros: the plan leaves the runs of zeros to the trampoline" "$QEMU_DIR/expect.sh" \
      "$WORK/zeros.log" '^EFIKEXEC-FIRST: filled [0-9]+ of [0-9]+ kB free with a pattern$' \
      '^EFIKEXEC-FIRST: efikexec: zeros in no segment, cleared by the trampoline at exec: ' \
      '^EFIKEXEC-FIRST: load-status=1$'
    check "zeros: the image finds zeros where it left them after the kexec" \
      "$QEMU_DIR/expect.sh" "$WORK/zeros.log" '^EFT: zeros\.after clean' '!Kernel panic'
    ;;
  *)
    note "unknown scenario $scenario"
    FAILED=$((FAILED + 1))
    ;;
  esac
done
summary
