#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest scenario: the first kernel came up; describe the machine efikexec will find there
# (memory maps, EFI runtime map, configuration tables, SMBIOS, CPU) in tagged serial lines.
# Runs without efikexec. Exit 0 when everything efikexec reads is present: under EFI firmware
# the EFI files too, under SeaBIOS only the BIOS-side ones (and no /sys/firmware/efi).
# shellcheck source=SCRIPTDIR/../guest/efikexec-guest.sh
. /lib/efikexec-guest.sh

missing=""
need() { have "$1" || missing="$missing $1"; }

# Entries in numeric order (sysfs names them 0, 1, ... 10, 11).
memmap_list() {
  n=0
  while [ -d "/sys/firmware/memmap/$n" ]; do
    m="/sys/firmware/memmap/$n"
    echo "$(cat "$m/start") $(cat "$m/end") $(cat "$m/type")"
    n=$((n + 1))
  done
}
runtime_map_list() {
  n=0
  while [ -d "/sys/firmware/efi/runtime-map/$n" ]; do
    m="/sys/firmware/efi/runtime-map/$n"
    echo "phys=$(cat "$m/phys_addr") virt=$(cat "$m/virt_addr") pages=$(cat "$m/num_pages")" \
      "type=$(cat "$m/type") attr=$(cat "$m/attribute")"
    n=$((n + 1))
  done
}
dmi_list() {
  ls -l /sys/firmware/dmi/tables
  hexdump -C /sys/firmware/dmi/tables/smbios_entry_point
}
# Where a loader finds the RSDP without EFI: the boot_params field the first kernel got
# (acpi_rsdp_addr, offset 0x70) and the BIOS area scan (0xE0000-0xFFFFF, readable through
# /dev/mem even with STRICT_DEVMEM).
rsdp_list() {
  # busybox hexdump has no 8-byte unit: print high and low 32-bit halves.
  hexdump -s 0x70 -n 8 -e '2/4 "%08x " "\n"' /sys/kernel/boot_params/data |
    { read -r lo hi && echo "boot_params.acpi_rsdp_addr: 0x$hi$lo"; }
  line="$(dd if=/dev/mem bs=4096 skip=224 count=32 2>/dev/null | hexdump -v -e '16/1 "%02x" "\n"' |
    grep -n '^5253442050545220' | head -n1 | cut -d: -f1)"
  if [ -n "$line" ]; then
    printf 'bios-area scan: RSD PTR at 0x%x\n' $((0xE0000 + (line - 1) * 16))
  else
    echo "bios-area scan: no RSD PTR in 0xE0000-0xFFFFF"
  fi
}
boot_dmesg() {
  dmesg | grep -iE 'efi:|e820|smbios|dmi:|acpi: rsdp|x86/fpu|paging|secure boot|kaslr' | head -n 80
}

if [ -d /sys/firmware/efi ]; then efi=yes; else efi=no; fi
say "efi=$efi"
say "kernel=$(uname -r)"
say "cmdline=$(cat /proc/cmdline)"
say "cpus=$(nproc)"
say "memtotal_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
# VmallocTotal tells the paging mode: 34359738367 kB with 4 levels, far more with 5 (LA57).
vm="$(sed -n 's/^VmallocTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
if [ "$vm" -gt 34359738367 ]; then say "paging=5-level"; else say "paging=4-level"; fi
if grep -qw la57 /proc/cpuinfo; then say "cpu_la57=yes"; else say "cpu_la57=no"; fi
if grep -qw rdrand /proc/cpuinfo; then say "cpu_rdrand=yes"; else say "cpu_rdrand=no"; fi

need /proc/iomem
need /sys/firmware/memmap
need /sys/firmware/dmi/tables
need /sys/firmware/acpi/tables
if [ "$efi" = yes ]; then
  need /sys/firmware/efi/runtime-map
  need /sys/firmware/efi/systab
  need /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
  say "fw_platform_size=$(cat /sys/firmware/efi/fw_platform_size)"
  say "efivars=$(find /sys/firmware/efi/efivars -mindepth 1 | wc -l)"
fi
say "kexec_loaded=$(cat /sys/kernel/kexec_loaded 2>/dev/null)"
say "kexec_load_disabled=$(cat /proc/sys/kernel/kexec_load_disabled 2>/dev/null)"
[ -r /sys/kernel/security/lockdown ] && say "lockdown=$(cat /sys/kernel/security/lockdown)"

dump iomem /proc/iomem
dump memmap memmap_list
if [ "$efi" = yes ]; then
  dump systab /sys/firmware/efi/systab
  dump runtime-map runtime_map_list
fi
dump dmi dmi_list
dump acpi-tables ls /sys/firmware/acpi/tables
dump rsdp rsdp_list
dump boot-dmesg boot_dmesg

if [ -n "$missing" ]; then
  say "smoke=FAILED missing:$missing"
  exit 1
fi
if [ "$efi" = no ] && [ -e /sys/firmware/efi ]; then
  say "smoke=FAILED"
  exit 1
fi
say "smoke=ok"
