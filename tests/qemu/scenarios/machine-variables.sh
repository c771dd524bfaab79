#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: the trust policy from the machine itself. The firmware's variable store has
# the test db certificate in db and the `other` certificate in dbx (make-fixtures-newer.sh,
# ovmf-secboot-vars/), so efivarfs holds real db and dbx variables; efikexec verify and
# load --dry-run run without --db and must read them from /sys/firmware/efi/efivars.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

VARS=/sys/firmware/efi/efivars
GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c
SECURITY=d719b2cb-3d3a-4596-a3bc-dad00e67656f

# variable NAME: `variable NAME size=BYTES` as efivarfs reports it, or `variable NAME absent`.
variable() {
  if [ -e "$VARS/$1" ]; then
    say "variable ${1%%-*} size=$(stat -c %s "$VARS/$1")"
  else
    say "variable ${1%%-*} absent"
  fi
}
variable "db-$SECURITY"
variable "dbx-$SECURITY"
variable "PK-$GLOBAL"
# SecureBoot: 4 attribute bytes, then 1 when the firmware enforces Secure Boot.
if [ -e "$VARS/SecureBoot-$GLOBAL" ]; then
  say "secure-boot=$(od -An -tu1 "$VARS/SecureBoot-$GLOBAL" | awk '{ print $5 }')"
fi

attempt verify-signed verify "$FIXTURES/uki-signed.efi"
attempt verify-other verify "$FIXTURES/uki-other-signed.efi"
attempt verify-signed-json verify --json "$FIXTURES/uki-signed.efi"
attempt load-signed load --dry-run=/tmp/plan.json "$FIXTURES/uki-signed.efi"
attempt load-other load --dry-run=/tmp/plan-other.json "$FIXTURES/uki-other-signed.efi"
# The Type #2 entries of an ESP directory, with this firmware's efivarfs (issue 16).
mkdir -p /tmp/esp/EFI/Linux && cp "$FIXTURES/uki-signed.efi" /tmp/esp/EFI/Linux/debian+2-1.efi
attempt list list --esp /tmp/esp
say "done"
