#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-first-boot.sh): the first kernel, started by systemd-boot from
# the ESP of a virtual disk as a Type #2 entry, under Secure Boot. It mounts that ESP, lists its
# entries with efikexec, loads the entry second.efi from it without --db (the machine's db from
# efivarfs; the kernel is in lockdown, so through the installed payload) and executes it.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

VARS=/sys/firmware/efi/efivars
LOADER=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
say "lockdown=$(cat /sys/kernel/security/lockdown 2>&1)"
say "memtotal_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
say "cmdline=$(cat /proc/cmdline)"
# What systemd-stub put under /.extra from the ESP under the firmware, as the second kernel
# reports it under efikexec (test-first-boot.sh compares the two).
if [ -d /.extra ]; then
  find /.extra -type f | sort | while read -r file; do
    say "extra ${file#/.extra/} $(sha256sum "$file" | cut -d' ' -f1)"
  done
fi
for name in LoaderDevicePartUUID LoaderImageIdentifier LoaderInfo LoaderEntrySelected; do
  [ -e "$VARS/$name-$LOADER" ] &&
    say "loader-variable $name=$(tail -c +5 "$VARS/$name-$LOADER" | tr -d '\000')"
done
mkdir -p /efi
# The disk's first partition, the ESP systemd-boot started from.
tries=0
while [ ! -b /dev/vda1 ] && [ "$tries" -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
if mount -t vfat -o ro /dev/vda1 /efi; then
  say "esp mounted"
else
  say "esp mount failed"
fi
attempt list list --esp /efi
attempt load load --esp /efi --entry second.efi
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: exec: /'
say "exec returned"
exit 1
