#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ctest-run.sh TEST_SCRIPT WORKDIR [ARGS...]
#   Runs a host-side QEMU test with the fixtures named by EFIKEXEC_FIXTURES. Without fixtures or
#   QEMU the test is skipped (exit 77), unless EFIKEXEC_REQUIRE_FIXTURES=1 makes either a failure
#   (EFIKEXEC_REQUIRE_QEMU=1 makes a missing QEMU one).
set -euo pipefail
script="$1"
work="$2"
shift 2
# skip REQUIRED REASON: exit 77, or fail when REQUIRED is 1.
skip() {
  echo "qemu: skipped: $2" >&2
  [[ "$1" == 1 ]] && exit 1
  exit 77
}
[[ -n "${EFIKEXEC_FIXTURES:-}" && -d "$EFIKEXEC_FIXTURES" ]] ||
  skip "${EFIKEXEC_REQUIRE_FIXTURES:-0}" \
    "EFIKEXEC_FIXTURES does not name a fixtures folder (tests/fixtures/make-fixtures.sh)"
if ! command -v qemu-system-x86_64 >/dev/null; then
  required=0
  [[ "${EFIKEXEC_REQUIRE_FIXTURES:-0}" == 1 || "${EFIKEXEC_REQUIRE_QEMU:-0}" == 1 ]] && required=1
  skip "$required" "qemu-system-x86_64 is not installed"
fi
mkdir -p "$work"
exec "$script" "$EFIKEXEC_FIXTURES" "$work" "$@"
