# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Guests whose initramfs carries more than make-guest-initrd.sh puts there (sourced after
# lib.sh, with WORK, FIX and BIN set): the usual first-kernel initramfs of FIX and BIN, and
# after it a second cpio archive, the overlay. The kernel unpacks concatenated archives in
# order, so the overlay adds files (the newer fixtures, kexec-tools) and replaces others (the
# first kernel's module list).

# overlay_begin NAME: an empty overlay for guest NAME.
overlay_begin() {
  rm -rf "$WORK/$1.overlay"
  mkdir -p "$WORK/$1.overlay"
}

# overlay_add NAME GUEST_PATH HOST_FILE: HOST_FILE appears at GUEST_PATH in the guest.
overlay_add() {
  mkdir -p "$(dirname "$WORK/$1.overlay/$2")"
  cp "$3" "$WORK/$1.overlay/$2"
}

# overlay_first_kernel_modules NAME MODULES_DIR: the first kernel loads MODULES_DIR's efivarfs
# (a modules tree of make-fixtures-newer.sh) instead of the bookworm kernel's.
overlay_first_kernel_modules() {
  local kver
  kver="$(ls "$2")"
  overlay_add "$1" "lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" \
    "$2/$kver/kernel/fs/efivarfs/efivarfs.ko"
  mkdir -p "$WORK/$1.overlay/etc"
  echo "/lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" >"$WORK/$1.overlay/etc/modules-load"
}

# overlay_boot NAME SCENARIO KERNEL OVMF_DIR APPEND [-- QEMU_ARGS...]: boots KERNEL under the OVMF
# of OVMF_DIR (OVMF_CODE_4M.fd, OVMF_VARS_4M.fd) with the guest initramfs plus the overlay, until
# the second kernel is done (or the first one says exec returned, or panics; OVERLAY_UNTIL
# replaces these patterns), with OVERLAY_MEM of RAM (default 1G). Log: WORK/NAME.log.
overlay_boot() {
  local name="$1" scenario="$2" kernel="$3" ovmf="$4" append="$5"
  local extra=()
  shift 5
  if [[ "${1:-}" == -- ]]; then extra=("$@"); fi
  "$QEMU_DIR/make-guest-initrd.sh" "$WORK/$name" "$FIX" "$BIN" "$scenario" >/dev/null
  (cd "$WORK/$name.overlay" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc -R 0:0 --quiet) | gzip -1n >"$WORK/$name/overlay.cpio.gz"
  cat "$WORK/$name/initrd-first.cpio.gz" "$WORK/$name/overlay.cpio.gz" >"$WORK/$name/initrd.cpio.gz"
  OVMF_CODE="$ovmf/OVMF_CODE_4M.fd" OVMF_VARS="$ovmf/OVMF_VARS_4M.fd" \
    "$QEMU_DIR/run-guest.sh" --bios ovmf --mem "${OVERLAY_MEM:-1G}" --smp 1 --timeout "$GUEST_TIMEOUT" \
    --until "${OVERLAY_UNTIL:-^EFIKEXEC-SECOND: done|^EFIKEXEC-FIRST: exec returned|Kernel panic}" \
    --kernel "$kernel" --initrd "$WORK/$name/initrd.cpio.gz" --append "$append" \
    --log "$WORK/$name.log" ${extra[@]+"${extra[@]}"}
}

# system_ovmf DIR: DIR gets links to this machine's OVMF (OVMF_DIR_SYSTEM, default
# /usr/share/OVMF), in the layout overlay_boot takes.
system_ovmf() {
  local f
  mkdir -p "$1"
  for f in OVMF_CODE_4M.fd OVMF_VARS_4M.fd; do
    ln -sf "${OVMF_DIR_SYSTEM:-/usr/share/OVMF}/$f" "$1/$f"
  done
}

# runtime_second_initrd DEST [EFIKEXEC_BIN THIRD_INITRD [PAYLOAD_FILE PAYLOAD_PATH]]: the second
# kernel's initrd of the runtime-services guests: the fixtures' initrd-second, and over it
# guest/runtime-services-second.sh as /init and the first kernel's efivarfs.ko (the second
# kernel is the same Debian 6.1 build, vmlinuz-signed.efi); with EFIKEXEC_BIN also efikexec,
# that kernel, db.crt and THIRD_INITRD (as /fixtures/third.cpio.gz), for the second kernel to
# load and execute a third one; with PAYLOAD_FILE also the payload, installed at PAYLOAD_PATH
# (a kernel in lockdown loads through it).
runtime_second_initrd() {
  local dest="$1" bin="${2:-}" third="${3:-}" payload="${4:-}" payload_path="${5:-}" kver tree
  kver="$(ls "$FIX/modules")"
  tree="$(mktemp -d "$WORK/.runtime-second.XXXXXX")"
  mkdir -p "$tree/lib"
  cp "$QEMU_DIR/guest/runtime-services-second.sh" "$tree/init"
  cp "$FIX/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$tree/lib/efivarfs.ko"
  if [[ -n "$bin" ]]; then
    mkdir -p "$tree/bin" "$tree/fixtures/keys"
    cp "$bin" "$tree/bin/efikexec"
    cp "$FIX/vmlinuz-signed.efi" "$tree/fixtures/vmlinuz-signed.efi"
    cp "$FIX/keys/db.crt" "$tree/fixtures/keys/db.crt"
    cp "$third" "$tree/fixtures/third.cpio.gz"
  fi
  if [[ -n "$payload" ]]; then
    mkdir -p "$tree/$(dirname "${payload_path#/}")"
    cp "$payload" "$tree/${payload_path#/}"
  fi
  (cd "$tree" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc -R 0:0 --quiet) | gzip -1n >"$tree.cpio.gz"
  cat "$FIX/initrd-second.cpio.gz" "$tree.cpio.gz" >"$dest"
  rm -rf "$tree" "$tree.cpio.gz"
}
