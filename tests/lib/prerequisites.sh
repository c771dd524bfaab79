# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# The one rule for what a test needs and cannot find (sourced by every test script that needs
# something; docs/architecture.md, "Prerequisites and skips"). A missing prerequisite is said on
# stderr, then the test is skipped (exit 77, ctest's SKIP_RETURN_CODE) or, when the variable of
# its kind is 1, fails (exit 1):
#   EFIKEXEC_REQUIRE_FIXTURES=1   fixtures, images, sbverify and the other host tools
#   EFIKEXEC_REQUIRE_QEMU=1       QEMU, OVMF, and the static program the guests run
# Only "1" requires; any other value (or none) lets the test skip. Call these at the top level
# of the script, not in a $(...) subshell: they end the script.
#
#   require_fixture FILE...   FILE relative to EFIKEXEC_FIXTURES, or absolute
#   require_tool NAME...      a host program on PATH
#   require_qemu              qemu-system-x86_64 ($QEMU) and OVMF ($OVMF_CODE, $OVMF_VARS)
#   require_program PATH      an executable the guests run (the static efikexec)

# The test's name in messages: PREREQUISITES_TEST, or the script's name.
prerequisite_test_name() { echo "${PREREQUISITES_TEST:-$(basename -- "$0" .sh)}"; }

# prerequisite_missing KIND WHAT...: KIND is FIXTURES or QEMU (the EFIKEXEC_REQUIRE_ variable).
prerequisite_missing() {
  local variable="EFIKEXEC_REQUIRE_$1"
  shift
  if [[ "${!variable:-}" == 1 ]]; then
    echo "$(prerequisite_test_name): FAIL: missing $* ($variable=1)" >&2
    exit 1
  fi
  echo "$(prerequisite_test_name): skipped: missing $*" >&2
  exit 77
}

require_fixture() {
  local file path
  for file in "$@"; do
    if [[ "$file" == /* ]]; then
      path="$file"
    elif [[ -n "${EFIKEXEC_FIXTURES:-}" && -d "$EFIKEXEC_FIXTURES" ]]; then
      path="$EFIKEXEC_FIXTURES/$file"
    else
      prerequisite_missing FIXTURES "the fixtures folder (EFIKEXEC_FIXTURES=${EFIKEXEC_FIXTURES:-unset};" \
        "tests/fixtures/make-fixtures.sh makes it), for $file"
    fi
    [[ -e "$path" ]] ||
      prerequisite_missing FIXTURES "fixture $path (tests/fixtures/make-fixtures.sh)"
  done
}

require_tool() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || prerequisite_missing FIXTURES "host tool $tool"
  done
}

require_qemu() {
  local qemu="${QEMU:-qemu-system-x86_64}" firmware
  command -v "$qemu" >/dev/null || prerequisite_missing QEMU "$qemu (Debian qemu-system-x86)"
  for firmware in "${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}" \
    "${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}"; do
    [[ -r "$firmware" ]] || prerequisite_missing QEMU "OVMF firmware $firmware (Debian ovmf)"
  done
}

require_program() {
  [[ -n "${1:-}" && -x "$1" ]] ||
    prerequisite_missing QEMU "the program ${1:-(none)} (not built: efikexec-static needs" \
      "EFIKEXEC_STATIC_CLI and the static libcrypto)"
}
