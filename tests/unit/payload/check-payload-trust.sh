#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-payload-trust.sh EFIKEXEC PAYLOAD_TRUST
#   The signature databases built into the payload (arch/x86_64/payload/payload-trust.py), read
#   back by the host verifier (`efikexec verify`): the fixture db certificate as PEM and as DER
#   makes the same EFI_CERT_X509 list, which accepts the signed fixture UKI; an .esl passes
#   through unchanged; the same list as dbx revokes it; a file that is neither is refused.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../../lib/prerequisites.sh
. "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/../../lib/prerequisites.sh"
[[ $# -eq 2 ]] || { echo "usage: $0 EFIKEXEC PAYLOAD_TRUST" >&2; exit 2; }
efikexec="$1" trust="$2"
fix="${EFIKEXEC_FIXTURES:-}"
require_fixture "$fix/keys/db.crt" "$fix/uki-signed.efi"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "check-payload-trust: FAIL: $*" >&2; exit 1; }

python3 "$trust" "$work/pem.esl" "$fix/keys/db.crt" || fail "PEM certificate"
openssl x509 -in "$fix/keys/db.crt" -outform DER -out "$work/db.der"
python3 "$trust" "$work/der.esl" "$work/db.der" || fail "DER certificate"
cmp -s "$work/pem.esl" "$work/der.esl" || fail "PEM and DER make different lists"
python3 "$trust" "$work/esl.esl" "$work/pem.esl" || fail ".esl file"
cmp -s "$work/pem.esl" "$work/esl.esl" || fail "an .esl file is not passed through"
python3 "$trust" "$work/two.esl" "$work/pem.esl" "$work/db.der" || fail "two files"
[[ $(stat -c %s "$work/two.esl") -eq $((2 * $(stat -c %s "$work/pem.esl"))) ]] ||
  fail "two files do not make two lists"
python3 "$trust" "$work/empty.esl" || fail "no file"
[[ ! -s "$work/empty.esl" ]] || fail "no file makes a non-empty database"

"$efikexec" verify --db "$work/two.esl" "$fix/uki-signed.efi" >/dev/null ||
  fail "the list as db does not accept the signed UKI"
if "$efikexec" verify --db "$work/pem.esl" --dbx "$work/der.esl" "$fix/uki-signed.efi" \
    >/dev/null 2>&1; then
  fail "the list as dbx does not revoke the signed UKI"
fi
printf 'not a certificate\n' >"$work/junk"
if python3 "$trust" "$work/junk.esl" "$work/junk" 2>/dev/null; then
  fail "a file that is neither a certificate nor a signature list is accepted"
fi
echo "check-payload-trust: ok"
