#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# compare.sh OVMF.txt SHIM.txt
#
# Compares a conformance transcript from OVMF (the reference: what real firmware answers) with
# the same application's transcript from efikexec's shim. They must be equal line for line,
# except for the differences allowed below, each named with its reason. Anything else is a
# conformance failure and is shown as a unified diff (OVMF on the left).
#
# If SHIM.txt has a sibling SHIM.ending (written by run-shim.sh), an allowed difference that
# depends on how the shim's run ended checks that too.
#
# Exit status: 0 equal (modulo allowed differences), 1 different, 2 usage or missing file.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 OVMF.txt SHIM.txt" >&2
  exit 2
fi
ovmf="$1"
shim="$2"
for f in "$ovmf" "$shim"; do
  [[ -r "$f" ]] || { echo "compare: $f missing" >&2; exit 2; }
done
ending_file="${shim%.txt}.ending"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$ovmf" "$work/ovmf"
cp "$shim" "$work/shim"

# Allowed difference "ebs-returned-after-capture" (eft_ebs only).
# Reason: after a successful ExitBootServices the application writes its last line,
# "EFT: ebs.returned ...", straight to the UART. Under OVMF that line exists; under the shim the
# run ends inside that successful call (the capture: the image never runs on after it on the
# host), so the shim's transcript ends with "EFT: ebs.call". Allowed only when the OVMF
# transcript ends with exactly "ebs.call" followed by "ebs.returned status=Success ...", the shim
# transcript ends with "ebs.call", and (when known) the shim run ended at ExitBootServices.
allow_ebs_returned_after_capture() {
  local o_last o_prev s_last
  o_last="$(tail -n1 "$work/ovmf")"
  o_prev="$(tail -n2 "$work/ovmf" | head -n1)"
  s_last="$(tail -n1 "$work/shim")"
  [[ "$o_last" =~ ^EFT:\ ebs\.returned\ status=Success( |$) ]] || return 0
  [[ "$o_prev" == "EFT: ebs.call" && "$s_last" == "EFT: ebs.call" ]] || return 0
  if [[ -r "$ending_file" ]] && [[ "$(cat "$ending_file")" != exit-boot-services ]]; then
    echo "compare: shim transcript stops at ebs.call but the run ended: $(cat "$ending_file")" >&2
    return 0
  fi
  sed -i '$d' "$work/ovmf"
  echo "compare: allowed difference ebs-returned-after-capture (OVMF's '$o_last' not expected from the shim)" >&2
}

allow_ebs_returned_after_capture

if diff -u --label "OVMF $ovmf" --label "shim $shim" "$work/ovmf" "$work/shim"; then
  echo "compare: $(basename "$shim"): $(wc -l <"$work/shim") lines match OVMF" >&2
  exit 0
fi
echo "compare: $(basename "$shim") differs from OVMF (reference: tests/conformance/EXPECTED.md)" >&2
exit 1
