#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-cli-doc.sh EFIKEXEC DOC
#
# Every subcommand and every long flag that `EFIKEXEC [CMD] --help` shows must appear in DOC
# (docs/cli.md), so the reference cannot fall behind the program (the man page is generated).
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 EFIKEXEC DOC" >&2; exit 2; }
bin="$1" doc="$2"
missing=0
commands=$("$bin" --help | awk '/^Subcommands:$/ { on = 1; next } on && /^  [^ ]/ { print $1 }')
for cmd in $commands; do
  grep -q "^## $cmd\b" "$doc" || { echo "check-cli-doc: no section '## $cmd'" >&2; missing=1; }
  for flag in $("$bin" "$cmd" --help | grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]*' | tr -d ' ,' |
                sort -u); do
    [[ "$flag" == --help ]] && continue
    grep -qF -- "\`$flag" "$doc" || { echo "check-cli-doc: $cmd $flag not in $doc" >&2; missing=1; }
  done
done
[[ $missing -eq 0 ]] && echo "check-cli-doc: every command and flag is documented"
exit "$missing"
