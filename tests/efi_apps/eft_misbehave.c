/* SPDX-License-Identifier: MIT */
/*
 * An EFI application that misbehaves on request, for the isolation tests of the shim (issue 4
 * items 4 and 5): its LoadOptions name one thing to do. Never run under real firmware.
 *
 *   crash        write through a NULL pointer           wild         write to RAM it was not given
 *   hang         loop forever                           bad-pointer  hand AllocatePool a bad pointer
 *   cr4          read CR4 (privileged, not emulated)    hlt          halt, as the Linux stub's error path
 *   msr-other    rdmsr of an MSR nobody emulates        cr0          read CR0 (emulated), report it
 *   sev-msr      rdmsr MSR_AMD64_SEV (emulated)         reset        ResetSystem()
 *   exit-aborted Exit(EFI_ABORTED)                      return-error return EFI_LOAD_ERROR
 *
 * and, for the confinement (issue 12), raw Linux system calls from the image's own code, each of
 * which the run must refuse before it does anything:
 *   sys-open     create /tmp/eft-misbehave-was-here      sys-kill     SIGKILL its parent
 *   sys-fork     fork                                    sys-execve   execve /bin/sh
 *   sys-ptrace   PTRACE_TRACEME                          sys-procmem  open /proc/self/mem to write
 *   sys-mprotect make the shim's code (BS->AllocatePool) writable, then patch it
 *   sys-write    write to its standard output
 */
#include "eft.h"

static EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;

/* The first word of the LoadOptions, as ASCII. */
static void option(EFI_HANDLE image, char *out, UINTN size) {
	EFI_LOADED_IMAGE *li = NULL;
	UINTN i = 0;
	out[0] = 0;
	if (eft_bs->HandleProtocol(image, &loaded_image_guid, (void **)&li) != EFI_SUCCESS || !li ||
	    !li->LoadOptions)
		return;
	const CHAR16 *text = li->LoadOptions;
	for (; i + 1 < size && i < li->LoadOptionsSize / 2 && text[i] > ' ' && text[i] < 0x7f; i++)
		out[i] = (char)text[i];
	out[i] = 0;
}

/* An address the compiler cannot see through, so the bad accesses are really made. */
static volatile UINT64 *address(UINT64 value) {
	__asm__ volatile("" : "+r"(value));
	return (volatile UINT64 *)value;
}

static int is(const char *a, const char *b) {
	while (*a && *a == *b) a++, b++;
	return *a == *b;
}

/* A Linux system call made from the image's own code (x86_64: rax, rdi, rsi, rdx, r10). */
static long linux_call(long nr, long a, long b, long c, long d) {
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "+a"(nr) : "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return nr;
}

static void system_calls(const char *mode) {
	static const char file[] = "/tmp/eft-misbehave-was-here";
	static const char mem[] = "/proc/self/mem";
	static const char sh[] = "/bin/sh";
	long r = -1;
	if (is(mode, "sys-open"))
		r = linux_call(257 /* openat */, -100 /* AT_FDCWD */, (long)file, 0101 /* O_CREAT|O_WRONLY */, 0644);
	else if (is(mode, "sys-kill"))
		r = linux_call(62 /* kill */, linux_call(110 /* getppid */, 0, 0, 0, 0), 9 /* SIGKILL */, 0, 0);
	else if (is(mode, "sys-fork"))
		r = linux_call(57 /* fork */, 0, 0, 0, 0);
	else if (is(mode, "sys-execve"))
		r = linux_call(59 /* execve */, (long)sh, 0, 0, 0);
	else if (is(mode, "sys-ptrace"))
		r = linux_call(101 /* ptrace */, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	else if (is(mode, "sys-procmem"))
		r = linux_call(257 /* openat */, -100, (long)mem, 02 /* O_RDWR */, 0);
	else if (is(mode, "sys-mprotect")) {
		UINT64 page = (UINT64)eft_bs->AllocatePool & ~0xfffull;
		r = linux_call(10 /* mprotect */, (long)page, 4096, 7 /* PROT_READ|WRITE|EXEC */, 0);
		if (r == 0) *(volatile UINT8 *)eft_bs->AllocatePool = 0xcc;
	} else if (is(mode, "sys-write"))
		r = linux_call(1 /* write */, 1, (long)file, 4, 0);
	eft("system call returned %d", (int)r);
}

/* gnu-efi's crt0 calls efi_main with the System V convention. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st) {
	char mode[32];
	eft_begin(image, st, "misbehave");
	option(image, mode, sizeof mode);
	eft("mode %s", mode);
	if (is(mode, "crash")) {
		*address(8) = 1;
	} else if (is(mode, "wild")) {
		*address(0x20000000) = 1;
	} else if (is(mode, "hang")) {
		for (;;) __asm__ volatile("pause");
	} else if (is(mode, "bad-pointer")) {
		eft("bad-pointer status=%r", eft_bs->AllocatePool(EfiLoaderData, 16, (void **)0x18));
	} else if (is(mode, "cr4")) {
		UINT64 v;
		__asm__ volatile("mov %%cr4, %0" : "=r"(v));
		eft("cr4 read");
	} else if (is(mode, "hlt")) {
		__asm__ volatile("hlt");
	} else if (is(mode, "msr-other")) {
		UINT32 lo, hi;
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080));
		eft("msr read");
	} else if (is(mode, "cr0")) {
		UINT64 v;
		__asm__ volatile("mov %%cr0, %0" : "=r"(v));
		eft("cr0 pe=%b pg=%b em=%b ts=%b", (int)(v & 1), (int)(v >> 31 & 1), (int)(v >> 2 & 1),
		    (int)(v >> 3 & 1));
		return EFI_SUCCESS;
	} else if (is(mode, "sev-msr")) {
		UINT32 lo = 1, hi = 1;
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0010131));
		eft("sev-msr value=%x", ((UINT64)hi << 32) | lo);
		return EFI_SUCCESS;
	} else if (is(mode, "reset")) {
		st->RuntimeServices->ResetSystem(EfiResetCold, EFI_SUCCESS, 0, NULL);
	} else if (is(mode, "exit-aborted")) {
		eft_bs->Exit(image, EFI_ABORTED, 0, NULL);
	} else if (is(mode, "return-error")) {
		return EFI_LOAD_ERROR;
	} else if (mode[0] == 's' && mode[1] == 'y' && mode[2] == 's' && mode[3] == '-') {
		system_calls(mode);
	}
	eft("survived");
	return EFI_SUCCESS;
}
