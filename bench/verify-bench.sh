#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# verify-bench.sh [BUILD_DIR [FIXTURES]]
#
# `efikexec verify` against its floor, `openssl dgst -sha256` of the same file (read and hash
# every byte once), and against `sbverify --cert`, in one run on two signed images:
#   - the fixture UKI, FIXTURES/uki-signed.efi trusted through FIXTURES/keys/db.crt (FIXTURES
#     defaults to $EFIKEXEC_FIXTURES, else BUILD_DIR/fixtures; tests/fixtures/make-fixtures.sh)
#   - a UKI of LARGE_MIB (default 64) MiB made here as make-fixtures.sh makes the fixture UKI
#     (the fixture's systemd-stub and kernel, tests/fixtures/objcopy-uki.sh) with a random initrd, signed with
#     FIXTURES/keys/db.key by sbsign
# Every round runs each command once on each image, the order rotating from round to round, so
# a change of load on the machine falls on all of them alike; medians of ROUNDS (default 21)
# rounds after one warm-up round. Prints the medians and each ratio next to its target:
# `efikexec verify` <= 1.2x `openssl dgst -sha256`; BUILD_DIR/efikexec-static's too, where it was
# built, for reference. A benchmark, not a test: it exits 0 once it
# measured, met or not.
set -euo pipefail
root="$(dirname -- "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")")"
build="$(realpath -- "${1:-build}")"
fixtures="$(realpath -m -- "${2:-${EFIKEXEC_FIXTURES:-$build/fixtures}}")"
efikexec="$build/efikexec"
rounds="${ROUNDS:-21}"
large_mib="${LARGE_MIB:-64}"

die() { echo "verify-bench: $*" >&2; exit 2; }
[[ -x "$efikexec" ]] || die "no $efikexec (build first)"
for f in uki-signed.efi keys/db.crt keys/db.key linuxx64.efi.stub vmlinuz; do
  [[ -f "$fixtures/$f" ]] || die "no $fixtures/$f (tests/fixtures/make-fixtures.sh)"
done
for cmd in openssl sbverify sbsign objcopy objdump awk; do
  command -v "$cmd" >/dev/null || die "$cmd not found"
done
[[ -n "${EPOCHREALTIME:-}" ]] || die "needs bash 5 (EPOCHREALTIME)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cert="$fixtures/keys/db.crt"

# The large UKI: .cmdline, .initrd and .linux after the stub's image, page aligned, .linux last.
large="$work/uki-large-signed.efi"
head -c $((large_mib * 1024 * 1024)) /dev/urandom >"$work/initrd"
printf '%s' "console=ttyS0" >"$work/cmdline"
"$root/tests/fixtures/objcopy-uki.sh" "$work/uki-large.efi" "$fixtures/linuxx64.efi.stub" \
  ".cmdline=$work/cmdline" ".initrd=$work/initrd" ".linux=$fixtures/vmlinuz"
sbsign --key "$fixtures/keys/db.key" --cert "$cert" --output "$large" "$work/uki-large.efi" \
  >/dev/null 2>&1 || die "sbsign of the large UKI failed"
rm -f "$work/initrd" "$work/uki-large.efi"

images=("$fixtures/uki-signed.efi" "$large")
names=(efikexec-verify openssl-dgst sbverify)
# The static build (the one an initramfs carries) too, where it was built: the same code without
# loading libstdc++, libcrypto and libelf at each start.
efikexec_static="$build/efikexec-static"
[[ -x "$efikexec_static" ]] && names+=(efikexec-static-verify)
command_for() {  # NAME IMAGE: the command line
  case "$1" in
    efikexec-verify) echo "$efikexec verify --db $cert --efivars $work/no-efivars $2" ;;
    efikexec-static-verify) echo "$efikexec_static verify --db $cert --efivars $work/no-efivars $2" ;;
    openssl-dgst) echo "openssl dgst -sha256 $2" ;;
    sbverify) echo "sbverify --cert $cert $2" ;;
  esac
}
# Every command must succeed on each image, or its time means nothing.
for image in "${images[@]}"; do
  for name in "${names[@]}"; do
    read -ra cmd <<<"$(command_for "$name" "$image")"
    "${cmd[@]}" >/dev/null 2>&1 || die "failed: ${cmd[*]}"
  done
done

# One round: every (command, image) once, starting at a rotating position; round 0 is a warm-up.
jobs=()
for i in "${!images[@]}"; do for name in "${names[@]}"; do jobs+=("$i:$name"); done; done
for ((round = 0; round <= rounds; round++)); do
  for ((k = 0; k < ${#jobs[@]}; k++)); do
    job="${jobs[$(((k + round) % ${#jobs[@]}))]}"
    read -ra cmd <<<"$(command_for "${job#*:}" "${images[${job%%:*}]}")"
    start=$EPOCHREALTIME
    "${cmd[@]}" >/dev/null 2>&1
    end=$EPOCHREALTIME
    ((round == 0)) || echo "$job ${start/[.,]/} ${end/[.,]/}" >>"$work/times"
  done
done

median_ms() {  # JOB: the median wall time in ms
  awk -v job="$1" '$1 == job { print ($3 - $2) / 1000 }' "$work/times" | sort -n |
    awk '{ a[NR] = $1 } END { printf "%.1f\n", a[int((NR + 1) / 2)] }'
}
echo "host: $(nproc) CPUs, $(uname -r); medians of $rounds alternating rounds"
for i in "${!images[@]}"; do
  image="${images[$i]}"
  verify=$(median_ms "$i:efikexec-verify")
  dgst=$(median_ms "$i:openssl-dgst")
  sbverify=$(median_ms "$i:sbverify")
  static_verify=""
  [[ -x "$efikexec_static" ]] && static_verify=$(median_ms "$i:efikexec-static-verify")
  echo
  echo "image: $(basename "$image") ($(stat -c %s "$image") bytes)"
  printf '  %-26s %10s\n' "command" "median ms"
  printf '  %-26s %10s\n' "openssl dgst -sha256" "$dgst" "sbverify --cert" "$sbverify" \
    "efikexec verify" "$verify"
  awk -v v="$verify" -v d="$dgst" -v s="$sbverify" 'BEGIN {
    printf "  efikexec verify / openssl dgst   %5.2fx  target <= 1.2x  %s\n", v / d,
      v / d <= 1.2 ? "met" : "missed"
    printf "  efikexec verify / sbverify       %5.2fx\n", v / s
  }'
  if [[ -n "$static_verify" ]]; then
    printf '  %-26s %10s\n' "efikexec-static verify" "$static_verify"
    awk -v v="$static_verify" -v d="$dgst" 'BEGIN {
      printf "  efikexec-static verify / dgst    %5.2fx  (the static build, for reference)\n", v / d
    }'
  fi
done
