#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# make-payload-image.py ELF FLAT OUT
#
# Makes the payload file (docs/payload.md) from the linked payload ELF and its flat binary
# (objcopy -O binary): a file that is both a PE32+ image (signable with sbsign; the kernel checks
# its first signature) and a 64-bit bzImage that kexec_file_load's bzImage64 loader accepts.
#
#   0x000  MZ header, e_lfanew = 0x40
#   0x040  PE signature, COFF header, PE32+ optional header (16 data directories), one section
#          header: everything ends before 0x1f1
#   0x1f1  the x86 boot protocol setup header (protocol 2.15): setup_sects = 1, so the kernel
#          part (FLAT) starts at file offset 0x400 and is entered at load + 0x200 in 64-bit mode
#   0x400  FLAT, padded to 512 bytes: the PE section ".text" (RVA 0x1000)
#
# init_size covers the whole image with .bss (stack, page tables), and at least the file's
# kernel part with room for a signature sbsign appends (the kernel copies the whole file tail).
# The ELF must carry only R_X86_64_RELATIVE dynamic relocations (entry.S applies nothing else).
import struct
import subprocess
import sys

SETUP_SECTS = 1
KERNEL_OFFSET = (SETUP_SECTS + 1) * 512
SECTION_RVA = 0x1000
SIGNATURE_ROOM = 64 * 1024
KERNEL_ALIGNMENT = 2 * 1024 * 1024
HEADER_END = 0x26C  # end of the 2.15 setup header (kernel_info_offset)


def die(message):
    sys.exit(f"make-payload-image: {message}")


def symbols(elf):
    out = subprocess.run(["nm", elf], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table[parts[2]] = int(parts[0], 16)
    return table


def check_relocations(elf):
    out = subprocess.run(["readelf", "-rW", elf], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("R_X86_64_") and parts[2] != "R_X86_64_RELATIVE":
            die(f"{elf}: relocation {parts[2]} (only R_X86_64_RELATIVE is applied at entry)")


def align(value, alignment):
    return (value + alignment - 1) // alignment * alignment


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make-payload-image.py ELF FLAT OUT")
    elf, flat_path, out_path = sys.argv[1:]
    check_relocations(elf)
    sym = symbols(elf)
    for name in ("payload_entry64", "payload_efi_entry", "__image_end", "__image_file_end",
                 "__bss_start"):
        if name not in sym:
            die(f"{elf}: no symbol {name}")
    if sym["payload_entry64"] != 0x200:
        die(f"payload_entry64 is at {sym['payload_entry64']:#x}, the boot protocol enters at 0x200")
    flat = open(flat_path, "rb").read()
    if len(flat) > sym["__bss_start"]:
        die("the flat binary runs into .bss")
    kernel = flat + bytes(align(len(flat), 512) - len(flat))
    init_size = align(max(sym["__image_end"], len(kernel) + SIGNATURE_ROOM), 4096)

    f = bytearray(KERNEL_OFFSET)
    # DOS header: "MZ", e_lfanew.
    f[0:2] = b"MZ"
    struct.pack_into("<I", f, 0x3C, 0x40)
    # PE signature and COFF header: x86-64, one section, PE32+ optional header of 240 bytes,
    # EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DEBUG_STRIPPED.
    pe = 0x40
    f[pe:pe + 4] = b"PE\0\0"
    struct.pack_into("<HHIIIHH", f, pe + 4, 0x8664, 1, 0, 0, 0, 240, 0x0222)
    opt = pe + 24
    size_of_image = align(SECTION_RVA + len(kernel), 0x1000)
    struct.pack_into("<HBBIIIII", f, opt, 0x20B, 0, 0, len(kernel), 0, 0,
                     SECTION_RVA + sym["payload_efi_entry"], SECTION_RVA)
    # ImageBase, SectionAlignment, FileAlignment, OS/image/subsystem versions, Win32VersionValue,
    # SizeOfImage, SizeOfHeaders, CheckSum, Subsystem (EFI application), DllCharacteristics.
    struct.pack_into("<QIIHHHHHHIIIIHH", f, opt + 24, 0, 0x1000, 0x200, 0, 0, 0, 0, 0, 0, 0,
                     size_of_image, KERNEL_OFFSET, 0, 10, 0)
    # Stack and heap reserve/commit, LoaderFlags, NumberOfRvaAndSizes; the 16 directories stay
    # zero (sbsign fills the certificate table).
    struct.pack_into("<QQQQII", f, opt + 72, 0, 0, 0, 0, 0, 16)
    sections = opt + 240
    struct.pack_into("<8sIIIIIIHHI", f, sections, b".text", len(kernel), SECTION_RVA,
                     len(kernel), KERNEL_OFFSET, 0, 0, 0, 0, 0xE0000020)
    if sections + 40 > 0x1F1:
        die("the PE headers run into the setup header")

    # The setup header (Documentation/arch/x86/boot.rst).
    struct.pack_into("<BHIHHHH", f, 0x1F1, SETUP_SECTS, 0, align(len(kernel), 16) // 16, 0, 0, 0,
                     0xAA55)
    f[0x200] = 0xEB  # jmp over the header; kexec copies up to 0x202 + this byte
    f[0x201] = HEADER_END - 0x202
    f[0x202:0x206] = b"HdrS"
    struct.pack_into("<HIHHBBHI", f, 0x206, 0x020F, 0, 0, 0, 0, 0x01, 0, 0x100000)
    # ramdisk_image/size, bootsect_kludge, heap_end_ptr, ext_loader_ver/type, cmd_line_ptr,
    # initrd_addr_max, kernel_alignment, relocatable_kernel, min_alignment, xloadflags
    # (XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G | XLF_5LEVEL: bit 5), cmdline_size.
    struct.pack_into("<IIIHBBIIIBBHI", f, 0x218, 0, 0, 0, 0, 0, 0, 0, 0x7FFFFFFF,
                     KERNEL_ALIGNMENT, 1, 21, 0x01 | 0x02 | 0x20, 0xFFFF)
    # hardware_subarch(_data), payload_offset/length, setup_data, pref_address, init_size,
    # handover_offset, kernel_info_offset.
    struct.pack_into("<IQIIQQIII", f, 0x23C, 0, 0, 0, 0, 0, 0x1000000, init_size, 0, 0)
    open(out_path, "wb").write(bytes(f) + kernel)


main()
