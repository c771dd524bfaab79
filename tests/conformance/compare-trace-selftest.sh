#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# compare-trace-selftest.sh
#   compare-trace.py on small made-up traces: addresses may differ, an allowed difference is
#   accepted and named, and anything else (a status, a value, a call more or less) is reported.
set -euo pipefail
HERE="$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
failed=0

cat >"$TMP/ref" <<'EOF'
#00001 d0 sdstub+0x13b04 BS.LocateProtocol(RNG) -> NotFound
#00002 d0 sdstub+0x104f6 BS.HandleProtocol(h:sdstub, LoadedImage) -> Success iface=0x3e52f040 {base=0x3c01d000 size=0xf09000 dev=0x3e53bf98 optsize=0}
#00003 d0 sdstub+0x15840 BS.AllocatePool(LoaderData, size=0xe) -> Success buf=0x3e530f98
#00004 d0 sdstub+0x10995 BS.FreePool(0x3e530f98) -> Success
#00005 d0 linux+0x7d080b BS.GetMemoryMap(size=0x0, map=0x0) -> BufferTooSmall size=0x18f0 descsz=0x30
#00006 d0 linux+0x7d085c BS.AllocatePool(LoaderData, size=0x1ac8 (6+ KiB)) -> Success buf=0x3de8d018
#00007 d0 linux+0x7d099f BS.GetMemoryMap(size=0x1aa0, map=0x3de8d040) -> Success size=0x1800 descsz=0x30 key=0x83f ver=1 entries=128
#00008 d0 linux+0x7ceab9 BS.ExitBootServices(h:linux, mapkey=0x83f (= key of #7)) -> Success  [boot services terminated; RT pointers restored]
EOF
# The same calls as the shim traces them: other addresses, another memory map, and an RNG.
cat >"$TMP/shim" <<'EOF'
#1 d0 sdstub+0x13b04 BS.LocateProtocol(RNG) -> Success iface=0x3ffe04a0
#2 d0 sdstub+0x13b23 P.RNG.GetRNG(len=0x8) -> Success
#3 d0 sdstub+0x104f6 BS.HandleProtocol(h:sdstub, LoadedImage) -> Success iface=0x3ffe0620
#4 d0 sdstub+0x15840 BS.AllocatePool(LoaderData, size=0xe) -> Success buf=0x3ff4f020
#5 d0 sdstub+0x10995 BS.FreePool(0x3ff4f020) -> Success
#6 d0 linux+0x7d080b BS.GetMemoryMap(size=0x0, map=0x0) -> BufferTooSmall size=0x390 descsz=0x30
#7 d0 linux+0x7d085c BS.AllocatePool(LoaderData, size=0x538) -> Success buf=0x3ff4f0e0
#8 d0 linux+0x7d099f BS.GetMemoryMap(size=0x510, map=0x3ff4f108) -> Success size=0x390 descsz=0x30 key=0x8
#9 d0 linux+0x7ceab9 BS.ExitBootServices(h:linux, mapkey=0x8) -> Success
EOF

expect() {
  local want="$1" name="$2" shim="$3" pattern="${4:-}" got=0
  python3 "$HERE/compare-trace.py" "$TMP/ref" "$shim" >"$TMP/out" 2>&1 || got=$?
  if [[ "$got" != "$want" ]] || { [[ -n "$pattern" ]] && ! grep -qE -- "$pattern" "$TMP/out"; }; then
    echo "FAIL $name (exit $got, wanted $want${pattern:+, output matching \"$pattern\"})"
    cat "$TMP/out"
    failed=1
  else
    echo "PASS $name"
  fi
}

expect 0 "same calls, other addresses and map, RNG named" "$TMP/shim" \
  'allowed difference rng-protocol: 2 call'
sed 's/LocateProtocol(RNG) -> Success iface=0x3ffe04a0/LocateProtocol(RNG) -> NotFound/; /GetRNG/d' \
  "$TMP/shim" >"$TMP/shim-no-rng"
expect 0 "no RNG on either side" "$TMP/shim-no-rng" 'same sequence: 8 calls'
sed 's/FreePool(0x3ff4f020) -> Success/FreePool(0x3ff4f020) -> InvalidParameter/' \
  "$TMP/shim" >"$TMP/shim-status"
expect 1 "a status differs" "$TMP/shim-status" '^\+sdstub d0 BS\.FreePool\(@\) -> InvalidParameter'
sed 's/size=0xe)/size=0xf)/' "$TMP/shim" >"$TMP/shim-size"
expect 1 "a pool size differs" "$TMP/shim-size" 'size=0xf'
sed '/ExitBootServices/d' "$TMP/shim" >"$TMP/shim-short"
expect 1 "a call missing" "$TMP/shim-short" '^-linux d0 BS\.ExitBootServices'
sed 's/^#5 d0/#5 d1/' "$TMP/shim" >"$TMP/shim-depth"
expect 1 "a depth differs" "$TMP/shim-depth" 'd1 BS\.FreePool'

# systemd's version string: a Debian point release or rebuild of the same major version is the
# same image as far as the comparison goes; another major version, or a size that does not spell
# the string, is not.
stub_info() {  # FILE SIZE VERSION: FILE with the stub's StubInfo call after its FreePool
  sed "/BS\.FreePool/a #00099 d0 sdstub+0x11258 RT.SetVariable(\"StubInfo\", SYSTEMD_LOADER_VENDOR, attr=0x6[BS|RT], size=$2, data=u\"systemd-stub $3\") -> Success" "$1"
}
stub_info "$TMP/ref" 0x3c 257.13-1~deb13u1 >"$TMP/ref-stub"
mv "$TMP/ref-stub" "$TMP/ref"
stub_info "$TMP/shim-no-rng" 0x3c 257.14-1~deb13u2 >"$TMP/shim-point"
expect 0 "a point release of the stub" "$TMP/shim-point" 'same sequence: 9 calls'
stub_info "$TMP/shim-no-rng" 0x3c 258.13-1~deb13u1 >"$TMP/shim-major"
expect 1 "another major version of the stub" "$TMP/shim-major" 'systemd-stub 258'
stub_info "$TMP/shim-no-rng" 0x3e 257.14-1~deb13u2 >"$TMP/shim-size"
expect 1 "a size that does not spell the version" "$TMP/shim-size" 'size=0x3e'

# The allowed differences of a boot volume that is a disk under OVMF: a directory's size, and an
# add-on named by the volume's device path plus its file.
cat >"$TMP/ref" <<'EOF'
#00001 d0 sdstub+0x100 P.File.GetInfo(this=0x3ded62a0, FileInfo, size=0x250) -> Success size=0x70 FileSize=0x200 name="uki.efi.extra.d" Attribute=0x10
#00002 d0 sdstub+0x200 P.File.GetInfo(this=0x3ded62a0, FileInfo, size=0x250) -> Success size=0x5e FileSize=0xc name="a.cred"
#00003 d0 sdstub+0x300 BS.AllocatePool(LoaderData, size=0x8e) -> Success buf=0x3e530f98
#00004 d0 sdstub+0x400 BS.CopyMem(dst=0x3e530f98, src=0x3e53c698, len=0x46) -> void
#00005 d0 sdstub+0x400 BS.CopyMem(dst=0x3e530fde, src=0x3e53c000, len=0x40) -> void
#00006 d0 sdstub+0x500 BS.LoadImage(BootPolicy=0, parent=h:sdstub, dp=PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)/HD(1,MBR,0xc153e129,0x800,0x1a000)/"\\a.addon.efi", src=0x0, srcsize=0x0) -> Success handle=h:image2 base=0x3dea8000 size=0x5000
EOF
cat >"$TMP/shim" <<'EOF'
#1 d0 sdstub+0x100 P.File.GetInfo(this=0x3ffe0890, FileInfo, size=0x250) -> Success size=0x70 FileSize=0x0 name="uki.efi.extra.d" Attribute=0x10
#2 d0 sdstub+0x200 P.File.GetInfo(this=0x3ffe0890, FileInfo, size=0x250) -> Success size=0x5e FileSize=0xc name="a.cred"
#3 d0 sdstub+0x300 BS.AllocatePool(LoaderData, size=0x5c) -> Success buf=0x3ff4f020
#4 d0 sdstub+0x400 BS.CopyMem(dst=0x3ff4f020, src=0x3ffe0590, len=0x14) -> void
#5 d0 sdstub+0x400 BS.CopyMem(dst=0x3ff4f034, src=0x3ffe0000, len=0x40) -> void
#6 d0 sdstub+0x500 BS.LoadImage(BootPolicy=0, parent=h:sdstub, dp=VenHw(EFIKEXEC_BOOT_VOLUME)/"\\a.addon.efi", src=0x0, srcsize=0x0) -> Success handle=h:image2 base=0x3ff4a000 size=0x5000
EOF
expect 0 "a FAT directory's size, an add-on's path on a disk" "$TMP/shim" 'same sequence: 6 calls'
sed 's/FileSize=0xc name/FileSize=0xd name/' "$TMP/shim" >"$TMP/shim-file-size"
expect 1 "a file's size differs" "$TMP/shim-file-size" 'FileSize=0xd'
sed 's/a.addon.efi/b.addon.efi/' "$TMP/shim" >"$TMP/shim-other-file"
expect 1 "another add-on file" "$TMP/shim-other-file" 'b\.addon\.efi'
sed 's/size=0x5c)/size=0x5e)/' "$TMP/shim" >"$TMP/shim-buffer"
expect 1 "a buffer not sized for the volume's path and the file" "$TMP/shim-buffer" \
  'size=VOLUME\+0x4a'

# On a CPU offering LA57, the Linux stub's two pages below 4 GiB, once; other arguments are not
# excused.
cat >"$TMP/ref" <<'EOF'
#00001 d0 linux+0x100 BS.AllocatePool(LoaderData, size=0x20) -> Success buf=0x3e530f98
#00002 d0 linux+0x200 BS.FreePool(0x3e530f98) -> Success
EOF
la57_pages() {  # PAGES: the reference with one AllocatePages below 4 GiB after its first call
  sed "1a #2 d0 linux+0x180 BS.AllocatePages(AllocateMaxAddress, LoaderData, pages=$1, max=0xffffffff) -> Success addr=0x3e000000" "$TMP/ref"
}
la57_pages 0x2 >"$TMP/shim-la57"
expect 0 "the LA57 switch's pages" "$TMP/shim-la57" 'allowed difference host-cpu-offers-la57: 1 call'
la57_pages 0x3 >"$TMP/shim-pages"
expect 1 "other pages below 4 GiB" "$TMP/shim-pages" 'pages=0x3'
exit "$failed"

