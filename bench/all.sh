#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# all.sh [BUILD_DIR [FIXTURES]]
#
# One run of every benchmark, one after the other, for docs/performance.md: the machine and the
# versions first, then verify-bench.sh, load-bench.sh, segment-bytes-bench.sh and
# downtime-bench.sh with their defaults (their environment variables pass through), each under a
# header with its start and its duration. Run it on an otherwise idle machine: the guests are
# TCG, so anything else on the cores shows in every ratio. A benchmark, not a test: it exits 0
# once every benchmark ran, 2 if one could not.
set -euo pipefail
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
root="$(dirname -- "$here")"
build="$(realpath -- "${1:-build}")"
fixtures="$(realpath -m -- "${2:-${EFIKEXEC_FIXTURES:-$build/fixtures}}")"

version_of() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }
echo "efikexec $(git -C "$root" describe --always --dirty 2>/dev/null || echo '(no git)')," \
  "benchmarks started $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1))," \
  "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "qemu-system-x86 $(version_of qemu-system-x86), ovmf $(version_of ovmf)," \
  "openssl $(version_of openssl), sbsigntool $(version_of sbsigntool)"

status=0
for bench in verify-bench.sh load-bench.sh segment-bytes-bench.sh downtime-bench.sh; do
  echo
  echo "=== $bench ($(date -u '+%H:%M:%S UTC'))"
  start=$(date +%s)
  # Each benchmark's own rounds: ROUNDS means different things to verify-bench and
  # downtime-bench, so the downtime's come from DOWNTIME_ROUNDS (default 5: its medians move
  # with where KASLR puts the kernel).
  rounds=()
  [[ $bench != downtime-bench.sh ]] || rounds=(env ROUNDS="${DOWNTIME_ROUNDS:-5}")
  "${rounds[@]}" "$here/$bench" "$build" "$fixtures" || { echo "=== $bench failed"; status=2; }
  echo "=== $bench took $(($(date +%s) - start)) s"
done
exit "$status"
