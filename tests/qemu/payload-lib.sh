# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
#
# The payload as a test links it (sourced after lib.sh).

# payload_test_arguments FIXTURES WORKDIR EFIKEXEC_BIN PAYLOAD_PATH LINK_PAYLOAD --cc CC -- ARCHIVE...:
# the arguments of the tests that install a payload, as FIX, WORK, BIN, PAYLOAD_PATH (where the
# build installs it), LINK (link-payload.sh), CC and ARCHIVES (the build's).
payload_test_arguments() {
  [[ $# -ge 8 && "$6" == --cc && "$8" == -- ]] ||
    { echo "usage: $0 FIXTURES WORKDIR EFIKEXEC_BIN PAYLOAD_PATH LINK_PAYLOAD --cc CC -- ARCHIVE..." >&2
      exit 2; }
  FIX="$(realpath -m -- "$1")"
  WORK="$(realpath -m -- "$2")"
  BIN="$3"
  PAYLOAD_PATH="$4"
  LINK="$5"
  CC="$7"
  shift 8
  ARCHIVES=("$@")
}

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

# secure_boot_ovmf DIR: DIR gets OVMF's Secure Boot code (q35 with SMM) and the variable store of
# make-fixtures-newer.sh (PK/KEK/db: the fixture db certificate; dbx: the `other` certificate),
# in the layout overlay_boot takes; boot it with "${SECURE_BOOT_QEMU[@]}". Needs FIX.
# shellcheck disable=SC2054 # the commas are inside one QEMU argument
SECURE_BOOT_QEMU=(-machine smm=on -global driver=cfi.pflash01,property=secure,value=on)
secure_boot_ovmf() {
  local new="${EFIKEXEC_NEWER_FIXTURES:-$FIX/newer}"
  local code="${OVMF_DIR_SYSTEM:-/usr/share/OVMF}/OVMF_CODE_4M.secboot.fd"
  "$QEMU_DIR/../fixtures/make-fixtures-newer.sh" "$new" "$FIX" >&2 ||
    { note "the newer fixtures could not be made"; return 1; }
  require_fixture "$new/ovmf-secboot-vars/OVMF_VARS_4M.fd"
  [[ -s "$code" ]] || { note "$code missing (ovmf)"; return 1; }
  mkdir -p "$1"
  ln -sf "$code" "$1/OVMF_CODE_4M.fd"
  ln -sf "$new/ovmf-secboot-vars/OVMF_VARS_4M.fd" "$1/OVMF_VARS_4M.fd"
}
