#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-payload.sh), under Secure Boot with the test db enrolled and the
# first kernel locked down: kexec_file_load refuses the unsigned payload and accepts the one
# signed with the db key (the kernel trusts it through the platform keyring, UEFI db); the
# signed one is executed with the bundle of efikexec.bundle=NAME (under /fixtures/payload).
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

bundle="$FIXTURES/payload/$(cmdline_arg efikexec.bundle)"
size="$(cmdline_arg efikexec.uki_size)"
say "lockdown=$(cat /sys/kernel/security/lockdown 2>&1)"
/bin/payload-kexec load "$FIXTURES/payload/unsigned.efi" "$bundle" \
  "efikexec.uki_size=$size -- console=ttyS0" 2>&1 | sed 's/^/EFIKEXEC-FIRST: unsigned: /'
say "unsigned loaded=$(cat /sys/kernel/kexec_loaded)"
/bin/payload-kexec load "$FIXTURES/payload/payload.efi" "$bundle" \
  "efikexec.uki_size=$size -- console=ttyS0" 2>&1 | sed 's/^/EFIKEXEC-FIRST: signed: /'
say "signed loaded=$(cat /sys/kernel/kexec_loaded)"
dmesg | grep -E 'kexec_file|kexec-bzImage64|PEFILE|PKCS7|UEFI:db' | head -n 8 |
  sed 's/^\[[ 0-9.]*\] /EFIKEXEC-FIRST: dmesg: /'
/bin/payload-kexec exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
