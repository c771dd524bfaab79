#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario (tests/qemu/test-payload-cli.sh): efikexec itself on a first kernel in lockdown
# under Secure Boot, the signed payload installed where efikexec looks for it.
#  efikexec.payload_cli=exec: UKIs signed by a stranger and tampered with are refused before any
#    kexec; the signed UKI is loaded (no --handoff: lockdown chooses the payload), then executed.
#  efikexec.payload_cli=bypass: the tampered UKI with --no-verify: user space lets it through,
#    the payload's own check refuses it after the kexec and resets the machine.
#  efikexec.payload_cli=bypass-stranger: the same with the UKI a stranger signed.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

say "lockdown=$(cat /sys/kernel/security/lockdown 2>&1)"
say "memtotal_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
case "$(cmdline_arg efikexec.payload_cli)" in
  exec)
    attempt stranger load "$FIXTURES/payload/uki-stranger.efi"
    attempt tampered load "$FIXTURES/uki-tampered.efi"
    attempt dry load --dry-run=- --json "$FIXTURES/uki-signed.efi"
    attempt signed load --timings "$FIXTURES/uki-signed.efi"
    ;;
  bypass)
    attempt bypass load --no-verify "$FIXTURES/uki-tampered.efi"
    ;;
  bypass-stranger)
    attempt bypass load --no-verify "$FIXTURES/payload/uki-stranger.efi"
    ;;
  *) say "no efikexec.payload_cli=exec|bypass|bypass-stranger on the command line" ;;
esac
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: exec: /'
say "exec returned"
exit 1
