#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ctest-run.sh TEST_SCRIPT WORKDIR [ARGS...]
#   Runs a host-side QEMU test with the fixtures named by EFIKEXEC_FIXTURES. Without fixtures or
#   QEMU the test is skipped (exit 77), unless EFIKEXEC_REQUIRE_FIXTURES=1 makes that a failure.
set -euo pipefail
script="$1"
work="$2"
shift 2
skip() {
  echo "qemu: skipped: $1" >&2
  [[ "${EFIKEXEC_REQUIRE_FIXTURES:-0}" == 1 ]] && exit 1
  exit 77
}
[[ -n "${EFIKEXEC_FIXTURES:-}" && -d "$EFIKEXEC_FIXTURES" ]] ||
  skip "EFIKEXEC_FIXTURES does not name a fixtures folder (tests/fixtures/make-fixtures.sh)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
mkdir -p "$work"
exec "$script" "$EFIKEXEC_FIXTURES" "$work" "$@"
