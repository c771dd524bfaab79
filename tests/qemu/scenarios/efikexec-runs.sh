#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: the static efikexec binary runs in the first kernel's initramfs (no libc, no
# /etc, busybox only) and reads the fixtures there. No kexec. Exit 0 when every call did.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

if [ -z "$EFIKEXEC" ]; then
  say "efikexec=absent"
  exit 1
fi
status=0
dump version "$EFIKEXEC" --version || status=1
"$EFIKEXEC" --version >/dev/null 2>&1 || status=1
for f in uki-signed.efi uki-tampered.efi vmlinuz; do
  dump "inspect $f" "$EFIKEXEC" inspect "$FIXTURES/$f"
  "$EFIKEXEC" inspect "$FIXTURES/$f" >/dev/null 2>&1
  rc=$?
  say "inspect $f exit=$rc"
  [ $rc -eq 0 ] || status=1
done
exit $status
