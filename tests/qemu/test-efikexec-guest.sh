#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-efikexec-guest.sh FIXTURES WORKDIR EFIKEXEC_BIN
#   Boots the first kernel under OVMF with EFIKEXEC_BIN (the static build, efikexec-static) in
#   its initramfs and checks that it runs there and reads the fixtures (`inspect`). No kexec:
#   this catches a binary that is not really static, or needs files the guest lacks.
#   Log: WORKDIR/efikexec-runs.log.
set -euo pipefail
TEST_NAME=test-efikexec-guest
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"

[[ $# -eq 3 ]] || { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN" >&2; exit 2; }
FIX="$1"
WORK="$2"
BIN="$3"
need_fixtures "$FIX" vmlinuz uki-signed.efi modules
mkdir -p "$WORK"

"$QEMU_DIR/make-guest-initrd.sh" "$WORK/efikexec-runs-initrd" "$FIX" "$BIN" \
  "$QEMU_DIR/scenarios/efikexec-runs.sh" >/dev/null

check "boots and powers off" "$QEMU_DIR/run-guest.sh" --bios ovmf --mem 1G --smp 1 \
  --timeout "$GUEST_TIMEOUT" --kernel "$FIX/vmlinuz" \
  --initrd "$WORK/efikexec-runs-initrd/initrd-first.cpio.gz" --append "$FIRST_APPEND" \
  --log "$WORK/efikexec-runs.log"
check "efikexec runs in the guest" "$QEMU_DIR/expect.sh" "$WORK/efikexec-runs.log" \
  '^EFIKEXEC-FIRST: up$' '^EFIKEXEC-FIRST: inspect uki-signed.efi exit=0$' \
  '^EFIKEXEC-DUMP inspect uki-signed.efi: cmdline: +console=ttyS0 efikexec\.uki=1 panic=-1$' \
  '^EFIKEXEC-FIRST: scenario-exit=0$' '!Kernel panic'
summary
