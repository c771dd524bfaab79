#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: the trampoline clears the runs of zeros no kexec segment carries. The free
# memory is first filled with a pattern (a file of most of it, deleted again), so that memory
# the trampoline failed to clear would still hold it; then eft_zeros.efi (unsigned, a test
# image: --no-verify) is loaded and executed, and says on COM1 whether its zeros are zeros.
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

free_kb="$(sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
fill_kb=$((free_kb * 7 / 10))
yes ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ | head -c "$((fill_kb * 1024))" >/tmp/fill
say "filled $(($(wc -c </tmp/fill) / 1024)) of $free_kb kB free with a pattern"
rm -f /tmp/fill
"$EFIKEXEC" load --no-verify /eft/eft_zeros.efi 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "load-status=$(cat /sys/kernel/kexec_loaded)"
"$EFIKEXEC" exec 2>&1 | sed 's/^/EFIKEXEC-FIRST: /'
say "exec returned"
exit 1
