#!/bin/sh
# SPDX-License-Identifier: MIT
#
# /init of the second kernel in the runtime-services test (test-runtime-services.sh puts it over
# the fixtures' second initramfs, with efivarfs.ko): is EFI in virtual mode, how many variables
# does efivarfs list, can a non-volatile variable be written. With efikexec in this initrd (the
# chain), the second kernel then loads and executes a third one with efikexec, whose initrd is
# this same /init without efikexec (efikexec.third=1 on its command line): the third kernel
# reports the same and reads the variable back. The last kernel resets through EFI
# ResetSystem (reboot=efi on the command line), which ends QEMU (-no-reboot). With
# efikexec.runtime=count (kexec-tools-compare.sh) it stops after the count.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Only emergencies on the console from here: a kernel message written while a line below is
# printed would split it on the serial port (dmesg keeps them all, and is read below).
dmesg -n 1
# As init systems do: efikexec reads the kernel's lockdown mode there.
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
stage=SECOND
grep -q 'efikexec.third=1' /proc/cmdline && stage=THIRD
say() { echo "EFIKEXEC-$stage: $*"; }
VARS=/sys/firmware/efi/efivars
TEST_VAR="EfikexecRuntimeTest-6566696b-6578-6563-2d72-756e74696d65"
say "up"
say "cmdline=$(cat /proc/cmdline)"
# What systemd-stub put under /.extra from the ESP (credentials, extensions), with digests.
if [ -d /.extra ]; then
  find /.extra -type f | sort | while read -r file; do
    say "extra ${file#/.extra/} $(sha256sum "$file" | cut -d' ' -f1)"
  done
fi
if dmesg | grep -q 'Unable to switch EFI into virtual mode'; then
  say "virtual-mode=failed"
else
  say "virtual-mode=ok"
fi
dmesg | grep -E 'efi: |EFI' | sed "s/^/EFIKEXEC-$stage: dmesg /" | head -n 20
say "memtotal_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
if [ -e /sys/firmware/acpi/tables/DSDT ]; then say "acpi=yes"; else say "acpi=no"; fi
insmod /lib/efivarfs.ko 2>/dev/null
if mount -t efivarfs efivarfs "$VARS"; then
  if [ "$stage" = THIRD ]; then count=third; else count=second; fi
  say "$count efivars=$(find "$VARS" -mindepth 1 -maxdepth 1 | wc -l)"
  # What the boot loader of the firmware boot told the OS (volatile, read through the firmware).
  for name in LoaderDevicePartUUID LoaderImageIdentifier LoaderInfo LoaderEntrySelected; do
    file="$VARS/$name-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
    [ -e "$file" ] && say "loader-variable $name=$(tail -c +5 "$file" | tr -d '\000')"
  done
  # efikexec.runtime=count (the kexec-tools comparison): only the count, then power off.
  if grep -q 'efikexec.runtime=count' /proc/cmdline; then
    say "done"
    poweroff -f
    sleep 5
  fi
  if [ "$stage" = THIRD ]; then
    # The variable the second kernel wrote, through the same firmware.
    if [ -e "$VARS/$TEST_VAR" ]; then
      say "read-back=$(tail -c +5 "$VARS/$TEST_VAR")"
    else
      say "read-back=absent"
    fi
  else
    # Attributes NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS, then the data.
    if printf '\007\000\000\000efikexec-runtime' >"$VARS/$TEST_VAR"; then
      say "set-variable=ok"
      say "read-back=$(tail -c +5 "$VARS/$TEST_VAR")"
    else
      say "set-variable=failed"
    fi
    # The chain (efikexec in this initrd only in test-runtime-services.sh): the third kernel,
    # loaded and executed from here with its own command line.
    if [ -x /bin/efikexec ]; then
      mkdir -p /tmp
      # The machine's db when the firmware has one (efivarfs), else the test certificate.
      trust="--db /fixtures/keys/db.crt"
      [ -e "$VARS/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f" ] && trust=""
      # shellcheck disable=SC2086 # $trust is two words or none
      /bin/efikexec load $trust --initrd /fixtures/third.cpio.gz \
        --command-line "console=ttyS0 panic=-1 reboot=efi efikexec.third=1" \
        /fixtures/vmlinuz-signed.efi >/tmp/chain.out 2>&1
      rc=$?
      sed 's/^/EFIKEXEC-SECOND: chain: /' /tmp/chain.out
      say "chain exit=$rc loaded=$(cat /sys/kernel/kexec_loaded)"
      [ "$rc" -eq 0 ] && /bin/efikexec exec 2>&1 | sed 's/^/EFIKEXEC-SECOND: chain: /'
      say "chain exec returned"
    fi
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
