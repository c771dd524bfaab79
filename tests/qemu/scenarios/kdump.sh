#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-kdump.sh): the first kernel, booted with crashkernel=, loads the
# signed UKI as its crash kernel with a kdump initrd, puts a marker in its own memory and
# crashes; the crash kernel's /init (guest/kdump-init.sh) reads /proc/vmcore. /etc/kdump-loader
# names the loader: `efikexec` (load -p; also: a refused crash load leaves the crash kernel
# loaded, `unload -p` unloads it), `efikexec-once` (load -p only), `kexec-tools` (kexec-tools
# 2.0.32's own `kexec -p`, which splits the UKI) or `fork` (`kexec -p` of kexec-tools with
# efikexec's file type).
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

loader="$(cat /etc/kdump-loader)"
# The UKI: the fixtures' (systemd-stub 252, Linux 6.1), or the one /etc/kdump-uki names.
uki="$FIXTURES/uki-signed.efi"
[ -s /etc/kdump-uki ] && uki="$FIXTURES/$(cat /etc/kdump-uki)"
say "loader $loader uki $uki"
words="efikexec.marker=$phys efikexec.nonce=$nonce irqpoll nr_cpus=1 reset_devices"
case "$loader" in
  efikexec | efikexec-once)
    load_crash() {
      "$EFIKEXEC" load -p --db "$FIXTURES/keys/db.crt" --initrd "$FIXTURES/kdump.cpio.gz" \
        --append "$words" "$uki" 2>&1 | sed "s/^/EFIKEXEC-FIRST: $1: /"
    }
    load_crash load
    if [ "$loader" = efikexec ]; then
      say "first crash-loaded=$(cat /sys/kernel/kexec_crash_loaded) loaded=$(cat /sys/kernel/kexec_loaded)"
      # A refused crash load leaves the crash kernel that is loaded in place.
      "$EFIKEXEC" load -p --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-other-signed.efi" 2>&1 |
        sed 's/^/EFIKEXEC-FIRST: stranger: /'
      say "stranger crash-loaded=$(cat /sys/kernel/kexec_crash_loaded)"
      "$EFIKEXEC" unload -p 2>&1 | sed 's/^/EFIKEXEC-FIRST: unload: /'
      say "unloaded crash-loaded=$(cat /sys/kernel/kexec_crash_loaded)"
      load_crash reload
    fi
    ;;
  kexec-tools | fork)
    # kexec-tools' --append is the whole command line (the UKI's .cmdline is not used by
    # kexec-tools' own UKI type; through efikexec it is the stub's LoadOptions).
    trust=""
    [ "$loader" = fork ] && trust="--efi-db=$FIXTURES/keys/db.crt"
    # shellcheck disable=SC2086 # $trust: no option or one
    /bin/kexec -p $trust --initrd="$FIXTURES/kdump.cpio.gz" --append="console=ttyS0 $words" \
      "$uki" 2>&1 | sed 's/^/EFIKEXEC-FIRST: load: /'
    ;;
esac
say "crash-loaded=$(cat /sys/kernel/kexec_crash_loaded) loaded=$(cat /sys/kernel/kexec_loaded)"
say "crashing"
sync
echo c >/proc/sysrq-trigger
say "crash returned"
exit 1
