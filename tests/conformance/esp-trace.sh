#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# esp-trace.sh [--secure-boot] EFIKEXEC BUILD_DIR OUTDIR [TRACE...]
#
# The images of the OVMF reference traces (a-uki252-linux61, b-uki257-linux612,
# c-uki262-linux72; default: all three), started from an ESP that holds what systemd-stub reads
# beside a UKI: in \EFI\Linux\uki.efi.extra.d a command-line add-on signed with the fixtures' db
# key, an unsigned one, a credential and a system extension; a global add-on in \loader\addons; a
# global credential in \loader\credentials. Each image is traced twice, and the two traces are
# compared call for call with compare-trace.py:
#   - under OVMF (Secure Boot off, as the reference traces), from a FAT file system on an MBR
#     disk on the q35 SATA controller, by the tracer application eft_tracer.efi
#     (tests/efi_apps/eft_tracer.c) started as \EFI\BOOT\BOOTX64.EFI, which loads
#     \EFI\Linux\uki.efi and writes every service call to QEMU's debug console;
#   - under the shim, with `efikexec run-efi --trace --esp` over a directory with the same files.
# With --secure-boot, OVMF runs its Secure Boot build with the fixtures' variable store (PK, KEK
# and db: the fixtures' db certificate), the tracer and the UKI are signed with the db key, and
# the shim runs the q35-secureboot machine with the same db: the unsigned add-on must be refused
# by LoadImage on both sides alike.
# OUTDIR gets NAME.ovmf.trace, NAME.shim.trace and NAME.compare.txt per image (NAME-secure-boot.*
# with --secure-boot). ESP_TRACE_KEEP=1 keeps the work directory (the ESP, the serial log).
#
# Exit status: 0 all the same (modulo the allowed differences compare-trace.py names), 1 a
# difference or a failed run, 2 usage, 77 no fixtures (a failure with EFIKEXEC_REQUIRE_FIXTURES=1).
set -euo pipefail

SECURE_BOOT=
if [[ "${1:-}" == --secure-boot ]]; then
  SECURE_BOOT=1
  shift
fi
[[ $# -ge 3 ]] || { echo "usage: $0 [--secure-boot] EFIKEXEC BUILD_DIR OUTDIR [TRACE...]" >&2; exit 2; }
BIN="$1"
BUILD_DIR="$2"
OUT="$3"
shift 3
HERE="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
TRACES=("$@")
[[ ${#TRACES[@]} -gt 0 ]] || TRACES=(a-uki252-linux61 b-uki257-linux612 c-uki262-linux72)
# shellcheck source=SCRIPTDIR/../fixtures/newer-fixtures-env.sh
. "$HERE/../fixtures/newer-fixtures-env.sh"
newer_fixtures esp-trace
require_fixture "$NEW/addon-257.efi.stub" "$NEW/ukify/usr/bin/ukify" "$BW/keys/db.key" \
  "$BW/keys/db.crt"
require_tool sbsign sfdisk mkfs.fat mmd mcopy /usr/bin/python3
require_qemu
machine=(-machine q35)
shim_machine=(--no-verify --machine q35)
if [[ -n "$SECURE_BOOT" ]]; then
  require_fixture "$NEW/ovmf-secboot-vars/OVMF_VARS_4M.fd"
  OVMF_CODE="${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.secboot.fd}"
  OVMF_VARS="$NEW/ovmf-secboot-vars/OVMF_VARS_4M.fd"
  # The Secure Boot build keeps its variables in SMM.
  machine=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on)
  shim_machine=(--machine q35-secureboot --db "$BW/keys/db.crt")
else
  OVMF_CODE="${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}"
  OVMF_VARS="${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}"
fi
[[ -r "$OVMF_CODE" ]] || { echo "esp-trace: firmware $OVMF_CODE missing (ovmf)" >&2; exit 1; }
QEMU="${QEMU:-qemu-system-x86_64}"
TRACE_TIMEOUT="${TRACE_TIMEOUT:-600}"
TRACER="$BUILD_DIR/tests/efi_apps/eft_tracer.efi"
[[ -r "$TRACER" ]] || { echo "esp-trace: $TRACER missing (build first)" >&2; exit 1; }
mkdir -p "$OUT"
work="$(mktemp -d)"
qemu_pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  if [[ -n "$qemu_pid" ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [[ -n "${ESP_TRACE_KEEP:-}" ]]; then
    echo "esp-trace: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# ukify as make-fixtures-newer.sh unpacked it, with the Python modules it unpacked beside it.
ukify() {
  local path="" dir
  for dir in "$NEW"/pylib-*/usr/lib/python3/dist-packages; do
    [[ -d "$dir" ]] && path="$dir${path:+:$path}"
  done
  PYTHONPATH="$path" SOURCE_DATE_EPOCH=0 /usr/bin/python3 "$NEW/ukify/usr/bin/ukify" "$@" \
    >>"$work/ukify.log" 2>&1 || { cat "$work/ukify.log" >&2; return 1; }
}
# sign IN OUT: signed with the fixtures' db key.
sign() {
  sbsign --key "$BW/keys/db.key" --cert "$BW/keys/db.crt" --output "$2" "$1" >/dev/null 2>&1
}
addon() { ukify build --stub="$NEW/addon-257.efi.stub" --cmdline="$1" --output="$2"; }
addon "efikexec.addon=signed" "$work/signed-unsigned.addon.efi"
sign "$work/signed-unsigned.addon.efi" "$work/signed.addon.efi"
addon "efikexec.addon=unsigned" "$work/unsigned.addon.efi"
addon "efikexec.addon=global" "$work/global-unsigned.addon.efi"
sign "$work/global-unsigned.addon.efi" "$work/global.addon.efi"
sign "$TRACER" "$work/tracer.efi"
printf 'local secret' >"$work/local.cred"
printf 'global secret' >"$work/global.cred"
printf 'a small system extension' >"$work/tools.sysext.raw"

# The ESP of one UKI, as a directory (for the shim) and as an MBR disk with one FAT partition
# (for OVMF), filled in the same order: a FAT directory lists its entries in the order they were
# written.
make_esp() {
  local uki="$1" esp="$2" disk="$3" mib
  rm -rf "$esp" && mkdir -p "$esp/EFI/BOOT" "$esp/EFI/Linux/uki.efi.extra.d" "$esp/loader/addons" \
    "$esp/loader/credentials"
  cp "$work/tracer.efi" "$esp/EFI/BOOT/BOOTX64.EFI"
  cp "$uki" "$esp/EFI/Linux/uki.efi"
  cp "$work/signed.addon.efi" "$work/unsigned.addon.efi" "$work/local.cred" \
    "$work/tools.sysext.raw" "$esp/EFI/Linux/uki.efi.extra.d/"
  cp "$work/global.addon.efi" "$esp/loader/addons/"
  cp "$work/global.cred" "$esp/loader/credentials/"
  mib=$(($(stat -c %s "$uki") / 1048576 + 40))
  rm -f "$disk"
  truncate -s $(((mib + 2) * 1048576)) "$disk"
  printf 'label: dos\nstart=2048, size=%s, type=ef\n' $((mib * 2048)) | sfdisk --quiet "$disk"
  # (mkfs.fat warns that the image is larger than the partition it was told to fill.)
  mkfs.fat -F 32 -n ESP --offset 2048 "$disk" $((mib * 1024)) >/dev/null 2>&1
  local fat="$disk@@1M" dir file
  mmd -i "$fat" ::/EFI ::/EFI/BOOT ::/EFI/Linux ::/EFI/Linux/uki.efi.extra.d ::/loader \
    ::/loader/addons ::/loader/credentials
  while read -r file; do
    dir="$(dirname "$file")"
    mcopy -i "$fat" "$esp/$file" "::/$dir/"
  done < <(cd "$esp" && find . -type f -printf '%P\n' | LC_ALL=C sort)
}

# trace_ovmf DISK LOG: boots OVMF from DISK until the tracer's last line; the trace in LOG.
trace_ovmf() {
  local disk="$1" log="$2" vars="$work/vars.fd" deadline
  cp "$OVMF_VARS" "$vars"
  : >"$log"
  # -nodefaults: no NIC (no PXE attempt), no VGA; the serial port is the images' console, the
  # debug console (port 0xE9) the tracer's.
  "$QEMU" "${machine[@]}" -m 1G -nodefaults -display none -no-reboot -monitor none \
    -serial "file:$work/serial.log" -debugcon "file:$log" \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
    -drive "if=pflash,format=raw,unit=1,file=$vars" \
    -drive "if=none,id=esp,format=raw,snapshot=on,file=$disk" \
    -device ide-hd,drive=esp,bus=ide.0 \
    </dev/null >"$work/qemu.out" 2>&1 &
  qemu_pid=$!
  deadline=$(($(date +%s) + TRACE_TIMEOUT))
  while ! grep -aq '^TRACE: end' "$log"; do
    if ! kill -0 "$qemu_pid" 2>/dev/null || [[ $(date +%s) -ge $deadline ]]; then break; fi
    # A CPU exception in firmware or image: OVMF prints its register dump and hangs.
    grep -aqs '^!!!! X64 Exception' "$work/serial.log" && break
    sleep 0.5
  done
  kill "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
  grep -aq '^TRACE: end exit-boot-services' "$log"
}

failed=0
for name in "${TRACES[@]}"; do
  case "$name" in
    a-uki252-linux61 | b-uki257-linux612 | c-uki262-linux72) ;;
    *) echo "esp-trace: unknown trace $name" >&2; exit 2 ;;
  esac
  require_fixture "$NEW/conformance/$name.efi"
  uki="$NEW/conformance/$name.efi"
  if [[ -n "$SECURE_BOOT" ]]; then
    sign "$uki" "$work/uki-signed.efi"
    uki="$work/uki-signed.efi"
    name="$name-secure-boot"
  fi
  make_esp "$uki" "$work/esp" "$work/disk.img"
  if ! trace_ovmf "$work/disk.img" "$OUT/$name.ovmf.trace"; then
    echo "esp-trace: $name: the image did not reach ExitBootServices under OVMF:" >&2
    tail -n 5 "$OUT/$name.ovmf.trace" "$work/serial.log" "$work/qemu.out" >&2
    failed=1
    continue
  fi
  EFIKEXEC_FORBID_KEXEC=1 "$BIN" run-efi "${shim_machine[@]}" --trace --esp "$work/esp" \
    "$work/esp/EFI/Linux/uki.efi" >"$OUT/$name.shim.trace" 2>&1 || true
  if ! grep -q '^ended: exit-boot-services' "$OUT/$name.shim.trace"; then
    echo "esp-trace: $name: the image did not reach ExitBootServices under the shim:" >&2
    tail -n 5 "$OUT/$name.shim.trace" >&2
    failed=1
    continue
  fi
  if python3 "$HERE/compare-trace.py" "$OUT/$name.ovmf.trace" "$OUT/$name.shim.trace" \
    >"$OUT/$name.compare.txt"; then
    echo "esp-trace: $name: $(tail -n 1 "$OUT/$name.compare.txt")"
  else
    cat "$OUT/$name.compare.txt"
    failed=1
  fi
done
exit "$failed"
