#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/kexec-tools-compare.sh): one signed multi-profile UKI, loaded by
# one of the two loaders, and a tampered copy of it (one byte of profile 2's .cmdline changed).
# The first kernel's command line says which: efikexec.loader=efikexec|kexec-l|kexec-s,
# efikexec.image=NAME, efikexec.tampered=NAME (under /fixtures), efikexec.profile=N (efikexec
# only: kexec-tools has no way to choose one). The tampered copy is loaded and unloaded first;
# then the good one is loaded and executed, and the second kernel reports what it got.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

loader="$(cmdline_arg efikexec.loader)"
image="$FIXTURES/$(cmdline_arg efikexec.image)"
tampered="$FIXTURES/$(cmdline_arg efikexec.tampered)"
profile="$(cmdline_arg efikexec.profile)"
KEXEC=/bin/kexec
say "loader=$loader"

# load FILE: the chosen loader's load of FILE, its output tagged, its exit status returned.
load() {
  case "$loader" in
    efikexec)
      if [ -n "$profile" ]; then
        "$EFIKEXEC" load --db "$FIXTURES/keys/db.crt" --profile "$profile" "$1"
      else
        "$EFIKEXEC" load --db "$FIXTURES/keys/db.crt" "$1"
      fi
      ;;
    # kexec-tools 2.0.32 splits a UKI: .linux and .initrd, nothing else (kexec/kexec-uki.c).
    kexec-l) "$KEXEC" -l "$1" ;;
    kexec-s) "$KEXEC" -s -l "$1" ;;
    *) echo "unknown loader $loader"; return 2 ;;
  esac
}
unload() {
  if [ "$loader" = efikexec ]; then "$EFIKEXEC" unload; else "$KEXEC" -u; fi
}

dmesg -c >/dev/null 2>&1
load "$tampered" >/tmp/tampered.out 2>&1
rc=$?
sed 's/^/EFIKEXEC-FIRST: tampered: /' /tmp/tampered.out
say "tampered exit=$rc loaded=$(cat /sys/kernel/kexec_loaded)"
dmesg | sed -n 's/^\[[ 0-9.]*\] /EFIKEXEC-FIRST: tampered dmesg: /p' | grep -iE 'kexec|sign|pkcs|lockdown' | head -n 5
unload >/dev/null 2>&1
say "after-unload loaded=$(cat /sys/kernel/kexec_loaded)"

load "$image" >/tmp/good.out 2>&1
rc=$?
sed 's/^/EFIKEXEC-FIRST: good: /' /tmp/good.out
say "good exit=$rc loaded=$(cat /sys/kernel/kexec_loaded)"
dmesg | sed -n 's/^\[[ 0-9.]*\] /EFIKEXEC-FIRST: good dmesg: /p' | grep -iE 'kexec|sign|pkcs|lockdown' | head -n 5
if [ "$loader" = efikexec ]; then
  "$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
else
  "$KEXEC" -e 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
fi
say "exec returned"
exit 1
