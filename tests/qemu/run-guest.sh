#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-guest.sh [options] --kernel VMLINUZ --initrd INITRD --append CMDLINE --log SERIAL.LOG
#                        [-- EXTRA-QEMU-ARGS...]
#   --bios ovmf|seabios   firmware (default ovmf)
#   --mem SIZE            guest RAM, QEMU syntax (default 1G)
#   --smp N               vCPUs (default 1)
#   --cpu MODEL           QEMU CPU model (default max: RDRAND, and LA57 so the guest kernel
#                         runs with 5-level paging; qemu64 gives a plain 4-level CPU)
#   --timeout SECONDS     wall-clock limit; QEMU is killed and the exit status is 124 (default 600)
#   --until REGEX         stop QEMU as soon as the serial log has a line matching REGEX (exit 0)
#   --disk IMAGE          attach a raw disk image (virtio-blk), e.g. an ESP for OVMF to boot
#   --vars FILE           ovmf: use FILE itself as the writable variable store (kept after the
#                         run, so a later boot finds what this one wrote) instead of a copy
#   --show                also stream the serial log to stdout while the guest runs
#   --stamps FILE         also write each serial line to FILE prefixed with the host's clock
#                         when it arrived (microseconds since the epoch): for benchmarks that time
#                         what happens between two lines across a kexec
#   --kernel/--initrd     may be omitted together (boot from --disk instead)
#
# How the first kernel is booted:
#   ovmf:    OVMF_CODE_4M.fd (read-only pflash) + a private copy of OVMF_VARS_4M.fd, and QEMU's
#            -kernel/-initrd/-append. QEMU hands the bzImage to the firmware over fw_cfg;
#            OVMF's QemuKernelLoaderFsDxe exposes it and the boot manager starts it with
#            LoadImage/StartImage, i.e. through the kernel's own EFI stub (PE entry), with the
#            initrd served by LoadFile2. The guest has /sys/firmware/efi: a real EFI boot.
#   seabios: -kernel without pflash: SeaBIOS' linuxboot option ROM, the legacy 16-bit boot
#            protocol, no EFI at all.
# Environment: QEMU (binary), OVMF_CODE, OVMF_VARS (firmware images) override the defaults.
#
# The machine: q35, TCG (no KVM needed), no network, std VGA without a display, serial to the
# log, -no-reboot so that a guest reset (or panic=-1) ends QEMU. A kexec is not a reset for
# QEMU: the second kernel keeps running in the same VM and must power off itself.
#
# Exit status: QEMU's (0 after a guest power-off or reset), 124 on timeout, 2 on bad usage.
#
# needs: qemu-system-x86 ovmf coreutils
set -Eeuo pipefail

usage() { sed -n '4,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "run-guest: $*" >&2; exit 2; }

BIOS=ovmf MEM=1G SMP=1 CPU=max TIMEOUT=600 KERNEL="" INITRD="" APPEND="" LOG="" UNTIL="" DISK=""
SHOW=0 STAMPS=""
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bios) BIOS="${2:?}"; shift 2 ;;
    --mem) MEM="${2:?}"; shift 2 ;;
    --smp) SMP="${2:?}"; shift 2 ;;
    --cpu) CPU="${2:?}"; shift 2 ;;
    --timeout) TIMEOUT="${2:?}"; shift 2 ;;
    --kernel) KERNEL="${2:?}"; shift 2 ;;
    --initrd) INITRD="${2:?}"; shift 2 ;;
    --append) APPEND="${2?}"; shift 2 ;;
    --log) LOG="${2:?}"; shift 2 ;;
    --until) UNTIL="${2:?}"; shift 2 ;;
    --disk) DISK="${2:?}"; shift 2 ;;
    --vars) VARS_FILE="${2:?}"; shift 2 ;;
    --show) SHOW=1; shift ;;
    --stamps) STAMPS="${2:?}"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h | --help) usage ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ -n "$LOG" ]] || die "--log is required"
[[ -n "$KERNEL" || -n "$DISK" ]] || die "--kernel (or --disk) is required"
[[ -z "$KERNEL" || -f "$KERNEL" ]] || die "kernel $KERNEL not found"
[[ -z "$INITRD" || -f "$INITRD" ]] || die "initrd $INITRD not found"
[[ -z "$DISK" || -f "$DISK" ]] || die "disk $DISK not found"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout takes whole seconds"

QEMU="${QEMU:-qemu-system-x86_64}"
command -v "$QEMU" >/dev/null || die "$QEMU not found (qemu-system-x86)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/run-guest.XXXXXX")"
QPID=""
TAILPID=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  [[ -z "$QPID" ]] || kill -KILL "$QPID" 2>/dev/null || true
  [[ -z "$TAILPID" ]] || kill "$TAILPID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

args=(-machine q35 -accel tcg -cpu "$CPU" -m "$MEM" -smp "$SMP"
  -nodefaults -vga std -display none -nic none -monitor none -parallel none -no-reboot)
# With --stamps the serial port is QEMU's stdout, read line by line as it comes.
if [[ -n "$STAMPS" ]]; then args+=(-serial stdio); else args+=(-serial "file:$LOG"); fi

case "$BIOS" in
  ovmf)
    code="${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}"
    vars="${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}"
    [[ -f "$code" && -f "$vars" ]] || die "OVMF images not found ($code, $vars): install ovmf"
    # Each run gets its own variable store: NVRAM writes of one boot must not leak into the next.
    store="$TMP/vars.fd"
    if [[ -n "${VARS_FILE:-}" ]]; then
      store="$VARS_FILE"
    else
      cp "$vars" "$store"
    fi
    args+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
      -drive "if=pflash,format=raw,unit=1,file=$store")
    ;;
  seabios) ;; # QEMU's default firmware
  *) die "--bios takes ovmf or seabios" ;;
esac

if [[ -n "$KERNEL" ]]; then
  args+=(-kernel "$KERNEL" -append "$APPEND")
  [[ -z "$INITRD" ]] || args+=(-initrd "$INITRD")
fi
if [[ -n "$DISK" ]]; then
  # A snapshot: the guest may write, the image stays as it was.
  args+=(-drive "if=none,id=disk0,format=raw,snapshot=on,file=$DISK" -device "virtio-blk-pci,drive=disk0")
fi
args+=("${EXTRA[@]}")

: >"$LOG"
[[ -z "$STAMPS" ]] || : >"$STAMPS"
# stamp_serial: QEMU's serial output on stdin, to LOG as it is and to STAMPS with arrival times.
stamp_serial() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    printf '%s\n' "$line" >>"$LOG"
    printf '%s %s\n' "${EPOCHREALTIME/[.,]/}" "$line" >>"$STAMPS"
  done
}
now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }
start=$(now_ms)
deadline=$((start + TIMEOUT * 1000))
elapsed() { awk -v ms=$(($(now_ms) - start)) 'BEGIN { printf "%.1f", ms / 1000 }'; }
if [[ -n "$STAMPS" ]]; then
  "$QEMU" "${args[@]}" </dev/null > >(stamp_serial) &
else
  "$QEMU" "${args[@]}" </dev/null &
fi
QPID=$!
if [[ $SHOW -eq 1 ]]; then
  tail -n +1 -f --pid="$QPID" "$LOG" &
  TAILPID=$!
fi

# Poll instead of `timeout`: the same loop serves --until, and QEMU stays our direct child.
status=""
while kill -0 "$QPID" 2>/dev/null; do
  if [[ -n "$UNTIL" ]] && grep -qE -- "$UNTIL" "$LOG"; then
    echo "run-guest: '$UNTIL' seen after $(elapsed) s; stopping QEMU" >&2
    kill -TERM "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
    QPID=""
    status=0
    break
  fi
  if (($(now_ms) >= deadline)); then
    echo "run-guest: TIMEOUT after ${TIMEOUT} s; killing QEMU (log: $LOG)" >&2
    kill -KILL "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
    QPID=""
    status=124
    break
  fi
  sleep 0.2
done
if [[ -z "$status" ]]; then
  status=0
  wait "$QPID" || status=$?
  QPID=""
  echo "run-guest: QEMU ended (status $status) after $(elapsed) s" >&2
fi
if [[ -n "$TAILPID" ]]; then
  sleep 0.3
  kill "$TAILPID" 2>/dev/null || true
  wait "$TAILPID" 2>/dev/null || true
  TAILPID=""
fi
exit "$status"
