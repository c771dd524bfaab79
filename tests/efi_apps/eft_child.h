/* SPDX-License-Identifier: MIT */
/*
 * What eft_images passes to the child application it loads: the LoadedImage protocol's
 * LoadOptions (UEFI 2.10 §9.1) point at this structure. The child is embedded in eft_images as a
 * blob (the shim has no file system to load it from), and gets the blob back so that it can load
 * a grandchild from it.
 */
#ifndef EFT_CHILD_H
#define EFT_CHILD_H

#include <efi.h>

struct eft_child_options {
	CHAR16 mode[16];   /* what the child does: see eft_child.c */
	const void *blob;  /* the child's own PE image, for "nest" */
	UINT64 blob_size;
};

/* The status the child's Exit() hands back, and the ExitData it carries (§7.4.5): a
 * null-terminated string followed by binary data. */
#define EFT_CHILD_EXIT_STATUS EFI_ACCESS_DENIED
#define EFT_CHILD_RETURN_STATUS EFIWARN(5) /* EFI_WARN_STALE_DATA */
#define EFT_CHILD_NEST_STATUS EFI_ABORTED
#define EFT_CHILD_EXIT_TEXT L"child-exit"
#define EFT_CHILD_EXIT_DATA_SIZE (sizeof(EFT_CHILD_EXIT_TEXT) + 4)

#endif
