# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# The payload as a test links it (sourced after lib.sh).

# link_signed_payload OUT_UNSIGNED OUT_SIGNED DB_CERT DB_KEY LINK CC ARCHIVE...: links the payload
# with DB_CERT built in as its db (LINK is arch/x86_64/payload/link-payload.sh, CC and the
# ARCHIVEs the build's), then signs it with DB_KEY, as a distribution signs it with the key the
# machine's kernel trusts.
link_signed_payload() {
  local unsigned="$1" signed="$2" cert="$3" key="$4" link="$5" cc="$6"
  shift 6
  "$link" --cc "$cc" --out "$unsigned" --db "$cert" -- "$@" ||
    { note "the payload could not be linked"; return 1; }
  sbsign --key "$key" --cert "$cert" --output "$signed" "$unsigned" >/dev/null 2>&1 ||
    { note "sbsign failed"; return 1; }
}
