#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# downtime-bench.sh [BUILD_DIR [FIXTURES]]
#
# Downtime: from `exec` in the first kernel to the second kernel's /init, for each loader of the
# same kernel, initrd and command line, in one run on one QEMU/OVMF guest configuration (q35,
# TCG, 1 GiB, 1 CPU, no Secure Boot, the first kernel is the fixtures' Debian kernel):
#   efikexec           `efikexec load` of the signed fixture UKI: the trampoline (kexec_load)
#   efikexec-nokaslr   the same, the command line given as load options with nokaslr added:
#                      the kernel where the EFI stub puts it without KASLR
#   efikexec-tmpfs     the trampoline path, efikexec run from a copy on a tmpfs of its own that
#                      is removed before the exec: what the initramfs pages the binary ran from
#                      cost the next kernel under QEMU's TCG (docs/performance.md)
#   efikexec-payload   `efikexec load --handoff payload`: kexec_file_load of the signed payload
#                      (linked with the fixture db built in, signed with the db key), which
#                      verifies the UKI and runs it after the kexec
#   kexec-l            kexec-tools' `kexec -l` of the UKI's kernel and initrd
#   kexec-c-l          kexec-tools' `kexec -c -l` (kexec_load with its purgatory)
# ROUNDS (default 3) rounds, the loaders alternating within each round (LOADERS: a subset, in
# the order to run them); one guest boot per measurement. The times are the host's:
# run-guest.sh --stamps notes when each serial line arrived, and the downtime is
# `EFIKEXEC-SECOND: up` minus `EFIKEXEC-FIRST: bench exec`.
# Also from `bench exec` to the first line of the code the old kernel jumps to (efikexec's
# trampoline with --serial-mark, the payload's entry, kexec-tools' purgatory with
# --console-serial; none for kexec -l, whose in-kernel purgatory prints nothing): the old
# kernel's shutdown and its copy of the segments.
# Also the load itself, from the line before it to the line after it (the same host clock), and
# load + downtime of each boot: what a reboot through the loader costs from the moment it starts.
# Prints each loader's median and its ratio to kexec-tools' (the targets: efikexec's downtime
# <= 0.5x kexec -l's; its load + downtime <= kexec-tools'), and the payload's own verification
# time (its serial line). kexec-tools is built
# static from Debian's source package by bench/build-kexec-tools.sh. A benchmark, not a test.
set -euo pipefail
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
root="$(dirname -- "$here")"
build="$(realpath -- "${1:-build}")"
fixtures="$(realpath -m -- "${2:-${EFIKEXEC_FIXTURES:-$build/fixtures}}")"
rounds="${ROUNDS:-3}"
read -r -a loaders <<<"${LOADERS:-efikexec efikexec-nokaslr efikexec-tmpfs efikexec-payload kexec-l kexec-c-l}"
work="$build/bench-downtime"

die() { echo "downtime-bench: $*" >&2; exit 2; }
for cmd in qemu-system-x86_64 busybox cpio gzip sbsign awk; do
  command -v "$cmd" >/dev/null || die "$cmd not found"
done
static="$build/efikexec-static"
[[ -x "$static" ]] || die "no $static (configure with EFIKEXEC_STATIC_CLI=ON)"
for f in vmlinuz uki-signed.efi initrd-second.cpio.gz keys/db.crt keys/db.key; do
  [[ -f "$fixtures/$f" ]] || die "no $fixtures/$f (tests/fixtures/make-fixtures.sh)"
done
archives=()
for a in efikexec_payload_objects efikexec_payload_run efikexec_core_freestanding \
         efikexec_bearssl_freestanding; do
  [[ -f "$build/lib$a.a" ]] || die "no $build/lib$a.a (a build with EFIKEXEC_PAYLOAD=ON)"
  archives+=("$build/lib$a.a")
done
cc="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
kexec="$("$here/build-kexec-tools.sh" "$build/kexec-tools" | tail -n1)" ||
  die "kexec-tools could not be built (bench/build-kexec-tools.sh)"
rm -rf "$work"
mkdir -p "$work/extra/bin" "$work/extra/bench"

# shellcheck source=SCRIPTDIR/../tests/qemu/lib.sh
TEST_NAME=downtime-bench . "$root/tests/qemu/lib.sh"
# shellcheck source=SCRIPTDIR/../tests/qemu/payload-lib.sh
. "$root/tests/qemu/payload-lib.sh"
link_signed_payload "$work/payload.efi" "$work/extra/bench/payload.efi" "$fixtures/keys/db.crt" \
  "$fixtures/keys/db.key" "$root/arch/x86_64/payload/link-payload.sh" "$cc" "${archives[@]}" ||
  die "the payload could not be linked and signed"

# The first kernel's initramfs with kexec-tools and the payload appended as a second archive.
initrd="$("$root/tests/qemu/make-guest-initrd.sh" "$work/guest" "$fixtures" "$static" \
  "$here/guest-downtime-bench.sh" | tail -n1)"
cp "$kexec" "$work/extra/bin/kexec"
(cd "$work/extra" && printf 'bin\nbin/kexec\nbench\nbench/payload.efi\n' |
  cpio -o -H newc --quiet | gzip -1) >>"$initrd"

echo "guest: QEMU q35 TCG, OVMF, 1 GiB, 1 CPU; $(basename "$kexec") $("$kexec" --version 2>&1)"
echo "$rounds rounds of: ${loaders[*]}"
declare -A downtimes verify_us entered loads totals
for round in $(seq 1 "$rounds"); do
  for loader in "${loaders[@]}"; do
    log="$work/$loader-$round.log"
    stamps="$work/$loader-$round.stamps"
    "$root/tests/qemu/run-guest.sh" --bios ovmf --mem 1G --smp 1 \
      --timeout "${GUEST_TIMEOUT:-900}" \
      --until '^EFIKEXEC-SECOND: up|^EFIKEXEC-FIRST: exec returned|Kernel panic|EFIKEXEC-DUMP' \
      --kernel "$fixtures/vmlinuz" --initrd "$initrd" \
      --append "console=ttyS0 quiet loglevel=4 panic=-1 efikexec.bench_loader=$loader" \
      --log "$log" --stamps "$stamps" >/dev/null 2>&1 || true
    # awk reads the files itself: one that stops early at the end of a pipe would kill the
    # writer with SIGPIPE, and pipefail would end the benchmark.
    ms="$(awk '{ sub(/\r$/, "") }
      / EFIKEXEC-FIRST: bench exec$/ { exec_at = $1 }
      / EFIKEXEC-SECOND: up/ { if (exec_at) { printf "%.0f\n", ($1 - exec_at) / 1000; exit } }' "$stamps")"
    if [[ -z "$ms" ]]; then
      echo "round $round $loader: no downtime measured (log: $log)"
      continue
    fi
    downtimes[$loader]+="$ms "
    load="$(awk '{ sub(/\r$/, "") }
      / EFIKEXEC-FIRST: bench load-start$/ { start = $1 }
      / EFIKEXEC-FIRST: bench load .* status=0/ { if (start) { printf "%.0f\n", ($1 - start) / 1000; exit } }' "$stamps")"
    if [[ -n "$load" ]]; then
      loads[$loader]+="$load "
      totals[$loader]+="$((load + ms)) "
    fi
    first="$(awk '{ sub(/\r$/, "") }
      / EFIKEXEC-FIRST: bench exec$/ { exec_at = $1 }
      exec_at && (/ EFIKEXEC-TRAMPOLINE: entered$/ || / EFIKEXEC-PAYLOAD: entry at / ||
                  / I.m in purgatory/) { printf "%.0f\n", ($1 - exec_at) / 1000; exit }' "$stamps")"
    [[ -z "$first" ]] || entered[$loader]+="$first "
    us="$(tr -d '\r' <"$log" | sed -n 's/^EFIKEXEC-PAYLOAD: verification took \([0-9]*\) us.*/\1/p')"
    [[ -z "$us" ]] || verify_us[$loader]+="$us "
    echo "round $round $loader: load ${load:-?} ms, downtime ${ms} ms${first:+, next code entered after ${first} ms}${us:+ (payload verification $((us / 1000)) ms)}"
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -n |
  awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'; }
echo
printf '%-58s %10s\n' "downtime: exec to the second kernel's /init (median)" "ms"
declare -A m
for loader in "${loaders[@]}"; do
  m[$loader]="$(median <<<"${downtimes[$loader]:-}")"
  printf '%-58s %10s\n' "$loader" "${m[$loader]}"
done
printf '%-58s %10s\n' "load: the loader's command (median)" "ms"
declare -A t
for loader in "${loaders[@]}"; do
  printf '%-58s %10s\n' "$loader" "$(median <<<"${loads[$loader]:-}")"
done
printf '%-58s %10s\n' "load + downtime, each boot's sum (median)" "ms"
for loader in "${loaders[@]}"; do
  t[$loader]="$(median <<<"${totals[$loader]:-}")"
  printf '%-58s %10s\n' "$loader" "${t[$loader]}"
done
printf '%-58s %10s\n' "exec to the first line of the next code (median)" "ms"
for loader in "${loaders[@]}"; do
  printf '%-58s %10s\n' "$loader" "$(median <<<"${entered[$loader]:-}")"
done
printf '%-58s %10s\n' "payload: verification of the UKI on bare metal (median)" \
  "$(awk -v us="$(median <<<"${verify_us[efikexec-payload]:-}")" 'BEGIN { printf "%.0f", us / 1000 }')"
# ratios WHAT LIMIT MEDIANS: each efikexec path's median against kexec-tools' (MEDIANS names an
# associative array of the medians by loader); the trampoline's is judged against LIMIT.
ratios() {
  local -n of="$3"
  awk -v what="$1" -v limit="$2" -v e="${of[efikexec]:-nan}" -v n="${of[efikexec-nokaslr]:-nan}" \
      -v p="${of[efikexec-payload]:-nan}" -v k="${of[kexec-l]:-nan}" -v kc="${of[kexec-c-l]:-nan}" \
      -v tm="${of[efikexec-tmpfs]:-nan}" '
    BEGIN {
      printf "%s: efikexec (trampoline) / kexec -l     %5.3fx  target <= %gx  %s\n", what, e / k,
        limit, (e / k <= limit ? "met" : "missed")
      printf "%s: efikexec (trampoline) / kexec -c -l  %5.2fx\n", what, e / kc
      printf "%s: efikexec (nokaslr) / kexec -l        %5.2fx\n", what, n / k
      printf "%s: efikexec (from a tmpfs) / kexec -l   %5.2fx\n", what, tm / k
      printf "%s: efikexec (payload) / kexec -l        %5.2fx\n", what, p / k
    }'
}
ratios downtime 0.5 m
awk -v e="${m[efikexec]:-nan}" -v p="${m[efikexec-payload]:-nan}" 'BEGIN {
  printf "downtime: efikexec (payload) / efikexec (trampoline) %5.2fx\n", p / e
}'
ratios "load + downtime" 1 t
