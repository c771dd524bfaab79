/* SPDX-License-Identifier: MIT */
/*
 * Memory services: AllocatePages, FreePages, AllocatePool, FreePool, GetMemoryMap
 * (UEFI 2.10 §7.2). Every check prints a status and relations (aligned, in the map, type);
 * never an address or a count of firmware-owned descriptors.
 */
#include "eft.h"

#define PAGE 4096ull

/* The map is read into a static buffer: an allocation for it would change the map under test. */
static UINT8 map_buf[64 * 1024] __attribute__((aligned(16)));
static UINTN map_size, map_key, desc_size;
static UINT32 desc_version;

static EFI_STATUS read_map(void)
{
	map_size = sizeof(map_buf);
	return eft_bs->GetMemoryMap(&map_size, (EFI_MEMORY_DESCRIPTOR *)map_buf, &map_key,
				    &desc_size, &desc_version);
}

static EFI_MEMORY_DESCRIPTOR *desc(UINTN i)
{
	return (EFI_MEMORY_DESCRIPTOR *)(map_buf + i * desc_size);
}

static UINTN desc_count(void)
{
	return desc_size ? map_size / desc_size : 0;
}

/*
 * The type of [addr, addr + pages) if a fresh map shows the whole range with one type, possibly
 * over neighbouring descriptors (firmware merges or splits ranges as it likes), else -1.
 */
static INT64 range_type(EFI_PHYSICAL_ADDRESS addr, UINT64 pages)
{
	if (read_map() != EFI_SUCCESS)
		return -1;
	EFI_PHYSICAL_ADDRESS at = addr, end = addr + pages * PAGE;
	INT64 type = -1;
	while (at < end) {
		UINTN i, n = desc_count();
		for (i = 0; i < n; i++) {
			EFI_MEMORY_DESCRIPTOR *d = desc(i);
			if (at >= d->PhysicalStart && at < d->PhysicalStart + d->NumberOfPages * PAGE)
				break;
		}
		if (i == n)
			return -1;
		if (type >= 0 && type != desc(i)->Type)
			return -1;
		type = desc(i)->Type;
		at = desc(i)->PhysicalStart + desc(i)->NumberOfPages * PAGE;
	}
	return type;
}

static void report_type(const char *what, EFI_PHYSICAL_ADDRESS addr, UINT64 pages)
{
	INT64 t = range_type(addr, pages);
	if (t < 0)
		eft("%s in-map=no", what);
	else
		eft("%s in-map=yes type=%m", what, (UINT32)t);
}

static void check_map(void)
{
	UINTN size = 0, key = 0, dsize = 0;
	UINT32 ver = 0;
	EFI_STATUS s;

	/* §7.2.3: too small a buffer returns the size needed (and the descriptor size). */
	s = eft_bs->GetMemoryMap(&size, NULL, &key, &dsize, &ver);
	eft("map.probe status=%r size-nonzero=%b desc-size-set=%b", s, size != 0, dsize != 0);
	eft("map.probe size-multiple=%b", dsize && size % dsize == 0);
	UINTN needed = size;

	s = eft_bs->GetMemoryMap(NULL, (EFI_MEMORY_DESCRIPTOR *)map_buf, &key, &dsize, &ver);
	eft("map.null-size status=%r", s);
	size = sizeof(map_buf);
	s = eft_bs->GetMemoryMap(&size, NULL, &key, &dsize, &ver);
	eft("map.null-buffer status=%r", s);

	/* The size the probe returned is enough when nothing was allocated since. It may shrink:
	 * EDK2 merges neighbouring descriptors of one type only after sizing the buffer. */
	size = needed;
	s = eft_bs->GetMemoryMap(&size, (EFI_MEMORY_DESCRIPTOR *)map_buf, &key, &dsize, &ver);
	eft("map.exact-size status=%r size-not-larger=%b", s, size <= needed);

	s = read_map();
	eft("map.read status=%r version=%u desc-size-ok=%b desc-size-aligned=%b", s,
	    (UINT64)desc_version, desc_size >= sizeof(EFI_MEMORY_DESCRIPTOR), desc_size % 8 == 0);
	int sorted = 1, overlap = 0, aligned = 1, empty = 0;
	for (UINTN i = 0; i < desc_count(); i++) {
		EFI_MEMORY_DESCRIPTOR *d = desc(i);
		if (d->PhysicalStart % PAGE)
			aligned = 0;
		if (d->NumberOfPages == 0)
			empty = 1;
		if (i) {
			EFI_MEMORY_DESCRIPTOR *p = desc(i - 1);
			if (d->PhysicalStart < p->PhysicalStart)
				sorted = 0;
			if (d->PhysicalStart < p->PhysicalStart + p->NumberOfPages * PAGE &&
			    p->PhysicalStart < d->PhysicalStart + d->NumberOfPages * PAGE)
				overlap = 1;
		}
	}
	eft("map.shape sorted=%b overlap=%b aligned=%b empty-entries=%b", sorted, overlap, aligned,
	    empty);

	/* The key identifies the map: unchanged without an allocation in between (§7.2.3). */
	UINTN key1 = map_key;
	read_map();
	eft("map.key-stable same=%b", key1 == map_key);
}

/* One page of the given type: the status, then the type the map shows for it. */
static void alloc_typed(const char *what, UINT32 type)
{
	EFI_PHYSICAL_ADDRESS at = 0;
	EFI_STATUS s = eft_bs->AllocatePages(AllocateAnyPages, type, 1, &at);
	eft("%s status=%r", what, s);
	if (s == EFI_SUCCESS) {
		report_type(what, at, 1);
		eft_bs->FreePages(at, 1);
	}
}

static void check_pages(void)
{
	EFI_PHYSICAL_ADDRESS a = 0, b, c;
	EFI_STATUS s;

	read_map();
	UINTN key0 = map_key;
	s = eft_bs->AllocatePages(AllocateAnyPages, EfiLoaderData, 3, &a);
	eft("pages.any status=%r aligned=%b", s, a % PAGE == 0);
	report_type("pages.any", a, 3);
	eft("pages.any key-changed=%b", key0 != map_key);

	/* MaxAddress: the whole allocation ends at or below the given address (§7.2.1). */
	b = 0xFFFFFFFFull;
	s = eft_bs->AllocatePages(AllocateMaxAddress, EfiBootServicesData, 2, &b);
	eft("pages.max4g status=%r aligned=%b below-max=%b", s, b % PAGE == 0,
	    b + 2 * PAGE - 1 <= 0xFFFFFFFFull);
	report_type("pages.max4g", b, 2);
	eft("pages.max4g.free status=%r", eft_bs->FreePages(b, 2));
	b = 0xFFF;
	eft("pages.max-below-page status=%r", eft_bs->AllocatePages(AllocateMaxAddress,
								       EfiLoaderData, 1, &b));
	b = 0;
	eft("pages.max-zero status=%r", eft_bs->AllocatePages(AllocateMaxAddress, EfiLoaderData, 1,
								 &b));

	/* AllocateAddress: free the range, take it back at the same address, then collide. */
	read_map();
	key0 = map_key;
	eft("pages.free status=%r", eft_bs->FreePages(a, 3));
	read_map();
	eft("pages.free key-changed=%b", key0 != map_key);
	report_type("pages.freed", a, 3);
	eft("pages.free-again status=%r", eft_bs->FreePages(a, 3));
	c = a;
	s = eft_bs->AllocatePages(AllocateAddress, EfiLoaderCode, 3, &c);
	eft("pages.addr status=%r same=%b", s, c == a);
	report_type("pages.addr", a, 3);
	c = a;
	eft("pages.addr-taken status=%r", eft_bs->AllocatePages(AllocateAddress, EfiLoaderData, 1,
								   &c));
	c = a + 2 * PAGE;
	eft("pages.addr-overlap status=%r", eft_bs->AllocatePages(AllocateAddress, EfiLoaderData,
								     2, &c));
	c = a + 0x10;
	eft("pages.addr-misaligned status=%r", eft_bs->AllocatePages(AllocateAddress,
									EfiLoaderData, 1, &c));
	/* 2^48 - 1 page: above any RAM QEMU or a host has, so never in the map. */
	c = 0xFFFFFFFFF000ull;
	eft("pages.addr-not-in-map status=%r", eft_bs->AllocatePages(AllocateAddress,
									EfiLoaderData, 1, &c));

	/* Partial free (§7.2.2 frees any page range it allocated, not only whole allocations). */
	eft("pages.free-middle status=%r", eft_bs->FreePages(a + PAGE, 1));
	report_type("pages.free-middle.first", a, 1);
	report_type("pages.free-middle.hole", a + PAGE, 1);
	report_type("pages.free-middle.last", a + 2 * PAGE, 1);
	eft("pages.free-first status=%r", eft_bs->FreePages(a, 1));
	eft("pages.free-last status=%r", eft_bs->FreePages(a + 2 * PAGE, 1));

	eft("pages.free-misaligned status=%r", eft_bs->FreePages(a + 0x10, 1));
	eft("pages.free-not-in-map status=%r", eft_bs->FreePages(0xFFFFFFFFF000ull, 1));

	/* Invalid arguments (§7.2.1 status codes). */
	c = 0;
	eft("pages.bad-alloc-type status=%r", eft_bs->AllocatePages(MaxAllocateType, EfiLoaderData,
								       1, &c));
	eft("pages.bad-mem-type status=%r", eft_bs->AllocatePages(AllocateAnyPages, 0x1000, 1, &c));
	eft("pages.type-conventional status=%r", eft_bs->AllocatePages(AllocateAnyPages,
								     EfiConventionalMemory, 1, &c));
	eft("pages.type-persistent status=%r", eft_bs->AllocatePages(AllocateAnyPages, 14, 1, &c));
	eft("pages.type-unaccepted status=%r", eft_bs->AllocatePages(AllocateAnyPages, 15, 1, &c));
	eft("pages.null-memory status=%r", eft_bs->AllocatePages(AllocateAnyPages, EfiLoaderData, 1,
								    NULL));
	c = 0;
	s = eft_bs->AllocatePages(AllocateAnyPages, EfiLoaderData, 1ull << 36, &c);
	eft("pages.huge status=%r", s);
	c = 0;
	s = eft_bs->AllocatePages(AllocateAnyPages, EfiLoaderData, 0, &c);
	eft("pages.zero status=%r", s);
	if (s == EFI_SUCCESS)
		eft("pages.zero.free status=%r", eft_bs->FreePages(c, 0));

	/* OEM and OS-defined types are valid allocation types and show in the map as asked. */
	alloc_typed("pages.type-oem", 0x70000001);
	alloc_typed("pages.type-os", 0x80000001);
	alloc_typed("pages.type-acpi-reclaim", EfiACPIReclaimMemory);
}

static void check_pool(void)
{
	void *p = NULL, *q = NULL;
	EFI_STATUS s;

	s = eft_bs->AllocatePool(EfiLoaderData, 1, &p);
	eft("pool.small status=%r aligned8=%b", s, ((UINTN)p & 7) == 0);
	report_type("pool.small", (UINTN)p & ~(PAGE - 1), 1);
	eft_memset(p, 0xa5, 1);
	eft("pool.small.free status=%r", eft_bs->FreePool(p));

	/* A pool bigger than a page: 8-byte aligned (§7.2.4) and in pages of the asked type. */
	s = eft_bs->AllocatePool(EfiLoaderData, 64 * 1024 + 1, &p);
	eft("pool.large status=%r aligned8=%b", s, ((UINTN)p & 7) == 0);
	report_type("pool.large", (UINTN)p & ~(PAGE - 1), 16);
	eft_memset(p, 0x5a, 64 * 1024 + 1);
	eft("pool.large.free status=%r", eft_bs->FreePool(p));

	/* The Linux stub keeps its final memory map in an ACPI-reclaim pool (STUBS.md). */
	s = eft_bs->AllocatePool(EfiACPIReclaimMemory, 3 * PAGE, &q);
	eft("pool.acpi-reclaim status=%r aligned8=%b", s, ((UINTN)q & 7) == 0);
	report_type("pool.acpi-reclaim", ((UINTN)q + PAGE) & ~(PAGE - 1), 1);
	eft("pool.acpi-reclaim.free status=%r", eft_bs->FreePool(q));

	s = eft_bs->AllocatePool(EfiBootServicesData, 0, &p);
	eft("pool.zero status=%r", s);
	if (s == EFI_SUCCESS)
		eft("pool.zero.free status=%r", eft_bs->FreePool(p));
	p = NULL;
	eft("pool.huge status=%r", eft_bs->AllocatePool(EfiLoaderData, 1ull << 50, &p));
	eft("pool.bad-type status=%r", eft_bs->AllocatePool(0x1000, 16, &p));
	eft("pool.type-conventional status=%r", eft_bs->AllocatePool(EfiConventionalMemory, 16,
								      &p));
	eft("pool.null-buffer status=%r", eft_bs->AllocatePool(EfiLoaderData, 16, NULL));
	eft("pool.free-null status=%r", eft_bs->FreePool(NULL));

	s = eft_bs->AllocatePool(0x70000002, 16, &p);
	eft("pool.type-oem status=%r", s);
	if (s == EFI_SUCCESS)
		eft("pool.type-oem.free status=%r", eft_bs->FreePool(p));
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	eft_begin(image, st, "memory");
	check_map();
	check_pages();
	check_pool();
	eft_end();
	return EFI_SUCCESS;
}
