#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# link-payload.sh --cc CC --out FILE.efi [--trust builtin|firmware|both] [--db FILE]...
#                 [--dbx FILE]... [--sbat-level FILE] [--object FILE]... -- ARCHIVE...
#
# The last step of the payload's build (docs/payload.md), one recipe for the installed payload
# (CMake target efikexec_payload) and for payloads with other trust anchors (tests): makes the
# db/dbx signature lists from the given certificates or .esl files (payload-trust.py), assembles
# them with the SbatLevel text into the image as data, links the ARCHIVEs, the payload's objects
# first and whole, with the OBJECTs (files or archives, also whole: a test's stand-ins for
# members of the later archives) as a static PIE
# with payload.ld, and turns it into the PE + bzImage file (make-payload-image.py). --trust
# (default builtin) is where the payload takes its anchors from: the built-in ones, the
# firmware's db/dbx/SbatLevelRT, or both (docs/payload.md); it is written into the image as the
# byte payload_trust_source. With builtin and no --db the payload refuses every UKI.
set -euo pipefail
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
die() { echo "link-payload: $*" >&2; exit 1; }
cc="" out="" sbat="" trust=builtin
db=() dbx=() objects=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cc) cc="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --trust) trust="${2:?}"; shift 2 ;;
    --db) db+=("$(realpath -- "${2:?}")"); shift 2 ;;
    --dbx) dbx+=("$(realpath -- "${2:?}")"); shift 2 ;;
    --sbat-level) sbat="$(realpath -- "${2:?}")"; shift 2 ;;
    --object) objects+=("${2:?}"); shift 2 ;;
    --) shift; break ;;
    *) die "unknown option $1" ;;
  esac
done
[[ -n "$cc" && -n "$out" && $# -ge 1 ]] || die "usage: link-payload.sh --cc CC --out FILE [--trust builtin|firmware|both] [--db F]... [--dbx F]... [--sbat-level F] -- ARCHIVE..."
case "$trust" in
  builtin) trust_byte=0 ;;
  firmware) trust_byte=1 ;;
  both) trust_byte=2 ;;
  *) die "--trust takes builtin, firmware or both, not '$trust'" ;;
esac
first="$1"
shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$here/payload-trust.py" "$work/db.esl" ${db[@]+"${db[@]}"}
python3 "$here/payload-trust.py" "$work/dbx.esl" ${dbx[@]+"${dbx[@]}"}
if [[ -n "$sbat" ]]; then cp -- "$sbat" "$work/sbat_level.csv"; else : >"$work/sbat_level.csv"; fi
cat >"$work/trust.S" <<ASM
        .section .rodata.payload_trust, "a"
        .globl payload_trust_source
payload_trust_source:
        .byte $trust_byte
        .balign 16
        .globl payload_trust_db, payload_trust_db_end
payload_trust_db:
        .incbin "db.esl"
payload_trust_db_end:
        .balign 16
        .globl payload_trust_dbx, payload_trust_dbx_end
payload_trust_dbx:
        .incbin "dbx.esl"
payload_trust_dbx_end:
        .balign 16
        .globl payload_trust_sbat_level, payload_trust_sbat_level_end
payload_trust_sbat_level:
        .incbin "sbat_level.csv"
payload_trust_sbat_level_end:
        .section .note.GNU-stack, "", @progbits
ASM
(cd "$work" && "$cc" -c trust.S -o trust.o)
"$cc" -nostdlib -nostartfiles -static-pie -Wl,--no-dynamic-linker -Wl,-T,"$here/payload.ld" \
  -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -Wl,-z,norelro -Wl,--build-id=none -Wl,--gc-sections \
  -Wl,-u,payload_entry64 -o "$work/payload.elf" "$work/trust.o" \
  -Wl,--whole-archive "$first" ${objects[@]+"${objects[@]}"} -Wl,--no-whole-archive -Wl,--start-group "$@" -Wl,--end-group -lgcc
objcopy -O binary "$work/payload.elf" "$work/payload.bin"
python3 "$here/make-payload-image.py" "$work/payload.elf" "$work/payload.bin" "$out.tmp"
mv -f -- "$out.tmp" "$out"
