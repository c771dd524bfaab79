# SPDX-License-Identifier: MIT
# shellcheck shell=sh
#
# Helpers for guest scenarios (busybox sh), sourced as /lib/efikexec-guest.sh.
# Every line a host test greps starts with a tag: EFIKEXEC-FIRST: for the first kernel.

# say TEXT...: one tagged line on the console.
say() { echo "EFIKEXEC-FIRST: $*"; }

# dump NAME FILE|CMD...: a block of lines, each tagged `EFIKEXEC-DUMP NAME:`, between begin/end
# markers, so a host can cut one block out of the serial log.
dump() {
  _n="$1"
  shift
  echo "EFIKEXEC-DUMP $_n: begin"
  if [ $# -eq 1 ] && [ -f "$1" ]; then
    sed "s/^/EFIKEXEC-DUMP $_n: /" "$1"
  else
    "$@" 2>&1 | sed "s/^/EFIKEXEC-DUMP $_n: /"
  fi
  echo "EFIKEXEC-DUMP $_n: end"
}

# have PATH: say `have PATH=yes|no`, and return whether it exists.
have() {
  if [ -e "$1" ]; then
    say "have $1=yes"
    return 0
  fi
  say "have $1=no"
  return 1
}

# cmdline_arg KEY: the value of KEY=VALUE on the kernel command line (empty if absent).
cmdline_arg() {
  # shellcheck disable=SC2013 # words of the command line, not lines
  for _a in $(cat /proc/cmdline); do
    case "$_a" in "$1"=*) echo "${_a#*=}"; return 0 ;; esac
  done
  return 0
}

# attempt NAME ARGS...: one efikexec call; its output (each line tagged `NAME: `), then
# `NAME exit=STATUS loaded=0|1` (the kexec state after it).
attempt() {
  _name="$1"
  shift
  "$EFIKEXEC" "$@" >/tmp/attempt.out 2>&1
  _rc=$?
  sed "s/^/EFIKEXEC-FIRST: $_name: /" /tmp/attempt.out
  say "$_name exit=$_rc loaded=$(cat /sys/kernel/kexec_loaded)"
}
