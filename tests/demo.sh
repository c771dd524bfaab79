#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The demo: what efikexec makes of the default signed UKI. Usage: demo.sh BUILD_DIR FIXTURES_DIR
set -euo pipefail
build=$1
fixtures=$2
echo "== efikexec inspect $fixtures/uki-signed.efi"
"$build/efikexec" inspect "$fixtures/uki-signed.efi"
