/* SPDX-License-Identifier: MIT */
/*
 * The kexec trampoline's clearing (docs/architecture.md): efikexec carries long runs of zeros
 * the image left in no kexec segment, and the trampoline clears them at entry. This image
 * allocates 4 MiB, writes zeros into all of it but one page of a pattern in the middle (two
 * runs of almost 2 MiB around it), exits boot services and, resumed after the kexec, checks
 * that the zeros are zeros and the pattern is intact, whatever the old kernel left in that
 * memory. Not a conformance application: it means something only after a real kexec.
 */
#include "eft.h"

#define ZERO_PAGES 1024
#define PATTERN_PAGE 512
#define PATTERN 0x5a

static UINT8 map_buf[64 * 1024] __attribute__((aligned(16)));

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_PHYSICAL_ADDRESS base = 0;
	UINTN size = sizeof(map_buf), key = 0, dsize = 0;
	UINT32 ver = 0;
	EFI_STATUS s;

	eft_begin(image, st, "zeros");
	s = eft_bs->AllocatePages(AllocateAnyPages, EfiLoaderData, ZERO_PAGES, &base);
	eft("zeros.alloc status=%r", s);
	if (s != EFI_SUCCESS) {
		eft_end();
		return s;
	}
	UINT8 *bytes = (UINT8 *)(UINTN)base;
	eft_bs->SetMem(bytes, ZERO_PAGES * 4096, 0);
	eft_bs->SetMem(bytes + PATTERN_PAGE * 4096, 4096, PATTERN);

	eft("zeros.call");
	s = eft_bs->GetMemoryMap(&size, (EFI_MEMORY_DESCRIPTOR *)map_buf, &key, &dsize, &ver);
	if (s == EFI_SUCCESS)
		s = eft_bs->ExitBootServices(image, key);
	if (s != EFI_SUCCESS) {
		eft("zeros.exit status=%r", s);
		eft_end();
		return s;
	}
	/* No boot services from here on: the UART and the CPU only. */
	UINTN dirty = 0, pattern_lost = 0;
	for (UINTN i = 0; i < ZERO_PAGES * 4096; i++) {
		UINTN in_pattern = i / 4096 == PATTERN_PAGE;
		if (in_pattern && bytes[i] != PATTERN)
			pattern_lost++;
		if (!in_pattern && bytes[i] != 0)
			dirty++;
	}
	eft_serial_line(dirty == 0 && pattern_lost == 0 ? "zeros.after clean"
			: dirty != 0 ? "zeros.after dirty: a byte meant to be zero is not"
				     : "zeros.after the pattern page was not carried");
	for (;;)
		__asm__ volatile("cli; hlt");
}
