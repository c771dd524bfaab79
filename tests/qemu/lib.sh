# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
#
# Shared bits of the host-side QEMU tests (sourced).

QEMU_DIR="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
# require_fixture and the other prerequisite checks: skip, or fail under EFIKEXEC_REQUIRE_*.
# shellcheck source=SCRIPTDIR/../lib/prerequisites.sh
. "$QEMU_DIR/../lib/prerequisites.sh"

# The first kernel's command line: serial console, few messages, and a panic ends QEMU.
FIRST_APPEND="console=ttyS0 quiet loglevel=4 panic=-1"
# TCG boots take seconds; the limit only catches hangs.
GUEST_TIMEOUT="${GUEST_TIMEOUT:-300}"

PASSED=0
FAILED=0

note() { echo "${TEST_NAME:-qemu-test}: $*" >&2; }

# check NAME COMMAND...: run one check, count it, keep going on failure.
check() {
  local name="$1"
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    note "PASS $name"
  else
    FAILED=$((FAILED + 1))
    note "FAIL $name"
  fi
}

# summary: the closing line test runners read; exit status 1 if anything failed.
summary() {
  echo "${TEST_NAME:-qemu-test}: $PASSED passed, $FAILED failed"
  [[ $FAILED -eq 0 ]]
}

# memtotal_of LOG: the MemTotal (kB) the second kernel's init reported in LOG, or nothing.
memtotal_of() { tr -d '\r' <"$1" | sed -n 's/^EFIKEXEC-SECOND: memtotal_kb=//p' | head -n1; }
