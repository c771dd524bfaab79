/* SPDX-License-Identifier: MIT */
/* Shared helpers of the conformance applications: see eft.h. */
#include "eft.h"

EFI_HANDLE eft_image;
EFI_SYSTEM_TABLE *eft_st;
EFI_BOOT_SERVICES *eft_bs;

/* Names without spaces keep a transcript line easy to split on blanks. The values are the
 * UEFI 2.10 Appendix D codes; anything else prints as hex. */
const char *eft_status_name(EFI_STATUS status)
{
	static const char *const errors[] = {
		"Success", "LoadError", "InvalidParameter", "Unsupported", "BadBufferSize",
		"BufferTooSmall", "NotReady", "DeviceError", "WriteProtected", "OutOfResources",
		"VolumeCorrupted", "VolumeFull", "NoMedia", "MediaChanged", "NotFound",
		"AccessDenied", "NoResponse", "NoMapping", "Timeout", "NotStarted",
		"AlreadyStarted", "Aborted", "IcmpError", "TftpError", "ProtocolError",
		"IncompatibleVersion", "SecurityViolation", "CrcError", "EndOfMedia", "?29", "?30",
		"EndOfFile", "InvalidLanguage", "CompromisedData", "IpAddressConflict", "HttpError",
	};
	static const char *const warnings[] = {
		"Success", "WarnUnknownGlyph", "WarnDeleteFailure", "WarnWriteFailure",
		"WarnBufferTooSmall", "WarnStaleData", "WarnFileSystem", "WarnResetRequired",
	};
	UINT64 code = status & ~EFI_ERROR_MASK;
	if (status & EFI_ERROR_MASK) {
		if (code != 0 && code < sizeof(errors) / sizeof(errors[0]))
			return errors[code];
	} else if (code < sizeof(warnings) / sizeof(warnings[0])) {
		return warnings[code];
	}
	return 0;
}

/* UEFI 2.10 §7.2.1 (EFI_MEMORY_TYPE): 0..15 are defined, 0x70000000.. OEM, 0x80000000.. OS. */
const char *eft_memtype_name(UINT32 type)
{
	static const char *const names[] = {
		"Reserved", "LoaderCode", "LoaderData", "BootServicesCode", "BootServicesData",
		"RuntimeServicesCode", "RuntimeServicesData", "Conventional", "Unusable",
		"ACPIReclaim", "ACPINVS", "MMIO", "MMIOPortSpace", "PalCode", "Persistent",
		"Unaccepted",
	};
	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	if (type >= 0x80000000u)
		return "OS";
	if (type >= 0x70000000u)
		return "OEM";
	return "Invalid";
}

void eft_memset(void *dst, int value, UINTN size)
{
	volatile UINT8 *d = dst;
	while (size--)
		*d++ = (UINT8)value;
}

int eft_memeq(const void *a, const void *b, UINTN size)
{
	const UINT8 *x = a, *y = b;
	for (UINTN i = 0; i < size; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

int eft_guideq(const EFI_GUID *a, const EFI_GUID *b)
{
	return eft_memeq(a, b, sizeof(EFI_GUID));
}

/* A line is built as CHAR16 because SIMPLE_TEXT_OUTPUT.OutputString takes UCS-2 (§12.4.3). */
#define LINE_MAX 160
struct line {
	CHAR16 text[LINE_MAX];
	UINTN len;
};

static void put(struct line *l, char c)
{
	if (l->len < LINE_MAX - 3)
		l->text[l->len++] = (CHAR16)(unsigned char)c;
}

static void puts_(struct line *l, const char *s)
{
	while (*s)
		put(l, *s++);
}

static void putu(struct line *l, UINT64 v, unsigned base)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		puts_(l, "0x");
	while (n)
		put(l, digits[--n]);
}

static void format(struct line *l, const char *fmt, __builtin_va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(l, *fmt);
			continue;
		}
		switch (*++fmt) {
		case 's':
			puts_(l, __builtin_va_arg(ap, const char *));
			break;
		case 'd': {
			INT64 v = __builtin_va_arg(ap, INT64);
			if (v < 0) {
				put(l, '-');
				putu(l, (UINT64)-v, 10);
			} else {
				putu(l, (UINT64)v, 10);
			}
			break;
		}
		case 'u':
			putu(l, __builtin_va_arg(ap, UINT64), 10);
			break;
		case 'x':
			putu(l, __builtin_va_arg(ap, UINT64), 16);
			break;
		case 'r': {
			EFI_STATUS s = __builtin_va_arg(ap, EFI_STATUS);
			const char *name = eft_status_name(s);
			if (name)
				puts_(l, name);
			else
				putu(l, s, 16);
			break;
		}
		case 'b':
			puts_(l, __builtin_va_arg(ap, int) ? "yes" : "no");
			break;
		case 'm':
			puts_(l, eft_memtype_name(__builtin_va_arg(ap, UINT32)));
			break;
		case '%':
			put(l, '%');
			break;
		default:
			put(l, '?');
			break;
		}
	}
}

void eft(const char *fmt, ...)
{
	struct line l = { .len = 0 };
	__builtin_va_list ap;
	puts_(&l, "EFT: ");
	__builtin_va_start(ap, fmt);
	format(&l, fmt, ap);
	__builtin_va_end(ap);
	l.text[l.len++] = '\r';
	l.text[l.len++] = '\n';
	l.text[l.len] = 0;
	eft_st->ConOut->OutputString(eft_st->ConOut, l.text);
}

void eft_begin(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, const char *name)
{
	eft_image = image;
	eft_st = st;
	eft_bs = st->BootServices;
	/* A fresh line: the firmware may have left the cursor after its own text. */
	eft_st->ConOut->OutputString(eft_st->ConOut, (CHAR16 *)L"\r\n");
	eft("begin %s", name);
	eft("watchdog.disable status=%r", eft_bs->SetWatchdogTimer(0, 0, 0, NULL));
}

void eft_end(void)
{
	eft("end");
	eft_st->RuntimeServices->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
}

static inline UINT8 inb(UINT16 port)
{
	UINT8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(UINT16 port, UINT8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void serial_putc(char c)
{
	/* Line status register bit 5: transmit holding register empty (16550). */
	for (unsigned spins = 0; spins < 1000000 && !(inb(0x3FD) & 0x20); spins++)
		;
	outb(0x3F8, (UINT8)c);
}

void eft_serial_line(const char *text)
{
	for (const char *p = "EFT: "; *p; p++)
		serial_putc(*p);
	for (; *text; text++)
		serial_putc(*text);
	serial_putc('\r');
	serial_putc('\n');
}
