#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# build-kexec-tools.sh OUTDIR [SUITE]
#
# Builds a static `kexec` (kexec-tools) from Debian's source package of SUITE (default forky,
# kexec-tools 2.0.32) into OUTDIR/kexec, for bench/load-bench.sh to run next to efikexec inside
# a QEMU guest. Everything happens in OUTDIR/scratch with a private apt state (the machine's
# configured Debian mirror, its archive keyring, deb-src for SUITE): the machine's apt
# configuration is not changed and nothing is installed. Nothing built here is committed.
# Cached: a second run with OUTDIR/kexec present does nothing.
# A fork (integration/kexec-tools/build-fork.sh) sets KEXEC_TOOLS_PATCHES (a directory of
# patches applied in name order with patch -p1 after the extraction) and KEXEC_TOOLS_CONFIGURE
# (more ./configure arguments, one per line).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 OUTDIR [SUITE]" >&2; exit 2; }
out="$(realpath -m -- "$1")"
suite="${2:-forky}"
[[ -x "$out/kexec" ]] && { echo "$out/kexec"; exit 0; }
for cmd in apt-get dpkg-source gcc make; do
  command -v "$cmd" >/dev/null || { echo "build-kexec-tools: $cmd not found" >&2; exit 2; }
done
scratch="$out/scratch"
rm -rf "$scratch"
mkdir -p "$scratch/lists/partial" "$scratch/cache/archives/partial" "$scratch/src"

# The Debian mirror this machine already uses (deb822 .sources or one-line sources.list).
mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
  awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
if [[ -z "$mirror" ]]; then
  mirror="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' \
    /etc/apt/sources.list 2>/dev/null || true)"
fi
[[ -n "$mirror" ]] || { echo "build-kexec-tools: no Debian mirror in the apt sources" >&2; exit 1; }
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
  >"$scratch/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache=$scratch/cache"
             -o "Debug::NoLocking=1")
apt-get "${apt_private[@]}" update >"$scratch/apt-update.log" 2>&1 ||
  { tail -5 "$scratch/apt-update.log" >&2; exit 1; }
# The upstream tarball is what gets built; Debian's packaging (patches) is applied when it
# could be fetched too, else the tarball is built as it is (said on stderr).
(cd "$scratch/src" && apt-get "${apt_private[@]}" source --download-only kexec-tools \
  >"$scratch/apt-source.log" 2>&1) || true
orig="$(find "$scratch/src" -maxdepth 1 -name 'kexec-tools_*.orig.tar.*' | head -n1)"
[[ -n "$orig" ]] || { tail -5 "$scratch/apt-source.log" >&2; exit 1; }
dsc="$(find "$scratch/src" -maxdepth 1 -name 'kexec-tools_*.dsc' | head -n1)"
if ! dpkg-source --no-check -x "$dsc" "$scratch/src/kexec-tools" >"$scratch/dpkg-source.log" 2>&1
then
  echo "build-kexec-tools: Debian's packaging not fetched; building $(basename "$orig")" >&2
  rm -rf "$scratch/src/kexec-tools"
  mkdir "$scratch/src/kexec-tools"
  tar -xf "$orig" -C "$scratch/src/kexec-tools" --strip-components=1
fi

if [[ -n "${KEXEC_TOOLS_PATCHES:-}" ]]; then
  for patch in "$KEXEC_TOOLS_PATCHES"/*.patch; do
    patch -d "$scratch/src/kexec-tools" -p1 -s <"$patch" >>"$scratch/patch.log" 2>&1 ||
      { echo "build-kexec-tools: $(basename "$patch") does not apply" >&2; cat "$scratch/patch.log" >&2; exit 1; }
  done
fi
configure_extra=()
[[ -z "${KEXEC_TOOLS_CONFIGURE:-}" ]] || mapfile -t configure_extra <<<"$KEXEC_TOOLS_CONFIGURE"

# Static, without the optional compressors and Xen, so it runs alone in a busybox initramfs.
(cd "$scratch/src/kexec-tools" &&
  ./configure --without-zlib --without-lzma --without-xen LDFLAGS=-static \
    "${configure_extra[@]}" \
    >"$scratch/configure.log" 2>&1 &&
  make -j"$(nproc)" >"$scratch/make.log" 2>&1) || {
  tail -20 "$scratch"/make.log "$scratch"/configure.log >&2 2>/dev/null
  exit 1
}
install -m 0755 "$scratch/src/kexec-tools/build/sbin/kexec" "$out/kexec"
echo "$out/kexec"
