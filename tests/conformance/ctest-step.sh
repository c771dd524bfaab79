#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The conformance steps as ctest runs them (tests/conformance/CMakeLists.txt):
#
#   ctest-step.sh ovmf BUILD_DIR OVMF_DIR
#       Runs every application under OVMF into OVMF_DIR, unless OVMF_DIR already holds the
#       transcripts of exactly these .efi files, firmware, QEMU and runner (a stamp of their
#       hashes): a TCG boot per application costs seconds, and their answers do not change.
#   ctest-step.sh reference OVMF_DIR EXPECTED_DIR APP
#       The OVMF transcript must equal the committed one (EXPECTED_DIR/APP.txt): an application
#       or firmware change shows as a diff here, and EXPECTED.md must follow it.
#   ctest-step.sh shim BUILD_DIR OVMF_DIR SHIM_DIR APP
#       Runs APP under efikexec's shim and compares it with the OVMF transcript.
#
# Exit status 77 (ctest SKIP_RETURN_CODE) when QEMU or OVMF is missing, unless
# EFIKEXEC_REQUIRE_QEMU=1 (tests/lib/prerequisites.sh).
set -euo pipefail

HERE="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
# shellcheck source=SCRIPTDIR/../lib/prerequisites.sh
. "$HERE/../lib/prerequisites.sh"
PREREQUISITES_TEST=conformance
OVMF_CODE="${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}"
OVMF_VARS="${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}"
QEMU="${QEMU:-qemu-system-x86_64}"
export OVMF_CODE OVMF_VARS QEMU

# The steps after `ovmf` skip (or fail) as it did, through the note it leaves in OVMF_DIR.
skipped() { prerequisite_missing QEMU "the OVMF transcripts: $1"; }

step="${1:-}"
shift || true
case "$step" in
ovmf)
  build="$1" out="$2"
  mkdir -p "$out"
  rm -f "$out/SKIPPED"
  (require_qemu) || {
    status=$?
    echo "QEMU ($QEMU) or OVMF ($OVMF_CODE) not installed" >"$out/SKIPPED"
    exit "$status"
  }
  apps_dir="$build/tests/efi_apps"
  mapfile -t apps <"$apps_dir/apps.txt"
  stamp="$({
    for a in "${apps[@]}"; do sha256sum <"$apps_dir/$a.efi"; done
    sha256sum <"$OVMF_CODE"
    sha256sum <"$OVMF_VARS"
    sha256sum <"$HERE/run-ovmf.sh"
    sha256sum <"$HERE/esp-files.sh"
    "$QEMU" --version | head -n1
  } | sha256sum | cut -d' ' -f1)"
  if [[ -r "$out/stamp" && "$(cat "$out/stamp")" == "$stamp" ]]; then
    missing=0
    for a in "${apps[@]}"; do [[ -s "$out/$a.ovmf.txt" ]] || missing=1; done
    if [[ $missing == 0 ]]; then
      echo "conformance: OVMF transcripts cached in $out" >&2
      exit 0
    fi
  fi
  rm -f "$out/stamp" "$out"/*.ovmf.txt "$out"/*.ovmf.log
  "$HERE/run-ovmf.sh" "$build" "$out"
  echo "$stamp" >"$out/stamp"
  ;;
reference)
  out="$1" expected="$2" app="$3"
  [[ -e "$out/SKIPPED" ]] && skipped "$(cat "$out/SKIPPED")"
  [[ -r "$out/$app.ovmf.txt" ]] || { echo "conformance: $out/$app.ovmf.txt missing" >&2; exit 1; }
  if diff -u --label "committed $app.txt" --label "OVMF now" "$expected/$app.txt" \
    "$out/$app.ovmf.txt"; then
    echo "conformance: $app: OVMF transcript equals the committed reference" >&2
  else
    echo "conformance: $app: OVMF answers differ from tests/conformance/expected/$app.txt" >&2
    exit 1
  fi
  ;;
shim)
  build="$1" out="$2" shim_out="$3" app="$4"
  [[ -e "$out/SKIPPED" ]] && skipped "$(cat "$out/SKIPPED")"
  # Conformance apps are unsigned test programs, run on the described machine OVMF emulates.
  export RUN_EFI_ARGS="${RUN_EFI_ARGS:---no-verify --machine q35}"
  "$HERE/run-shim.sh" "$build" "$shim_out" "$app" || true
  exec "$HERE/compare.sh" "$out/$app.ovmf.txt" "$shim_out/$app.shim.txt"
  ;;
*)
  echo "usage: $0 ovmf|reference|shim ARGS..." >&2
  exit 2
  ;;
esac
