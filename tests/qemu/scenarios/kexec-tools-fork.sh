#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-kexec-tools-fork.sh): kexec-tools 2.0.32 with efikexec's file
# type (integration/kexec-tools) at /bin/kexec. A bzImage still goes through kexec-tools' own
# loader; the signed UKI goes through efikexec (`kexec -l`, the default file-load attempt first),
# with --efi-db and no command line of its own (kexec-tools' --append replaces the whole line,
# as for a bzImage): `kexec -e` boots it with its .cmdline.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

/bin/kexec -h 2>&1 | grep -E '^ *efi-uki$|--efi-db' | sed 's/^ */EFIKEXEC-FIRST: help: /'
# kexec-tools' own type for a bzImage (an EFI-stub kernel is one too), then unloaded.
/bin/kexec -c -l "$FIXTURES/vmlinuz" --initrd="$FIXTURES/initrd-second.cpio.gz" \
  --append="console=ttyS0" 2>&1 | sed 's/^/EFIKEXEC-FIRST: bzimage: /'
say "bzimage loaded=$(cat /sys/kernel/kexec_loaded)"
/bin/kexec -u 2>&1 | sed 's/^/EFIKEXEC-FIRST: unload: /'
say "unloaded loaded=$(cat /sys/kernel/kexec_loaded)"
# A UKI signed by a stranger is refused before anything runs, and nothing gets loaded.
/bin/kexec -l --efi-db="$FIXTURES/keys/db.crt" "$FIXTURES/uki-other-signed.efi" 2>&1 |
  sed 's/^/EFIKEXEC-FIRST: stranger: /'
say "stranger loaded=$(cat /sys/kernel/kexec_loaded)"
/bin/kexec -l --efi-db="$FIXTURES/keys/db.crt" "$FIXTURES/uki-signed.efi" 2>&1 |
  sed 's/^/EFIKEXEC-FIRST: uki: /'
say "uki loaded=$(cat /sys/kernel/kexec_loaded)"
/bin/kexec -e 2>&1 | sed 's/^/EFIKEXEC-FIRST: exec: /'
say "exec returned"
exit 1
