#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# expect.sh LOG PATTERN...
#   Asserts that the serial log LOG has, for each PATTERN, a line matching it (grep -E).
#   A PATTERN starting with `!` asserts that no line matches the rest.
#   Prints each pattern that failed, then the tail of the log (EXPECT_TAIL lines, default 40).
#   Exit status: 0 when every pattern held, 1 otherwise, 2 on bad usage.
#
# Serial logs carry CR LF line ends and the firmware's ANSI screen controls (OVMF clears the
# screen on the line before the first kernel's output); both are removed before matching.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 LOG PATTERN..." >&2; exit 2; }
LOG="$1"
shift
[[ -f "$LOG" ]] || { echo "expect: no log $LOG" >&2; exit 1; }

# Cleaned once into a file: `sed | grep -q` would fail under pipefail when grep stops early.
CLEAN="$(mktemp)"
trap 'rm -f "$CLEAN"' EXIT
sed -e 's/\r//g' -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' "$LOG" >"$CLEAN"

failed=0
for p in "$@"; do
  if [[ "$p" == '!'* ]]; then
    if grep -qE -- "${p#!}" "$CLEAN"; then
      echo "expect: FAILED: unexpected line matching: ${p#!}" >&2
      grep -E -m 5 -- "${p#!}" "$CLEAN" | sed 's/^/expect:   > /' >&2
      failed=1
    fi
  elif ! grep -qE -- "$p" "$CLEAN"; then
    echo "expect: FAILED: no line matching: $p" >&2
    failed=1
  fi
done
if [[ $failed -ne 0 ]]; then
  echo "expect: --- last ${EXPECT_TAIL:-40} lines of $LOG ---" >&2
  tail -n "${EXPECT_TAIL:-40}" "$CLEAN" >&2
  echo "expect: --- end of log ---" >&2
  exit 1
fi
echo "expect: ok: $# pattern(s) in $LOG" >&2
