/* SPDX-License-Identifier: MIT */
/*
 * The boot volume as systemd-stub reads it (UEFI 2.10 §13.4 SimpleFileSystem, §13.5 File): the
 * volume of the device the application was loaded from, its `<image>.extra.d` directory read one
 * EFI_FILE_INFO at a time (BUFFER_TOO_SMALL first), Open relative to a directory with `..`,
 * GetInfo, GetPosition/SetPosition on files and directories, reads past the end, a write on a
 * read-only volume, and LoadImage of an add-on by its device path (§7.4.1: read through
 * SimpleFileSystem). The files are put on the ESP by tests/conformance/esp-files.sh: under OVMF
 * on a read-only QEMU FAT drive, under the shim with `run-efi --esp` over the same directory.
 * Directory order differs between FAT drivers, so the entries are printed sorted.
 */
#include "eft.h"

static EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID,
		file_system_guid = SIMPLE_FILE_SYSTEM_PROTOCOL,
		device_path_guid = DEVICE_PATH_PROTOCOL,
		file_info_guid = EFI_FILE_INFO_ID,
		system_info_guid = EFI_FILE_SYSTEM_INFO_ID;

#define EXTRA_DIR L"\\EFI\\BOOT\\BOOTX64.EFI.extra.d"
#define MAX_ENTRIES 16

static UINT8 info_buf[1024] __attribute__((aligned(8)));
static char names[MAX_ENTRIES][64];
static UINT64 sizes[MAX_ENTRIES];
static int dirs[MAX_ENTRIES];
static UINT8 path_buf[512] __attribute__((aligned(8)));

/* ASCII of a UCS-2 name, cut to the buffer. */
static void ascii_of(const CHAR16 *in, char *out, UINTN room)
{
	UINTN i = 0;
	for (; in[i] && i + 1 < room; i++)
		out[i] = in[i] < 0x80 ? (char)in[i] : '?';
	out[i] = 0;
}

static int ascii_cmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

static UINTN ucs2_len(const CHAR16 *s)
{
	UINTN n = 0;
	while (s[n])
		n++;
	return n;
}

/* Reads the directory to its end, one entry per Read(), and prints the entries sorted. */
static void list_directory(EFI_FILE_HANDLE dir)
{
	int count = 0;
	UINTN size = 0;
	EFI_STATUS s = dir->Read(dir, &size, info_buf);
	EFI_FILE_INFO *info = (EFI_FILE_INFO *)info_buf;
	eft("dir.read-empty-buffer status=%r needed=%u", s, (UINT64)size);
	for (;;) {
		size = sizeof(info_buf);
		s = dir->Read(dir, &size, info_buf);
		if (s != EFI_SUCCESS || size == 0)
			break;
		if (count < MAX_ENTRIES) {
			ascii_of(info->FileName, names[count], sizeof(names[count]));
			sizes[count] = info->Attribute & EFI_FILE_DIRECTORY ? 0 : info->FileSize;
			dirs[count] = (info->Attribute & EFI_FILE_DIRECTORY) != 0;
			/* What Read() reported is this entry's EFI_FILE_INFO exactly. */
			if (size != SIZE_OF_EFI_FILE_INFO + (ucs2_len(info->FileName) + 1) * sizeof(CHAR16))
				eft("dir.entry-size-mismatch name=%s", names[count]);
			count++;
		}
	}
	eft("dir.end status=%r size=%u entries=%u", s, (UINT64)size, (UINT64)count);
	for (int i = 1; i < count; i++)
		for (int j = i; j > 0 && ascii_cmp(names[j - 1], names[j]) > 0; j--) {
			char tmp[64];
			for (int k = 0; k < 64; k++)
				tmp[k] = names[j][k], names[j][k] = names[j - 1][k], names[j - 1][k] = tmp[k];
			UINT64 t = sizes[j];
			sizes[j] = sizes[j - 1], sizes[j - 1] = t;
			int d = dirs[j];
			dirs[j] = dirs[j - 1], dirs[j - 1] = d;
		}
	for (int i = 0; i < count; i++)
		eft("dir.entry name=%s dir=%b size=%u", names[i], dirs[i], sizes[i]);
}

static void file_checks(EFI_FILE_HANDLE dir)
{
	EFI_FILE_HANDLE file = NULL;
	EFI_STATUS s = dir->Open(dir, &file, L"b.cred", EFI_FILE_MODE_READ, 0);
	eft("open.relative b.cred=%r", s);
	if (s != EFI_SUCCESS)
		return;
	char text[32];
	UINTN size = 4;
	s = file->Read(file, &size, text);
	text[size < sizeof(text) ? size : 0] = 0;
	UINT64 position = 99;
	file->GetPosition(file, &position);
	eft("file.read4 status=%r size=%u text=%s position=%u", s, (UINT64)size, text, position);
	s = file->SetPosition(file, 0xFFFFFFFFFFFFFFFFull);
	file->GetPosition(file, &position);
	eft("file.seek-end status=%r position=%u", s, position);
	size = sizeof(text);
	s = file->Read(file, &size, text);
	eft("file.read-at-end status=%r size=%u", s, (UINT64)size);
	s = file->SetPosition(file, position + 10);
	size = sizeof(text);
	EFI_STATUS r = file->Read(file, &size, text);
	eft("file.read-past-end seek=%r read=%r size=%u", s, r, (UINT64)size);

	size = 0;
	s = file->GetInfo(file, &file_info_guid, &size, info_buf);
	eft("file.info-empty-buffer status=%r needed=%u", s, (UINT64)size);
	size = sizeof(info_buf);
	s = file->GetInfo(file, &file_info_guid, &size, info_buf);
	EFI_FILE_INFO *info = (EFI_FILE_INFO *)info_buf;
	char name[64];
	ascii_of(info->FileName, name, sizeof(name));
	eft("file.info status=%r name=%s size=%u dir=%b", s, name, info->FileSize,
	    (info->Attribute & EFI_FILE_DIRECTORY) != 0);
	size = sizeof(info_buf);
	s = file->GetInfo(file, &system_info_guid, &size, info_buf);
	eft("file.system-info status=%r read-only=%b", s,
	    (int)((EFI_FILE_SYSTEM_INFO *)info_buf)->ReadOnly);
	s = file->Write(file, &(UINTN){1}, "x");
	eft("file.write status=%r", s);
	eft("file.flush status=%r", file->Flush(file));
	eft("dir.write status=%r", dir->Write(dir, &(UINTN){1}, "x"));
	eft("dir.flush status=%r", dir->Flush(dir));
	eft("file.close=%r", file->Close(file));

	/* A bigger file in pieces: the sizes Read() returns and the bytes. */
	s = dir->Open(dir, &file, L"C.SYSEXT.RAW", EFI_FILE_MODE_READ, 0);
	eft("open.case-insensitive c.sysext.raw=%r", s);
	if (s == EFI_SUCCESS) {
		UINT64 total = 0, sum = 0;
		UINT8 chunk[700];
		for (;;) {
			size = sizeof(chunk);
			if (file->Read(file, &size, chunk) != EFI_SUCCESS || size == 0)
				break;
			for (UINTN i = 0; i < size; i++)
				sum = sum * 31 + chunk[i];
			total += size;
		}
		eft("file.read-chunks total=%u sum=%x", total, sum);
		file->SetPosition(file, 4000);
		size = sizeof(chunk);
		s = file->Read(file, &size, chunk);
		eft("file.read-tail status=%r size=%u first=%u", s, (UINT64)size, (UINT64)chunk[0]);
		file->Close(file);
	}

	s = dir->Open(dir, &file, L"..\\..\\..\\loader\\credentials\\g.cred", EFI_FILE_MODE_READ, 0);
	eft("open.dotdot g.cred=%r", s);
	if (s == EFI_SUCCESS) {
		size = sizeof(text) - 1;
		file->Read(file, &size, text);
		text[size] = 0;
		eft("file.global text=%s", text);
		file->Close(file);
	}
	eft("open.missing=%r", dir->Open(dir, &file, L"missing.cred", EFI_FILE_MODE_READ, 0));
	eft("open.file-as-dir=%r",
	    dir->Open(dir, &file, L"b.cred\\x", EFI_FILE_MODE_READ, 0));
	s = dir->Open(dir, &file, L"new.cred",
		      EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE, 0);
	eft("open.create status=%r", s);
	if (s == EFI_SUCCESS)
		file->Close(file);
}

/* LoadImage of the add-on by its device path: the volume's own path, then a file path node. */
static void load_addon(EFI_HANDLE device)
{
	EFI_DEVICE_PATH *volume = NULL;
	EFI_STATUS s = eft_bs->HandleProtocol(device, &device_path_guid, (void **)&volume);
	if (s != EFI_SUCCESS) {
		eft("addon.volume-path=%r", s);
		return;
	}
	UINTN used = 0;
	for (EFI_DEVICE_PATH *node = volume;; ) {
		UINTN length = node->Length[0] | (node->Length[1] << 8);
		if (node->Type == END_DEVICE_PATH_TYPE && node->SubType == END_ENTIRE_DEVICE_PATH_SUBTYPE)
			break;
		if (length < 4 || used + length > sizeof(path_buf) - 256) {
			eft("addon.volume-path too-long");
			return;
		}
		for (UINTN i = 0; i < length; i++)
			path_buf[used + i] = ((UINT8 *)node)[i];
		used += length;
		node = (EFI_DEVICE_PATH *)((UINT8 *)node + length);
	}
	static const CHAR16 file[] = EXTRA_DIR L"\\a.addon.efi";
	UINTN node_length = 4 + sizeof(file);
	path_buf[used] = MEDIA_DEVICE_PATH;
	path_buf[used + 1] = MEDIA_FILEPATH_DP;
	path_buf[used + 2] = (UINT8)node_length;
	path_buf[used + 3] = (UINT8)(node_length >> 8);
	for (UINTN i = 0; i < sizeof(file); i++)
		path_buf[used + 4 + i] = ((const UINT8 *)file)[i];
	used += node_length;
	path_buf[used] = END_DEVICE_PATH_TYPE;
	path_buf[used + 1] = END_ENTIRE_DEVICE_PATH_SUBTYPE;
	path_buf[used + 2] = 4;
	path_buf[used + 3] = 0;
	EFI_HANDLE addon = NULL;
	s = eft_bs->LoadImage(FALSE, eft_image, (EFI_DEVICE_PATH *)path_buf, NULL, 0, &addon);
	eft("addon.load-by-path=%r", s);
	if (s == EFI_SUCCESS)
		eft("addon.unload=%r", eft_bs->UnloadImage(addon));
	path_buf[used - node_length + 4 + sizeof(file) - 6] = 'x'; /* "a.addon.exi": no such file */
	s = eft_bs->LoadImage(FALSE, eft_image, (EFI_DEVICE_PATH *)path_buf, NULL, 0, &addon);
	eft("addon.load-missing=%r", s);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	eft_begin(image, st, "files");
	EFI_LOADED_IMAGE *li = NULL;
	EFI_STATUS s = eft_bs->HandleProtocol(image, &loaded_image_guid, (void **)&li);
	eft("loaded-image=%r", s);
	if (s != EFI_SUCCESS)
		goto out;
	EFI_FILE_IO_INTERFACE *fs = NULL;
	s = eft_bs->HandleProtocol(li->DeviceHandle, &file_system_guid, (void **)&fs);
	eft("simple-file-system=%r", s);
	if (s != EFI_SUCCESS)
		goto out;
	EFI_FILE_HANDLE root = NULL;
	s = fs->OpenVolume(fs, &root);
	eft("open-volume=%r", s);
	if (s != EFI_SUCCESS)
		goto out;
	UINTN size = sizeof(info_buf);
	s = root->GetInfo(root, &file_info_guid, &size, info_buf);
	eft("root.info status=%r dir=%b", s,
	    (((EFI_FILE_INFO *)info_buf)->Attribute & EFI_FILE_DIRECTORY) != 0);
	EFI_FILE_HANDLE dir = NULL;
	s = root->Open(root, &dir, EXTRA_DIR, EFI_FILE_MODE_READ, 0);
	eft("open.extra-dir=%r", s);
	if (s == EFI_SUCCESS) {
		list_directory(dir);
		eft("dir.rewind=%r", dir->SetPosition(dir, 0));
		size = sizeof(info_buf);
		s = dir->Read(dir, &size, info_buf);
		char first[64];
		ascii_of(((EFI_FILE_INFO *)info_buf)->FileName, first, sizeof(first));
		eft("dir.first-after-rewind status=%r name=%s", s, first);
		eft("dir.seek-nonzero=%r", dir->SetPosition(dir, 1));
		file_checks(dir);
		dir->Close(dir);
	}
	load_addon(li->DeviceHandle);
	eft("root.close=%r", root->Close(root));
out:
	eft_end();
	return EFI_SUCCESS;
}
