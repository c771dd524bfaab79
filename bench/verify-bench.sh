#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# verify-bench.sh [BUILD_DIR] [SIGNED_IMAGE CERT]
#
# Times, side by side in one run, `efikexec verify` of a signed UKI against `sbverify --cert`
# and against `openssl dgst -sha256` of the same file (the floor: read and hash every byte once),
# and prints the ratios. The image is SIGNED_IMAGE, else $EFIKEXEC_FIXTURES/uki-signed.efi
# (tests/fixtures/make-fixtures.sh), else a 64 MiB image made and signed here.
# Uses hyperfine when installed, else repeated runs timed with date +%s%N (median).
# Target: efikexec within 1.2x of the hash, and faster than sbverify.
set -euo pipefail

build="${1:-build}"
efikexec="$build/efikexec"
[[ -x "$efikexec" ]] || { echo "verify-bench: no $efikexec (build first)" >&2; exit 2; }
for cmd in sbverify openssl; do
  command -v "$cmd" >/dev/null || { echo "verify-bench: $cmd not found" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ $# -ge 3 ]]; then
  image="$2" cert="$3"
elif [[ -n "${EFIKEXEC_FIXTURES:-}" && -f "$EFIKEXEC_FIXTURES/uki-signed.efi" ]]; then
  image="$EFIKEXEC_FIXTURES/uki-signed.efi" cert="$EFIKEXEC_FIXTURES/keys/db.crt"
else
  tool="$build/tests/unit/make_verify_images"
  [[ -x "$tool" ]] || { echo "verify-bench: no $tool to make an image" >&2; exit 2; }
  "$tool" "$work" 64
  OPENSSL_CONF=/dev/null openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench \
    -keyout "$work/bench.key" -out "$work/bench.crt" 2>/dev/null
  sbsign --key "$work/bench.key" --cert "$work/bench.crt" --output "$work/large-signed.efi" \
    "$work/large.efi" >/dev/null 2>&1
  image="$work/large-signed.efi" cert="$work/bench.crt"
fi

verify_cmd="$efikexec verify $image --db $cert --efivars $work/no-efivars"
sbverify_cmd="sbverify --cert $cert $image"
dgst_cmd="openssl dgst -sha256 $image"
# Every command must succeed on this image, or the timing means nothing.
for cmd in "$verify_cmd" "$sbverify_cmd" "$dgst_cmd"; do
  $cmd >/dev/null 2>&1 || { echo "verify-bench: failed: $cmd" >&2; exit 1; }
done
echo "image: $image ($(stat -c %s "$image") bytes)"

runs=30
if command -v hyperfine >/dev/null; then
  hyperfine --shell=none --warmup 3 --runs "$runs" --style basic \
    --export-json "$work/times.json" -n efikexec "$verify_cmd" -n sbverify "$sbverify_cmd" \
    -n "openssl dgst" "$dgst_cmd" >/dev/null 2>&1
  mapfile -t medians < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]: print(r["median"])' "$work/times.json")
else
  median() {  # COMMAND...: median wall time in seconds over $runs runs
    local times=() start end
    for _ in 1 2 3; do "$@" >/dev/null 2>&1; done
    for ((i = 0; i < runs; i++)); do
      start=$(date +%s%N); "$@" >/dev/null 2>&1; end=$(date +%s%N)
      times+=($((end - start)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{printf "%.6f\n", a[int((NR+1)/2)]/1e9}'
  }
  # shellcheck disable=SC2086
  medians=("$(median $verify_cmd)" "$(median $sbverify_cmd)" "$(median $dgst_cmd)")
fi

awk -v v="${medians[0]}" -v s="${medians[1]}" -v d="${medians[2]}" 'BEGIN {
  printf "%-22s %12s %16s\n", "command", "median (ms)", "vs openssl dgst"
  printf "%-22s %12.2f %15.2fx\n", "efikexec verify", v * 1000, v / d
  printf "%-22s %12.2f %15.2fx\n", "sbverify --cert", s * 1000, s / d
  printf "%-22s %12.2f %15.2fx\n", "openssl dgst -sha256", d * 1000, 1
  printf "efikexec vs sbverify: %.2fx (%s)\n", v / s, v < s ? "faster" : "slower"
  printf "target within 1.2x of the hash: %s\n", v / d <= 1.2 ? "met" : "missed"
}'
