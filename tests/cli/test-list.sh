#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-list.sh EFIKEXEC WORKDIR
#   `efikexec list` and `load --entry/--default --dry-run` over a fake ESP holding copies of the
#   fixture UKIs (one boot-counted, one with profiles, one broken), a loader.conf and fake
#   efivarfs files: the order and the default systemd-boot would show, the chosen entry verified
#   and run with its profile, and one line with exit 2 for what cannot be chosen.
set -uo pipefail
# shellcheck source=SCRIPTDIR/../lib/prerequisites.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/../lib/prerequisites.sh"
[[ $# -eq 2 ]] || { echo "usage: $0 EFIKEXEC WORKDIR" >&2; exit 2; }
bin="$1"
work="$2"
require_fixture uki-signed.efi
require_fixture newer/uki-profiles-signed.efi
require_fixture keys/db.crt
fixtures="$EFIKEXEC_FIXTURES"
export EFIKEXEC_FORBID_KEXEC=1
failed=0
fail() { echo "test-list: FAIL: $*" >&2; failed=1; }

rm -rf "$work" && mkdir -p "$work/esp/EFI/Linux" "$work/esp/loader" "$work/efivars"
esp="$work/esp"
cp "$fixtures/uki-signed.efi" "$esp/EFI/Linux/debian-6.1+2-1.efi"
cp "$fixtures/newer/uki-profiles-signed.efi" "$esp/EFI/Linux/profiles.efi"
head -c 300 "$fixtures/uki-signed.efi" >"$esp/EFI/Linux/broken.efi"
cp "$fixtures/uki-signed.efi" "$esp/EFI/Linux/.hidden.efi"
guid=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
# An efivarfs file: 4 attribute bytes, then the UCS-2 string and its NUL.
loader_variable() { { printf '\x07\x00\x00\x00'; printf '%s\0' "$2" | iconv -f ascii -t utf-16le; } >"$work/efivars/$1-$guid"; }
list() { "$bin" list --esp "$esp" --efivars "$work/efivars" "$@"; }

out="$(list)" || fail "list exit $?"
grep -q '^\* debian-6.1+2-1.efi  *Debian GNU/Linux 12 (bookworm)  *12 (bookworm)  *2/1 ' <<<"$out" ||
  fail "the boot-counted entry is not first and default: $out"
grep -q '^default: debian-6.1+2-1.efi (first entry)$' <<<"$out" || fail "default line: $out"
grep -q '^unreadable: .*broken.efi: .*offset 0x' <<<"$out" || fail "broken UKI not listed: $out"
grep -q 'hidden' <<<"$out" && fail "a hidden file is listed"

echo "default profiles.efi@p*" >"$esp/loader/loader.conf"
json="$(list --json)" || fail "list --json exit $?"
python3 - "$json" <<'PY' || fail "JSON list"
import json, sys
r = json.loads(sys.argv[1])
ids = [e["id"] for e in r["entries"]]
assert ids == ["debian-6.1+2-1.efi", "profiles.efi", "profiles.efi@p1", "profiles.efi@p2"], ids
assert r["entries"][0]["plain_id"] == "debian-6.1.efi" and r["entries"][0]["tries_left"] == 2
assert r["default"] == {"id": "profiles.efi@p1", "source": "loader.conf default",
                        "pattern": "profiles.efi@p*"}, r["default"]
assert [u["file"] for u in r["unreadable"]] == ["broken.efi"], r["unreadable"]
PY

loader_variable LoaderEntryOneShot "PROFILES.EFI@P2"
grep -q '^default: profiles.efi@p2 (LoaderEntryOneShot' <<<"$(list)" || fail "one-shot not honoured"

# The default entry goes through the normal load: verified, run with its profile ("@2").
load() { "$bin" load --esp "$esp" --efivars "$work/efivars" --db "$fixtures/keys/db.crt" \
  --machine q35 --dry-run="$work/plan.json" "$@"; }
out="$(load --default 2>&1)" || fail "load --default exit $?: $out"
grep -q '^efikexec: boot entry profiles.efi@p2 (LoaderEntryOneShot .PROFILES.EFI@P2.): .*profiles.efi profile 2$' <<<"$out" ||
  fail "load --default did not take the one-shot entry: $out"
grep -q '^efikexec: verified .*profiles.efi' <<<"$out" || fail "not verified: $out"
grep -q 'with LoadOptions "@2"' <<<"$out" || fail "profile not passed: $out"
grep -q "the kernel's command line: .*efikexec.profile=2" <<<"$out" || fail "not profile 2: $out"
[[ -s "$work/plan.json" ]] || fail "no plan written"

# Verdicts on request: the db-signed UKIs accepted, the one signed by another key refused.
require_fixture uki-other-signed.efi
cp "$fixtures/uki-other-signed.efi" "$esp/EFI/Linux/other.efi"
out="$(list --verify --db "$fixtures/keys/db.crt")" || fail "list --verify exit $?"
grep -q '^  other.efi .* refused  *.*other.efi$' <<<"$out" || fail "other.efi not refused: $out"
grep -q '^refused: .*other.efi: .*does not chain to db' <<<"$out" || fail "no reason: $out"
grep -q '^  profiles.efi@p1 .* accepted  *.*profiles.efi$' <<<"$out" || fail "profiles not accepted: $out"
list --verify --json --db "$fixtures/keys/db.crt" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert {e["id"]: e["accepted"] for e in r["entries"]}["other.efi"] is False
assert all(e["accepted"] for e in r["entries"] if e["id"] != "other.efi")' || fail "JSON verdicts"
rm "$esp/EFI/Linux/other.efi"

# What cannot be chosen: one line, exit 2, nothing run.
expect_refusal() {
  local what="$1" pattern="$2"; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [[ $rc -eq 2 ]] || fail "$what: exit $rc, not 2"
  grep -q "$pattern" "$work/err" || fail "$what: $(cat "$work/err")"
  grep -q 'ran the image' "$work/out" && fail "$what: the image ran"
  echo "test-list: $what: $(head -1 "$work/err")"
}
expect_refusal "no match" "no boot entry matches 'fedora\*'" load --entry 'fedora*'
expect_refusal "ambiguous" "matches 3 boot entries" load --entry 'profiles*'
expect_refusal "broken entry" "boot entry broken.efi cannot be used" load --entry broken.efi
expect_refusal "profile contradiction" "contradicts boot entry" load --entry 'profiles.efi@1' --profile 2
expect_refusal "image and entry" "excludes" "$bin" load --entry x "$fixtures/uki-signed.efi"
expect_refusal "nothing to load" "load needs IMAGE, --entry ID or --default" "$bin" load --dry-run
expect_refusal "no ESP directory" "not a directory" "$bin" list --esp "$work/nothing"

# IMAGE is optional since --entry/--default: each --db/--dbx takes one value, so an IMAGE after
# them is the IMAGE, as documented (`efikexec load --db CERT IMAGE`).
out="$("$bin" load --machine q35 --dry-run="$work/plan-image.json" --db "$fixtures/keys/db.crt" \
  --dbx "$fixtures/keys/other.crt" "$fixtures/uki-signed.efi" 2>&1)" ||
  fail "load --db CERT --dbx CERT IMAGE: exit $?: $out"
grep -q '^efikexec: verified .*uki-signed.efi' <<<"$out" || fail "IMAGE after --dbx not loaded: $out"

[[ $failed -eq 0 ]] && echo "test-list: PASS"
exit $failed
