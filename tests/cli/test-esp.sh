#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-esp.sh EFIKEXEC WORKDIR
#   The signed fixture UKIs (systemd-stub 252, 257, 262) run through `run-efi --esp DIR` with an
#   ESP holding a command-line add-on signed with the db key and an unsigned one (both built here
#   with ukify and the addon stub), two credentials, a system extension and a symbolic link out of
#   the ESP. With Secure Boot on in the variable snapshot, the kernel's command line carries the
#   signed add-on's text and not the unsigned one's, the credentials and the extension are in the
#   initrd the stub built, and the report lists every file offered with its digest and verdict.
#   Then without Secure Boot, the text report, `load --dry-run --esp`, and a file over the limit.
set -uo pipefail
# shellcheck source=SCRIPTDIR/../lib/prerequisites.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/../lib/prerequisites.sh"
[[ $# -eq 2 ]] || { echo "usage: $0 EFIKEXEC WORKDIR" >&2; exit 2; }
bin="$1"
work="$2"
require_fixture uki-signed.efi newer/uki-257-6.12-signed.efi newer/uki-262-7.2-signed.efi \
  newer/addon-257.efi.stub newer/ukify/usr/bin/ukify keys/db.key keys/db.crt
require_tool sbsign /usr/bin/python3
fixtures="$EFIKEXEC_FIXTURES"
/usr/bin/python3 -c 'import pefile' 2>/dev/null || prerequisite_missing FIXTURES "python3-pefile"
export EFIKEXEC_FORBID_KEXEC=1
failed=0
fail() { echo "test-esp: FAIL: $*" >&2; failed=1; }

# ukify as make-fixtures-newer.sh runs it: the unpacked package, its Python modules beside it.
ukify() {
  local path="" dir
  for dir in "$fixtures"/newer/pylib*/usr/lib/python3/dist-packages; do path="${path:+$path:}$dir"; done
  PYTHONPATH="$path" SOURCE_DATE_EPOCH=0 /usr/bin/python3 "$fixtures/newer/ukify/usr/bin/ukify" "$@"
}

rm -rf "$work" && mkdir -p "$work"
ukify build --stub "$fixtures/newer/addon-257.efi.stub" --cmdline="efikexec.addon=signed" \
  --secureboot-private-key "$fixtures/keys/db.key" \
  --secureboot-certificate "$fixtures/keys/db.crt" --signtool=sbsign \
  --output "$work/signed.addon.efi" >"$work/ukify.log" 2>&1 ||
  { cat "$work/ukify.log" >&2; fail "ukify build (signed add-on)"; exit 1; }
ukify build --stub "$fixtures/newer/addon-257.efi.stub" --cmdline="efikexec.addon=unsigned" \
  --output "$work/unsigned.addon.efi" >>"$work/ukify.log" 2>&1 ||
  { cat "$work/ukify.log" >&2; fail "ukify build (unsigned add-on)"; exit 1; }

# make_esp UKI: the ESP of one UKI at \EFI\Linux\uki.efi.
make_esp() {
  local esp="$work/esp"
  rm -rf "$esp" && mkdir -p "$esp/EFI/Linux/uki.efi.extra.d" "$esp/loader/addons" \
    "$esp/loader/credentials" "$work/outside"
  cp "$1" "$esp/EFI/Linux/uki.efi"
  cp "$work/signed.addon.efi" "$esp/EFI/Linux/uki.efi.extra.d/"
  cp "$work/unsigned.addon.efi" "$esp/loader/addons/"
  printf 'local secret' >"$esp/EFI/Linux/uki.efi.extra.d/local.cred"
  printf 'not really a disk image' >"$esp/EFI/Linux/uki.efi.extra.d/tools.sysext.raw"
  printf 'global secret' >"$esp/loader/credentials/global.cred"
  printf 'outside' >"$work/outside/escape.cred"
  ln -s "$work/outside/escape.cred" "$esp/loader/credentials/escape.cred"
}

# check_run NAME JSON ADDONS: what the stub handed on (ADDONS: 1 when the stub reads add-ons).
check_run() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
name, path, addons = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
r = json.load(open(path))
def check(ok, what):
    if not ok:
        print(f"{name}: {what}", file=sys.stderr)
        sys.exit(1)
check(r["end"] == "exit-boot-services", f"run ended {r['end']}: {r.get('message')}")
cmdline = r["boot_params"]["command_line"]
check(("efikexec.addon=signed" in cmdline) == addons, f"signed add-on and command line: {cmdline}")
check("efikexec.addon=unsigned" not in cmdline, f"the unsigned add-on was used: {cmdline}")
members = [m["name"] for m in r["boot_params"]["initrd_cpio_members"]]
for cred in (".extra/credentials/local.cred", ".extra/global_credentials/global.cred"):
    check(cred in members, f"{cred} not in the initrd: {members}")
check(".extra/sysext/tools.sysext.raw" in members, f"the sysext is not in the initrd: {members}")
check(not any("escape" in m for m in members), f"a file outside the ESP reached the initrd")
offered = {o["path"]: o for o in r["esp"]["offered"]}
check(sorted(offered) == ["\\EFI\\Linux\\uki.efi.extra.d\\local.cred",
                          "\\EFI\\Linux\\uki.efi.extra.d\\signed.addon.efi",
                          "\\EFI\\Linux\\uki.efi.extra.d\\tools.sysext.raw",
                          "\\loader\\addons\\unsigned.addon.efi",
                          "\\loader\\credentials\\global.cred"], f"offered: {sorted(offered)}")
check(offered["\\EFI\\Linux\\uki.efi.extra.d\\signed.addon.efi"]["accepted"] is True, "signed verdict")
check(offered["\\loader\\addons\\unsigned.addon.efi"]["accepted"] is False, "unsigned verdict")
check(offered["\\loader\\credentials\\global.cred"]["size"] == 13, "credential size")
check(len(offered["\\loader\\credentials\\global.cred"]["sha256"]) == 64, "credential digest")
PY
}

run() {  # run NAME UKI MACHINE ADDONS
  make_esp "$2"
  "$bin" run-efi --esp "$work/esp" "$work/esp/EFI/Linux/uki.efi" --db "$fixtures/keys/db.crt" \
    --machine "$3" --json >"$work/$1.json" 2>"$work/$1.err" ||
    fail "$1: run-efi exit $?: $(tail -3 "$work/$1.err")"
  check_run "$1" "$work/$1.json" "$4" || fail "$1"
}

run stub-252 "$fixtures/uki-signed.efi" q35-secureboot 0  # 252 reads no add-ons
run stub-257 "$fixtures/newer/uki-257-6.12-signed.efi" q35-secureboot 1
run stub-262 "$fixtures/newer/uki-262-7.2-signed.efi" q35-secureboot 1

# Without Secure Boot the firmware verifies nothing: the unsigned add-on is used too.
make_esp "$fixtures/newer/uki-257-6.12-signed.efi"
"$bin" run-efi --esp "$work/esp" "$work/esp/EFI/Linux/uki.efi" --db "$fixtures/keys/db.crt" \
  --machine q35 --json >"$work/no-sb.json" 2>"$work/no-sb.err" || fail "run-efi without Secure Boot exit $?"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["boot_params"]["command_line"]; sys.exit(0 if "efikexec.addon=unsigned" in c and "efikexec.addon=signed" in c else 1)' \
  "$work/no-sb.json" || fail "without Secure Boot both add-ons apply"

# The text report names every file offered with its size, digest and verdict.
out="$("$bin" run-efi --esp "$work/esp" "$work/esp/EFI/Linux/uki.efi" --db "$fixtures/keys/db.crt" \
  --machine q35-secureboot 2>&1)" || fail "run-efi (text) exit $?"
grep -q '^efikexec: ESP addon \\loader\\addons\\unsigned.addon.efi [0-9]* bytes sha256 [0-9a-f]\{64\}: refused: ' <<<"$out" ||
  fail "text report of the refused add-on: $out"
grep -q '^efikexec: ESP credential \\loader\\credentials\\global.cred 13 bytes sha256 ' <<<"$out" ||
  fail "text report of the credential"
# EFI_ACCESS_DENIED, as OVMF refuses it (tests/conformance/esp-trace.sh --secure-boot).
grep -q 'Access denied' <<<"$out" || fail "the stub was not told the unsigned add-on is refused"

# load: the same ESP, the UKI found on it; the plan's run got the signed add-on's text.
out="$("$bin" load --esp "$work/esp" "$work/esp/EFI/Linux/uki.efi" --db "$fixtures/keys/db.crt" \
  --machine q35-secureboot --dry-run="$work/plan.json" 2>&1)" || fail "load --dry-run exit $?: $out"
grep -q "^efikexec: the kernel's command line: .*efikexec.addon=signed" <<<"$out" ||
  fail "load: the signed add-on's text is not on the command line: $out"
grep -q "efikexec.addon=unsigned" <<<"$out" && fail "load: the unsigned add-on was used"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["esp"]; sys.exit(0 if len(e["offered"]) == 5 else 1)' \
  "$work/plan.json" || fail "load: the plan does not list the 5 files offered"

# An ESP file over the limit is an error naming it, and nothing runs.
truncate -s 70M "$work/esp/loader/credentials/huge.cred"
out="$("$bin" run-efi --esp "$work/esp" "$work/esp/EFI/Linux/uki.efi" --db "$fixtures/keys/db.crt" \
  --machine q35-secureboot 2>&1)" && fail "an ESP file over the limit was accepted"
grep -q 'huge.cred: ESP file of 73400320 bytes is over the limit' <<<"$out" || fail "limit message: $out"

[[ $failed -eq 0 ]] && echo "test-esp: PASS"
exit "$failed"
