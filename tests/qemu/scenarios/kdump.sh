#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-kdump.sh): the first kernel, booted with crashkernel=, loads the
# signed UKI as its crash kernel with `efikexec load -p` and a kdump initrd, shows that a refused
# crash load leaves it loaded and that `unload -p` unloads it, loads it again, puts a marker in
# its own memory and crashes. The crash kernel's /init (guest/kdump-init.sh) reads /proc/vmcore.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

say "reservation $(grep 'Crash kernel' /proc/iomem | tr -d ' ')"
# The first kernel's RAM, as the host compares it with the vmcore's PT_LOADs.
grep -E '^[0-9a-f]+-[0-9a-f]+ : System RAM$' /proc/iomem | sed 's/ : System RAM$//; s/^/EFIKEXEC-FIRST: ram /'
nonce="$(tr -d '-' </proc/sys/kernel/random/uuid)"
/bin/vmcore-check mark "$nonce" >/tmp/marker &
i=0
while [ ! -s /tmp/marker ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
phys="$(sed -n 's/^marker //p' /tmp/marker)"
say "marker $phys $nonce"

load_crash() {
  "$EFIKEXEC" load -p --db "$FIXTURES/keys/db.crt" --initrd "$FIXTURES/kdump.cpio.gz" \
    --append "efikexec.marker=$phys efikexec.nonce=$nonce irqpoll nr_cpus=1 reset_devices" \
    "$FIXTURES/uki-signed.efi" 2>&1 | sed "s/^/EFIKEXEC-FIRST: $1: /"
}
load_crash load
say "first crash-loaded=$(cat /sys/kernel/kexec_crash_loaded) loaded=$(cat /sys/kernel/kexec_loaded)"
# A refused crash load leaves the crash kernel that is loaded in place.
"$EFIKEXEC" load -p --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-other-signed.efi" 2>&1 |
  sed 's/^/EFIKEXEC-FIRST: stranger: /'
say "stranger crash-loaded=$(cat /sys/kernel/kexec_crash_loaded)"
"$EFIKEXEC" unload -p 2>&1 | sed 's/^/EFIKEXEC-FIRST: unload: /'
say "unloaded crash-loaded=$(cat /sys/kernel/kexec_crash_loaded)"
load_crash reload
say "crash-loaded=$(cat /sys/kernel/kexec_crash_loaded) loaded=$(cat /sys/kernel/kexec_loaded)"
say "crashing"
sync
echo c >/proc/sysrq-trigger
say "crash returned"
exit 1
