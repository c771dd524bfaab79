#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-kdump.sh FIXTURES WORKDIR EFIKEXEC_BIN BUILD_DIR
#   Crash kernels from a UKI (issue 15, docs/kdump.md), in an OVMF guest booted with
#   crashkernel=256M (scenarios/kdump.sh): `efikexec load -p` of the signed UKI with a kdump
#   initrd (--initrd, in place of the UKI's own) and --append; a refused crash load leaves the
#   crash kernel loaded, `unload -p` unloads it; then a marker in the first kernel's memory and
#   `echo c > /proc/sysrq-trigger`. The crash kernel must boot from the UKI with the UKI's
#   .cmdline, elfcorehdr= and the appended words, run the kdump initrd's /init
#   (guest/kdump-init.sh) within the reservation, and find in /proc/vmcore an ELF core whose
#   PT_LOADs cover the first kernel's System RAM outside the reservation, with the marker at the
#   physical address the first kernel gave, the CPU's registers and VMCOREINFO.
#   The same guest twice more, side by side: kexec-tools 2.0.32's own `kexec -p` of the UKI
#   (bench/build-kexec-tools.sh) and `kexec -p` of the kexec-tools fork with efikexec's file type
#   (integration/kexec-tools/build-fork.sh, BUILD_DIR's libefikexec.a): each crash kernel must
#   produce the same vmcore; the notes say what each got (command line, initrd, memory, whether
#   the UKI's signature was checked).
#   Then `efikexec load -p` of today's UKIs as crash kernels: systemd-stub 257 with Linux 6.12 and
#   262 with Linux 7.2 (make-fixtures-newer.sh), each with the same vmcore checks.
#   Logs: WORKDIR/kdump.log, WORKDIR/kdump-kexec-tools.log, WORKDIR/kdump-fork.log,
#   WORKDIR/kdump-257-6.12.log, WORKDIR/kdump-262-7.2.log.
set -euo pipefail
TEST_NAME=test-kdump
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"
[[ $# -eq 4 ]] || { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN BUILD_DIR" >&2; exit 2; }
FIX="$(realpath -m -- "$1")"
WORK="$(realpath -m -- "$2")"
BIN="$3"
BUILD="$(realpath -- "$4")"
require_fixture "$FIX"/{vmlinuz,uki-signed.efi,uki-other-signed.efi,keys/db.crt,initrd-second.cpio.gz}
mkdir -p "$WORK"

cc -O2 -static -o "$WORK/vmcore-check" "$QEMU_DIR/guest/vmcore-check.c" ||
  { note "vmcore-check (tests/qemu/guest/vmcore-check.c) could not be built"; exit 1; }
# The kdump initrd: the fixtures' second initrd (busybox) with this test's /init over it.
tree="$WORK/kdump-initrd"
rm -rf "$tree"
mkdir -p "$tree/bin"
cp "$QEMU_DIR/guest/kdump-init.sh" "$tree/init"
cp "$WORK/vmcore-check" "$tree/bin/vmcore-check"
(cd "$tree" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  cpio --null -o -H newc -R 0:0 --quiet) | gzip -1n >"$WORK/kdump-overlay.cpio.gz"
cat "$FIX/initrd-second.cpio.gz" "$WORK/kdump-overlay.cpio.gz" >"$WORK/kdump.cpio.gz"

OVMF="$WORK/ovmf"
system_ovmf "$OVMF"
kexec_tools="$("$QEMU_DIR/../../bench/build-kexec-tools.sh" "$BUILD/kexec-tools" forky | tail -n1)" ||
  { note "kexec-tools could not be built (bench/build-kexec-tools.sh)"; exit 1; }
fork="$("$QEMU_DIR/../../integration/kexec-tools/build-fork.sh" "$BUILD" "$BUILD/kexec-tools-fork" |
  tail -n1)" || { note "the kexec-tools fork could not be built"; exit 1; }
NEW="${EFIKEXEC_NEWER_FIXTURES:-$FIX/newer}"
"$QEMU_DIR/../fixtures/make-fixtures-newer.sh" "$NEW" "$FIX" >&2 ||
  { note "the newer fixtures could not be made"; exit 1; }

# coverage LOG [LOW]: the vmcore's PT_LOADs (but the kernel text's) are exactly the first
# kernel's System RAM minus the reservation (and minus the first MiB with LOW=without-low-1m:
# kexec_file_load's headers leave it out); the crash kernel's own RAM lies inside the
# reservation (and below 640 KiB).
coverage() {
  tr -d '\r' <"$1" | LOW="${2:-}" python3 -c '
import os, re, sys
text = sys.stdin.read()
def spans(tag):
    return [(int(a, 16), int(b, 16) + 1) for a, b in re.findall(r"^" + tag + r" ([0-9a-f]+)-([0-9a-f]+)$", text, re.M)]
ram = spans("EFIKEXEC-FIRST: ram")
m = re.search(r"^EFIKEXEC-FIRST: reservation ([0-9a-f]+)-([0-9a-f]+):", text, re.M)
res = (int(m.group(1), 16), int(m.group(2), 16) + 1)
loads = sorted((int(a, 16), int(b, 16)) for a, b in re.findall(r"^EFIKEXEC-KDUMP: vmcore: load 0x([0-9a-f]+)-0x([0-9a-f]+)$", text, re.M))
# The kernel text PT_LOAD maps part of RAM a second time (at the kernel text addresses).
loads = [l for l in loads if not any(o != l and o[0] <= l[0] and l[1] <= o[1] for o in loads)]
want = []
if os.environ["LOW"] == "without-low-1m":
    ram = [(max(s, 1 << 20), e) for s, e in ram if e > 1 << 20]
for s, e in ram:
    for piece in ((s, min(e, res[0])), (max(s, res[1]), e)):
        if piece[0] < piece[1]: want.append(piece)
def merge(ranges):
    out = []
    for s, e in sorted(ranges):
        if out and out[-1][1] == s: out[-1] = (out[-1][0], e)
        else: out.append((s, e))
    return out
print("first kernel RAM outside the reservation: %d ranges, %d MiB; vmcore PT_LOADs: %d ranges, %d MiB" % (len(want), sum(e - s for s, e in want) >> 20, len(loads), sum(e - s for s, e in loads) >> 20), file=sys.stderr)
crash_ram = spans("EFIKEXEC-KDUMP: ram")
outside = [(s, e) for s, e in crash_ram if not (res[0] <= s and e <= res[1]) and not e <= 640 * 1024]
print("crash kernel RAM: %s" % ", ".join("%#x-%#x" % r for r in crash_ram), file=sys.stderr)
sys.exit(0 if want and merge(loads) == merge(want) and crash_ram and not outside else 1)
'
}

# crash_boot LOADER NAME [UKI]: the guest with LOADER (efikexec, efikexec-once, kexec-tools or
# fork; scenarios/kdump.sh) and UKI (default the fixtures' uki-signed.efi) up to the crash
# kernel's end. Log: WORK/NAME.log.
crash_boot() {
  overlay_begin "$2"
  if [[ -n "${3:-}" ]]; then
    overlay_add "$2" "fixtures/$(basename "$3")" "$3"
    basename "$3" >"$WORK/uki"
    overlay_add "$2" etc/kdump-uki "$WORK/uki"
  fi
  overlay_add "$2" bin/vmcore-check "$WORK/vmcore-check"
  overlay_add "$2" fixtures/kdump.cpio.gz "$WORK/kdump.cpio.gz"
  printf '%s\n' "$1" >"$WORK/loader"
  overlay_add "$2" etc/kdump-loader "$WORK/loader"
  case "$1" in
    kexec-tools) overlay_add "$2" bin/kexec "$kexec_tools" ;;
    fork) overlay_add "$2" bin/kexec "$fork" ;;
  esac
  OVERLAY_UNTIL='^EFIKEXEC-KDUMP: done|^EFIKEXEC-FIRST: crash returned|^EFIKEXEC-FIRST: scenario-exit' \
    overlay_boot "$2" "$QEMU_DIR/scenarios/kdump.sh" "$FIX/vmlinuz" "$OVMF" \
    "console=ttyS0 quiet loglevel=4 crashkernel=256M"
}

# check_vmcore WHO LOG [LOW]: the crash kernel ran the kdump initrd and its vmcore is complete
# (LOW: see coverage).
check_vmcore() {
  check "$1: the crash kernel runs the kdump initrd and finds /proc/vmcore" \
    "$QEMU_DIR/expect.sh" "$2" '^EFIKEXEC-FIRST: crash-loaded=1 loaded=0$' \
    '^EFIKEXEC-KDUMP: up$' '^EFIKEXEC-KDUMP: initrd=kdump$' '^EFIKEXEC-KDUMP: vmcore=yes$' \
    '!^EFIKEXEC-FIRST: crash returned'
  check "$1: /proc/vmcore is an ELF core with the CPU's registers, VMCOREINFO and the marker" \
    "$QEMU_DIR/expect.sh" "$2" '^EFIKEXEC-KDUMP: vmcore: type=core machine=62 ' \
    '^EFIKEXEC-KDUMP: vmcore: loads=[1-9][0-9]* bytes=[0-9]+ prstatus=[1-9][0-9]* vmcoreinfo=yes$' \
    '^EFIKEXEC-KDUMP: vmcore: marker at 0x[0-9a-f]+ found$'
  check "$1: the PT_LOADs cover the first kernel's RAM; the crash kernel's RAM is the reservation" \
    coverage "$2" "${3:-}"
}

# got WHO LOG: what the crash kernel got, for the notes.
got() {
  local line mem initrd
  line="$(tr -d '\r' <"$2" | sed -n 's/^EFIKEXEC-KDUMP: cmdline=//p' | head -n1)"
  mem="$(tr -d '\r' <"$2" | sed -n 's/^EFIKEXEC-KDUMP: memtotal=//p' | head -n1)"
  initrd="$(tr -d '\r' <"$2" | sed -n 's/^EFIKEXEC-KDUMP: initrd=//p' | head -n1)"
  note "$1: crash kernel command line: ${line:-?}; MemTotal ${mem:-?}; initrd ${initrd:-?}; $3"
}

LOG="$WORK/kdump.log"
check "efikexec: guest ran" crash_boot efikexec kdump
check "efikexec load -p loaded the signed UKI as the crash kernel" "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: reservation [0-9a-f]+-[0-9a-f]+:Crashkernel' \
  '^EFIKEXEC-FIRST: load: efikexec: verified ' \
  '^EFIKEXEC-FIRST: load: efikexec: crash kernel in the 256.0 MiB reservation' \
  '^EFIKEXEC-FIRST: load: efikexec: the crash kernel.s command line: elfcorehdr=0x[0-9a-f]+ console=ttyS0 efikexec\.uki=1 panic=-1 efikexec\.marker=' \
  '^EFIKEXEC-FIRST: load: efikexec: loaded as the crash kernel' \
  '^EFIKEXEC-FIRST: first crash-loaded=1 loaded=0$'
check "a refused crash load leaves the crash kernel loaded; unload -p unloads it" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-FIRST: stranger: efikexec: .*(not trusted|unknown signer|no chain)' \
  '^EFIKEXEC-FIRST: stranger crash-loaded=1$' '^EFIKEXEC-FIRST: unloaded crash-loaded=0$'
check "the crash kernel boots from the UKI with its .cmdline, elfcorehdr= and --append" \
  "$QEMU_DIR/expect.sh" "$LOG" \
  '^EFIKEXEC-KDUMP: cmdline=elfcorehdr=0x[0-9a-f]+ console=ttyS0 efikexec\.uki=1 panic=-1 efikexec\.marker=0x[0-9a-f]+ efikexec\.nonce=[0-9a-f]+ irqpoll nr_cpus=1 reset_devices$' \
  '^EFIKEXEC-KDUMP: acpi=yes$'
check_vmcore efikexec "$LOG"
got "efikexec load -p" "$LOG" "the UKI's signature checked against db before anything of it ran"

KT_LOG="$WORK/kdump-kexec-tools.log"
check "kexec-tools: guest ran" crash_boot kexec-tools kdump-kexec-tools
# kexec-tools 2.0.32 tries kexec_file_load first: the kernel builds the core headers, and leaves
# the first MiB (reserved by the first kernel since 5.13) out of the dump.
check_vmcore "kexec-tools 2.0.32 kexec -p" "$KT_LOG" without-low-1m
got "kexec-tools 2.0.32 kexec -p" "$KT_LOG" "no signature over the UKI checked (it is split; .cmdline unused)"

FORK_LOG="$WORK/kdump-fork.log"
check "fork: guest ran" crash_boot fork kdump-fork
check "the fork's kexec -p loads the UKI through efikexec" "$QEMU_DIR/expect.sh" "$FORK_LOG" \
  '^EFIKEXEC-KDUMP: cmdline=elfcorehdr=0x[0-9a-f]+ console=ttyS0 efikexec\.marker=0x[0-9a-f]+ efikexec\.nonce=[0-9a-f]+ irqpoll nr_cpus=1 reset_devices$'
check_vmcore "fork kexec -p" "$FORK_LOG"
got "fork kexec -p" "$FORK_LOG" "the UKI's signature checked against db by efikexec"

for u in 257-6.12 262-7.2; do
  log="$WORK/kdump-$u.log"
  check "$u: guest ran" crash_boot efikexec-once "kdump-$u" "$NEW/uki-$u-signed.efi"
  check "$u: the crash kernel boots from the UKI with its .cmdline, elfcorehdr= and --append" \
    "$QEMU_DIR/expect.sh" "$log" \
    "^EFIKEXEC-KDUMP: cmdline=elfcorehdr=0x[0-9a-f]+ console=ttyS0 efikexec\\.uki=$u panic=-1 efikexec\\.marker=0x[0-9a-f]+ efikexec\\.nonce=[0-9a-f]+ irqpoll nr_cpus=1 reset_devices\$"
  check_vmcore "efikexec load -p ($u)" "$log"
  got "efikexec load -p ($u)" "$log" "the UKI's signature checked against db"
done
summary
