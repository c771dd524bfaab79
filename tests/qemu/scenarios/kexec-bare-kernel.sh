#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: a bare EFI-stub kernel (signed with the test key) with an external initrd and
# an appended command line, loaded and booted through efikexec.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

"$EFIKEXEC" load --db "$FIXTURES/keys/db.crt" --initrd "$FIXTURES/initrd-second.cpio.gz" \
  --append "console=ttyS0 panic=-1 efikexec.bare=1" "$FIXTURES/vmlinuz-signed.efi" 2>&1 |
  sed 's/^/EFIKEXEC-FIRST: /'
say "load-status=$(cat /sys/kernel/kexec_loaded)"
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
