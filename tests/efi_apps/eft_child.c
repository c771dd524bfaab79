/* SPDX-License-Identifier: MIT */
/*
 * The child image of eft_images: loaded from a memory buffer with LoadImage and started with
 * StartImage (UEFI 2.10 §7.4). Its LoadOptions (struct eft_child_options) choose what it does:
 *   info         report its own LoadedImage facts, return EFI_SUCCESS
 *   exit         Exit(EFT_CHILD_EXIT_STATUS, ExitData) from three calls deep
 *   exit-success Exit(EFI_SUCCESS) without ExitData
 *   return       return EFT_CHILD_RETURN_STATUS from the entry point
 *   exit-parent  try Exit() on the parent's handle (not the running image), then return
 *   nest         load and start a grandchild (mode exit) itself, then Exit(EFT_CHILD_NEST_STATUS)
 * It prints with the prefix "child." and never calls eft_begin/eft_end.
 */
#include "eft.h"
#include "eft_child.h"

static EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;

static int mode_is(const struct eft_child_options *o, const CHAR16 *m)
{
	for (int i = 0; i < 16; i++) {
		if (o->mode[i] != m[i])
			return 0;
		if (!m[i])
			return 1;
	}
	return 0;
}

/* Exit from inside nested calls: StartImage must unwind the whole child stack (§7.4.5). */
static void __attribute__((noinline)) exit_deep(int depth, EFI_STATUS status, UINTN size,
						CHAR16 *data)
{
	UINT8 scratch[64];
	scratch[depth] = (UINT8)depth;
	/* Keeps the frame (and the recursion) real at -O2. */
	__asm__ volatile("" : : "r"(scratch) : "memory");
	if (depth)
		exit_deep(depth - 1, status, size, data);
	EFI_STATUS s = eft_bs->Exit(eft_image, status, size, data);
	eft("child.exit-returned status=%r", s);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_LOADED_IMAGE *li = NULL;
	EFI_STATUS s;

	eft_image = image;
	eft_st = st;
	eft_bs = st->BootServices;

	s = eft_bs->HandleProtocol(image, &loaded_image_guid, (void **)&li);
	const struct eft_child_options *o = li ? li->LoadOptions : NULL;
	if (s != EFI_SUCCESS || !o || li->LoadOptionsSize != sizeof(*o)) {
		eft("child.options status=%r present=no", s);
		return EFI_LOAD_ERROR;
	}

	if (mode_is(o, L"info")) {
		eft("child.info revision=%x system-table=%b parent-set=%b", (UINT64)li->Revision,
		    li->SystemTable == st, li->ParentHandle != NULL);
		eft("child.info code=%m data=%m unload-set=%b", (UINT32)li->ImageCodeType,
		    (UINT32)li->ImageDataType, li->Unload != NULL);
		/* Our own code runs inside [ImageBase, ImageBase + ImageSize). */
		UINTN here = (UINTN)&efi_main, base = (UINTN)li->ImageBase;
		eft("child.info entry-inside=%b", here >= base && here < base + li->ImageSize);
		return EFI_SUCCESS;
	}
	if (mode_is(o, L"exit")) {
		CHAR16 *data = NULL;
		s = eft_bs->AllocatePool(EfiBootServicesData, EFT_CHILD_EXIT_DATA_SIZE, (void **)&data);
		eft("child.exit-data status=%r", s);
		const CHAR16 *text = EFT_CHILD_EXIT_TEXT;
		UINTN k = 0;
		for (; text[k]; k++)
			data[k] = text[k];
		data[k++] = 0;
		((UINT8 *)data)[2 * k + 0] = 0xde;
		((UINT8 *)data)[2 * k + 1] = 0xad;
		((UINT8 *)data)[2 * k + 2] = 0xbe;
		((UINT8 *)data)[2 * k + 3] = 0xef;
		exit_deep(3, EFT_CHILD_EXIT_STATUS, EFT_CHILD_EXIT_DATA_SIZE, data);
		return EFI_LOAD_ERROR; /* not reached when Exit works */
	}
	if (mode_is(o, L"exit-success")) {
		exit_deep(0, EFI_SUCCESS, 0, NULL);
		return EFI_LOAD_ERROR;
	}
	if (mode_is(o, L"return"))
		return EFT_CHILD_RETURN_STATUS;
	if (mode_is(o, L"exit-parent")) {
		s = eft_bs->Exit(li->ParentHandle, EFI_SUCCESS, 0, NULL);
		eft("child.exit-parent status=%r", s);
		s = eft_bs->Exit(NULL, EFI_SUCCESS, 0, NULL);
		eft("child.exit-null status=%r", s);
		return EFI_SUCCESS;
	}
	if (mode_is(o, L"nest")) {
		static struct eft_child_options inner;
		EFI_HANDLE grandchild = NULL;
		EFI_LOADED_IMAGE *gli = NULL;
		UINTN size = 0;
		CHAR16 *data = NULL;

		inner = *o;
		inner.mode[0] = 'e', inner.mode[1] = 'x', inner.mode[2] = 'i', inner.mode[3] = 't';
		inner.mode[4] = 0;
		s = eft_bs->LoadImage(FALSE, image, NULL, (void *)o->blob, o->blob_size, &grandchild);
		eft("child.nest.load status=%r", s);
		eft_bs->HandleProtocol(grandchild, &loaded_image_guid, (void **)&gli);
		eft("child.nest.parent-is-child=%b", gli && gli->ParentHandle == image);
		gli->LoadOptions = &inner;
		gli->LoadOptionsSize = sizeof(inner);
		s = eft_bs->StartImage(grandchild, &size, &data);
		eft("child.nest.start status=%r exit-data-size=%u", s, (UINT64)size);
		if (data)
			eft_bs->FreePool(data);
		exit_deep(1, EFT_CHILD_NEST_STATUS, 0, NULL);
		return EFI_LOAD_ERROR;
	}
	eft("child.mode unknown");
	return EFI_UNSUPPORTED;
}
