# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
#
# Shared by run-ovmf.sh and run-shim.sh (sourced): arguments and the application list.

# conformance_args "$0" "$@": sets BUILD_DIR, OUTDIR, APPS_DIR and apps (the APP arguments, or
# every application of BUILD_DIR/tests/efi_apps/apps.txt, which CMake writes).
conformance_args() {
  local self="$1"
  shift
  if [[ $# -lt 2 ]]; then
    echo "usage: $self BUILD_DIR OUTDIR [APP...]" >&2
    exit 2
  fi
  BUILD_DIR="$1"
  OUTDIR="$2"
  shift 2
  APPS_DIR="$BUILD_DIR/tests/efi_apps"
  if [[ $# -gt 0 ]]; then
    apps=("$@")
  else
    mapfile -t apps <"$APPS_DIR/apps.txt"
  fi
  mkdir -p "$OUTDIR"
}

# transcript FILE: the "EFT: " lines of a console log. OVMF's terminal driver wraps text in ANSI
# escape sequences (colours, cursor moves); both consoles end lines with CRLF.
transcript() {
  sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[()][0-9A-Za-z]//g' -e 's/\r//g' "$1" |
    grep -ao 'EFT: .*' || true
}
