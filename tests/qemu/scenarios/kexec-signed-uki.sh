#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: load the signed UKI with efikexec (db = the test certificate) and kexec into
# it. The second kernel's init reports what it got (EFIKEXEC-SECOND: lines).
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

"$EFIKEXEC" load --db "$FIXTURES/keys/db.crt" "$FIXTURES/uki-signed.efi" 2>&1 |
  sed 's/^/EFIKEXEC-FIRST: /'
say "load-status=$(cat /sys/kernel/kexec_loaded)"
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
