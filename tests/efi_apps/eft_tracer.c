/* SPDX-License-Identifier: MIT */
/*
 * The conformance tracer: records, under real firmware, every boot-service and runtime-service
 * call (and the calls into the file, console, device-path-text and HII protocols the images are
 * handed) that a UKI makes from its entry point to ExitBootServices(), in the line format of
 * `efikexec run-efi --trace`, so that tests/conformance/compare-trace.py can set the two side by
 * side call for call.
 *
 * Started by OVMF as \EFI\BOOT\BOOTX64.EFI from a FAT ESP, it loads \EFI\Linux\uki.efi from the
 * same volume, replaces the function pointers of the firmware's boot- and runtime-services tables
 * with wrappers (and recomputes their CRCs), and starts the image. A wrapper passes a call straight
 * through when it returns into firmware code; when it returns into a traced image (the UKI, the
 * images it loads, or pages a traced image allocated and then runs code from, as systemd-stub 262
 * does with the kernel), it writes one line. After a successful ExitBootServices() the runtime
 * table is restored (the kernel will reclaim this application's memory) and the trace ends.
 *
 * The trace goes to QEMU's debug console (I/O port 0xE9, `-debugcon`), not through ConOut: the
 * tracer itself makes no firmware call while it writes, and the serial console stays the images'.
 * Lines: "#SEQ dDEPTH CALLER SERVICE(args) -> STATUS outputs"; "TRACE: ..." lines say what the
 * tracer did; "TRACE: end ..." is the last line.
 *
 * Built with EFT_TRACER_TIMING_ONLY (eft_timer.efi), it wraps ExitBootServices() alone and traces
 * nothing, so that the image runs at the firmware's own speed: it writes "EFT: image start" to
 * the serial port right before StartImage() and "EFT: image exit-boot-services" on entry to
 * ExitBootServices(), for a host to time the image's work between the two lines
 * (bench/load-bench.sh).
 */
#include <efi.h>

#include "eft.h"

/* ------------------------------------------------------------------------------------------ */
/* Output: one line at a time to port 0xE9. */

#define TRACE_PORT 0xe9
#define LINE_CHARS 1024

static char line_text[LINE_CHARS];
static UINTN line_len;

static void out_byte(UINT8 byte)
{
	__asm__ volatile("outb %0, %1" : : "a"(byte), "Nd"((UINT16)TRACE_PORT));
}

static void put(char c)
{
	if (line_len < LINE_CHARS - 2)
		line_text[line_len++] = c;
}

static void put_str(const char *s)
{
	while (s && *s)
		put(*s++);
}

static void put_unsigned(UINT64 value, unsigned base)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value);
	while (n)
		put(digits[--n]);
}

static void put_hex(UINT64 value)
{
	put_str("0x");
	put_unsigned(value, 16);
}

static void put_dec(UINT64 value)
{
	put_unsigned(value, 10);
}

static void put_fixed_hex(UINT64 value, int digits)
{
	while (digits--)
		put("0123456789abcdef"[(value >> (4 * digits)) & 15]);
}

static void put_status(EFI_STATUS status)
{
	const char *name = eft_status_name(status);
	if (name)
		put_str(name);
	else
		put_hex(status);
}

/* A UCS-2 string quoted as the shim's traces quote it: backslashes doubled, CR/LF escaped. */
static void put_ucs2(const CHAR16 *s, UINTN max_chars)
{
	if (!s) {
		put_str("NULL");
		return;
	}
	put('"');
	for (UINTN i = 0; i < max_chars && s[i]; i++) {
		CHAR16 c = s[i];
		if (c == '\\')
			put_str("\\\\");
		else if (c == '\n')
			put_str("\\n");
		else if (c == '\r')
			put_str("\\r");
		else
			put(c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	put('"');
}

static void end_line(void)
{
	line_text[line_len++] = '\n';
	for (UINTN i = 0; i < line_len; i++)
		out_byte((UINT8)line_text[i]);
	line_len = 0;
}

static void note(const char *text)
{
	line_len = 0;
	put_str("TRACE: ");
	put_str(text);
	end_line();
}

/* ------------------------------------------------------------------------------------------ */
/* GUID names: the shim's table, so both sides spell them alike. */

struct guid_name {
	EFI_GUID guid;
	const char *name;
};

#define EFIKEXEC_GUID_NAME(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7, text) \
	{{d1, d2, d3, {b0, b1, b2, b3, b4, b5, b6, b7}}, text},
static const struct guid_name guid_names[] = {
#include "efi_shim/guid_names.inc"
};
#undef EFIKEXEC_GUID_NAME

static void put_guid(const EFI_GUID *guid)
{
	if (!guid) {
		put_str("NULL");
		return;
	}
	for (UINTN i = 0; i < sizeof(guid_names) / sizeof(guid_names[0]); i++) {
		if (eft_guideq(&guid_names[i].guid, guid)) {
			put_str(guid_names[i].name);
			return;
		}
	}
	put_fixed_hex(guid->Data1, 8);
	put('-');
	put_fixed_hex(guid->Data2, 4);
	put('-');
	put_fixed_hex(guid->Data3, 4);
	put('-');
	for (int i = 0; i < 8; i++) {
		if (i == 2)
			put('-');
		put_fixed_hex(guid->Data4[i], 2);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Device paths, in the shim's spelling for the nodes the images name (the boot volume's own nodes
 * differ between a disk and the shim's volume anyway; compare-trace.py says how). */

static UINT16 node_length(const UINT8 *node)
{
	return (UINT16)(node[2] | (node[3] << 8));
}

static UINT64 read_le(const UINT8 *p, int bytes)
{
	UINT64 v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_node(const UINT8 *node)
{
	UINT8 type = node[0], subtype = node[1];
	UINT16 length = node_length(node);
	if (type == MEDIA_DEVICE_PATH && subtype == MEDIA_FILEPATH_DP) {
		CHAR16 name[256];
		UINTN chars = (length - 4) / 2;
		if (chars > 255)
			chars = 255;
		for (UINTN i = 0; i < chars; i++)
			name[i] = (CHAR16)read_le(node + 4 + 2 * i, 2);
		name[chars] = 0;
		put_ucs2(name, chars);
		return;
	}
	if ((type == HARDWARE_DEVICE_PATH && subtype == HW_VENDOR_DP && length >= 20) ||
	    (type == MEDIA_DEVICE_PATH && subtype == MEDIA_VENDOR_DP && length >= 20) ||
	    (type == MESSAGING_DEVICE_PATH && subtype == MSG_VENDOR_DP && length >= 20)) {
		EFI_GUID guid;
		UINT8 *g = (UINT8 *)&guid;
		for (int i = 0; i < 16; i++)
			g[i] = node[4 + i];
		put_str(type == HARDWARE_DEVICE_PATH ? "VenHw(" :
			type == MEDIA_DEVICE_PATH    ? "VenMedia(" : "VenMsg(");
		put_guid(&guid);
		if (length > 20) {
			put(',');
			for (UINT16 i = 20; i < length; i++)
				put_fixed_hex(node[i], 2);
		}
		put(')');
		return;
	}
	if (type == ACPI_DEVICE_PATH && subtype == ACPI_DP && length >= 12 &&
	    read_le(node + 4, 4) == 0x0a0341d0) {
		put_str("PciRoot(");
		put_hex(read_le(node + 8, 4));
		put(')');
		return;
	}
	if (type == HARDWARE_DEVICE_PATH && subtype == HW_PCI_DP && length >= 6) {
		put_str("Pci(");
		put_hex(node[5]);
		put(',');
		put_hex(node[4]);
		put(')');
		return;
	}
	if (type == MESSAGING_DEVICE_PATH && subtype == MSG_SATA_DP && length >= 10) {
		put_str("Sata(");
		put_hex(read_le(node + 4, 2));
		put(',');
		put_hex(read_le(node + 6, 2));
		put(',');
		put_hex(read_le(node + 8, 2));
		put(')');
		return;
	}
	if (type == MEDIA_DEVICE_PATH && subtype == MEDIA_HARDDRIVE_DP && length >= 42) {
		put_str("HD(");
		put_dec(read_le(node + 4, 4));
		if (node[41] == SIGNATURE_TYPE_MBR) {
			put_str(",MBR,0x");
			put_fixed_hex(read_le(node + 24, 4), 8);
		} else {
			put_str(",GPT,");
			put_guid((const EFI_GUID *)(node + 24));
		}
		put(',');
		put_hex(read_le(node + 8, 8));
		put(',');
		put_hex(read_le(node + 16, 8));
		put(')');
		return;
	}
	put_str("Path(");
	put_dec(type);
	put(',');
	put_dec(subtype);
	put(',');
	for (UINT16 i = 4; i < length; i++)
		put_fixed_hex(node[i], 2);
	put(')');
}

static void put_device_path(const EFI_DEVICE_PATH *path)
{
	const UINT8 *node = (const UINT8 *)path;
	if (!node) {
		put_str("NULL");
		return;
	}
	if (node[0] == END_DEVICE_PATH_TYPE) {
		put_str("<empty>");
		return;
	}
	for (int count = 0; node[0] != END_DEVICE_PATH_TYPE && count < 32; count++) {
		UINT16 length = node_length(node);
		if (length < 4)
			break;
		if (count)
			put('/');
		put_node(node);
		node += length;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Who called: the traced images and the pages they allocated. */

#define MAX_IMAGES 16
#define MAX_PAGES 256

struct traced_image {
	EFI_HANDLE handle;
	UINT64 base, size;
	char label[16];
};

struct traced_pages {
	UINT64 start, pages, sequence;
};

static struct traced_image images[MAX_IMAGES];
static UINTN image_count, loads;
static struct traced_pages page_ranges[MAX_PAGES];
static UINTN page_range_count;
static UINT64 sequence;
static UINT64 depth;
static int tracing;

static EFI_BOOT_SERVICES *bs;
static EFI_RUNTIME_SERVICES *rt;
static EFI_BOOT_SERVICES original_bs;
static EFI_RUNTIME_SERVICES original_rt;

static const struct traced_image *image_of_handle(EFI_HANDLE handle)
{
	for (UINTN i = 0; i < image_count; i++)
		if (images[i].handle == handle)
			return &images[i];
	return 0;
}

/* Writes the caller's name into the line; returns 0 when the caller is not traced. */
static int put_caller(UINT64 address)
{
	for (UINTN i = 0; i < image_count; i++) {
		if (address >= images[i].base && address - images[i].base < images[i].size) {
			put_str(images[i].label);
			put('+');
			put_hex(address - images[i].base);
			return 1;
		}
	}
	for (UINTN i = 0; i < page_range_count; i++) {
		if (address >= page_ranges[i].start &&
		    address - page_ranges[i].start < page_ranges[i].pages * 4096) {
			put_str("pages@#");
			put_dec(page_ranges[i].sequence);
			put('+');
			put_hex(address - page_ranges[i].start);
			return 1;
		}
	}
	return 0;
}

static int traced_caller(void *return_address)
{
	UINT64 address = (UINT64)return_address;
	if (!tracing)
		return 0;
	for (UINTN i = 0; i < image_count; i++)
		if (address >= images[i].base && address - images[i].base < images[i].size)
			return 1;
	for (UINTN i = 0; i < page_range_count; i++)
		if (address >= page_ranges[i].start &&
		    address - page_ranges[i].start < page_ranges[i].pages * 4096)
			return 1;
	return 0;
}

/* Starts "#SEQ dDEPTH CALLER SERVICE(" for a traced call. */
static void begin_call(void *return_address, const char *service)
{
	line_len = 0;
	put('#');
	put_dec(++sequence);
	put_str(" d");
	put_dec(depth);
	put(' ');
	put_caller((UINT64)return_address);
	put(' ');
	put_str(service);
	put('(');
}

static void put_result(EFI_STATUS status)
{
	put_str(") -> ");
	put_status(status);
}

static void put_handle(EFI_HANDLE handle)
{
	const struct traced_image *image = image_of_handle(handle);
	if (image) {
		put_str("h:");
		put_str(image->label);
	} else {
		put_hex((UINT64)handle);
	}
}

static void copy_label(char *out, const char *label)
{
	UINTN i = 0;
	for (; label[i] && i < 15; i++)
		out[i] = label[i];
	out[i] = 0;
}

/* Names an image as the shim does: "linux" for a Linux kernel, else imageN by load order. */
static void track_image(EFI_HANDLE handle, const char *label, const void *source, UINTN size)
{
	EFI_LOADED_IMAGE *loaded = 0;
	EFI_GUID loaded_image = LOADED_IMAGE_PROTOCOL;
	struct traced_image *image;
	loads++;
	if (image_count == MAX_IMAGES)
		return;
	if (original_bs.HandleProtocol(handle, &loaded_image, (void **)&loaded) != EFI_SUCCESS)
		return;
	image = &images[image_count++];
	image->handle = handle;
	image->base = (UINT64)loaded->ImageBase;
	image->size = loaded->ImageSize;
	if (!label && source && size > 0x206 && eft_memeq((const UINT8 *)source + 0x202, "HdrS", 4))
		label = "linux";
	if (!label && !source && loaded->ImageSize > 0x206 &&
	    eft_memeq((const UINT8 *)loaded->ImageBase + 0x202, "HdrS", 4))
		label = "linux";
	if (label) {
		copy_label(image->label, label);
	} else {
		char text[16] = "image";
		UINTN at = 5, n = 0;
		char digits[8];
		UINTN number = loads;
		do {
			digits[n++] = (char)('0' + number % 10);
			number /= 10;
		} while (number && n < sizeof(digits));
		while (n && at < 15)
			text[at++] = digits[--n];
		text[at] = 0;
		copy_label(image->label, text);
	}
}

static void untrack_image(EFI_HANDLE handle)
{
	for (UINTN i = 0; i < image_count; i++) {
		if (images[i].handle == handle) {
			images[i] = images[--image_count];
			return;
		}
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Protocol wrappers, installed on the interfaces handed to traced callers. */

static EFI_FILE_PROTOCOL original_file;
static int have_original_file;
static EFI_FILE_IO_INTERFACE original_volume;
static EFI_FILE_IO_INTERFACE *wrapped_volume;

static void wrap_file(EFI_FILE_PROTOCOL *file);

static EFI_STATUS EFIAPI file_open(EFI_FILE_PROTOCOL *self, EFI_FILE_PROTOCOL **out, CHAR16 *name,
				   UINT64 mode, UINT64 attributes)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.Open(self, out, name, mode, attributes);
	if (!traced_caller(caller))
		return status;
	if (status == EFI_SUCCESS)
		wrap_file(*out);
	begin_call(caller, "P.File.Open");
	put_str("this=");
	put_hex((UINT64)self);
	put_str(", ");
	put_ucs2(name, 512);
	put_str(", mode=");
	put_hex(mode);
	put_str(", attr=");
	put_hex(attributes);
	put_result(status);
	if (status == EFI_SUCCESS) {
		put_str(" file=");
		put_hex((UINT64)*out);
	}
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_close(EFI_FILE_PROTOCOL *self)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.Close(self);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.Close");
	put_str("this=");
	put_hex((UINT64)self);
	put_result(status);
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_delete(EFI_FILE_PROTOCOL *self)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.Delete(self);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.Delete");
	put_str("this=");
	put_hex((UINT64)self);
	put_result(status);
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_read(EFI_FILE_PROTOCOL *self, UINTN *size, VOID *buffer)
{
	void *caller = __builtin_return_address(0);
	UINTN offered = size ? *size : 0;
	EFI_STATUS status = original_file.Read(self, size, buffer);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.Read");
	put_str("this=");
	put_hex((UINT64)self);
	put_str(", size=");
	put_hex(offered);
	put_str(", buf=");
	put_hex((UINT64)buffer);
	put_result(status);
	if (size) {
		put_str(" size=");
		put_hex(*size);
	}
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_write(EFI_FILE_PROTOCOL *self, UINTN *size, VOID *buffer)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.Write(self, size, buffer);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.Write");
	put_str("this=");
	put_hex((UINT64)self);
	put_result(status);
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_get_position(EFI_FILE_PROTOCOL *self, UINT64 *position)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.GetPosition(self, position);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.GetPosition");
	put_str("this=");
	put_hex((UINT64)self);
	put_result(status);
	if (status == EFI_SUCCESS) {
		put_str(" pos=");
		put_hex(*position);
	}
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_set_position(EFI_FILE_PROTOCOL *self, UINT64 position)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.SetPosition(self, position);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.SetPosition");
	put_str("this=");
	put_hex((UINT64)self);
	put_str(", pos=");
	put_hex(position);
	put_result(status);
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_get_info(EFI_FILE_PROTOCOL *self, EFI_GUID *type, UINTN *size,
				       VOID *buffer)
{
	void *caller = __builtin_return_address(0);
	UINTN offered = size ? *size : 0;
	EFI_GUID file_info = EFI_FILE_INFO_ID;
	EFI_STATUS status = original_file.GetInfo(self, type, size, buffer);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.GetInfo");
	put_str("this=");
	put_hex((UINT64)self);
	put_str(", ");
	put_guid(type);
	put_str(", size=");
	put_hex(offered);
	put_result(status);
	if (size) {
		put_str(" size=");
		put_hex(*size);
	}
	if (status == EFI_SUCCESS && type && eft_guideq(type, &file_info)) {
		const EFI_FILE_INFO *info = buffer;
		put_str(" FileSize=");
		put_hex(info->FileSize);
		put_str(" name=");
		put_ucs2(info->FileName, 512);
		if (info->Attribute & EFI_FILE_DIRECTORY) {
			put_str(" Attribute=");
			put_hex(info->Attribute);
		}
	}
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_set_info(EFI_FILE_PROTOCOL *self, EFI_GUID *type, UINTN size,
				       VOID *buffer)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.SetInfo(self, type, size, buffer);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.SetInfo");
	put_str("this=");
	put_hex((UINT64)self);
	put_result(status);
	end_line();
	return status;
}

static EFI_STATUS EFIAPI file_flush(EFI_FILE_PROTOCOL *self)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_file.Flush(self);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.File.Flush");
	put_str("this=");
	put_hex((UINT64)self);
	put_result(status);
	end_line();
	return status;
}

/* Every file of the volume shares one driver's functions: the first file handed out gives them. */
static void wrap_file(EFI_FILE_PROTOCOL *file)
{
	if (!file || file->Open == file_open)
		return;
	if (!have_original_file) {
		original_file = *file;
		have_original_file = 1;
	} else if (file->Read != original_file.Read) {
		note("a file of a second file-system driver: left unwrapped");
		return;
	}
	file->Open = file_open;
	file->Close = file_close;
	file->Delete = file_delete;
	file->Read = file_read;
	file->Write = file_write;
	file->GetPosition = file_get_position;
	file->SetPosition = file_set_position;
	file->GetInfo = file_get_info;
	file->SetInfo = file_set_info;
	file->Flush = file_flush;
}

static EFI_STATUS EFIAPI volume_open(EFI_FILE_IO_INTERFACE *self, EFI_FILE_PROTOCOL **root)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_volume.OpenVolume(self, root);
	if (!traced_caller(caller))
		return status;
	if (status == EFI_SUCCESS)
		wrap_file(*root);
	begin_call(caller, "P.SimpleFileSystem.OpenVolume");
	put_str("this=");
	put_hex((UINT64)self);
	put_result(status);
	if (status == EFI_SUCCESS) {
		put_str(" root=");
		put_hex((UINT64)*root);
	}
	end_line();
	return status;
}

static void wrap_volume(EFI_FILE_IO_INTERFACE *volume)
{
	if (!volume || volume->OpenVolume == volume_open)
		return;
	if (wrapped_volume) {
		note("a second file system handed out: left unwrapped");
		return;
	}
	original_volume = *volume;
	wrapped_volume = volume;
	volume->OpenVolume = volume_open;
}

static EFI_DEVICE_PATH_TO_TEXT_PROTOCOL original_to_text;
static EFI_DEVICE_PATH_TO_TEXT_PROTOCOL *wrapped_to_text;

static CHAR16 *EFIAPI path_to_text(const EFI_DEVICE_PATH *path, BOOLEAN display_only,
				   BOOLEAN allow_shortcuts)
{
	void *caller = __builtin_return_address(0);
	CHAR16 *text = original_to_text.ConvertDevicePathToText(path, display_only, allow_shortcuts);
	if (!traced_caller(caller))
		return text;
	begin_call(caller, "P.DevicePathToText.ConvertDevicePathToText");
	put_str("dp=");
	put_device_path(path);
	put_str(", DisplayOnly=");
	put_dec(display_only);
	put_str(", AllowShortcuts=");
	put_dec(allow_shortcuts);
	put_str(") -> str=");
	put_hex((UINT64)text);
	put(' ');
	put_ucs2(text, 512);
	end_line();
	return text;
}

static CHAR16 *EFIAPI node_to_text(const EFI_DEVICE_PATH *node, BOOLEAN display_only,
				   BOOLEAN allow_shortcuts)
{
	void *caller = __builtin_return_address(0);
	CHAR16 *text = original_to_text.ConvertDeviceNodeToText(node, display_only, allow_shortcuts);
	if (!traced_caller(caller))
		return text;
	begin_call(caller, "P.DevicePathToText.ConvertDeviceNodeToText");
	put_str("node=");
	put_device_path(node);
	put_str(", DisplayOnly=");
	put_dec(display_only);
	put_str(", AllowShortcuts=");
	put_dec(allow_shortcuts);
	put_str(") -> str=");
	put_hex((UINT64)text);
	put(' ');
	put_ucs2(text, 512);
	end_line();
	return text;
}

static void wrap_to_text(EFI_DEVICE_PATH_TO_TEXT_PROTOCOL *protocol)
{
	if (!protocol || wrapped_to_text)
		return;
	original_to_text = *protocol;
	wrapped_to_text = protocol;
	protocol->ConvertDevicePathToText = path_to_text;
	protocol->ConvertDeviceNodeToText = node_to_text;
}

/* EFI_HII_DATABASE_PROTOCOL.GetKeyboardLayout is its ninth member (UEFI 2.10 §34.8.1). */
#define HII_GET_KEYBOARD_LAYOUT_SLOT 8
typedef EFI_STATUS(EFIAPI *get_keyboard_layout_fn)(void *self, EFI_GUID *guid, UINT16 *length,
						    void *layout);
static get_keyboard_layout_fn original_get_keyboard_layout;
static void **wrapped_hii;

static EFI_STATUS EFIAPI get_keyboard_layout(void *self, EFI_GUID *guid, UINT16 *length,
					     void *layout)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_get_keyboard_layout(self, guid, length, layout);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.HiiDatabase.GetKeyboardLayout");
	put_hex((UINT64)self);
	put_str(", ");
	put_hex((UINT64)guid);
	put_str(", ");
	put_hex((UINT64)length);
	put_str(", ");
	put_hex((UINT64)layout);
	put_result(status);
	end_line();
	return status;
}

static void wrap_hii(void **protocol)
{
	if (!protocol || wrapped_hii)
		return;
	wrapped_hii = protocol;
	original_get_keyboard_layout = (get_keyboard_layout_fn)protocol[HII_GET_KEYBOARD_LAYOUT_SLOT];
	protocol[HII_GET_KEYBOARD_LAYOUT_SLOT] = (void *)get_keyboard_layout;
}

/* Wraps the methods of an interface handed to a traced caller, by protocol. */
static void wrap_interface(const EFI_GUID *protocol, void *interface)
{
	static EFI_GUID simple_file_system = SIMPLE_FILE_SYSTEM_PROTOCOL;
	static EFI_GUID to_text = EFI_DEVICE_PATH_TO_TEXT_PROTOCOL_GUID;
	static EFI_GUID hii = {0xef9fc172, 0xa1b2, 0x4693, {0xb3, 0x27, 0x6d, 0x32, 0xfc, 0x41, 0x60, 0x42}};
	if (!protocol || !interface)
		return;
	if (eft_guideq(protocol, &simple_file_system))
		wrap_volume(interface);
	else if (eft_guideq(protocol, &to_text))
		wrap_to_text(interface);
	else if (eft_guideq(protocol, &hii))
		wrap_hii(interface);
}

static EFI_TEXT_OUTPUT_STRING original_output_string;

static EFI_STATUS EFIAPI output_string(SIMPLE_TEXT_OUTPUT_INTERFACE *self, CHAR16 *string)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_output_string(self, string);
	if (!traced_caller(caller))
		return status;
	begin_call(caller, "P.ConOut.OutputString");
	put_ucs2(string, 200);
	put_result(status);
	end_line();
	return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Boot services. */

static const char *allocate_type_name(EFI_ALLOCATE_TYPE type)
{
	switch (type) {
	case AllocateAnyPages: return "AllocateAnyPages";
	case AllocateMaxAddress: return "AllocateMaxAddress";
	case AllocateAddress: return "AllocateAddress";
	default: return "AllocateType?";
	}
}

static const char *search_type_name(EFI_LOCATE_SEARCH_TYPE type)
{
	switch (type) {
	case AllHandles: return "AllHandles";
	case ByRegisterNotify: return "ByRegisterNotify";
	case ByProtocol: return "ByProtocol";
	default: return "SearchType?";
	}
}

#define TRACED(name)                                          \
	void *caller = __builtin_return_address(0);           \
	int traced = traced_caller(caller);                   \
	const char *service = "BS." name

static EFI_TPL EFIAPI raise_tpl(EFI_TPL tpl)
{
	TRACED("RaiseTPL");
	EFI_TPL old = original_bs.RaiseTPL(tpl);
	if (traced) {
		begin_call(caller, service);
		put_hex(tpl);
		put_result(EFI_SUCCESS);
		put_str(" old=");
		put_hex(old);
		end_line();
	}
	return old;
}

static VOID EFIAPI restore_tpl(EFI_TPL tpl)
{
	TRACED("RestoreTPL");
	original_bs.RestoreTPL(tpl);
	if (traced) {
		begin_call(caller, service);
		put_hex(tpl);
		put_str(") -> void");
		end_line();
	}
}

static EFI_STATUS EFIAPI allocate_pages(EFI_ALLOCATE_TYPE type, EFI_MEMORY_TYPE memory,
					UINTN pages, EFI_PHYSICAL_ADDRESS *address)
{
	TRACED("AllocatePages");
	EFI_PHYSICAL_ADDRESS requested = address ? *address : 0;
	EFI_STATUS status = original_bs.AllocatePages(type, memory, pages, address);
	if (traced) {
		begin_call(caller, service);
		put_str(allocate_type_name(type));
		put_str(", ");
		put_str(eft_memtype_name(memory));
		put_str(", pages=");
		put_hex(pages);
		if (type == AllocateMaxAddress) {
			put_str(", max=");
			put_hex(requested);
		} else if (type == AllocateAddress) {
			put_str(", addr=");
			put_hex(requested);
		}
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" addr=");
			put_hex(*address);
			if (page_range_count < MAX_PAGES) {
				page_ranges[page_range_count].start = *address;
				page_ranges[page_range_count].pages = pages;
				page_ranges[page_range_count].sequence = sequence;
				page_range_count++;
			}
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI free_pages(EFI_PHYSICAL_ADDRESS address, UINTN pages)
{
	TRACED("FreePages");
	EFI_STATUS status = original_bs.FreePages(address, pages);
	if (status == EFI_SUCCESS) {
		for (UINTN i = 0; i < page_range_count; i++) {
			if (page_ranges[i].start == address) {
				page_ranges[i] = page_ranges[--page_range_count];
				break;
			}
		}
	}
	if (traced) {
		begin_call(caller, service);
		put_hex(address);
		put_str(", pages=");
		put_hex(pages);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI get_memory_map(UINTN *size, EFI_MEMORY_DESCRIPTOR *map, UINTN *key,
					UINTN *descriptor_size, UINT32 *version)
{
	TRACED("GetMemoryMap");
	UINTN offered = size ? *size : 0;
	EFI_STATUS status = original_bs.GetMemoryMap(size, map, key, descriptor_size, version);
	if (traced) {
		begin_call(caller, service);
		put_str("size=");
		put_hex(offered);
		put_str(", map=");
		put_hex((UINT64)map);
		put_result(status);
		if (size) {
			put_str(" size=");
			put_hex(*size);
		}
		if (descriptor_size) {
			put_str(" descsz=");
			put_hex(*descriptor_size);
		}
		if (status == EFI_SUCCESS && key) {
			put_str(" key=");
			put_hex(*key);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI allocate_pool(EFI_MEMORY_TYPE type, UINTN size, VOID **buffer)
{
	TRACED("AllocatePool");
	EFI_STATUS status = original_bs.AllocatePool(type, size, buffer);
	if (traced) {
		begin_call(caller, service);
		put_str(eft_memtype_name(type));
		put_str(", size=");
		put_hex(size);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" buf=");
			put_hex((UINT64)*buffer);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI free_pool(VOID *buffer)
{
	TRACED("FreePool");
	EFI_STATUS status = original_bs.FreePool(buffer);
	if (traced) {
		begin_call(caller, service);
		put_hex((UINT64)buffer);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI create_event(UINT32 type, EFI_TPL tpl, EFI_EVENT_NOTIFY notify,
				      VOID *context, EFI_EVENT *event)
{
	TRACED("CreateEvent");
	EFI_STATUS status = original_bs.CreateEvent(type, tpl, notify, context, event);
	if (traced) {
		begin_call(caller, service);
		put_str("type=");
		put_hex(type);
		put_str(", tpl=");
		put_hex(tpl);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI create_event_ex(UINT32 type, EFI_TPL tpl, EFI_EVENT_NOTIFY notify,
					 const VOID *context, const EFI_GUID *group,
					 EFI_EVENT *event)
{
	TRACED("CreateEventEx");
	EFI_STATUS status = original_bs.CreateEventEx(type, tpl, notify, context, group, event);
	if (traced) {
		begin_call(caller, service);
		put_str("type=");
		put_hex(type);
		put_str(", tpl=");
		put_hex(tpl);
		put_str(", group=");
		put_guid(group);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI set_timer(EFI_EVENT event, EFI_TIMER_DELAY type, UINT64 trigger)
{
	TRACED("SetTimer");
	EFI_STATUS status = original_bs.SetTimer(event, type, trigger);
	if (traced) {
		begin_call(caller, service);
		put_hex((UINT64)event);
		put_str(", type=");
		put_dec(type);
		put_str(", time=");
		put_dec(trigger);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI wait_for_event(UINTN count, EFI_EVENT *events, UINTN *index)
{
	TRACED("WaitForEvent");
	EFI_STATUS status = original_bs.WaitForEvent(count, events, index);
	if (traced) {
		begin_call(caller, service);
		put_str("count=");
		put_dec(count);
		put_result(status);
		end_line();
	}
	return status;
}

#define EVENT_SERVICE(function, name)                                 \
	static EFI_STATUS EFIAPI function(EFI_EVENT event)            \
	{                                                             \
		TRACED(name);                                         \
		EFI_STATUS status = original_bs.function##_fn(event); \
		if (traced) {                                         \
			begin_call(caller, service);                  \
			put_hex((UINT64)event);                       \
			put_result(status);                           \
			end_line();                                   \
		}                                                     \
		return status;                                        \
	}
#define signal_event_fn SignalEvent
#define close_event_fn CloseEvent
#define check_event_fn CheckEvent
EVENT_SERVICE(signal_event, "SignalEvent")
EVENT_SERVICE(close_event, "CloseEvent")
EVENT_SERVICE(check_event, "CheckEvent")

static EFI_STATUS EFIAPI install_protocol_interface(EFI_HANDLE *handle, EFI_GUID *protocol,
						    EFI_INTERFACE_TYPE type, VOID *interface)
{
	TRACED("InstallProtocolInterface");
	EFI_HANDLE given = handle ? *handle : 0;
	EFI_STATUS status = original_bs.InstallProtocolInterface(handle, protocol, type, interface);
	if (traced) {
		begin_call(caller, service);
		put_str("*handle=");
		put_handle(given);
		put_str(", ");
		put_guid(protocol);
		put_str(", iface=");
		put_hex((UINT64)interface);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" handle=");
			put_hex((UINT64)*handle);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI reinstall_protocol_interface(EFI_HANDLE handle, EFI_GUID *protocol,
						      VOID *old_interface, VOID *new_interface)
{
	TRACED("ReinstallProtocolInterface");
	EFI_STATUS status =
		original_bs.ReinstallProtocolInterface(handle, protocol, old_interface, new_interface);
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_str(", ");
		put_guid(protocol);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI uninstall_protocol_interface(EFI_HANDLE handle, EFI_GUID *protocol,
						      VOID *interface)
{
	TRACED("UninstallProtocolInterface");
	EFI_STATUS status = original_bs.UninstallProtocolInterface(handle, protocol, interface);
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_str(", ");
		put_guid(protocol);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI handle_protocol(EFI_HANDLE handle, EFI_GUID *protocol, VOID **interface)
{
	TRACED("HandleProtocol");
	EFI_STATUS status = original_bs.HandleProtocol(handle, protocol, interface);
	if (traced) {
		if (status == EFI_SUCCESS)
			wrap_interface(protocol, *interface);
		begin_call(caller, service);
		put_handle(handle);
		put_str(", ");
		put_guid(protocol);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" iface=");
			put_hex((UINT64)*interface);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI register_protocol_notify(EFI_GUID *protocol, EFI_EVENT event,
						  VOID **registration)
{
	TRACED("RegisterProtocolNotify");
	EFI_STATUS status = original_bs.RegisterProtocolNotify(protocol, event, registration);
	if (traced) {
		begin_call(caller, service);
		put_guid(protocol);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI locate_handle(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID *protocol, VOID *key,
				       UINTN *size, EFI_HANDLE *buffer)
{
	TRACED("LocateHandle");
	UINTN offered = size ? *size : 0;
	EFI_STATUS status = original_bs.LocateHandle(type, protocol, key, size, buffer);
	if (traced) {
		begin_call(caller, service);
		put_str(search_type_name(type));
		put_str(", ");
		put_guid(protocol);
		put_str(", bufsize=");
		put_hex(offered);
		put_result(status);
		if (size) {
			put_str(" bufsize=");
			put_hex(*size);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI locate_device_path(EFI_GUID *protocol, EFI_DEVICE_PATH **path,
					    EFI_HANDLE *device)
{
	TRACED("LocateDevicePath");
	EFI_DEVICE_PATH *given = path ? *path : 0;
	EFI_STATUS status;
	if (traced) {
		begin_call(caller, service);
		put_guid(protocol);
		put_str(", dp=");
		put_device_path(given);
	}
	status = original_bs.LocateDevicePath(protocol, path, device);
	if (traced) {
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" device=");
			put_hex((UINT64)*device);
			put_str(" remaining=");
			put_device_path(*path);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI install_configuration_table(EFI_GUID *guid, VOID *table)
{
	TRACED("InstallConfigurationTable");
	EFI_STATUS status = original_bs.InstallConfigurationTable(guid, table);
	if (traced) {
		begin_call(caller, service);
		put_guid(guid);
		put_str(", table=");
		put_hex((UINT64)table);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI load_image(BOOLEAN boot_policy, EFI_HANDLE parent, EFI_DEVICE_PATH *path,
				    VOID *source, UINTN source_size, EFI_HANDLE *handle)
{
	TRACED("LoadImage");
	EFI_STATUS status =
		original_bs.LoadImage(boot_policy, parent, path, source, source_size, handle);
	if (traced) {
		const struct traced_image *image = 0;
		if (status == EFI_SUCCESS) {
			track_image(*handle, 0, source, source_size);
			image = image_of_handle(*handle);
		}
		begin_call(caller, service);
		put_str("BootPolicy=");
		put_dec(boot_policy);
		put_str(", parent=");
		put_handle(parent);
		put_str(", dp=");
		put_device_path(path);
		put_str(", src=");
		put_hex((UINT64)source);
		put_str(", srcsize=");
		put_hex(source_size);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" handle=");
			put_handle(*handle);
			if (image) {
				put_str(" base=");
				put_hex(image->base);
				put_str(" size=");
				put_hex(image->size);
			}
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI start_image(EFI_HANDLE handle, UINTN *exit_data_size, CHAR16 **exit_data)
{
	TRACED("StartImage");
	EFI_STATUS status;
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put(')');
		end_line();
		depth++;
	}
	status = original_bs.StartImage(handle, exit_data_size, exit_data);
	if (traced) {
		depth--;
		line_len = 0;
		put('#');
		put_dec(++sequence);
		put_str(" d");
		put_dec(depth);
		put_str(" <- BS.StartImage -> ");
		put_status(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI exit_image(EFI_HANDLE handle, EFI_STATUS exit_status, UINTN size,
				    CHAR16 *data)
{
	TRACED("Exit");
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_str(", status=");
		put_status(exit_status);
		put_str(", datasize=");
		put_hex(size);
		end_line();
	}
	return original_bs.Exit(handle, exit_status, size, data);
}

static EFI_STATUS EFIAPI unload_image(EFI_HANDLE handle)
{
	TRACED("UnloadImage");
	EFI_STATUS status = original_bs.UnloadImage(handle);
	if (status == EFI_SUCCESS)
		untrack_image(handle);
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI get_next_monotonic_count(UINT64 *count)
{
	TRACED("GetNextMonotonicCount");
	EFI_STATUS status = original_bs.GetNextMonotonicCount(count);
	if (traced) {
		begin_call(caller, service);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI stall(UINTN microseconds)
{
	TRACED("Stall");
	EFI_STATUS status = original_bs.Stall(microseconds);
	if (traced) {
		begin_call(caller, service);
		put_dec(microseconds);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI set_watchdog_timer(UINTN timeout, UINT64 code, UINTN size, CHAR16 *data)
{
	TRACED("SetWatchdogTimer");
	EFI_STATUS status = original_bs.SetWatchdogTimer(timeout, code, size, data);
	if (traced) {
		begin_call(caller, service);
		put_dec(timeout);
		put_str(", code=");
		put_hex(code);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI connect_controller(EFI_HANDLE controller, EFI_HANDLE *drivers,
					    EFI_DEVICE_PATH *remaining, BOOLEAN recursive)
{
	TRACED("ConnectController");
	EFI_STATUS status = original_bs.ConnectController(controller, drivers, remaining, recursive);
	if (traced) {
		begin_call(caller, service);
		put_handle(controller);
		put_str(", recursive=");
		put_dec(recursive);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI disconnect_controller(EFI_HANDLE controller, EFI_HANDLE driver,
					       EFI_HANDLE child)
{
	TRACED("DisconnectController");
	EFI_STATUS status = original_bs.DisconnectController(controller, driver, child);
	if (traced) {
		begin_call(caller, service);
		put_handle(controller);
		put_result(status);
		end_line();
	}
	return status;
}

static const char *open_attribute_name(UINT32 attributes)
{
	switch (attributes) {
#define EFIKEXEC_OPEN_ATTRIBUTE_NAME(value, text) \
	case value: return text;
#include "efi_shim/open_attribute_names.inc"
#undef EFIKEXEC_OPEN_ATTRIBUTE_NAME
	default: return "?";
	}
}

static EFI_STATUS EFIAPI open_protocol(EFI_HANDLE handle, EFI_GUID *protocol, VOID **interface,
				       EFI_HANDLE agent, EFI_HANDLE controller, UINT32 attributes)
{
	TRACED("OpenProtocol");
	EFI_STATUS status =
		original_bs.OpenProtocol(handle, protocol, interface, agent, controller, attributes);
	if (traced) {
		if (status == EFI_SUCCESS && interface)
			wrap_interface(protocol, *interface);
		begin_call(caller, service);
		put_handle(handle);
		put_str(", ");
		put_guid(protocol);
		put_str(", agent=");
		put_handle(agent);
		put_str(", ctrl=");
		put_handle(controller);
		put_str(", attr=");
		put_hex(attributes);
		put('[');
		put_str(open_attribute_name(attributes));
		put(']');
		put_result(status);
		if (status == EFI_SUCCESS && interface) {
			put_str(" iface=");
			put_hex((UINT64)*interface);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI close_protocol(EFI_HANDLE handle, EFI_GUID *protocol, EFI_HANDLE agent,
					EFI_HANDLE controller)
{
	TRACED("CloseProtocol");
	EFI_STATUS status = original_bs.CloseProtocol(handle, protocol, agent, controller);
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_str(", ");
		put_guid(protocol);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI open_protocol_information(EFI_HANDLE handle, EFI_GUID *protocol,
						   EFI_OPEN_PROTOCOL_INFORMATION_ENTRY **entries,
						   UINTN *count)
{
	TRACED("OpenProtocolInformation");
	EFI_STATUS status = original_bs.OpenProtocolInformation(handle, protocol, entries, count);
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_str(", ");
		put_guid(protocol);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI protocols_per_handle(EFI_HANDLE handle, EFI_GUID ***buffer, UINTN *count)
{
	TRACED("ProtocolsPerHandle");
	EFI_STATUS status = original_bs.ProtocolsPerHandle(handle, buffer, count);
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" count=");
			put_dec(*count);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI locate_handle_buffer(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID *protocol,
					      VOID *key, UINTN *count, EFI_HANDLE **buffer)
{
	TRACED("LocateHandleBuffer");
	EFI_STATUS status = original_bs.LocateHandleBuffer(type, protocol, key, count, buffer);
	if (traced) {
		begin_call(caller, service);
		put_str(search_type_name(type));
		put_str(", ");
		put_guid(protocol);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" count=");
			put_dec(*count);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI locate_protocol(EFI_GUID *protocol, VOID *registration, VOID **interface)
{
	TRACED("LocateProtocol");
	EFI_STATUS status = original_bs.LocateProtocol(protocol, registration, interface);
	if (traced) {
		if (status == EFI_SUCCESS)
			wrap_interface(protocol, *interface);
		begin_call(caller, service);
		put_guid(protocol);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" iface=");
			put_hex((UINT64)*interface);
		}
		end_line();
	}
	return status;
}

/* The variadic services take (GUID, interface) pairs up to a NULL GUID. At most this many are
 * passed on: no image on the boot path installs more at once. */
#define MAX_PAIRS 6

struct pairs {
	EFI_GUID *protocol[MAX_PAIRS];
	VOID *interface[MAX_PAIRS];
	UINTN count;
	int overflow;
};

static void put_pairs(const struct pairs *pairs)
{
	static EFI_GUID device_path = DEVICE_PATH_PROTOCOL;
	for (UINTN i = 0; i < pairs->count; i++) {
		put_str(", ");
		put_guid(pairs->protocol[i]);
		put('=');
		put_hex((UINT64)pairs->interface[i]);
		if (eft_guideq(pairs->protocol[i], &device_path)) {
			put_str(" dp=");
			put_device_path(pairs->interface[i]);
		}
	}
	put_str(", NULL");
}

#define COLLECT_PAIRS(list, pairs)                                                     \
	for (;;) {                                                                     \
		EFI_GUID *protocol_ = __builtin_va_arg(list, EFI_GUID *);              \
		if (!protocol_)                                                        \
			break;                                                         \
		VOID *interface_ = __builtin_va_arg(list, VOID *);                     \
		if ((pairs).count == MAX_PAIRS) {                                      \
			(pairs).overflow = 1;                                          \
			break;                                                         \
		}                                                                      \
		(pairs).protocol[(pairs).count] = protocol_;                           \
		(pairs).interface[(pairs).count++] = interface_;                       \
	}

/* Calls the original with the collected pairs: the count is spelled out, as C cannot forward a
 * variable argument list to a variadic function. */
#define PASS_PAIRS(function, first, p)                                                            \
	((p).count == 0 ? function(first, NULL) :                                                 \
	 (p).count == 1 ? function(first, (p).protocol[0], (p).interface[0], NULL) :              \
	 (p).count == 2 ? function(first, (p).protocol[0], (p).interface[0], (p).protocol[1],     \
				   (p).interface[1], NULL) :                                      \
	 (p).count == 3 ? function(first, (p).protocol[0], (p).interface[0], (p).protocol[1],     \
				   (p).interface[1], (p).protocol[2], (p).interface[2], NULL) :   \
	 (p).count == 4 ? function(first, (p).protocol[0], (p).interface[0], (p).protocol[1],     \
				   (p).interface[1], (p).protocol[2], (p).interface[2],           \
				   (p).protocol[3], (p).interface[3], NULL) :                     \
	 (p).count == 5 ? function(first, (p).protocol[0], (p).interface[0], (p).protocol[1],     \
				   (p).interface[1], (p).protocol[2], (p).interface[2],           \
				   (p).protocol[3], (p).interface[3], (p).protocol[4],            \
				   (p).interface[4], NULL) :                                      \
			  function(first, (p).protocol[0], (p).interface[0], (p).protocol[1],     \
				   (p).interface[1], (p).protocol[2], (p).interface[2],           \
				   (p).protocol[3], (p).interface[3], (p).protocol[4],            \
				   (p).interface[4], (p).protocol[5], (p).interface[5], NULL))

static EFI_STATUS EFIAPI install_multiple_protocol_interfaces(EFI_HANDLE *handle, ...)
{
	TRACED("InstallMultipleProtocolInterfaces");
	struct pairs pairs = {0};
	EFI_HANDLE given = handle ? *handle : 0;
	EFI_STATUS status;
	__builtin_ms_va_list list;
	__builtin_ms_va_start(list, handle);
	COLLECT_PAIRS(list, pairs);
	__builtin_ms_va_end(list);
	status = pairs.overflow ? EFI_OUT_OF_RESOURCES :
		 PASS_PAIRS(original_bs.InstallMultipleProtocolInterfaces, handle, pairs);
	if (traced) {
		begin_call(caller, service);
		put_str("*handle=");
		put_hex((UINT64)given);
		put_pairs(&pairs);
		put_result(status);
		if (status == EFI_SUCCESS) {
			put_str(" handle=");
			put_hex((UINT64)*handle);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI uninstall_multiple_protocol_interfaces(EFI_HANDLE handle, ...)
{
	TRACED("UninstallMultipleProtocolInterfaces");
	struct pairs pairs = {0};
	EFI_STATUS status;
	__builtin_ms_va_list list;
	__builtin_ms_va_start(list, handle);
	COLLECT_PAIRS(list, pairs);
	__builtin_ms_va_end(list);
	status = pairs.overflow ? EFI_INVALID_PARAMETER :
		 PASS_PAIRS(original_bs.UninstallMultipleProtocolInterfaces, handle, pairs);
	if (traced) {
		begin_call(caller, service);
		put_handle(handle);
		put_pairs(&pairs);
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI calculate_crc32(VOID *data, UINTN size, UINT32 *crc)
{
	TRACED("CalculateCrc32");
	EFI_STATUS status = original_bs.CalculateCrc32(data, size, crc);
	if (traced) {
		begin_call(caller, service);
		put_hex((UINT64)data);
		put_str(", size=");
		put_hex(size);
		put_result(status);
		end_line();
	}
	return status;
}

static VOID EFIAPI copy_mem(VOID *destination, VOID *source, UINTN length)
{
	TRACED("CopyMem");
	original_bs.CopyMem(destination, source, length);
	if (traced) {
		begin_call(caller, service);
		put_str("dst=");
		put_hex((UINT64)destination);
		put_str(", src=");
		put_hex((UINT64)source);
		put_str(", len=");
		put_hex(length);
		put_str(") -> void");
		end_line();
	}
}

static VOID EFIAPI set_mem(VOID *buffer, UINTN size, UINT8 value)
{
	TRACED("SetMem");
	original_bs.SetMem(buffer, size, value);
	if (traced) {
		begin_call(caller, service);
		put_hex((UINT64)buffer);
		put_str(", len=");
		put_hex(size);
		put_str(", value=");
		put_hex(value);
		put_str(") -> void");
		end_line();
	}
}

static void set_table_crc(EFI_TABLE_HEADER *header)
{
	UINT32 crc = 0;
	header->CRC32 = 0;
	original_bs.CalculateCrc32(header, header->HeaderSize, &crc);
	header->CRC32 = crc;
}

/* The copy taken before patching carries the original CRC too. */
static void restore_runtime_table(void)
{
	*rt = original_rt;
}

static EFI_STATUS EFIAPI exit_boot_services(EFI_HANDLE image, UINTN map_key)
{
	TRACED("ExitBootServices");
	EFI_STATUS status;
#ifdef EFT_TRACER_TIMING_ONLY
	/* Once: the kernel calls again when its memory map went stale. */
	static int timed;
	if (!timed++)
		eft_serial_line("image exit-boot-services");
#endif
	if (traced) {
		begin_call(caller, service);
		put_handle(image);
		put_str(", mapkey=");
		put_hex(map_key);
	}
	status = original_bs.ExitBootServices(image, map_key);
	if (traced) {
		put_result(status);
		end_line();
	}
	if (status == EFI_SUCCESS) {
		/* The kernel keeps calling the runtime services through this table, and this
		 * application's memory is now the kernel's: the firmware's own pointers go back. */
		restore_runtime_table();
		tracing = 0;
		note("end exit-boot-services (runtime table restored)");
	}
	return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Runtime services (the variable services the images use; the rest pass through untraced). */

static void put_variable_data(const void *data, UINTN size)
{
	const UINT8 *bytes = data;
	UINTN chars = size / 2;
	int text = size >= 2 && size % 2 == 0 && chars <= 128 && bytes[size - 2] == 0 &&
		   bytes[size - 1] == 0;
	if (!data)
		return;
	for (UINTN i = 0; text && i + 1 < chars; i++) {
		unsigned c = bytes[2 * i] | (bytes[2 * i + 1] << 8);
		text = c >= 0x20 && c < 0x7f;
	}
	if (text) {
		CHAR16 copy[128];
		for (UINTN i = 0; i < chars; i++)
			copy[i] = (CHAR16)(bytes[2 * i] | (bytes[2 * i + 1] << 8));
		put_str("data=u");
		put_ucs2(copy, chars);
		return;
	}
	put_str("data=[");
	for (UINTN i = 0; i < size && i < 32; i++)
		put_fixed_hex(bytes[i], 2);
	put_str(size > 32 ? "...]" : "]");
}

static EFI_STATUS EFIAPI get_variable(CHAR16 *name, EFI_GUID *vendor, UINT32 *attributes,
				      UINTN *size, VOID *data)
{
	void *caller = __builtin_return_address(0);
	UINTN offered = size ? *size : 0;
	EFI_STATUS status = original_rt.GetVariable(name, vendor, attributes, size, data);
	if (traced_caller(caller)) {
		begin_call(caller, "RT.GetVariable");
		put_ucs2(name, 128);
		put_str(", ");
		put_guid(vendor);
		put_str(", size=");
		put_hex(offered);
		put_result(status);
		if ((status == EFI_SUCCESS || status == EFI_BUFFER_TOO_SMALL) && size) {
			put_str(" size=");
			put_hex(*size);
		}
		if (status == EFI_SUCCESS && size) {
			put(' ');
			put_variable_data(data, *size);
		}
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI set_variable(CHAR16 *name, EFI_GUID *vendor, UINT32 attributes,
				      UINTN size, VOID *data)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_rt.SetVariable(name, vendor, attributes, size, data);
	if (traced_caller(caller)) {
		begin_call(caller, "RT.SetVariable");
		put_ucs2(name, 128);
		put_str(", ");
		put_guid(vendor);
		put_str(", attr=");
		put_hex(attributes);
		put_str(", size=");
		put_hex(size);
		if (data) {
			put_str(", ");
			put_variable_data(data, size);
		}
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI get_next_variable_name(UINTN *size, CHAR16 *name, EFI_GUID *vendor)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_rt.GetNextVariableName(size, name, vendor);
	if (traced_caller(caller)) {
		begin_call(caller, "RT.GetNextVariableName");
		put_result(status);
		end_line();
	}
	return status;
}

static EFI_STATUS EFIAPI get_time(EFI_TIME *time, EFI_TIME_CAPABILITIES *capabilities)
{
	void *caller = __builtin_return_address(0);
	EFI_STATUS status = original_rt.GetTime(time, capabilities);
	if (traced_caller(caller)) {
		begin_call(caller, "RT.GetTime");
		put_result(status);
		end_line();
	}
	return status;
}

/* ------------------------------------------------------------------------------------------ */

static void patch_tables(EFI_SYSTEM_TABLE *st)
{
	original_bs = *bs;
	original_rt = *rt;
#ifdef EFT_TRACER_TIMING_ONLY
	(void)st;
	bs->ExitBootServices = exit_boot_services;
	set_table_crc(&bs->Hdr);
	return;
#endif
	bs->RaiseTPL = raise_tpl;
	bs->RestoreTPL = restore_tpl;
	bs->AllocatePages = allocate_pages;
	bs->FreePages = free_pages;
	bs->GetMemoryMap = get_memory_map;
	bs->AllocatePool = allocate_pool;
	bs->FreePool = free_pool;
	bs->CreateEvent = create_event;
	bs->SetTimer = set_timer;
	bs->WaitForEvent = wait_for_event;
	bs->SignalEvent = signal_event;
	bs->CloseEvent = close_event;
	bs->CheckEvent = check_event;
	bs->InstallProtocolInterface = install_protocol_interface;
	bs->ReinstallProtocolInterface = reinstall_protocol_interface;
	bs->UninstallProtocolInterface = uninstall_protocol_interface;
	bs->HandleProtocol = handle_protocol;
	bs->RegisterProtocolNotify = register_protocol_notify;
	bs->LocateHandle = locate_handle;
	bs->LocateDevicePath = locate_device_path;
	bs->InstallConfigurationTable = install_configuration_table;
	bs->LoadImage = load_image;
	bs->StartImage = start_image;
	bs->Exit = exit_image;
	bs->UnloadImage = unload_image;
	bs->ExitBootServices = exit_boot_services;
	bs->GetNextMonotonicCount = get_next_monotonic_count;
	bs->Stall = stall;
	bs->SetWatchdogTimer = set_watchdog_timer;
	bs->ConnectController = connect_controller;
	bs->DisconnectController = disconnect_controller;
	bs->OpenProtocol = open_protocol;
	bs->CloseProtocol = close_protocol;
	bs->OpenProtocolInformation = open_protocol_information;
	bs->ProtocolsPerHandle = protocols_per_handle;
	bs->LocateHandleBuffer = locate_handle_buffer;
	bs->LocateProtocol = locate_protocol;
	bs->InstallMultipleProtocolInterfaces = install_multiple_protocol_interfaces;
	bs->UninstallMultipleProtocolInterfaces = uninstall_multiple_protocol_interfaces;
	bs->CalculateCrc32 = calculate_crc32;
	bs->CopyMem = copy_mem;
	bs->SetMem = set_mem;
	bs->CreateEventEx = create_event_ex;
	set_table_crc(&bs->Hdr);
	rt->GetVariable = get_variable;
	rt->SetVariable = set_variable;
	rt->GetNextVariableName = get_next_variable_name;
	rt->GetTime = get_time;
	set_table_crc(&rt->Hdr);
	original_output_string = st->ConOut->OutputString;
	st->ConOut->OutputString = output_string;
}

static void unpatch_tables(EFI_SYSTEM_TABLE *st)
{
	*bs = original_bs;
	*rt = original_rt;
	if (original_output_string)
		st->ConOut->OutputString = original_output_string;
}

/* The UKI's place on the ESP, as a Boot Loader Specification Type #2 entry. */
static CHAR16 target_path[] = L"\\EFI\\Linux\\uki.efi";

/* The tracer's volume plus the target's file path node. */
static EFI_DEVICE_PATH *target_device_path(EFI_HANDLE device)
{
	EFI_GUID device_path_guid = DEVICE_PATH_PROTOCOL;
	EFI_DEVICE_PATH *volume = 0;
	UINT8 *path, *node;
	UINTN volume_bytes = 0, name_bytes = sizeof(target_path);
	const UINT8 *walk;
	if (bs->HandleProtocol(device, &device_path_guid, (void **)&volume) != EFI_SUCCESS)
		return 0;
	for (walk = (const UINT8 *)volume; walk[0] != END_DEVICE_PATH_TYPE; walk += node_length(walk))
		;
	volume_bytes = (UINTN)(walk - (const UINT8 *)volume);
	if (bs->AllocatePool(EfiLoaderData, volume_bytes + 4 + name_bytes + 4, (void **)&path) !=
	    EFI_SUCCESS)
		return 0;
	bs->CopyMem(path, volume, volume_bytes);
	node = path + volume_bytes;
	node[0] = MEDIA_DEVICE_PATH;
	node[1] = MEDIA_FILEPATH_DP;
	node[2] = (UINT8)((4 + name_bytes) & 0xff);
	node[3] = (UINT8)((4 + name_bytes) >> 8);
	bs->CopyMem(node + 4, target_path, name_bytes);
	node += 4 + name_bytes;
	node[0] = END_DEVICE_PATH_TYPE;
	node[1] = END_ENTIRE_DEVICE_PATH_SUBTYPE;
	node[2] = 4;
	node[3] = 0;
	return (EFI_DEVICE_PATH *)path;
}

/* gnu-efi's crt0 calls efi_main with the System V convention. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_GUID loaded_image_guid = LOADED_IMAGE_PROTOCOL;
	EFI_LOADED_IMAGE *self = 0;
	EFI_DEVICE_PATH *path;
	EFI_HANDLE target = 0;
	EFI_STATUS status;

	bs = st->BootServices;
	rt = st->RuntimeServices;
	eft_image = image;
	eft_st = st;
	eft_bs = bs;
	/* UEFI 2.10 §7.5.1: firmware arms a 5-minute watchdog before a boot option. */
	bs->SetWatchdogTimer(0, 0, 0, 0);
	note("begin");
	if (bs->HandleProtocol(image, &loaded_image_guid, (void **)&self) != EFI_SUCCESS) {
		note("end failed: no LoadedImage protocol on the tracer");
		return EFI_LOAD_ERROR;
	}
	path = target_device_path(self->DeviceHandle);
	if (!path) {
		note("end failed: no device path for the boot volume");
		return EFI_LOAD_ERROR;
	}
	original_bs = *bs;
	status = bs->LoadImage(FALSE, image, path, 0, 0, &target);
	line_len = 0;
	put_str("TRACE: load ");
	put_device_path(path);
	put_str(" -> ");
	put_status(status);
	end_line();
	if (status != EFI_SUCCESS) {
		note("end failed: LoadImage of the target");
		return status;
	}
	track_image(target, "sdstub", 0, 0);
	patch_tables(st);
	tracing = 1;
	note("start");
#ifdef EFT_TRACER_TIMING_ONLY
	eft_serial_line("image start");
#endif
	status = original_bs.StartImage(target, 0, 0);
	tracing = 0;
	unpatch_tables(st);
	line_len = 0;
	put_str("TRACE: end start-image-returned ");
	put_status(status);
	end_line();
	original_rt.ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, 0);
	return status;
}
