#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-inspect.sh EFIKEXEC WORKDIR
#   `efikexec inspect` as users meet it: the human and JSON reports of the fixture UKI
#   (EFIKEXEC_FIXTURES), profiles, --extract, and malformed files (one line naming the rule and
#   the offset, exit 2, no crash).
set -uo pipefail
# shellcheck source=SCRIPTDIR/../lib/prerequisites.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/../lib/prerequisites.sh"
[[ $# -eq 2 ]] || { echo "usage: $0 EFIKEXEC WORKDIR" >&2; exit 2; }
bin="$1"
work="$2"
require_fixture uki-signed.efi
fixtures="$EFIKEXEC_FIXTURES"
mkdir -p "$work"
failed=0
fail() { echo "test-inspect: FAIL: $*" >&2; failed=1; }
uki="$fixtures/uki-signed.efi"

out="$("$bin" inspect "$uki")" || fail "inspect exit $?"
grep -q '^kind: *uki$' <<<"$out" || fail "human report lacks the kind"
grep -q '^cmdline: *console=ttyS0 efikexec.uki=1 panic=-1$' <<<"$out" || fail "no cmdline"

json="$("$bin" inspect --json "$uki")" || fail "inspect --json exit $?"
python3 - "$json" <<'PY' || fail "JSON report"
import json, sys
r = json.loads(sys.argv[1])
assert r["kind"] == "uki" and r["machine"] == "x86_64", r["kind"]
assert r["cmdline"] == "console=ttyS0 efikexec.uki=1 panic=-1", r["cmdline"]
names = [s["name"] for s in r["sections"]]
for n in (".osrel", ".cmdline", ".linux", ".initrd", ".uname", ".sbat"):
    assert n in names, n
assert all(len(s["sha256"]) == 64 for s in r["sections"])
assert r["linux"]["kernel_version"].startswith("6.1"), r["linux"]
assert r["signatures"]["count"] == 1, r["signatures"]
assert r["os_release"]["ID"] == "debian"
PY

"$bin" inspect --extract ".cmdline=$work/cmdline" "$uki" >/dev/null || fail "--extract exit $?"
[[ "$(tr -d '\0' <"$work/cmdline")" == "console=ttyS0 efikexec.uki=1 panic=-1" ]] ||
  fail "--extract wrote something else"
"$bin" inspect --extract ".cmdline=$uki" "$uki" >/dev/null 2>&1 && fail "--extract overwrote its input"
cmp -s "$uki" "$fixtures/uki-signed.efi" || fail "the input changed"

"$bin" inspect --profile 1 "$uki" >/dev/null 2>"$work/err"
[[ $? -eq 2 ]] && grep -q 'profile 1 does not exist' "$work/err" || fail "missing profile"

# Malformed files: truncated, a broken MZ, e_lfanew past the end.
head -c 200 "$uki" >"$work/truncated.efi"
cp "$uki" "$work/broken-mz.efi" && printf 'XZ' | dd of="$work/broken-mz.efi" bs=1 conv=notrunc 2>/dev/null
cp "$uki" "$work/lfanew.efi" && printf '\xff\xff\xff\x7f' | dd of="$work/lfanew.efi" bs=1 seek=60 conv=notrunc 2>/dev/null
for f in truncated broken-mz lfanew; do
  "$bin" inspect "$work/$f.efi" >"$work/$f.out" 2>"$work/$f.err"
  rc=$?
  [[ $rc -eq 2 ]] || fail "$f: exit $rc, not 2"
  [[ $(wc -l <"$work/$f.err") -eq 1 ]] || fail "$f: not one line: $(cat "$work/$f.err")"
  grep -Eq 'offset 0x[0-9a-f]+' "$work/$f.err" || fail "$f: no offset: $(cat "$work/$f.err")"
  echo "test-inspect: $f: $(cat "$work/$f.err")"
done
"$bin" inspect "$work/does-not-exist.efi" 2>/dev/null
[[ $? -eq 2 ]] || fail "a missing file is not exit 2"

[[ $failed -eq 0 ]] && echo "test-inspect: all passed"
exit $failed
