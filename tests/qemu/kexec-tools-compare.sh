#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# kexec-tools-compare.sh FIXTURES WORKDIR EFIKEXEC_BIN [--update-doc DOC]
#   Measures, in QEMU guests, what a second kernel gets when the same signed UKI (the
#   three-profile one of make-fixtures-newer.sh) is loaded by efikexec and by kexec-tools 2.0.32
#   (`kexec -l`, which splits a UKI into its .linux and .initrd, and `kexec -s -l`, the
#   kernel-side file loader), and whether each notices a copy of the UKI with one byte of profile
#   2's .cmdline changed. One guest boot per loader (Debian 6.1 first kernel, OVMF). Then, one
#   more boot per loader, whether the next kernel has the firmware's EFI runtime services and how
#   many variables its efivarfs lists (scenarios/runtime-services.sh with the signed 6.1 kernel).
#   kexec-tools is built static from Debian's forky source package at test time
#   (bench/build-kexec-tools.sh, into WORKDIR/kexec-tools); nothing of it is kept in the tree.
#   Prints the table (markdown) and writes it to WORKDIR/comparison.md; --update-doc DOC
#   replaces the block between the MEASURED markers of DOC with it.
#   KEXEC_COMPARE_REUSE=1 reuses a complete guest log of an earlier run instead of booting again.
#   Exit status: 0 when every guest ran, 1 otherwise.
set -euo pipefail
TEST_NAME=kexec-tools-compare
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/lib.sh"
# shellcheck source=SCRIPTDIR/overlay.sh
. "$QEMU_DIR/overlay.sh"

[[ $# -eq 3 || ($# -eq 5 && "$4" == --update-doc) ]] ||
  { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN [--update-doc DOC]" >&2; exit 2; }
FIX="$(realpath -m -- "$1")"
WORK="$(realpath -m -- "$2")"
BIN="$3"
DOC="${5:-}"
require_fixture "$FIX"/{vmlinuz,keys/db.crt,initrd-second.cpio.gz,modules}
NEW="${EFIKEXEC_NEWER_FIXTURES:-$FIX/newer}"
"$QEMU_DIR/../fixtures/make-fixtures-newer.sh" "$NEW" "$FIX" >&2 ||
  { note "the newer fixtures could not be made"; exit 1; }
mkdir -p "$WORK"
UKI="$NEW/uki-profiles-signed.efi"
PROFILE=2

KEXEC="$("$QEMU_DIR/../../bench/build-kexec-tools.sh" "$WORK/kexec-tools" forky | tail -n1)" ||
  { note "kexec-tools could not be built (bench/build-kexec-tools.sh)"; exit 1; }
KEXEC_VERSION="$("$KEXEC" --version 2>&1 | head -n1)"

# The tampered copy: profile 2's .cmdline says efikexec.profile=7; the signature is the good one.
TAMPERED="$WORK/uki-profiles-tampered.efi"
/usr/bin/python3 - "$UKI" "$TAMPERED" <<'EOF'
import sys, pefile
data = bytearray(open(sys.argv[1], "rb").read())
pe = pefile.PE(data=bytes(data), fast_load=True)
last = [s for s in pe.sections if s.Name.rstrip(b"\0") == b".cmdline"][-1]
start = last.PointerToRawData
i = data.index(b"efikexec.profile=2", start, start + last.SizeOfRawData) + len("efikexec.profile=")
data[i:i + 1] = b"7"
open(sys.argv[2], "wb").write(data)
EOF

OVMF_SYSTEM="$WORK/ovmf-system"
system_ovmf "$OVMF_SYSTEM"
LOADERS=(efikexec kexec-l kexec-s)
for loader in "${LOADERS[@]}"; do
  overlay_begin "$loader"
  overlay_add "$loader" bin/kexec "$KEXEC"
  overlay_add "$loader" fixtures/newer/uki.efi "$UKI"
  overlay_add "$loader" fixtures/newer/uki-tampered.efi "$TAMPERED"
  append="$FIRST_APPEND efikexec.loader=$loader efikexec.image=newer/uki.efi"
  append+=" efikexec.tampered=newer/uki-tampered.efi"
  [[ $loader != efikexec ]] || append+=" efikexec.profile=$PROFILE"
  if [[ "${KEXEC_COMPARE_REUSE:-0}" == 1 ]] && grep -qa '^EFIKEXEC-SECOND: done' "$WORK/$loader.log" 2>/dev/null; then
    note "$loader: reusing the measurement in $WORK/$loader.log"
    continue
  fi
  check "$loader: guest ran" overlay_boot "$loader" "$QEMU_DIR/scenarios/kexec-tools-compare.sh" \
    "$FIX/vmlinuz" "$OVMF_SYSTEM" "$append"
done

# EFI runtime services in the next kernel: the signed Debian 6.1 EFI-stub kernel with the
# runtime-services initrd (it counts efivarfs), through each loader; one guest boot per loader.
runtime_second_initrd "$WORK/runtime-second.cpio.gz"
for loader in "${LOADERS[@]}"; do
  name="runtime-$loader"
  overlay_begin "$name"
  overlay_add "$name" bin/kexec "$KEXEC"
  overlay_add "$name" fixtures/runtime-second.cpio.gz "$WORK/runtime-second.cpio.gz"
  if [[ "${KEXEC_COMPARE_REUSE:-0}" == 1 ]] && grep -qa '^EFIKEXEC-SECOND: done' "$WORK/$name.log" 2>/dev/null; then
    note "$name: reusing the measurement in $WORK/$name.log"
    continue
  fi
  check "$name: guest ran" overlay_boot "$name" "$QEMU_DIR/scenarios/runtime-services.sh" \
    "$FIX/vmlinuz" "$OVMF_SYSTEM" "$FIRST_APPEND efikexec.loader=$loader"
done

# runtime_row LOADER: runtime services on or off in the next kernel, and the efivarfs counts.
runtime_row() {
  local loader="$1" clean cmd state first second
  clean="$(sed -e 's/\r//g' -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' "$WORK/runtime-$loader.log")"
  get() { sed -n "s/^$1//p" <<<"$clean" | head -n1; }
  case "$loader" in
    efikexec) cmd="efikexec load --db db.crt --initrd INITRD --append ... KERNEL" ;;
    kexec-l) cmd="kexec -l KERNEL --initrd=INITRD --append=..." ;;
    kexec-s) cmd="kexec -s -l KERNEL --initrd=INITRD --append=..." ;;
  esac
  first="$(get 'EFIKEXEC-FIRST: first efivars=')"
  second="$(get 'EFIKEXEC-SECOND: second efivars=')"
  if [[ "$(get 'EFIKEXEC-SECOND: ')" != up ]]; then
    state="(no second kernel)"
  elif [[ "$(get 'EFIKEXEC-SECOND: virtual-mode=')" == ok && -n "$second" ]]; then
    state="on (the firmware's, at the first kernel's virtual addresses)"
  else
    state="off"
  fi
  [[ -n "$second" ]] || second="none (efivarfs cannot be mounted)"
  # shellcheck disable=SC2016 # the backquotes are markdown
  printf '| %s | `%s` | %s | %s | %s |\n' "$loader" "$cmd" "$state" "${first:-?}" "$second"
}

# One row per loader, from what the guests printed.
row() {
  local loader="$1" log="$WORK/$1.log" clean cmd cmdline initrd profile sig tampered good size mem
  clean="$(sed -e 's/\r//g' -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' "$log")"
  get() { sed -n "s/^$1//p" <<<"$clean" | head -n1; }
  case "$loader" in
    efikexec) cmd="efikexec load --db db.crt --profile $PROFILE UKI" ;;
    kexec-l) cmd="kexec -l UKI" ;;
    kexec-s) cmd="kexec -s -l UKI (the kernel's file loader)" ;;
  esac
  tampered="$(get 'EFIKEXEC-FIRST: tampered exit=')"
  good="$(get 'EFIKEXEC-FIRST: good exit=')"
  if [[ "$(get 'EFIKEXEC-SECOND: ')" != up ]]; then
    cmdline="(no second kernel: load ${good:-?})"
    initrd="-"
    profile="-"
    mem="-"
  else
    cmdline="$(get 'EFIKEXEC-SECOND: cmdline=')"
    mem="$(get 'EFIKEXEC-SECOND: memtotal_kb=') kB"
    [[ -n "$cmdline" ]] || cmdline="(empty: no console= either)"
    if [[ "$(get 'EFIKEXEC-SECOND: initrd=')" == second ]]; then
      size="$(get 'EFIKEXEC-FIRST: good: efikexec: its initrd: ' | sed 's/ bytes.*//')"
      if [[ -n "$size" ]]; then
        initrd="the .initrd section + the cpio systemd-stub adds ($size bytes in all)"
      else
        initrd="the .initrd section as stored"
      fi
    else
      initrd="none"
    fi
    case "$cmdline" in
      *efikexec.profile=*) profile="${cmdline##*efikexec.profile=}"; profile="${profile%% *}" ;;
      *) profile="none (no .cmdline of any profile)" ;;
    esac
  fi
  case "$tampered" in
    *loaded=1*) sig="no: tampered copy loaded (exit ${tampered%% *})" ;;
    *loaded=0*) sig="yes: tampered copy refused (exit ${tampered%% *})" ;;
    *) sig="?" ;;
  esac
  if [[ $loader == efikexec ]] && grep -q 'EFIKEXEC-FIRST: good: efikexec: verified' <<<"$clean"; then
    sig+=", Authenticode of the whole PE against db"
  fi
  if [[ $loader == kexec-s ]] && grep -qi 'tampered dmesg: .*sign' <<<"$clean"; then
    sig+="; kernel: $(get 'EFIKEXEC-FIRST: tampered dmesg: ' | cut -c1-60)"
  fi
  # shellcheck disable=SC2016 # the backquotes are markdown
  printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' "$loader" "$cmd" "$cmdline" "$initrd" "$profile" \
    "$sig" "$mem"
}

{
  echo "Measured $(date -u +%Y-%m-%d) in QEMU (TCG, q35, OVMF, Debian 6.1 first kernel) by"
  echo "\`tests/qemu/kexec-tools-compare.sh\`: $(basename "$UKI") (systemd-stub 257 + Linux 6.12,"
  echo "three profiles, signed with the test db key), $KEXEC_VERSION built from the source package"
  echo "of Debian forky. Profile $PROFILE has \`.cmdline\` \`console=ttyS0 efikexec.profile=$PROFILE panic=-1\`."
  echo
  echo "| loader | command | the second kernel's command line | its initrd | profile | signature checked over the whole image | MemTotal |"
  echo "|---|---|---|---|---|---|---|"
  for loader in "${LOADERS[@]}"; do row "$loader"; done
  echo
  echo "EFI runtime services in the next kernel, measured the same way: Debian's signed 6.1 EFI-stub"
  echo "kernel (\`vmlinuz-signed.efi\`) with an initrd that mounts efivarfs and counts its variables."
  echo
  echo "| loader | command | EFI runtime services in the next kernel | efivarfs variables, first kernel | efivarfs variables, next kernel |"
  echo "|---|---|---|---|---|"
  for loader in "${LOADERS[@]}"; do runtime_row "$loader"; done
} >"$WORK/comparison.md"
cat "$WORK/comparison.md"

if [[ -n "$DOC" ]]; then
  python3 - "$DOC" "$WORK/comparison.md" <<'EOF'
import sys
doc, table = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
begin, end = "<!-- BEGIN MEASURED -->\n", "<!-- END MEASURED -->"
a, b = text.index(begin) + len(begin), text.index(end)
open(doc, "w").write(text[:a] + table + text[b:])
EOF
  note "updated $DOC"
fi
summary
