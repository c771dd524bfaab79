/* SPDX-License-Identifier: MIT */
/*
 * ExitBootServices (UEFI 2.10 §7.4.6): a stale map key is refused with EFI_INVALID_PARAMETER and
 * leaves boot services working (and the exit-boot-services event group unsignalled); the key of
 * a fresh GetMemoryMap succeeds. That is the Linux stub's retry path (STUBS.md).
 *
 * After a successful ExitBootServices there is no console any more, so the last line goes to the
 * UART directly and the CPU halts. Under efikexec's shim the run ends inside the successful call
 * (that is where it captures the caller), so its transcript ends with "ebs.call"; the comparator
 * allows exactly the missing "ebs.returned" line for this application.
 */
#include "eft.h"

static UINT8 map_buf[64 * 1024] __attribute__((aligned(16)));
static UINTN ebs_notified;

static void EFIAPI count_notify(EFI_EVENT event, void *context)
{
	(*(UINTN *)context)++;
}

static EFI_STATUS read_map(UINTN *key)
{
	UINTN size = sizeof(map_buf), dsize;
	UINT32 ver;
	return eft_bs->GetMemoryMap(&size, (EFI_MEMORY_DESCRIPTOR *)map_buf, key, &dsize, &ver);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_EVENT ev = NULL;
	EFI_PHYSICAL_ADDRESS page = 0;
	UINTN key1 = 0, key2 = 0;
	EFI_STATUS s;
	void *pool = NULL;

	eft_begin(image, st, "ebs");
	s = eft_bs->CreateEvent(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, count_notify,
				&ebs_notified, &ev);
	eft("ebs.event status=%r", s);

	s = read_map(&key1);
	EFI_STATUS a = eft_bs->AllocatePages(AllocateAnyPages, EfiLoaderData, 1, &page);
	read_map(&key2);
	eft("ebs.map status=%r alloc=%r key-changed=%b", s, a, key1 != key2);

	s = eft_bs->ExitBootServices(image, key1);
	eft("ebs.stale-key status=%r notified=%u", s, (UINT64)ebs_notified);
	/* Boot services are still there after a refused call. */
	s = eft_bs->AllocatePool(EfiLoaderData, 64, &pool);
	eft("ebs.after-stale pool=%r free=%r", s, eft_bs->FreePool(pool));

	eft("ebs.call");
	s = read_map(&key2);
	s = eft_bs->ExitBootServices(image, key2);
	if (s != EFI_SUCCESS) {
		eft("ebs.returned status=%r", s);
		eft_end();
		return s;
	}
	/* No boot services from here on (§7.4.6): the UART and the CPU only. */
	eft_serial_line(ebs_notified == 1 ? "ebs.returned status=Success notified=1"
					  : "ebs.returned status=Success notified=other");
	for (;;)
		__asm__ volatile("cli; hlt");
}
