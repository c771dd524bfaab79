#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make-guest-initrd.sh OUTDIR FIXTURES EFIKEXEC_BIN GUEST_SCRIPT
#
# Builds the *first* kernel's initramfs, OUTDIR/initrd-first.cpio.gz (cpio newc, gzip), and
# prints its path. It holds:
#   /bin/busybox (+ applet links)   from busybox-static on this machine
#   /bin/efikexec                   EFIKEXEC_BIN (a static or static-pie binary); `-` leaves it out
#   /fixtures/...                   the fixtures a guest scenario needs (see GUEST_FIXTURES below)
#   /lib/modules/<kver>/...         modules the guest needs that this kernel does not build in
#   /scenario.sh                    GUEST_SCRIPT, run by /init
#   /init                           mounts proc/sys/dev (+ efivarfs), says `EFIKEXEC-FIRST: up`,
#                                   runs /scenario.sh, and powers off if the scenario returns
#
# FIXTURES is the output folder of tests/fixtures/make-fixtures.sh.
# The scenario runs with FIXTURES=/fixtures and EFIKEXEC=/bin/efikexec (empty if left out) in
# its environment and /lib/efikexec-guest.sh (helpers: say, dump, have) available to source.
#
# needs: busybox-static cpio gzip coreutils findutils file
set -Eeuo pipefail

STEP="start"
# Report from the main shell only (subshells inherit the trap with -E).
trap '[[ $BASHPID -ne $$ ]] || echo "make-guest-initrd: FAILED in step: ${STEP}" >&2' ERR
die() { echo "make-guest-initrd: FAILED in step: ${STEP}: $*" >&2; exit 1; }

[[ $# -eq 4 ]] || { echo "usage: $0 OUTDIR FIXTURES EFIKEXEC_BIN|- GUEST_SCRIPT" >&2; exit 2; }
OUT="$(realpath -m -- "$1")"
FIX="$(realpath -- "$2")"
BIN="$3"
SCENARIO="$(realpath -- "$4")"
HERE="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"

# What the guest gets from FIXTURES: what the scenarios load or check, nothing more (the whole
# initramfs is held in guest RAM next to everything efikexec maps).
GUEST_FIXTURES=(uki-signed.efi uki-other-signed.efi uki-tampered.efi uki.efi vmlinuz vmlinuz-signed.efi
  initrd-second.cpio.gz keys/db.crt keys/db.der keys/db.esl MANIFEST)
# Modules the first kernel needs: efivarfs is =m in Debian's config; GUEST_EXTRA_MODULES (names,
# space-separated) adds more, with their dependencies.
# shellcheck disable=SC2206 # the names are words
GUEST_MODULES=(efivarfs ${GUEST_EXTRA_MODULES:-})

STEP="check inputs"
[[ -f "$SCENARIO" ]] || die "no guest script $SCENARIO"
for f in "${GUEST_FIXTURES[@]}"; do
  [[ -f "$FIX/$f" ]] || die "fixture $f missing in $FIX (run make-fixtures.sh)"
done
BUSYBOX="$(command -v busybox)" || die "busybox not found (busybox-static)"
if [[ "$BIN" != "-" ]]; then
  [[ -x "$BIN" ]] || die "efikexec binary $BIN not found or not executable"
  # The initramfs has no libc: a dynamic binary would fail there with a confusing ENOENT.
  if command -v file >/dev/null && ! file -L "$BIN" | grep -qE 'statically linked|static-pie linked'; then
    die "$BIN is not statically linked (build efikexec-static)"
  fi
fi

mkdir -p "$OUT"
root="$(mktemp -d "$OUT/.initrd-first.XXXXXX")"
trap 'rm -rf "$root"' EXIT

STEP="busybox"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lib/modules,fixtures/keys}
cp "$BUSYBOX" "$root/bin/busybox"
for a in $(busybox --list-full); do
  [[ -e "$root/$a" ]] || ln -s /bin/busybox "$root/$a"
done
[[ "$BIN" == "-" ]] || cp "$BIN" "$root/bin/efikexec"

STEP="fixtures"
for f in "${GUEST_FIXTURES[@]}"; do
  cp "$FIX/$f" "$root/fixtures/$f"
done

STEP="modules"
# Modules: skip what modules.builtin lists; otherwise copy the .ko and its dependencies (from
# modules.dep, made by make-fixtures.sh) and write the order /init loads them in.
KVER="$(ls "$FIX/modules")"
[[ "$(wc -w <<<"$KVER")" -eq 1 ]] || die "expected one kernel version in $FIX/modules"
MOD="$FIX/modules/$KVER"
: >"$root/etc/modules-load"
declare -A seen=()
add_module() {
  local name="$1" path deps d
  path="$(grep -E "(^|/)${name//-/[-_]}\.ko(\.[a-z]+)?:" "$MOD/modules.dep" | head -n1 | cut -d: -f1)" || true
  if [[ -z "$path" ]]; then
    grep -qE "(^|/)${name//-/[-_]}\.ko$" "$MOD/modules.builtin" && return 0
    die "module $name neither built in nor in modules.dep"
  fi
  [[ -z "${seen[$path]:-}" ]] || return 0
  seen[$path]=1
  deps="$(grep -E "^${path//./\\.}:" "$MOD/modules.dep" | cut -d: -f2)"
  for d in $deps; do
    add_module "$(basename "$d" | sed -E 's/\.ko(\.[a-z]+)?$//')"
  done
  case "$path" in
    *.ko) ;;
    *) die "module $path is compressed; the guest's busybox insmod takes plain .ko" ;;
  esac
  mkdir -p "$root/lib/modules/$KVER/$(dirname "$path")"
  cp "$MOD/$path" "$root/lib/modules/$KVER/$path"
  echo "/lib/modules/$KVER/$path" >>"$root/etc/modules-load"
}
for m in "${GUEST_MODULES[@]}"; do add_module "$m"; done

STEP="scripts"
cp "$SCENARIO" "$root/scenario.sh"
chmod 755 "$root/scenario.sh"
cp "$HERE/guest/efikexec-guest.sh" "$root/lib/efikexec-guest.sh"
cp "$HERE/guest/init-first.sh" "$root/init"
chmod 755 "$root/init"

STEP="cpio"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  cpio --null -o -H newc -R 0:0 --reproducible --quiet) | gzip -1n >"$OUT/initrd-first.cpio.gz.tmp"
mv "$OUT/initrd-first.cpio.gz.tmp" "$OUT/initrd-first.cpio.gz"
echo "$OUT/initrd-first.cpio.gz"
