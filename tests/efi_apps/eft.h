/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the conformance applications (EFT = "EFI firmware test").
 *
 * Every application prints one line per check through ConOut->OutputString, each starting with
 * "EFT: ", so that the same transcript can be cut out of an OVMF serial log and out of the shim's
 * console capture. A line names what was checked and then key=value facts; it never contains an
 * address, a count of firmware-owned things or anything else that depends on the machine: only
 * statuses (by name), booleans (yes/no), memory type names and numbers the test itself chose.
 * Lines stay shorter than 80 columns so a firmware terminal never wraps them.
 *
 * Deliberately no InitializeLib() and no gnu-efi Print(): those make boot-service and variable calls
 * of their own (GetVariable("Lang"), pool allocations) that would sit between the checks.
 */
#ifndef EFT_H
#define EFT_H

#include <efi.h>

extern EFI_HANDLE eft_image;
extern EFI_SYSTEM_TABLE *eft_st;
extern EFI_BOOT_SERVICES *eft_bs;

/* Starts a transcript: remembers the tables, disables the watchdog (UEFI 2.10 §7.5.1: firmware arms
 * a 5-minute watchdog before starting a boot option) and prints "EFT: begin NAME". */
void eft_begin(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, const char *name);

/* Prints "EFT: end" and powers the machine off (ResetSystem, UEFI 2.10 §8.5.1). Where the reset is
 * refused (the shim), it returns and the application returns EFI_SUCCESS. */
void eft_end(void);

/*
 * eft("name key=%r ...", ...) prints "EFT: " + the formatted line + CRLF. Conversions:
 *   %s  ASCII string          %d  signed decimal (INT64)   %u  unsigned decimal (UINT64)
 *   %x  unsigned hex (UINT64) %r  EFI_STATUS by name        %b  boolean as yes/no (int)
 *   %m  EFI memory type by name (UINT32)
 */
void eft(const char *fmt, ...);

const char *eft_status_name(EFI_STATUS status);
const char *eft_memtype_name(UINT32 type);

/* Byte helpers that do not go through boot services (CopyMem/SetMem are under test). */
void eft_memset(void *dst, int value, UINTN size);
int eft_memeq(const void *a, const void *b, UINTN size);
int eft_guideq(const EFI_GUID *a, const EFI_GUID *b);

/* Writes an ASCII line straight to the 16550 UART at I/O port 0x3F8, for use after
 * ExitBootServices when ConOut is gone. Adds "EFT: " and CRLF. */
void eft_serial_line(const char *text);

/* GUIDs made up for these tests (random, registered nowhere). */
#define EFT_GUID_A {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x01}}
#define EFT_GUID_B {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x02}}
#define EFT_GUID_C {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x03}}
#define EFT_GUID_N {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x04}}
#define EFT_GUID_UNUSED {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0xff}}
#define EFT_GUID_VENDOR_1 {0x0c8f1a52, 0x2f6b, 0x4e0a, {0xa5, 0x3e, 0x8d, 0x71, 0x90, 0x4b, 0x22, 0x01}}
#define EFT_GUID_VENDOR_2 {0x0c8f1a52, 0x2f6b, 0x4e0a, {0xa5, 0x3e, 0x8d, 0x71, 0x90, 0x4b, 0x22, 0x02}}
#define EFT_GUID_EVENT_GROUP {0x3a6e8b7c, 0x10d4, 0x4f2e, {0xb1, 0x6c, 0x5e, 0x27, 0x94, 0x0a, 0xd3, 0x01}}

#endif
