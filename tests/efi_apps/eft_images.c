/* SPDX-License-Identifier: MIT */
/*
 * Image services (UEFI 2.10 §7.4): LoadImage from a memory buffer (the embedded eft_child.efi),
 * the LoadedImage protocol of the result (§9.1), StartImage with the child ending by Exit() or by
 * returning, ExitData, nested StartImage, UnloadImage, Exit() of a loaded but not started image,
 * and what LoadImage says to bytes that are no image.
 */
#include "eft.h"
#include "eft_child.h"

extern const UINT8 eft_child_blob[] __attribute__((visibility("hidden")));
extern const UINT8 eft_child_blob_end[] __attribute__((visibility("hidden")));

static EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID,
		loaded_image_dp_guid = EFI_LOADED_IMAGE_DEVICE_PATH_PROTOCOL_GUID,
		guid_a = EFT_GUID_A;

#define PAGE 4096ull

static UINT8 map_buf[64 * 1024] __attribute__((aligned(16)));

/* The memory type of the page at addr in a fresh memory map, or -1. */
static INT64 page_type(EFI_PHYSICAL_ADDRESS addr)
{
	UINTN size = sizeof(map_buf), key, dsize;
	UINT32 ver;
	if (eft_bs->GetMemoryMap(&size, (EFI_MEMORY_DESCRIPTOR *)map_buf, &key, &dsize, &ver))
		return -1;
	for (UINTN off = 0; off + dsize <= size; off += dsize) {
		EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)(map_buf + off);
		if (addr >= d->PhysicalStart && addr < d->PhysicalStart + d->NumberOfPages * PAGE)
			return d->Type;
	}
	return -1;
}

static const char *type_name(INT64 t)
{
	return t < 0 ? "none" : eft_memtype_name((UINT32)t);
}

/* SizeOfImage from the PE optional header (PE/COFF: e_lfanew at 0x3c, SizeOfImage at 56). */
static UINT32 blob_size_of_image(void)
{
	UINT32 lfanew = *(const UINT32 *)(eft_child_blob + 0x3c);
	return *(const UINT32 *)(eft_child_blob + lfanew + 4 + 20 + 56);
}

static UINTN blob_size(void)
{
	return (UINTN)(eft_child_blob_end - eft_child_blob);
}

static int dp_equal(const void *a, const void *b)
{
	const UINT8 *x = a, *y = b;
	for (;;) {
		UINTN len = x[2] | (x[3] << 8);
		if (len < 4 || !eft_memeq(x, y, len))
			return 0;
		if (x[0] == END_DEVICE_PATH_TYPE && x[1] == END_ENTIRE_DEVICE_PATH_SUBTYPE)
			return 1;
		x += len;
		y += len;
	}
}

static struct eft_child_options options;

static EFI_STATUS load_child(EFI_HANDLE *child, EFI_DEVICE_PATH *path)
{
	*child = NULL;
	return eft_bs->LoadImage(FALSE, eft_image, path, (void *)eft_child_blob, blob_size(), child);
}

static void set_mode(EFI_HANDLE child, const CHAR16 *mode)
{
	EFI_LOADED_IMAGE *li = NULL;
	UINTN i = 0;
	for (; mode[i] && i < 15; i++)
		options.mode[i] = mode[i];
	options.mode[i] = 0;
	options.blob = eft_child_blob;
	options.blob_size = blob_size();
	eft_bs->HandleProtocol(child, &loaded_image_guid, (void **)&li);
	li->LoadOptions = &options;
	li->LoadOptionsSize = sizeof(options);
}

static void check_self(void)
{
	EFI_LOADED_IMAGE *li = NULL;
	EFI_STATUS s = eft_bs->HandleProtocol(eft_image, &loaded_image_guid, (void **)&li);
	eft("self.loaded-image status=%r revision=%x system-table=%b", s, (UINT64)li->Revision,
	    li->SystemTable == eft_st);
	eft("self.types code=%m data=%m base-aligned=%b", (UINT32)li->ImageCodeType,
	    (UINT32)li->ImageDataType, ((UINTN)li->ImageBase & (PAGE - 1)) == 0);
	eft("self.base type=%s", type_name(page_type((UINTN)li->ImageBase)));
}

static void check_bad_loads(void)
{
	static UINT8 garbage[4096];
	EFI_HANDLE h;
	EFI_STATUS s;

	for (UINTN i = 0; i < sizeof(garbage); i++)
		garbage[i] = (UINT8)(i * 7 + 3);
	h = NULL;
	s = eft_bs->LoadImage(FALSE, eft_image, NULL, garbage, sizeof(garbage), &h);
	eft("load.garbage status=%r handle-set=%b", s, h != NULL);
	/* A valid DOS and PE header whose sections lie beyond the buffer. */
	h = NULL;
	s = eft_bs->LoadImage(FALSE, eft_image, NULL, (void *)eft_child_blob, 1024, &h);
	eft("load.truncated status=%r handle-set=%b", s, h != NULL);
	s = eft_bs->LoadImage(FALSE, NULL, NULL, (void *)eft_child_blob, blob_size(), &h);
	eft("load.null-parent status=%r", s);
	EFI_HANDLE not_image = NULL;
	static UINT64 iface;
	eft_bs->InstallProtocolInterface(&not_image, &guid_a, EFI_NATIVE_INTERFACE, &iface);
	s = eft_bs->LoadImage(FALSE, not_image, NULL, (void *)eft_child_blob, blob_size(), &h);
	eft("load.parent-not-image status=%r", s);
	s = eft_bs->LoadImage(FALSE, eft_image, NULL, NULL, 0, &h);
	eft("load.no-source status=%r", s);
	s = eft_bs->LoadImage(FALSE, eft_image, NULL, (void *)eft_child_blob, blob_size(), NULL);
	eft("load.null-handle status=%r", s);
	eft("start.null status=%r", eft_bs->StartImage(NULL, NULL, NULL));
	eft("start.not-image status=%r", eft_bs->StartImage(not_image, NULL, NULL));
	eft("unload.null status=%r", eft_bs->UnloadImage(NULL));
	eft("unload.not-image status=%r", eft_bs->UnloadImage(not_image));
	eft_bs->UninstallProtocolInterface(not_image, &guid_a, &iface);
}

static void check_load(void)
{
	EFI_HANDLE child;
	EFI_LOADED_IMAGE *li = NULL;
	void *dp = (void *)1;
	EFI_STATUS s = load_child(&child, NULL);
	eft("load status=%r handle-set=%b", s, child != NULL);
	s = eft_bs->HandleProtocol(child, &loaded_image_guid, (void **)&li);
	eft("load.loaded-image status=%r parent-is-us=%b system-table=%b", s,
	    li->ParentHandle == eft_image, li->SystemTable == eft_st);
	eft("load.image-size size-of-image=%b code=%m data=%m", li->ImageSize == blob_size_of_image(),
	    (UINT32)li->ImageCodeType, (UINT32)li->ImageDataType);
	eft("load.no-path file-path-null=%b device-null=%b options-size=%u", li->FilePath == NULL,
	    li->DeviceHandle == NULL, (UINT64)li->LoadOptionsSize);
	UINTN base = (UINTN)li->ImageBase;
	eft("load.base aligned=%b type=%s", (base & (PAGE - 1)) == 0, type_name(page_type(base)));
	eft("load.end type=%s", type_name(page_type(base + li->ImageSize - 1)));
	s = eft_bs->HandleProtocol(child, &loaded_image_dp_guid, &dp);
	eft("load.no-path loaded-image-dp status=%r null=%b", s, dp == NULL);

	/* §7.4.4: an image loaded but never started can be unloaded. */
	eft("unload.not-started status=%r", eft_bs->UnloadImage(child));
	eft("unload.not-started gone=%r", eft_bs->HandleProtocol(child, &loaded_image_guid, &dp));
	eft("unload.freed type=%s", type_name(page_type(base)));
	eft("unload.again status=%r", eft_bs->UnloadImage(child));

	/* §7.4.5: Exit() of an image that was loaded but not started unloads it. */
	load_child(&child, NULL);
	eft("exit.not-started status=%r", eft_bs->Exit(child, EFI_SUCCESS, 0, NULL));
	eft("exit.not-started gone=%r", eft_bs->HandleProtocol(child, &loaded_image_guid, &dp));

	/* With a device path that no handle has: systemd-stub loads the kernel like this. The path
	 * ends up whole in both FilePath and the LoadedImageDevicePath protocol. */
	static UINT8 path[20 + 4];
	static const EFI_GUID v1 = EFT_GUID_VENDOR_1;
	path[0] = MEDIA_DEVICE_PATH, path[1] = MEDIA_VENDOR_DP, path[2] = 20, path[3] = 0;
	for (int i = 0; i < 16; i++)
		path[4 + i] = ((const UINT8 *)&v1)[i];
	path[20] = END_DEVICE_PATH_TYPE, path[21] = END_ENTIRE_DEVICE_PATH_SUBTYPE, path[22] = 4;
	s = load_child(&child, (EFI_DEVICE_PATH *)path);
	li = NULL;
	eft_bs->HandleProtocol(child, &loaded_image_guid, (void **)&li);
	eft("load.vendor-path status=%r file-path-same=%b copied=%b device-null=%b", s,
	    li->FilePath && dp_equal(li->FilePath, path), (void *)li->FilePath != (void *)path,
	    li->DeviceHandle == NULL);
	dp = NULL;
	s = eft_bs->HandleProtocol(child, &loaded_image_dp_guid, &dp);
	eft("load.vendor-path loaded-image-dp status=%r same=%b", s, dp && dp_equal(dp, path));
	eft("load.vendor-path unload status=%r", eft_bs->UnloadImage(child));
}

static void start(const CHAR16 *mode, const char *name)
{
	EFI_HANDLE child;
	UINTN size = 12345;
	CHAR16 *data = (CHAR16 *)1;
	void *li;

	load_child(&child, NULL);
	set_mode(child, mode);
	EFI_STATUS s = eft_bs->StartImage(child, &size, &data);
	eft("%s status=%r exit-data-size=%u", name, s, (UINT64)size);
	if (size && data && data != (CHAR16 *)1) {
		const CHAR16 *text = EFT_CHILD_EXIT_TEXT;
		int same = size == EFT_CHILD_EXIT_DATA_SIZE;
		for (UINTN k = 0; same && text[k]; k++)
			same = data[k] == text[k];
		const UINT8 *tail = (const UINT8 *)data + sizeof(EFT_CHILD_EXIT_TEXT);
		same = same && tail[0] == 0xde && tail[3] == 0xef;
		eft("%s exit-data same=%b free=%r", name, same, eft_bs->FreePool(data));
	} else {
		eft("%s exit-data null=%b", name, data == NULL);
	}
	/* An application is unloaded when it ends (§7.4.2 "applications are unloaded"). */
	eft("%s after unload=%r", name, eft_bs->UnloadImage(child));
	eft("%s after start=%r", name, eft_bs->StartImage(child, NULL, NULL));
	eft("%s after loaded-image=%r", name, eft_bs->HandleProtocol(child, &loaded_image_guid, &li));
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	eft_begin(image, st, "images");
	check_self();
	check_bad_loads();
	check_load();
	start(L"info", "start.info");
	start(L"return", "start.return");
	start(L"exit", "start.exit");
	start(L"exit-success", "start.exit-success");
	start(L"exit-parent", "start.exit-parent");
	start(L"nest", "start.nest");
	eft_end();
	return EFI_SUCCESS;
}
