#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ctest-run.sh TEST_SCRIPT WORKDIR [EFIKEXEC_STATIC] [ARGS...]
#   Runs a host-side QEMU test with the fixtures named by EFIKEXEC_FIXTURES. A missing
#   prerequisite (the fixtures, QEMU, OVMF, the static program when one is named) skips the test
#   or fails it under EFIKEXEC_REQUIRE_FIXTURES=1 / EFIKEXEC_REQUIRE_QEMU=1
#   (tests/lib/prerequisites.sh).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/prerequisites.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/../lib/prerequisites.sh"
[[ $# -ge 2 ]] || { echo "usage: $0 TEST_SCRIPT WORKDIR [EFIKEXEC_STATIC] [ARGS...]" >&2; exit 2; }
script="$1"
work="$2"
shift 2
PREREQUISITES_TEST="$(basename -- "$script" .sh)"
require_fixture .
require_qemu
# The static program the guests run: the tests are registered whether or not it was built, so
# that a build without it cannot turn them green by leaving them out.
[[ $# -eq 0 ]] || require_program "$1"
mkdir -p "$work"
exec "$script" "$EFIKEXEC_FIXTURES" "$work" "$@"
