#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario for bench/segment-bytes-bench.sh (busybox sh, in the first kernel's initramfs):
# what each loader hands the kernel for the same kernel and large initrd. kexec-tools'
# `kexec -c -l -d` (kexec_load: it prints its segment list) of the fixture kernel with
# /big/initrd, then `efikexec load --dry-run` of /big/uki.efi (the same kernel and initrd in a
# signed UKI): its plan. Both outputs are dumped whole for the host to sum.
# shellcheck source=SCRIPTDIR/../tests/qemu/guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

/bin/kexec -c -l -d "$FIXTURES/vmlinuz" --initrd=/big/initrd --append="console=ttyS0 panic=-1" \
  >/tmp/kexec.out 2>&1
say "bytes kexec-c-l status=$?"
dump kexec-c-l /tmp/kexec.out
/bin/kexec -u >/dev/null 2>&1
"$EFIKEXEC" load --db "$FIXTURES/keys/db.crt" --dry-run=/tmp/plan.json /big/uki.efi \
  >/tmp/efikexec.out 2>&1
say "bytes efikexec status=$?"
dump efikexec /tmp/efikexec.out
grep -o '"[bm][ue][fm]sz_total": *[0-9]*' /tmp/plan.json | sed 's/^/EFIKEXEC-FIRST: bytes efikexec-plan /'
say "bytes done"
