#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario for bench/downtime-bench.sh (busybox sh, in the first kernel's initramfs): loads
# the next kernel with the loader named by efikexec.bench_loader= and executes it. The same
# kernel, initrd and command line every time:
#   efikexec          efikexec load of the signed UKI (the trampoline: kexec_load)
#   efikexec-nokaslr  the same with its command line plus nokaslr (as load options, which
#                     systemd-stub takes without Secure Boot): what the place the Linux EFI stub
#                     picks for the kernel costs the next boot
#   efikexec-tmpfs    the trampoline path with efikexec run from a copy on a tmpfs of its own,
#                     removed before the exec: the initramfs holds the binary in the first pages
#                     above 16 MiB, which QEMU's TCG keeps translated code for once they ran, and
#                     which a next kernel placed elsewhere takes first (docs/performance.md)
#   efikexec-payload  efikexec load --handoff payload of the signed UKI (kexec_file_load of the
#                     signed payload, which verifies and runs the UKI after the kexec)
#   kexec-l           kexec-tools' kexec -l of the UKI's kernel and initrd
#   kexec-c-l         kexec-tools' kexec -c -l (kexec_load with its purgatory)
# The host times the load (`bench load-start` to `bench load`), and the line
# `EFIKEXEC-FIRST: bench exec` against the second kernel's
# `EFIKEXEC-SECOND: up` (its /init), and against the first line of the code the old kernel jumps
# to: efikexec's trampoline (--serial-mark), the payload's entry line, kexec-tools' purgatory
# (--console-serial: "I'm in purgatory"; kexec -l uses the kernel's own purgatory, which says
# nothing).
# shellcheck source=SCRIPTDIR/../tests/qemu/guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

loader="$(cmdline_arg efikexec.bench_loader)"
# The UKI's own command line, for kexec-tools to give the same kernel the same one.
APPEND="console=ttyS0 efikexec.uki=1 panic=-1"
loader_binary="$EFIKEXEC"
if [ "$loader" = efikexec-tmpfs ]; then
  loader_binary=/run/bench-tmpfs/efikexec
  if ! { mkdir -p /run/bench-tmpfs && mount -t tmpfs tmpfs /run/bench-tmpfs &&
         cp "$EFIKEXEC" "$loader_binary"; }; then
    say "bench no tmpfs copy"
    exit 1
  fi
fi
case "$loader" in
  efikexec|efikexec-tmpfs) set -- "$loader_binary" load --serial-mark \
    --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-signed.efi" ;;
  efikexec-nokaslr) set -- "$EFIKEXEC" load --serial-mark --command-line "$APPEND nokaslr" \
    --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-signed.efi" ;;
  efikexec-payload)
    set -- "$EFIKEXEC" load --handoff payload --payload /bench/payload.efi \
      --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-signed.efi" ;;
  kexec-l) set -- /bin/kexec -l "$FIXTURES/vmlinuz" --initrd="$FIXTURES/initrd-second.cpio.gz" \
    --append="$APPEND" ;;
  kexec-c-l) set -- /bin/kexec -c -l --console-serial "$FIXTURES/vmlinuz" \
    --initrd="$FIXTURES/initrd-second.cpio.gz" --append="$APPEND" ;;
  *) say "bench unknown loader '$loader'"; exit 1 ;;
esac
say "bench load-start"
"$@" >/tmp/bench.out 2>&1
status=$?
say "bench load $loader status=$status loaded=$(cat /sys/kernel/kexec_loaded)"
if [ "$loader" = efikexec-tmpfs ]; then
  rm "$loader_binary" && umount /run/bench-tmpfs
fi
[ "$status" -eq 0 ] || { dump "$loader" /tmp/bench.out; exit 1; }
sync
say "bench exec"
case "$loader" in
  efikexec*) "$EFIKEXEC" exec ;;
  *) /bin/kexec -e ;;
esac
say "exec returned"
exit 1
