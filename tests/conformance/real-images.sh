#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# real-images.sh EFIKEXEC OUTDIR
#
# Today's distributions' images under the shim (`efikexec run-efi`, on the described q35 machine
# and once on this machine): every systemd-stub {252, 257, 262} x Linux {6.1, 6.12, 7.2} UKI and
# the bare kernels with --cmdline/--initrd must reach ExitBootServices() with the boot_params
# their Linux stub built carrying the right command line and initrd size; systemd-stub 262 must
# start the kernel itself (no LoadImage; the kernel calls ExitBootServices with the stub's
# handle); the profiles of the multi-profile UKI must select their command lines, and a profile
# that does not exist must be refused. Prints the matrix; OUTDIR keeps every run's JSON.
# Fixtures: EFIKEXEC_FIXTURES, and EFIKEXEC_NEWER_FIXTURES (default EFIKEXEC_FIXTURES/newer,
# made here by tests/fixtures/make-fixtures-newer.sh when needed).
#
# Exit status: 0 all passed, 1 a failure, 2 usage, 77 no fixtures (ctest: skipped).
set -uo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 EFIKEXEC OUTDIR" >&2; exit 2; }
BIN="$1"
OUT="$2"
HERE="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
# shellcheck source=SCRIPTDIR/../fixtures/newer-fixtures-env.sh
. "$HERE/../fixtures/newer-fixtures-env.sh"
newer_fixtures real-images
export EFIKEXEC_FORBID_KEXEC=1
mkdir -p "$OUT"
INITRD="$BW/initrd-second.cpio.gz"
INITRD_SIZE="$(stat -c %s "$INITRD")"
failed=0
fail() { echo "real-images: FAIL: $*" >&2; failed=1; }

# facts JSON: "END|CMDLINE|INITRD_SIZE|LOADIMAGE_CALLS|EBS_HANDLE" of a run-efi --json report.
facts() {
  python3 - "$1" <<'PY'
import json, re, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"unreadable|||||"); sys.exit(0)
bp = d.get("boot_params") or {}
trace = d.get("trace") or []
loads = sum(1 for l in trace if " BS.LoadImage(" in l)
ebs = next((re.search(r"BS\.ExitBootServices\(([^,]*),", l)[1] for l in trace
            if " BS.ExitBootServices(" in l), "-")
print(f"{d.get('end')}|{bp.get('command_line', '-')}|{bp.get('initrd_size', '-')}|{loads}|{ebs}")
PY
}

# run NAME ARGS...: run-efi --json --trace, keeping the report.
run() {
  local name="$1"
  shift
  "$BIN" run-efi --no-verify --json --trace "$@" >"$OUT/$name.json" 2>"$OUT/$name.err"
  facts "$OUT/$name.json"
}

printf '%-8s %-7s %-20s %-7s %-44s %s\n' stub kernel end initrd+ "boot_params command line" \
  "started by" >"$OUT/matrix.txt"
for s in 252 257 262; do
  for k in 6.1 6.12 7.2; do
    IFS='|' read -r end cmdline size loads ebs < <(run "uki-$s-$k" --machine q35 "$NEW/uki-$s-$k.efi")
    want="console=ttyS0 efikexec.uki=$s-$k panic=-1"
    [[ "$end" == exit-boot-services ]] || fail "uki-$s-$k: ended $end ($(head -c 300 "$OUT/uki-$s-$k.err"))"
    [[ "$cmdline" == "$want" ]] || fail "uki-$s-$k: command line '$cmdline', expected '$want'"
    # Stub 252 serves .initrd as it is; 257 and later append a cpio of their own (.extra:
    # os-release, the stub's credentials) after padding to 4 bytes.
    extra=$((size - INITRD_SIZE))
    if [[ $s == 252 ]]; then
      [[ $extra -eq 0 ]] || fail "uki-$s-$k: initrd $size bytes, expected $INITRD_SIZE"
    else
      [[ $extra -gt 0 && $extra -lt 4096 ]] || fail "uki-$s-$k: initrd $size bytes, expected $INITRD_SIZE + a small cpio"
    fi
    if [[ $s == 262 ]]; then
      # systemd-stub >= 258 copies .linux itself and calls its entry with its own handle.
      [[ "$loads" == 0 && "$ebs" == h:sdstub ]] ||
        fail "uki-$s-$k: LoadImage calls $loads, ExitBootServices by $ebs (expected 0, h:sdstub)"
      started="stub itself ($ebs)"
    else
      [[ "$loads" == 1 && "$ebs" == h:linux ]] ||
        fail "uki-$s-$k: LoadImage calls $loads, ExitBootServices by $ebs (expected 1, h:linux)"
      started="LoadImage ($ebs)"
    fi
    printf '%-8s %-7s %-20s +%-6s %-44s %s\n' "$s" "$k" "$end" "$extra" "$cmdline" "$started" \
      >>"$OUT/matrix.txt"
  done
done

declare -A BARE=([6.1]="$BW/vmlinuz" [6.12]="$NEW/vmlinuz-6.12" [7.2]="$NEW/vmlinuz-7.2")
for k in 6.1 6.12 7.2; do
  want="console=ttyS0 efikexec.bare=$k panic=-1"
  IFS='|' read -r end cmdline size loads ebs < <(run "bare-$k" --machine q35 --cmdline "$want" \
    --initrd "$INITRD" "${BARE[$k]}")
  [[ "$end" == exit-boot-services ]] || fail "bare-$k: ended $end"
  [[ "$cmdline" == "$want" ]] || fail "bare-$k: command line '$cmdline', expected '$want'"
  [[ "$size" == "$INITRD_SIZE" ]] || fail "bare-$k: initrd $size bytes, expected $INITRD_SIZE"
  printf '%-8s %-7s %-20s +%-6s %-44s %s\n' bare "$k" "$end" "$((size - INITRD_SIZE))" \
    "$cmdline" "firmware ($ebs)" >>"$OUT/matrix.txt"
done

# This machine, not a described one: the two UKIs of today's distributions. A sanitizer build
# cannot: its shadow memory sits on low physical RAM addresses of a machine with more than 2 GiB.
sanitized=0
grep -q __asan_init "$BIN" && sanitized=1
for u in 257-6.12 262-7.2; do
  IFS='|' read -r end cmdline size loads ebs < <(run "host-uki-$u" "$NEW/uki-$u.efi")
  if [[ $sanitized == 1 && "$end" == setup-failed ]] &&
    grep -q "cannot reserve the machine's RAM" "$OUT/host-uki-$u.json"; then
    echo "real-images: uki-$u on this machine: not with a sanitizer build (its shadow memory is where this machine has RAM)" >&2
    continue
  fi
  [[ "$end" == exit-boot-services && "$cmdline" == "console=ttyS0 efikexec.uki=$u panic=-1" ]] ||
    fail "uki-$u on this machine: ended $end, command line '$cmdline'"
  printf '%-8s %-7s %-20s +%-6s %-44s %s\n' "${u%-*}" "${u#*-}" "$end" "$((size - INITRD_SIZE))" \
    "$cmdline" "(this machine)" >>"$OUT/matrix.txt"
done

# Profiles: "@N" at the head of LoadOptions selects profile N (systemd-stub >= 257).
for n in 0 1 2; do
  IFS='|' read -r end cmdline size loads ebs < <(run "profile-$n" --machine q35 --cmdline "@$n" \
    "$NEW/uki-profiles.efi")
  [[ "$end" == exit-boot-services && "$cmdline" == "console=ttyS0 efikexec.profile=$n panic=-1" ]] ||
    fail "profile $n: ended $end, command line '$cmdline'"
  printf '%-8s %-7s %-20s +%-6s %-44s %s\n' "@$n" 6.12 "$end" "$((size - INITRD_SIZE))" \
    "$cmdline" "LoadOptions \"@$n\"" >>"$OUT/matrix.txt"
done
# load --profile: the plan's run carries profile 2's command line.
if "$BIN" load --no-verify --machine q35 --profile 2 --dry-run="$OUT/profile-2.plan.json" \
  "$NEW/uki-profiles.efi" >"$OUT/profile-2.load.txt" 2>&1; then
  got="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"]["boot_params"]["command_line"])' \
    "$OUT/profile-2.plan.json")"
  [[ "$got" == "console=ttyS0 efikexec.profile=2 panic=-1" ]] ||
    fail "load --profile 2: command line '$got'"
else
  fail "load --profile 2 failed: $(cat "$OUT/profile-2.load.txt")"
fi
# inspect --profile 1 shows what profile 1 means.
"$BIN" inspect --profile 1 "$NEW/uki-profiles.efi" >"$OUT/profile-1.inspect.txt" 2>&1
grep -q '^\* @1: *ID=p1 TITLE=Profile 1; cmdline: console=ttyS0 efikexec.profile=1 panic=-1$' \
  "$OUT/profile-1.inspect.txt" || fail "inspect --profile 1: $(cat "$OUT/profile-1.inspect.txt")"
# A profile that does not exist: exit 2, saying which ones exist; nothing runs.
for cmd in inspect load; do
  extra=()
  [[ $cmd == load ]] && extra=(--no-verify --machine q35 --dry-run="$OUT/none.json")
  "$BIN" "$cmd" "${extra[@]}" --profile 3 "$NEW/uki-profiles.efi" >"$OUT/profile-3.$cmd.txt" 2>&1
  rc=$?
  if [[ $rc -ne 2 ]] || ! grep -q 'profile 3 does not exist (the UKI has profiles 0 to 2)' \
    "$OUT/profile-3.$cmd.txt"; then
    fail "$cmd --profile 3: exit $rc: $(cat "$OUT/profile-3.$cmd.txt")"
  fi
done

cat "$OUT/matrix.txt"
[[ $failed -eq 0 ]] && echo "real-images: all passed"
exit "$failed"
