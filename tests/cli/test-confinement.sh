#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-confinement.sh EFIKEXEC EFT_APPS_DIR: an image that makes system calls, through
# `efikexec run-efi` and `efikexec load --dry-run`: one line naming the call and where, exit 1,
# no plan, no file, and the loader lives on.
set -uo pipefail
efikexec=$1
app=$2/eft_misbehave.efi
probe=/tmp/eft-misbehave-was-here
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export EFIKEXEC_FORBID_KEXEC=1
fail=0
check() {  # check WHAT STATUS FILE PATTERN
  if [[ $2 -ne 1 ]] || ! grep -q -- "$4" "$3"; then
    echo "FAIL: $1: exit $2, expected 1 and '$4' in:"; cat "$3"; fail=1
  fi
}
rm -f "$probe"
for mode in sys-open:openat sys-kill:getppid sys-fork:fork sys-execve:execve sys-ptrace:ptrace \
    sys-procmem:openat sys-mprotect:mprotect sys-write:write; do
  name=${mode%%:*} call=${mode#*:}
  "$efikexec" run-efi --machine q35 --no-verify --cmdline "$name" "$app" >"$work/out" 2>&1
  check "run-efi $name" $? "$work/out" "^ended: crash (system call $call refused at image1+0x"
  "$efikexec" run-efi --json --machine q35 --no-verify --cmdline "$name" "$app" >"$work/json" 2>&1
  check "run-efi --json $name" $? "$work/json" "\"message\": \"system call $call refused at image1+0x"
  grep -q '"confinement"' "$work/json" || { echo "FAIL: no confinement in the JSON"; fail=1; }
  "$efikexec" load --machine q35 --no-verify --command-line "$name" --dry-run="$work/plan.json" \
    "$app" >"$work/out" 2>&1
  check "load --dry-run $name" $? "$work/out" "system call $call refused at image1+0x"
  grep -q "nothing was loaded" "$work/out" || { echo "FAIL: load $name: no 'nothing was loaded'"; fail=1; }
  [[ ! -s "$work/plan.json" ]] || { echo "FAIL: load $name wrote a plan"; fail=1; }
done
[[ ! -e "$probe" ]] || { echo "FAIL: $probe was created"; rm -f "$probe"; fail=1; }
# The loader lives on: a clean run afterwards.
"$efikexec" run-efi --machine q35 --no-verify --cmdline cr0 "$app" >"$work/out" 2>&1 ||
  { echo "FAIL: a clean run after the refused ones"; cat "$work/out"; fail=1; }
[[ $fail -eq 0 ]] && echo "confinement: all refused, nothing created, nothing planned"
exit $fail
