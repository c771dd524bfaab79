#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: the firmware's runtime services after an efikexec kexec. The first kernel
# counts its efivarfs variables, then loads the signed EFI-stub kernel with an initrd whose /init
# (runtime-services-second.sh) checks runtime services in the second kernel, writes a
# non-volatile variable and resets through EFI. With efikexec.after_reset=1 on the command line
# (the next boot of the same variable store) it reports that variable instead.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

VARS=/sys/firmware/efi/efivars
TEST_VAR="EfikexecRuntimeTest-6566696b-6578-6563-2d72-756e74696d65"

if [ "$(cmdline_arg efikexec.after_reset)" = 1 ]; then
  if [ -e "$VARS/$TEST_VAR" ]; then
    say "after-reset variable=$(tail -c +5 "$VARS/$TEST_VAR") attributes=$(od -An -tu1 -N1 "$VARS/$TEST_VAR" | tr -d ' ')"
  else
    say "after-reset variable absent"
  fi
  say "done"
  exit 0
fi

say "first efivars=$(find "$VARS" -mindepth 1 -maxdepth 1 | wc -l)"
[ -e "$VARS/$TEST_VAR" ] && say "first test variable already there"
# efikexec.loader=kexec-l|kexec-s (kexec-tools-compare.sh): the same kernel and initrd through
# kexec-tools, and the second kernel only counts (efikexec.runtime=count).
loader="$(cmdline_arg efikexec.loader)"
second="console=ttyS0 panic=-1"
case "$loader" in
  kexec-l | kexec-s)
    [ "$loader" = kexec-s ] && mode=-s || mode=
    # shellcheck disable=SC2086 # $mode is one flag or nothing
    /bin/kexec $mode -l "$FIXTURES/vmlinuz-signed.efi" --initrd="$FIXTURES/runtime-second.cpio.gz" \
      --append="$second efikexec.runtime=count" 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
    say "load-status=$(cat /sys/kernel/kexec_loaded)"
    /bin/kexec -e 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
    ;;
  *)
    runtime=1
    [ "$loader" = efikexec ] && runtime=count
    # --serial-mark: the trampoline's own line when the old kernel jumps to it.
    "$EFIKEXEC" load --serial-mark --db "$FIXTURES/keys/db.crt" \
      --initrd "$FIXTURES/runtime-second.cpio.gz" \
      --append "$second reboot=efi efikexec.runtime=$runtime" \
      "$FIXTURES/vmlinuz-signed.efi" 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
    say "load-status=$(cat /sys/kernel/kexec_loaded)"
    "$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
    ;;
esac
say "exec returned"
exit 1
