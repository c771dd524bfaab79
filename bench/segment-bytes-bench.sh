#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# segment-bytes-bench.sh [BUILD_DIR [FIXTURES]]
#
# What each loader hands the next kernel for a UKI with a large initrd, measured in one QEMU/OVMF
# guest (q35 TCG, 3 GiB, the fixture kernel as the first kernel; bench/guest-segment-bytes.sh):
#   - kexec-tools' `kexec -c -l` (kexec_load, whose segment list `-d` prints) of the fixture
#     kernel with an initrd of INITRD_MIB (default 96) MiB of random bytes;
#   - `efikexec load --dry-run` of a UKI made here from systemd-stub 262 (the newer fixtures),
#     the same kernel and the same initrd, signed with the fixtures' db key: its plan.
# Prints each loader's bytes copied (bufsz) and memory reserved (memsz), against the kernel's
# init_size + the initrd, and the runs of zeros efikexec carries in no segment (its trampoline
# clears them at exec). kexec-tools is built static from Debian's source package
# (bench/build-kexec-tools.sh). A benchmark, not a test: it exits 0 once it measured.
set -euo pipefail
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
root="$(dirname -- "$here")"
build="$(realpath -- "${1:-build}")"
fixtures="$(realpath -m -- "${2:-${EFIKEXEC_FIXTURES:-$build/fixtures}}")"
new="${EFIKEXEC_NEWER_FIXTURES:-$fixtures/newer}"
initrd_mib="${INITRD_MIB:-96}"
static="$build/efikexec-static"

die() { echo "segment-bytes-bench: $*" >&2; exit 2; }
[[ -x "$static" ]] || die "no $static (configure with EFIKEXEC_STATIC_CLI=ON)"
for f in "$fixtures"/{vmlinuz,keys/db.crt,keys/db.key} "$new"/{stub-262.efi.stub,os-release}; do
  [[ -f "$f" ]] || die "no $f (tests/fixtures/make-fixtures.sh, make-fixtures-newer.sh)"
done
for cmd in qemu-system-x86_64 busybox cpio gzip sbsign objcopy; do
  command -v "$cmd" >/dev/null || die "$cmd not found"
done
kexec="$("$here/build-kexec-tools.sh" "$build/kexec-tools" | tail -n1)" ||
  die "kexec-tools could not be built (bench/build-kexec-tools.sh)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The initrd: one cpio archive with a file of random bytes (nothing compresses it).
mkdir -p "$work/ballast" "$work/extra/big" "$work/extra/bin"
head -c $((initrd_mib << 20)) /dev/urandom >"$work/ballast/ballast"
(cd "$work/ballast" && echo ballast | cpio -o -H newc -R 0:0 --quiet) >"$work/extra/big/initrd"
rm -f "$work/ballast/ballast"
initrd_bytes=$(stat -c %s "$work/extra/big/initrd")
printf 'console=ttyS0 panic=-1' >"$work/cmdline"
"$root/tests/fixtures/objcopy-uki.sh" "$work/uki.efi" "$new/stub-262.efi.stub" \
  ".osrel=$new/os-release" ".cmdline=$work/cmdline" ".initrd=$work/extra/big/initrd" \
  ".linux=$fixtures/vmlinuz"
sbsign --key "$fixtures/keys/db.key" --cert "$fixtures/keys/db.crt" \
  --output "$work/extra/big/uki.efi" "$work/uki.efi" >/dev/null 2>&1 || die "sbsign failed"
rm -f "$work/uki.efi"
cp "$kexec" "$work/extra/bin/kexec"

# The first kernel's initramfs with /bin/kexec and /big appended as a second cpio archive.
initrd="$("$root/tests/qemu/make-guest-initrd.sh" "$work/guest" "$fixtures" "$static" \
  "$here/guest-segment-bytes.sh" | tail -n1)"
(cd "$work/extra" && find bin big | cpio -o -H newc -R 0:0 --quiet | gzip -1) >>"$initrd"
rm -rf "$work/extra"
"$root/tests/qemu/run-guest.sh" --bios ovmf --mem 3G --smp 1 --timeout "${GUEST_TIMEOUT:-1800}" \
  --until '^EFIKEXEC-FIRST: bytes done|Kernel panic' --kernel "$fixtures/vmlinuz" \
  --initrd "$initrd" --append "console=ttyS0 quiet loglevel=4 panic=-1" \
  --log "$work/guest.log" >/dev/null || die "the guest did not finish"
tr -d '\r' <"$work/guest.log" >"$work/guest.txt"
grep -q '^EFIKEXEC-FIRST: bytes kexec-c-l status=0$' "$work/guest.txt" &&
  grep -q '^EFIKEXEC-FIRST: bytes efikexec status=0$' "$work/guest.txt" || {
  grep -E '^EFIKEXEC-(FIRST|DUMP)' "$work/guest.txt" | tail -40 >&2
  die "a load failed in the guest"
}

# kexec -d: "segment[N].bufsz = 0x..." and "segment[N].memsz = 0x...".
sum_field() {
  local total=0 value
  while read -r value; do total=$((total + value)); done < <(
    sed -n "s/^EFIKEXEC-DUMP kexec-c-l: segment\[[0-9]*\]\.$1 *= *\(0x[0-9a-f]*\)$/\1/p" \
      "$work/guest.txt")
  echo "$total"
}
kexec_bufsz=$(sum_field bufsz)
kexec_memsz=$(sum_field memsz)
kexec_segments=$(grep -c '^EFIKEXEC-DUMP kexec-c-l: segment\[[0-9]*\]\.bufsz' "$work/guest.txt")
plan_field() { sed -n "s/^EFIKEXEC-FIRST: bytes efikexec-plan \"$1_total\": *\([0-9]*\)$/\1/p" "$work/guest.txt"; }
efikexec_bufsz=$(plan_field bufsz)
efikexec_memsz=$(plan_field memsz)
efikexec_segments=$(sed -n 's/^EFIKEXEC-DUMP efikexec: efikexec: \([0-9]*\) segments,.*/\1/p' "$work/guest.txt")
left_out=$(sed -n 's/^EFIKEXEC-DUMP efikexec: efikexec: left out, .*: \(.*\)$/\1/p' "$work/guest.txt")
cleared=$(sed -n 's/^EFIKEXEC-DUMP efikexec: efikexec: zeros in no segment, .*: \(.*\)$/\1/p' "$work/guest.txt")
init_size=$((16#$(od -An -tx4 -j $((0x260)) -N4 "$fixtures/vmlinuz" | tr -d ' ')))

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
base=$((init_size + initrd_bytes))
echo "guest: QEMU q35 TCG, OVMF, 3 GiB; $(basename "$kexec") $("$kexec" --version 2>&1)"
echo "kernel init_size $(mib "$init_size") MiB, initrd $(mib "$initrd_bytes") MiB: $(mib "$base") MiB"
printf '%-28s %9s %12s %12s %18s\n' loader segments "bufsz MiB" "memsz MiB" "memsz / (init+rd)"
printf '%-28s %9s %12s %12s %18s\n' "kexec -c -l" "$kexec_segments" "$(mib "$kexec_bufsz")" \
  "$(mib "$kexec_memsz")" "$(ratio "$kexec_memsz" "$base")x"
printf '%-28s %9s %12s %12s %18s\n' "efikexec load (UKI)" "${efikexec_segments:-?}" \
  "$(mib "${efikexec_bufsz:-0}")" "$(mib "${efikexec_memsz:-0}")" \
  "$(ratio "${efikexec_memsz:-0}" "$base")x"
echo "efikexec left out: ${left_out:-nothing}"
echo "efikexec zeros in no segment, cleared by the trampoline at exec: ${cleared:-none}"
echo "target: efikexec's segment bytes <= 1.1 x (init_size + initrd + tables)"
