#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every fuzz_* target for a bounded time over a seed corpus (synthetic images, plus the real
# fixtures when EFIKEXEC_FIXTURES names them), JOBS of them at once (default: one). With
# FUZZ_RUNS set, a target also stops after that many executions (SECONDS is then the cap).
# Usage: run-fuzzers.sh FUZZ_BUILD_DIR SECONDS [JOBS]
set -euo pipefail
dir=$1
seconds=$2
jobs=${3:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/seeds"
"$dir/make_fuzz_seeds" "$work/seeds"
# Per-fuzzer seeds land in $work/seeds-by-fuzzer/<fuzzer>/.
if [ -x "$dir/make_verify_fuzz_seeds" ]; then
  "$dir/make_verify_fuzz_seeds" "$work/seeds-by-fuzzer"
  # Real Authenticode signatures (sbsign, key made here) for the PKCS#7 and certificate fuzzers.
  if command -v sbsign >/dev/null && command -v openssl >/dev/null; then
    mkdir -p "$work/seeds-by-fuzzer/fuzz_authenticode_pkcs7"
    OPENSSL_CONF=/dev/null openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=fuzz \
      -keyout "$work/fuzz.key" -out "$work/fuzz.crt" 2>/dev/null
    sbsign --key "$work/fuzz.key" --cert "$work/fuzz.crt" --detached \
      --output "$work/seeds-by-fuzzer/fuzz_authenticode_pkcs7/app.p7" "$work/seeds/app.efi" >/dev/null 2>&1 || true
    # The same signature for the freestanding verifier's PKCS#7 target, its certificate for the
    # X.509 target.
    mkdir -p "$work/seeds-by-fuzzer/fuzz_verifier_pkcs7" "$work/seeds-by-fuzzer/fuzz_verifier_x509"
    cp "$work/seeds-by-fuzzer/fuzz_authenticode_pkcs7/app.p7" "$work/seeds-by-fuzzer/fuzz_verifier_pkcs7/" 2>/dev/null || true
    openssl x509 -in "$work/fuzz.crt" -outform DER -out "$work/seeds-by-fuzzer/fuzz_verifier_x509/fuzz.der"
    sbsign --key "$work/fuzz.key" --cert "$work/fuzz.crt" \
      --output "$work/seeds/app-signed.efi" "$work/seeds/app.efi" >/dev/null 2>&1 || true
  fi
fi
if [ -n "${EFIKEXEC_FIXTURES:-}" ]; then
  for f in uki.efi uki-signed.efi linuxx64.efi.stub; do
    [ -f "$EFIKEXEC_FIXTURES/$f" ] && cp "$EFIKEXEC_FIXTURES/$f" "$work/seeds/fixture-$f"
  done
fi

# The cpio reader walks its input byte by byte for the header after a member: the 256 KiB inputs
# the image seeds grow to cost it milliseconds each, and headers 16 KiB apart test the same rules.
# The payload's ESP archive is a cpio archive of at most 16 members read by the same reader.
max_len_of() {
  case "$1" in
    fuzz_cpio | fuzz_payload_esp_archive) echo 16384 ;;
    *) echo 262144 ;;
  esac
}

# One target; its verdict in $work/<name>.verdict, its output in $work/<name>.log.
fuzz_one() {
  local fuzzer=$1 name corpus seeds
  name=$(basename "$fuzzer")
  corpus="$work/corpus-$name"
  mkdir -p "$corpus"
  seeds="$work/seeds"
  [ -d "$(dirname "$0")/seeds/$name" ] && seeds="$seeds $(dirname "$0")/seeds/$name"
  [ -d "$work/seeds-by-fuzzer/$name" ] && seeds="$seeds $work/seeds-by-fuzzer/$name"
  # shellcheck disable=SC2086
  if "$fuzzer" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
      -max_len="$(max_len_of "$name")" -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/$name-" "$corpus" $seeds \
      > "$work/$name.log" 2>&1; then
    echo passed > "$work/$name.verdict"
  else
    echo failed > "$work/$name.verdict"
  fi
}

names=()
for fuzzer in "$dir"/fuzz_*; do
  [ -x "$fuzzer" ] || continue
  names+=("$(basename "$fuzzer")")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$fuzzer" &
done
wait

status=0
for name in "${names[@]}"; do
  echo "== $name: ${seconds}s"
  if [ "$(cat "$work/$name.verdict" 2>/dev/null)" != passed ]; then
    echo "!! $name found a failure:"; tail -40 "$work/$name.log"
    mkdir -p fuzz-artifacts && cp "$work/$name-"* fuzz-artifacts/ 2>/dev/null || true
    status=1
  else
    grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|cov:' "$work/$name.log" |
      tail -3
  fi
done
exit $status
