#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# build-fork.sh BUILD_DIR OUTDIR [SUITE]
#
# kexec-tools with efikexec as an x86_64 file type: Debian's source package of SUITE (default
# forky, kexec-tools 2.0.32), the patch series in patches/ applied, linked statically with
# BUILD_DIR's libefikexec.a (the whole library in one archive) and the archives it needs
# (libcrypto, libelf, zlib, libstdc++). Built by bench/build-kexec-tools.sh (private apt state,
# nothing installed) into OUTDIR/kexec; cached while libefikexec.a, the headers and the patches
# stay the same. Static-PIE, as efikexec-static: the program must not sit on the low RAM
# addresses the EFI image may claim in its run (docs/architecture.md).
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 BUILD_DIR OUTDIR [SUITE]" >&2; exit 2; }
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
root="$(realpath -- "$here/../..")"
build="$(realpath -- "$1")"
out="$(realpath -m -- "$2")"
suite="${3:-forky}"
library="$build/libefikexec.a"
[[ -f "$library" ]] || { echo "build-fork: no $library (build efikexec first)" >&2; exit 2; }
archives=()
for name in libcrypto.a libelf.a libz.a; do
  found="$(gcc -print-file-name="$name")"
  [[ "$found" == /* ]] || { echo "build-fork: $name not found (libssl-dev, libelf-dev, zlib1g-dev)" >&2; exit 2; }
  archives+=("$found")
done

stamp="$({ sha256sum <"$library"; cat "$root"/include/efikexec.h "$root"/include/efikexec-kexec-tools.h \
  "$here"/patches/*.patch | sha256sum; } | sha256sum | cut -d' ' -f1)"
if [[ -x "$out/kexec" && "$(cat "$out/stamp" 2>/dev/null)" == "$stamp" ]]; then
  echo "$out/kexec"
  exit 0
fi
rm -rf "$out"
KEXEC_TOOLS_PATCHES="$here/patches" \
KEXEC_TOOLS_CONFIGURE="CPPFLAGS=-I$root/include
CFLAGS=-O2 -fPIE
LDFLAGS=-static-pie
LIBS=$library ${archives[*]} -lstdc++ -lm -lpthread" \
  "$root/bench/build-kexec-tools.sh" "$out" "$suite" >/dev/null
echo "$stamp" >"$out/stamp"
echo "$out/kexec"
