#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-install.sh BUILD_DIR WORK_DIR
#
# Installs BUILD_DIR into a fresh prefix under WORK_DIR, checks the layout, builds consumer.c
# against the installed tree with pkg-config and with find_package (shared and static), and
# runs each build's dry run on the fixture UKI ($EFIKEXEC_FIXTURES/uki-signed.efi). Without
# fixtures the dry runs are skipped (exit 77) unless EFIKEXEC_REQUIRE_FIXTURES=1 (then exit 1;
# tests/lib/prerequisites.sh).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib/prerequisites.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/../lib/prerequisites.sh"
[[ $# -eq 2 ]] || { echo "usage: $0 BUILD_DIR WORK_DIR" >&2; exit 2; }
build="$1" work="$2"
here="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
prefix="$work/prefix"
rm -rf "$work"
mkdir -p "$work"
fail() { echo "check-install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log"

# The layout (docs/c-api.md); the library directory is whatever GNUInstallDirs chose.
pc="$(find "$prefix" -name efikexec.pc -path '*/pkgconfig/*')"
[[ -n "$pc" ]] || fail "no efikexec.pc installed"
libdir="$(dirname "$(dirname "$pc")")"
version="$(sed -n 's/^Version: //p' "$pc")"
for file in "$libdir/libefikexec.so.$version" "$libdir/libefikexec.a" \
    "$prefix/include/efikexec.h" "$prefix/include/efikexec-kexec-tools.h" \
    "$libdir/cmake/efikexec/efikexecConfig.cmake" \
    "$libdir/cmake/efikexec/efikexecConfigVersion.cmake" \
    "$prefix/share/man/man8/efikexec.8" "$prefix/sbin/efikexec"; do
  [[ -e "$file" ]] || fail "not installed: ${file#"$prefix"/}"
done
# The Secure Boot payload, when the build made it (docs/payload.md: EFIKEXEC_PAYLOAD_INSTALL_PATH).
if [[ -e "$build/efikexec-payload.efi" ]]; then
  [[ -s "$libdir/efikexec/efikexec-payload.efi" ]] || fail "not installed: ${libdir#"$prefix"/}/efikexec/efikexec-payload.efi"
fi
soname="$(readelf -d "$libdir/libefikexec.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[[ "$soname" == "libefikexec.so.${version%%.*}" ]] || fail "SONAME is '$soname'"
[[ "$(readlink "$libdir/$soname")" == "libefikexec.so.$version" ]] || fail "no $soname link"
# Only the C API is exported.
exported="$(nm -D --defined-only "$libdir/libefikexec.so.$version" | awk '$2 == "T" { print $3 }')"
if grep -qv '^efikexec_' <<<"$exported"; then fail "exports more than efikexec_*"; fi
# The libraries are the pipeline without its command line: no CLI object, no argument parser.
for library in "$libdir/libefikexec.so.$version" "$libdir/libefikexec.a"; do
  symbols="$(nm -C "$library" 2>/dev/null)"
  if grep -qE 'CLI::|register_[a-z_]*command' <<<"$symbols"; then
    fail "$(basename "$library") carries command-line code (CLI11 or a command)"
  fi
done

# pkg-config, as a Makefile would use it.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046 # pkg-config's words are meant to split
cc -std=c99 -Wall -Wextra -Werror -o "$work/consumer_pkgconfig" "$here/consumer.c" \
  $(pkg-config --cflags --libs efikexec)

# find_package, as a CMake project would.
cmake -S "$here/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-std=c99 -Wall -Wextra -Werror" >"$work/consumer-cmake.log"
cmake --build "$work/consumer-build" >"$work/consumer-build.log"

programs=("$work/consumer_pkgconfig" "$work/consumer-build/consumer_shared"
          "$work/consumer-build/consumer_static")
# Each one runs and reports through the API: a missing image is bad input (exit 2).
for program in "${programs[@]}"; do
  status=0
  LD_LIBRARY_PATH="$libdir" "$program" /nonexistent.efi /nonexistent.crt 2>/dev/null || status=$?
  [[ $status -eq 2 ]] || fail "$(basename "$program"): exit $status for a missing image, not 2"
done

echo "check-install: installed tree builds and runs; now the dry runs on the fixture UKI"
require_fixture uki-signed.efi keys/db.crt
fixtures="$EFIKEXEC_FIXTURES"
for program in "${programs[@]}"; do
  LD_LIBRARY_PATH="$libdir" "$program" "$fixtures/uki-signed.efi" "$fixtures/keys/db.crt" \
    >"$work/plan.json" || fail "$(basename "$program"): dry run failed"
  grep -q '"segments"' "$work/plan.json" || fail "$(basename "$program"): no plan"
  echo "check-install: $(basename "$program"): dry run planned"
done
