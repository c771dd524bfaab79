#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-core-symbols.sh LIBRARY.a [MORE.a ...]
#   The core (pe_loader, uki, efi_shim) must stay free of host calls and hidden allocation: the
#   only symbols it may need from outside itself are the compiler's memory and string helpers.
#   Anything else (malloc, operator new, __cxa_*, printf, syscalls...) fails the test by name.
#   Several archives are checked as one (a library together with the core it links).
set -euo pipefail
library="$1"
libraries=("$@")
# Sanitizer hooks come from instrumentation (the ASan/UBSan build), not from the code.
allowed='^(memchr|memcmp|memcpy|memmove|memset|strlen|_GLOBAL_OFFSET_TABLE_|__stack_chk_fail|__(asan|ubsan|sanitizer)_.*)$'

defined="$(nm --defined-only --extern-only "${libraries[@]}" | awk 'NF == 3 { print $3 }' | sort -u)"
undefined="$(nm --undefined-only "${libraries[@]}" | awk 'NF == 2 { print $2 }' | sort -u)"
external="$(comm -23 <(echo "$undefined") <(echo "$defined"))"
unexpected="$(grep -Ev "$allowed" <<<"$external" || true)"
echo "core-symbols: $(basename "$library") needs from outside: $(echo "$external" | tr '\n' ' ')"
if [[ -n "$unexpected" ]]; then
  echo "core-symbols: not allowed in the core:" >&2
  c++filt <<<"$unexpected" | sed 's/^/  /' >&2
  exit 1
fi
