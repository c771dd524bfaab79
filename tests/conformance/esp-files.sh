#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# esp-files.sh APPS_DIR ESP_DIR
#
# The files eft_files reads from its boot volume, in the directories systemd-stub reads for an
# image at \EFI\BOOT\BOOTX64.EFI: its extra.d (an add-on: the eft_child application, a
# credential, an extension of 5000 known bytes) and \loader\credentials (a global credential).
# run-ovmf.sh puts them on the QEMU FAT drive, run-shim.sh hands the same directory to
# `run-efi --esp`.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 APPS_DIR ESP_DIR" >&2; exit 2; }
apps="$1" esp="$2"
extra="$esp/EFI/BOOT/BOOTX64.EFI.extra.d"
mkdir -p "$extra" "$esp/loader/credentials"
cp "$apps/eft_child.efi" "$extra/a.addon.efi"
printf 'credential b' >"$extra/b.cred"
python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + 3) % 251 for i in range(5000)))' \
  >"$extra/c.sysext.raw"
printf 'global credential' >"$esp/loader/credentials/g.cred"
