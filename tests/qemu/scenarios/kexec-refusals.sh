#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: images that must be refused are refused with the reason, and nothing is
# loaded; after a good load, a refused one leaves the good one in place, and it boots.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

DB="--db $FIXTURES/keys/db.crt"
# shellcheck disable=SC2086 # DB is two words on purpose
{
  attempt unsigned load $DB "$FIXTURES/uki.efi"
  attempt tampered load $DB "$FIXTURES/uki-tampered.efi"
  attempt other-signer load $DB "$FIXTURES/uki-other-signed.efi"
  attempt no-trust-source load "$FIXTURES/uki-signed.efi" --efivars /nonexistent
  attempt signed load $DB "$FIXTURES/uki-signed.efi"
  attempt tampered-after-good load $DB "$FIXTURES/uki-tampered.efi"
}
say "first kernel still running"
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
