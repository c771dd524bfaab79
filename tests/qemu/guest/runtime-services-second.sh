#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the second kernel in the runtime-services test (test-runtime-services.sh puts it over
# the fixtures' second initramfs, with efivarfs.ko): is EFI in virtual mode, how many variables
# does efivarfs list, can a non-volatile variable be written; then a reset through EFI
# ResetSystem (reboot=efi on the command line), which ends QEMU (-no-reboot). With
# efikexec.runtime=count (kexec-tools-compare.sh) it stops after the count.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
say() { echo "EFIKEXEC-SECOND: $*"; }
VARS=/sys/firmware/efi/efivars
TEST_VAR="EfikexecRuntimeTest-6566696b-6578-6563-2d72-756e74696d65"
say "up"
say "cmdline=$(cat /proc/cmdline)"
if dmesg | grep -q 'Unable to switch EFI into virtual mode'; then
  say "virtual-mode=failed"
else
  say "virtual-mode=ok"
fi
dmesg | grep -E 'efi: |EFI' | sed 's/^/EFIKEXEC-SECOND: dmesg /' | head -n 20
insmod /lib/efivarfs.ko 2>/dev/null
if mount -t efivarfs efivarfs "$VARS"; then
  say "second efivars=$(find "$VARS" -mindepth 1 -maxdepth 1 | wc -l)"
  # efikexec.runtime=count (the kexec-tools comparison): only the count, then power off.
  if grep -q 'efikexec.runtime=count' /proc/cmdline; then
    say "done"
    poweroff -f
    sleep 5
  fi
  # A second kexec from here (efikexec in this initrd only in test-runtime-services.sh): what a
  # load would hand on, without loading.
  if [ -x /bin/efikexec ]; then
    mkdir -p /tmp
    /bin/efikexec load --dry-run=/tmp/plan.json --db /fixtures/keys/db.crt \
      /fixtures/vmlinuz-signed.efi >/tmp/chain.out 2>&1
    rc=$?
    sed 's/^/EFIKEXEC-SECOND: chain: /' /tmp/chain.out
    say "chain exit=$rc"
  fi
  # Attributes NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS, then the data.
  if printf '\007\000\000\000efikexec-runtime' >"$VARS/$TEST_VAR"; then
    say "set-variable=ok"
    say "read-back=$(tail -c +5 "$VARS/$TEST_VAR")"
  else
    say "set-variable=failed"
  fi
else
  say "efivarfs mount failed"
  grep -q 'efikexec.runtime=count' /proc/cmdline && { say "done"; poweroff -f; sleep 5; }
fi
say "resetting"
sync
reboot -f
sleep 5
say "reset returned"
poweroff -f
