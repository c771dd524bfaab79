#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# load-bench.sh [--no-guest] [BUILD_DIR [FIXTURES]]
#
# The load path against its floor, side by side in one run on the same image (the fixture UKI,
# FIXTURES/uki-signed.efi trusted through FIXTURES/keys/db.crt; FIXTURES defaults to
# $EFIKEXEC_FIXTURES, else BUILD_DIR/fixtures, made by tests/fixtures/make-fixtures.sh):
#
#  on this machine (dry runs only: EFIKEXEC_FORBID_KEXEC is set)
#   - `efikexec load --dry-run --timings` with its step breakdown and peak RSS
#   - `openssl dgst -sha256` of the image: the floor (read and hash every byte once)
#   - `sbverify --cert` and `efikexec verify`
#  inside a QEMU/OVMF guest (skipped with --no-guest, or without qemu/OVMF/efikexec-static)
#   - kexec-tools' `kexec -l` and `kexec -c -l` of the same kernel and initrd, next to
#     `efikexec load` of that kernel (signed, --initrd) and of the UKI; kexec-tools is built
#     static from Debian's source package by bench/build-kexec-tools.sh into BUILD_DIR/kexec-tools
#   - the image's own work when OVMF boots the same UKI directly from an ESP (the same QEMU, 1 GiB,
#     1 CPU): eft_timer.efi (tests/efi_apps) starts it and marks StartImage() and
#     ExitBootServices() on the serial port, timed on the host; next to the time efikexec's child
#     spends inside the image (`--timings` image_ms) in the guest
#
# and prints the ratios against the targets: verify <= 1.2x the raw hash; the whole dry-run
# load <= 1.5x (raw hash + the time inside the image); peak RSS <= 1.2x (image + the run's
# memory pages the next kernel gets: data and the runs of zeros). A benchmark, not a test: it
# always exits 0 once it measured.
# RUNS (default 5) dry runs and QUICK_RUNS (default 15) runs of the quick commands; in the guest,
# GUEST_ROUNDS (default 5) rounds of the loads and as many boots of OVMF; medians.
set -euo pipefail
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
root="$(dirname -- "$here")"
guest=1
if [[ "${1:-}" == --no-guest ]]; then guest=0; shift; fi
build="$(realpath -- "${1:-build}")"
fixtures="$(realpath -m -- "${2:-${EFIKEXEC_FIXTURES:-$build/fixtures}}")"
efikexec="$build/efikexec"
image="$fixtures/uki-signed.efi"
cert="$fixtures/keys/db.crt"
runs="${RUNS:-5}"
quick_runs="${QUICK_RUNS:-15}"
guest_rounds="${GUEST_ROUNDS:-5}"
export EFIKEXEC_FORBID_KEXEC=1

die() { echo "load-bench: $*" >&2; exit 2; }
[[ -x "$efikexec" ]] || die "no $efikexec (build first)"
[[ -f "$image" && -f "$cert" ]] || die "no $image or $cert (tests/fixtures/make-fixtures.sh)"
for cmd in openssl sbverify awk; do command -v "$cmd" >/dev/null || die "$cmd not found"; done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }
# wall_ms N COMMAND...: the median wall time of N runs in ms (after one warm-up run); each run's
# stderr is appended to $work/stderr.
wall_ms() {
  local n="$1" start end
  shift
  "$@" >/dev/null 2>&1 || die "failed: $*"
  : >"$work/stderr"
  for ((i = 0; i < n; i++)); do
    start=$(now_ns)
    "$@" >/dev/null 2>>"$work/stderr"
    end=$(now_ns)
    echo $(((end - start) / 1000))
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f\n", a[int((NR + 1) / 2)] / 1000 }'
}
# timing_median FIELD FILE: the median of FIELD=VALUE over the --timings lines in FILE.
timing_median() {
  grep -o "$1=[0-9.]*" "$2" | cut -d= -f2 | sort -n |
    awk '{ a[NR] = $1 } END { printf "%.1f\n", a[int((NR + 1) / 2)] }'
}

trust=(--db "$cert" --efivars "$work/no-efivars")
load_cmd=("$efikexec" load --json --timings --machine q35 --dry-run=/dev/null "${trust[@]}" "$image")
image_bytes=$(stat -c %s "$image")
"$efikexec" load --json --machine q35 --dry-run="$work/plan.json" "${trust[@]}" "$image" \
  >/dev/null 2>&1 || die "the dry run fails: ${load_cmd[*]}"
data_bytes=$(grep -o '"bufsz_total": [0-9]*' "$work/plan.json" | awk '{ print $2 }')
# The runs of zeros the trampoline clears are pages the run wrote too, in no segment.
zero_bytes=$(grep -o '"zero_bytes": [0-9]*' "$work/plan.json" | awk '{ print $2 }')
zero_bytes=${zero_bytes:-0}
segments=$(grep -c '"destination"' "$work/plan.json")

echo "image: $image ($image_bytes bytes); plan: $segments segments, $data_bytes bytes of data, $zero_bytes of zeros for the trampoline"
echo "host: $(nproc) CPUs, $(uname -r); medians of $runs dry runs and $quick_runs quick runs"

dgst_ms=$(wall_ms "$quick_runs" openssl dgst -sha256 "$image")
sbverify_ms=$(wall_ms "$quick_runs" sbverify --cert "$cert" "$image")
verify_ms=$(wall_ms "$quick_runs" "$efikexec" verify "${trust[@]}" "$image")
load_ms=$(wall_ms "$runs" "${load_cmd[@]}")
cp "$work/stderr" "$work/timings"
declare -A step
for field in read_ms verify_ms setup_ms run_ms image_ms plan_ms commit_ms total_ms \
    peak_rss_kib child_peak_rss_kib; do
  step[$field]=$(timing_median "$field" "$work/timings")
done

printf '\n%-44s %10s\n' "on this machine" "ms"
printf '%-44s %10s\n' "openssl dgst -sha256 (the floor)" "$dgst_ms"
printf '%-44s %10s\n' "sbverify --cert" "$sbverify_ms"
printf '%-44s %10s\n' "efikexec verify" "$verify_ms"
printf '%-44s %10s\n' "efikexec load --dry-run (wall)" "$load_ms"
printf '%-44s %10s\n' "  read (read + parse the image)" "${step[read_ms]}"
printf '%-44s %10s\n' "  verify (policy, Authenticode, SBAT)" "${step[verify_ms]}"
printf '%-44s %10s\n' "  setup (machine, options, trampoline)" "${step[setup_ms]}"
printf '%-44s %10s\n' "  run to ExitBootServices (fork to report)" "${step[run_ms]}"
printf '%-44s %10s\n' "    of which inside the image" "${step[image_ms]}"
printf '%-44s %10s\n' "  plan (trampoline, tables, segments)" "${step[plan_ms]}"
printf '%-44s %10s\n' "  commit (plan JSON: segment hashes, write)" "${step[commit_ms]}"
printf '%-44s %10s\n' "  total in process" "${step[total_ms]}"
printf '%-44s %10s\n' "peak RSS loader / child (KiB)" \
  "${step[peak_rss_kib]} / ${step[child_peak_rss_kib]}"

floor_rss_kib=$(((image_bytes + data_bytes + zero_bytes) / 1024))
awk -v verify="$verify_ms" -v sbverify="$sbverify_ms" -v dgst="$dgst_ms" -v load="$load_ms" \
    -v image_ms="${step[image_ms]}" -v read="${step[read_ms]}" -v ver="${step[verify_ms]}" \
    -v rss="${step[peak_rss_kib]}" -v child="${step[child_peak_rss_kib]}" \
    -v floor_rss="$floor_rss_kib" 'BEGIN {
  peak = rss > child ? rss : child
  r_verify = verify / dgst; r_load = load / (dgst + image_ms); r_rss = peak / floor_rss
  print ""
  print "ratios                                             value  target"
  printf "efikexec verify / openssl dgst                    %5.2fx  <= 1.2x  %s\n", r_verify,
    r_verify <= 1.2 ? "met" : "missed"
  printf "  (in process: read + verify / openssl dgst        %5.2fx)\n", (read + ver) / dgst
  printf "efikexec verify / sbverify                        %5.2fx\n", verify / sbverify
  printf "dry-run load / (openssl dgst + time in image)     %5.2fx  <= 1.5x  %s\n", r_load,
    r_load <= 1.5 ? "met" : "missed"
  printf "peak RSS / (image + data pages of the run, %d KiB) %5.2fx  <= 1.2x  %s\n", floor_rss,
    r_rss, r_rss <= 1.2 ? "met" : "missed"
}'

[[ $guest -eq 1 ]] || exit 0
skip_guest() { echo; echo "guest: skipped: $*"; exit 0; }
for cmd in qemu-system-x86_64 busybox cpio gzip; do
  command -v "$cmd" >/dev/null || skip_guest "$cmd not found"
done
static="$build/efikexec-static"
[[ -x "$static" ]] || skip_guest "no $static (configure with EFIKEXEC_STATIC_CLI=ON)"
kexec="$("$here/build-kexec-tools.sh" "$build/kexec-tools" | tail -n1)" ||
  skip_guest "kexec-tools could not be built (bench/build-kexec-tools.sh)"

# The first kernel's initramfs (tests/qemu/make-guest-initrd.sh) with /bin/kexec appended as a
# second cpio archive (the kernel unpacks concatenated archives in order).
initrd="$("$root/tests/qemu/make-guest-initrd.sh" "$work/guest" "$fixtures" "$static" \
  "$here/guest-load-bench.sh" | tail -n1)"
mkdir -p "$work/extra/bin"
cp "$kexec" "$work/extra/bin/kexec"
(cd "$work/extra" && printf 'bin\nbin/kexec\n' | cpio -o -H newc --quiet | gzip -1) >>"$initrd"
echo
echo "guest: QEMU q35 TCG, OVMF, 1 GiB, 1 CPU; $(basename "$kexec") $("$kexec" --version 2>&1); $guest_rounds rounds"
"$root/tests/qemu/run-guest.sh" --bios ovmf --mem 1G --smp 1 --timeout "${GUEST_TIMEOUT:-1800}" \
  --until '^EFIKEXEC-FIRST: bench done|Kernel panic' --kernel "$fixtures/vmlinuz" \
  --initrd "$initrd" --append "console=ttyS0 quiet loglevel=4 panic=-1 efikexec.bench_rounds=$guest_rounds" \
  --log "$work/guest.log" >/dev/null || skip_guest "the guest did not finish (log kept: none)"
tr -d '\r' <"$work/guest.log" >"$work/guest.txt"
if grep -q 'status=[1-9]' "$work/guest.txt"; then
  echo "guest: some loads failed:"
  grep -E 'status=[1-9]|EFIKEXEC-DUMP' "$work/guest.txt" | head -20
fi
guest_ms() {
  sed -n "s/^EFIKEXEC-FIRST: bench $1 ms=\([0-9]*\) status=0$/\1/p" "$work/guest.txt" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'
}
printf '%-44s %10s\n' "in the guest (median wall)" "ms"
declare -A g
for name in sha256-uki kexec-l kexec-c-l efikexec-kernel efikexec-uki; do
  g[$name]=$(guest_ms "$name")
done
printf '%-44s %10s\n' "sha256sum uki-signed.efi" "${g[sha256-uki]}"
printf '%-44s %10s\n' "kexec -l vmlinuz --initrd" "${g[kexec-l]}"
printf '%-44s %10s\n' "kexec -c -l vmlinuz --initrd (kexec_load)" "${g[kexec-c-l]}"
printf '%-44s %10s\n' "efikexec load vmlinuz-signed.efi --initrd" "${g[efikexec-kernel]}"
printf '%-44s %10s\n' "efikexec load uki-signed.efi" "${g[efikexec-uki]}"
grep '^EFIKEXEC-FIRST: timings efikexec-uki' "$work/guest.txt" | tail -n1 |
  sed 's/^EFIKEXEC-FIRST: timings efikexec-uki /  efikexec-uki steps: /'

# The same UKI booted by OVMF itself from an ESP, GUEST_ROUNDS times: StartImage() to
# ExitBootServices(), from the host's arrival times of eft_timer's two serial lines.
timer="$build/tests/efi_apps/eft_timer.efi"
direct_ms=nan
if [[ -r "$timer" ]] && command -v mkfs.fat >/dev/null && command -v mcopy >/dev/null; then
  disk="$work/direct.img"
  truncate -s 64M "$disk"
  mkfs.fat -F 32 -n ESP "$disk" >/dev/null
  mmd -i "$disk" ::/EFI ::/EFI/BOOT ::/EFI/Linux
  mcopy -i "$disk" "$timer" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$disk" "$image" ::/EFI/Linux/uki.efi
  for ((round = 1; round <= guest_rounds; round++)); do
    "$root/tests/qemu/run-guest.sh" --bios ovmf --mem 1G --smp 1 --timeout 600 \
      --until '^EFT: image exit-boot-services|Kernel panic' --disk "$disk" \
      --log "$work/direct-$round.log" --stamps "$work/direct-$round.stamps" >/dev/null 2>&1 || true
    tr -d '\r' <"$work/direct-$round.stamps" | awk '
      / EFT: image start/ { start = $1 }
      / EFT: image exit-boot-services/ { if (start) { printf "%.0f\n", ($1 - start) / 1000; exit } }'
  done >"$work/direct.ms"
  direct_ms=$(sort -n "$work/direct.ms" | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }')
fi
image_ms=$(sed -n 's/^EFIKEXEC-FIRST: timings efikexec-uki .*image_ms=\([0-9.]*\).*/\1/p' \
  "$work/guest.txt" | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }')
printf '%-44s %10s\n' "the UKI booted by OVMF: StartImage to EBS" "$direct_ms"
printf '%-44s %10s\n' "efikexec load uki-signed.efi: inside image" "$image_ms"
awk -v i="$image_ms" -v d="$direct_ms" 'BEGIN {
  if (d + 0 > 0) printf "inside the image / booted by OVMF              %5.2fx  target <= 1.2x  %s\n", i / d, (i / d <= 1.2 ? "met" : "missed")
}'
awk -v k="${g[kexec-l]}" -v kc="${g[kexec-c-l]}" -v ek="${g[efikexec-kernel]}" \
    -v eu="${g[efikexec-uki]}" 'BEGIN {
  printf "efikexec load (kernel) / kexec -l               %5.2fx\n", ek / k
  printf "efikexec load (kernel) / kexec -c -l            %5.2fx\n", ek / kc
  printf "efikexec load (UKI) / kexec -l                  %5.2fx\n", eu / k
}'
