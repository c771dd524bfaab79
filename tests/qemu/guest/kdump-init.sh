#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the kdump initrd of tests/qemu/test-kdump.sh (over the fixtures' second initrd): the
# crash kernel says what it got (command line, memory, initrd) and checks /proc/vmcore with
# vmcore-check against the marker the first kernel named on the command line, then powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The crash kernel's command line is the UKI's, without quiet: only emergencies on the console
# from here, so no kernel message splits a line below on the serial port (dmesg keeps them).
dmesg -n 1
k() { echo "EFIKEXEC-KDUMP: $*"; }
k "up"
k "initrd=kdump"
k "cmdline=$(cat /proc/cmdline)"
k "memtotal=$(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
k "vmcore=$([ -e /proc/vmcore ] && echo yes || echo no)"
k "acpi=$([ -d /sys/firmware/acpi/tables ] && echo yes || echo no)"
grep -E '^[0-9a-f]+-[0-9a-f]+ : System RAM$' /proc/iomem | sed 's/ : System RAM$//; s/^/EFIKEXEC-KDUMP: ram /'
phys="" nonce=""
# shellcheck disable=SC2013 # words of the command line, not lines
for word in $(cat /proc/cmdline); do
  case "$word" in
    efikexec.marker=*) phys="${word#efikexec.marker=}" ;;
    efikexec.nonce=*) nonce="${word#efikexec.nonce=}" ;;
  esac
done
/bin/vmcore-check check "$phys" "$nonce" 2>&1 | sed 's/^/EFIKEXEC-KDUMP: /'
k "done"
poweroff -f
sleep 1
reboot -f
