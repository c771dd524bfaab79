#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fetch-bearssl.sh OUTDIR
#
# Unpacks BearSSL 0.6 from Debian's source package (bearssl 0.6+dfsg.1, MIT) into OUTDIR/src for
# the payload's freestanding build (cmake/bearssl-freestanding.cmake). The packaged libbearssl.a
# cannot be used there: its objects are built with _FORTIFY_SOURCE and the stack protector.
# The source package comes from the Debian mirror this machine uses, through apt with a private
# state under OUTDIR/apt (deb-src of the suite, the archive keyring: apt checks the signed
# Sources index and every file's hash against it); the upstream tarball's SHA-256 is then checked
# against the .dsc and against the value pinned below. Nothing is installed, /etc/apt is not
# touched. Cached: a second run with OUTDIR/src/inc/bearssl.h present does nothing.
# Environment: EFIKEXEC_BEARSSL_SUITE (default bookworm), EFIKEXEC_BEARSSL_MIRROR (mirror URI).
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out="$(realpath -m -- "$1")"
die() { echo "fetch-bearssl: $*" >&2; exit 1; }
[[ -s "$out/src/inc/bearssl.h" && -s "$out/src/.verified" ]] && exit 0

ORIG=bearssl_0.6+dfsg.1.orig.tar.xz
ORIG_SHA256=102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004
suite="${EFIKEXEC_BEARSSL_SUITE:-bookworm}"
mirror="${EFIKEXEC_BEARSSL_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
fi
if [[ -z "$mirror" ]]; then
  mirror="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
fi
[[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian
for cmd in apt-get sha256sum tar xz; do
  command -v "$cmd" >/dev/null || die "$cmd not found"
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -s "$keyring" ]] || die "$keyring missing (package debian-archive-keyring)"

apt="$out/apt"
rm -rf "$apt" "$out/src" "$out/download"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$out/download"
echo "deb-src [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
APT=(apt-get -q -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null
     -o APT::Sandbox::User=root)
"${APT[@]}" update >&2 || die "apt-get update of $mirror $suite failed"
(cd "$out/download" && "${APT[@]}" source --download-only bearssl >&2) ||
  die "apt-get source --download-only bearssl failed"

cd "$out/download"
dsc="$(find . -maxdepth 1 -name "bearssl_*.dsc" -printf "%f\n" | head -n1)"
[[ -n "$dsc" && -s "$ORIG" ]] || die "the source package has no $ORIG"
listed="$(awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on && $3 == f { print $1 }' \
  f="$ORIG" "$dsc")"
actual="$(sha256sum "$ORIG" | cut -d' ' -f1)"
[[ "$listed" == "$actual" ]] || die "$ORIG: sha256 $actual, but $dsc lists '$listed'"
[[ "$actual" == "$ORIG_SHA256" ]] || die "$ORIG: sha256 $actual, expected $ORIG_SHA256"
mkdir -p "$out/src"
tar -xJf "$ORIG" -C "$out/src" --strip-components=1
[[ -s "$out/src/inc/bearssl.h" ]] || die "$ORIG has no inc/bearssl.h"
echo "$ORIG $actual ($dsc)" >"$out/src/.verified"
