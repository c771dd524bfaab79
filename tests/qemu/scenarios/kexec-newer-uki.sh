#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-newer-images.sh): load a signed UKI with efikexec (db = the
# test certificate) and kexec into it. Which one comes from the first kernel's command line:
# efikexec.image=NAME (a file under /fixtures) and, optionally, efikexec.profile=N.
# The second kernel's init reports what it got (EFIKEXEC-SECOND: lines).
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

image="$(cmdline_arg efikexec.image)"
profile="$(cmdline_arg efikexec.profile)"
if [ -z "$image" ] || [ ! -f "$FIXTURES/$image" ]; then
  say "no image '$image' in $FIXTURES"
  exit 1
fi
say "kernel=$(uname -r)"
say "firmware=$(dmesg | sed -n 's/.*efi: \(EFI v[0-9.]* by .*\)/\1/p' | head -n1)"
say "bios_version=$(cat /sys/class/dmi/id/bios_version 2>/dev/null)"
# What the firmware gave the first kernel, for the host to compare the second kernel's RAM with.
ram=0
for m in /sys/firmware/memmap/*; do
  [ "$(cat "$m/type")" = "System RAM" ] || continue
  ram=$((ram + $(($(cat "$m/end") - $(cat "$m/start") + 1)) / 1024))
done
say "firmware_ram_kb=$ram"
set -- load --db "$FIXTURES/keys/db.crt"
[ -n "$profile" ] && set -- "$@" --profile "$profile"
start=$(date +%s)
"$EFIKEXEC" "$@" "$FIXTURES/$image" 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "load-seconds=$(($(date +%s) - start))"
say "load-status=$(cat /sys/kernel/kexec_loaded)"
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
