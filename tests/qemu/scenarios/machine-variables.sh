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

# The kernel's lockdown mode: under Secure Boot Debian's kernels lock down [integrity].
say "lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null || echo absent)"

attempt verify-signed verify "$FIXTURES/uki-signed.efi"
attempt verify-other verify "$FIXTURES/uki-other-signed.efi"
attempt verify-signed-json verify --json "$FIXTURES/uki-signed.efi"
# The trust policy's part of load is the same on both handoffs; the trampoline's dry run is the
# one that runs the image. Without --handoff, a kernel in lockdown and no payload installed: the
# load is refused before anything runs.
attempt load-signed load --handoff trampoline --dry-run=/tmp/plan.json "$FIXTURES/uki-signed.efi"
attempt load-other load --handoff trampoline --dry-run=/tmp/plan-other.json "$FIXTURES/uki-other-signed.efi"
attempt load-auto load --dry-run=/tmp/plan-auto.json "$FIXTURES/uki-signed.efi"
# The payload handoff's system calls on a kernel in lockdown, with a stand-in for the payload:
# a PE that is also a bzImage, signed by the db certificate (the kernel's platform keyring).
# kexec_file_load must accept it with the UKI in its bundle; unload must go through
# KEXEC_FILE_UNLOAD (kexec_load is refused). Nothing is executed.
attempt payload-dry load --payload "$FIXTURES/vmlinuz-signed.efi" --dry-run=- --json "$FIXTURES/uki-signed.efi"
attempt payload-load load --payload "$FIXTURES/vmlinuz-signed.efi" --append "quiet" "$FIXTURES/uki-signed.efi"
# The same stand-in without its signature (the certificate table's directory entry zeroed):
# the kernel refuses it, and the image loaded before stays loaded.
pe=$(od -An -tu4 -j60 -N4 "$FIXTURES/vmlinuz-signed.efi" | tr -d ' ')
cp "$FIXTURES/vmlinuz-signed.efi" /tmp/payload-unsigned.efi
dd if=/dev/zero of=/tmp/payload-unsigned.efi bs=1 seek=$((pe + 24 + 112 + 4 * 8)) count=8 \
  conv=notrunc 2>/dev/null
attempt payload-unsigned load --payload /tmp/payload-unsigned.efi "$FIXTURES/uki-signed.efi"
attempt payload-unload unload
# The Type #2 entries of an ESP directory, with this firmware's efivarfs (issue 16).
mkdir -p /tmp/esp/EFI/Linux && cp "$FIXTURES/uki-signed.efi" /tmp/esp/EFI/Linux/debian+2-1.efi
attempt list list --esp /tmp/esp
say "done"
