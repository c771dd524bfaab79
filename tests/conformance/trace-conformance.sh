#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# trace-conformance.sh EFIKEXEC OUTDIR [TRACE...]
#
# Runs the images of the OVMF reference traces (tests/conformance/traces/) under the shim with
# `efikexec run-efi --trace` on the q35 machine the traces were taken on, as the tracer ran them
# (from \target.efi on the boot volume, no LoadOptions for the UKIs), and compares the service
# calls with compare-trace.py. TRACE names one of a-uki252-linux61, b-uki257-linux612,
# c-uki262-linux72, d-linux61-initrd-cmdline (default: all four).
# Fixtures: EFIKEXEC_FIXTURES (tests/fixtures/make-fixtures.sh: the bare Debian 6.1 kernel) and
# EFIKEXEC_NEWER_FIXTURES (default EFIKEXEC_FIXTURES/newer; made here with
# tests/fixtures/make-fixtures-newer.sh when needed: its conformance/ images).
# OUTDIR gets NAME.shim.trace and NAME.compare.txt per trace.
#
# Exit status: 0 all the same (modulo the named allowed differences), 1 a difference,
# 2 usage, 77 no fixtures (ctest: skipped; a failure with EFIKEXEC_REQUIRE_FIXTURES=1:
# tests/lib/prerequisites.sh).
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 EFIKEXEC OUTDIR [TRACE...]" >&2; exit 2; }
BIN="$1"
OUT="$2"
shift 2
HERE="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
TRACES=("$@")
[[ ${#TRACES[@]} -gt 0 ]] ||
  TRACES=(a-uki252-linux61 b-uki257-linux612 c-uki262-linux72 d-linux61-initrd-cmdline)
# shellcheck source=SCRIPTDIR/../fixtures/newer-fixtures-env.sh
. "$HERE/../fixtures/newer-fixtures-env.sh"
newer_fixtures trace-conformance
mkdir -p "$OUT"

failed=0
for name in "${TRACES[@]}"; do
  args=(run-efi --no-verify --machine q35 --trace --image-path '\target.efi')
  case "$name" in
    d-linux61-initrd-cmdline)
      # The tracer's LoadOptions, and the initrd it names on the boot volume.
      require_fixture "$NEW/conformance/initrd.img"
      args+=(--cmdline 'console=ttyS0 initrd=\initrd.img'
        --boot-file "initrd.img=$NEW/conformance/initrd.img" "$BW/vmlinuz")
      ;;
    a-uki252-linux61 | b-uki257-linux612 | c-uki262-linux72)
      require_fixture "$NEW/conformance/$name.efi"
      args+=("$NEW/conformance/$name.efi")
      ;;
    *) echo "trace-conformance: unknown trace $name" >&2; exit 2 ;;
  esac
  EFIKEXEC_FORBID_KEXEC=1 "$BIN" "${args[@]}" >"$OUT/$name.shim.trace" 2>&1 || true
  if ! grep -q '^ended: exit-boot-services' "$OUT/$name.shim.trace"; then
    echo "trace-conformance: $name: the image did not reach ExitBootServices under the shim:" >&2
    tail -n 5 "$OUT/$name.shim.trace" >&2
    failed=1
    continue
  fi
  if python3 "$HERE/compare-trace.py" "$HERE/traces/$name.trace" "$OUT/$name.shim.trace" \
    >"$OUT/$name.compare.txt"; then
    echo "trace-conformance: $name: $(tail -n 1 "$OUT/$name.compare.txt")"
  else
    cat "$OUT/$name.compare.txt"
    failed=1
  fi
done
exit "$failed"
