#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the first kernel's initramfs (made by make-guest-initrd.sh): set up the few
# filesystems efikexec reads, say `EFIKEXEC-FIRST: up`, run /scenario.sh, power off.
# Guest side: busybox sh, no bash. No `set -e`: whatever fails, the guest must power off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# shellcheck source=SCRIPTDIR/efikexec-guest.sh
. /lib/efikexec-guest.sh

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
while read -r m; do
  # efivarfs has nothing to serve without EFI (insmod says ENODEV): not worth a line then.
  case "$m" in */efivarfs.ko) [ -d /sys/firmware/efi ] || continue ;; esac
  insmod "$m" 2>/dev/null || say "insmod $m failed"
done </etc/modules-load
if [ -d /sys/firmware/efi ]; then
  mount -t efivarfs efivarfs /sys/firmware/efi/efivars || say "efivarfs mount failed"
fi
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

say "up"
export FIXTURES=/fixtures
EFIKEXEC=""
[ -x /bin/efikexec ] && EFIKEXEC=/bin/efikexec
export EFIKEXEC
sh /scenario.sh
status=$?
say "scenario-exit=$status"
sync
poweroff -f
# Power-off needs ACPI; if it returned, a reset ends QEMU (it runs with -no-reboot).
sleep 1
reboot -f
