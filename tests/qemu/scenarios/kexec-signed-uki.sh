#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: load the signed UKI with efikexec (db = the test certificate) and kexec into
# it. The second kernel's init reports what it got (EFIKEXEC-SECOND: lines).
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

# Linux lists la57 only while it runs with 5-level paging: the trampoline must then use its PML5.
if grep -q ' la57' /proc/cpuinfo; then say "first kernel paging=5-level"; else say "first kernel paging=4-level"; fi
"$EFIKEXEC" load --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-signed.efi" 2>&1 |
  sed 's/^/EFIKEXEC-FIRST: /'
say "load-status=$(cat /sys/kernel/kexec_loaded)"
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
