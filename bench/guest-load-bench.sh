#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario for bench/load-bench.sh (busybox sh, in the first kernel's initramfs): times,
# efikexec.bench_rounds= times each (default 3), kexec-tools' `kexec -l` (its default syscall
# choice) and `kexec -c -l` (kexec_load with its purgatory) of the fixture kernel and initrd,
# next to `efikexec load` of the same kernel and initrd (signed EFI-stub kernel, --initrd) and of
# the signed UKI that holds them; each load is undone before the next. Wall times come from /proc/uptime (10 ms steps).
# Lines: `EFIKEXEC-FIRST: bench NAME ms=N status=S`, and efikexec's own --timings line.
# shellcheck source=SCRIPTDIR/../tests/qemu/guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

ROUNDS="$(cmdline_arg efikexec.bench_rounds)"
ROUNDS="${ROUNDS:-3}"
APPEND="console=ttyS0 panic=-1"
centiseconds() {
  read -r up _ </proc/uptime
  echo "${up%.*}${up#*.}"
}
# bench NAME UNDO COMMAND...: one timed run of COMMAND, then UNDO (an unload).
bench() {
  name="$1" undo="$2"
  shift 2
  start=$(centiseconds)
  "$@" >/tmp/bench.out 2>&1
  status=$?
  end=$(centiseconds)
  say "bench $name ms=$(((end - start) * 10)) status=$status"
  sed -n 's/^efikexec: timings: /EFIKEXEC-FIRST: timings '"$name"' /p' /tmp/bench.out
  [ "$status" -eq 0 ] || dump "$name" /tmp/bench.out
  $undo >/dev/null 2>&1
}

round=0
while [ "$round" -lt "$ROUNDS" ]; do
  round=$((round + 1))
  bench sha256-uki true sha256sum "$FIXTURES/uki-signed.efi"
  bench kexec-l "/bin/kexec -u" /bin/kexec -l "$FIXTURES/vmlinuz" \
    --initrd="$FIXTURES/initrd-second.cpio.gz" --append="$APPEND"
  bench kexec-c-l "/bin/kexec -u" /bin/kexec -c -l "$FIXTURES/vmlinuz" \
    --initrd="$FIXTURES/initrd-second.cpio.gz" --append="$APPEND"
  bench efikexec-kernel "$EFIKEXEC unload" "$EFIKEXEC" load --timings \
    --db "$FIXTURES/keys/db.crt" --initrd "$FIXTURES/initrd-second.cpio.gz" \
    --append "$APPEND" "$FIXTURES/vmlinuz-signed.efi"
  bench efikexec-uki "$EFIKEXEC unload" "$EFIKEXEC" load --timings \
    --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-signed.efi"
done
say "bench done"
