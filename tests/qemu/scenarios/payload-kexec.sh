#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-payload.sh): loads /fixtures/payload/payload.efi with
# kexec_file_load and the bundle named by efikexec.bundle=NAME (under /fixtures/payload), with
# the protocol command line "efikexec.uki_size=<efikexec.uki_size> -- console=ttyS0", and
# executes it. The payload then reports on the serial console and resets the machine.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

bundle="$FIXTURES/payload/$(cmdline_arg efikexec.bundle)"
size="$(cmdline_arg efikexec.uki_size)"
say "payload bundle=$bundle uki_size=$size"
/bin/payload-kexec load "$FIXTURES/payload/payload.efi" "$bundle" \
  "efikexec.uki_size=$size -- console=ttyS0" 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "load loaded=$(cat /sys/kernel/kexec_loaded)"
# What the kernel's file loader said (bzImage64 probe, PE signature check).
dmesg | grep -E 'kexec_file|kexec-bzImage64|kexec:|PEFILE|PKCS7|signature' | head -n 8 |
  sed 's/^\[[ 0-9.]*\] /EFIKEXEC-FIRST: dmesg: /'
/bin/payload-kexec exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
