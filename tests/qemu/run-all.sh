#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-all.sh FIXTURES WORKDIR [EFIKEXEC_BIN]
#   Builds the fixtures (cached) and runs every QEMU test: the smoke boots (OVMF, SeaBIOS), the
#   second-world reference boots (direct and UKI from an ESP) and, given EFIKEXEC_BIN (the
#   static build), the efikexec-in-guest test. Ends with an `N passed, N failed` line.
set -euo pipefail
HERE="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"

[[ $# -ge 2 && $# -le 3 ]] || { echo "usage: $0 FIXTURES WORKDIR [EFIKEXEC_BIN]" >&2; exit 2; }
FIX="$1"
WORK="$2"
BIN="${3:-}"

"$HERE/../fixtures/make-fixtures.sh" "$FIX"
passed=0 failed=0
tally() {
  local out line
  out="$WORK/$1.out"
  shift
  "$@" | tee "$out" || true
  line="$(tail -n 1 "$out")"
  if [[ "$line" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
  else
    failed=$((failed + 1)) # the script died before its summary
  fi
}
mkdir -p "$WORK"
tally smoke "$HERE/test-smoke.sh" "$FIX" "$WORK"
tally second "$HERE/test-second-direct.sh" "$FIX" "$WORK"
[[ -z "$BIN" ]] || tally efikexec "$HERE/test-efikexec-guest.sh" "$FIX" "$WORK" "$BIN"
echo "qemu: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
