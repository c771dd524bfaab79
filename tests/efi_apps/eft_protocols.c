/* SPDX-License-Identifier: MIT */
/*
 * Protocol handler services (UEFI 2.10 §7.3) on protocols and handles this application makes
 * up: install/reinstall/uninstall, the multiple-interface variants and their all-or-nothing rule,
 * HandleProtocol, OpenProtocol/CloseProtocol/OpenProtocolInformation, ProtocolsPerHandle,
 * LocateHandle(Buffer), LocateProtocol, LocateDevicePath and RegisterProtocolNotify. Firmware
 * handles are only ever counted as "one handle is N bytes" relations, never by number.
 */
#include "eft.h"

static EFI_GUID guid_a = EFT_GUID_A, guid_b = EFT_GUID_B, guid_c = EFT_GUID_C,
		guid_n = EFT_GUID_N, guid_unused = EFT_GUID_UNUSED,
		guid_dp = EFI_DEVICE_PATH_PROTOCOL_GUID;

/* Interfaces are only compared by address, so any distinct objects do. */
static UINT64 if_a1, if_a2, if_b, if_c, if_n1, if_n1b, if_n2, if_n3, if_n4;

/* Room for every handle OVMF has (a few hundred), so AllHandles fits. */
static EFI_HANDLE handle_buf[2048];

/* A device path of vendor-defined media nodes (§10.3.5.6) followed by End Entire (§10.3.1). */
static UINT8 path_1[2][20 + 4], path_1_again[20 + 4], path_12[2 * 20 + 4], path_2[20 + 4];

static void make_path(UINT8 *buf, const EFI_GUID *const *guids, int n)
{
	for (int i = 0; i < n; i++, buf += 20) {
		buf[0] = MEDIA_DEVICE_PATH;
		buf[1] = MEDIA_VENDOR_DP;
		buf[2] = 20;
		buf[3] = 0;
		for (int j = 0; j < 16; j++)
			buf[4 + j] = ((const UINT8 *)guids[i])[j];
	}
	buf[0] = END_DEVICE_PATH_TYPE;
	buf[1] = END_ENTIRE_DEVICE_PATH_SUBTYPE;
	buf[2] = 4;
	buf[3] = 0;
}

static int is_end(const EFI_DEVICE_PATH *dp)
{
	return dp->Type == END_DEVICE_PATH_TYPE && dp->SubType == END_ENTIRE_DEVICE_PATH_SUBTYPE;
}

static UINTN locate(EFI_LOCATE_SEARCH_TYPE type, EFI_GUID *guid, void *key, EFI_STATUS *s)
{
	UINTN size = sizeof(handle_buf);
	*s = eft_bs->LocateHandle(type, guid, key, &size, handle_buf);
	return *s == EFI_SUCCESS ? size / sizeof(EFI_HANDLE) : 0;
}

static int has_guid(EFI_GUID **list, UINTN n, EFI_GUID *g)
{
	for (UINTN i = 0; i < n; i++)
		if (eft_guideq(list[i], g))
			return 1;
	return 0;
}

static EFI_HANDLE h, h_agent;

static void check_install(void)
{
	EFI_STATUS s;
	void *i;

	h = NULL;
	s = eft_bs->InstallProtocolInterface(&h, &guid_a, EFI_NATIVE_INTERFACE, &if_a1);
	eft("install status=%r handle-set=%b", s, h != NULL);
	s = eft_bs->InstallProtocolInterface(&h, &guid_a, EFI_NATIVE_INTERFACE, &if_a1);
	eft("install.duplicate status=%r", s);
	EFI_HANDLE h2 = NULL;
	s = eft_bs->InstallProtocolInterface(&h2, &guid_a, (EFI_INTERFACE_TYPE)1, &if_a1);
	eft("install.bad-interface-type status=%r", s);
	s = eft_bs->InstallProtocolInterface(NULL, &guid_a, EFI_NATIVE_INTERFACE, &if_a1);
	eft("install.null-handle status=%r", s);

	i = NULL;
	s = eft_bs->HandleProtocol(h, &guid_a, &i);
	eft("handle-protocol status=%r same=%b", s, i == &if_a1);
	eft("handle-protocol.unknown status=%r", eft_bs->HandleProtocol(h, &guid_unused, &i));
	eft("handle-protocol.null-handle status=%r", eft_bs->HandleProtocol(NULL, &guid_a, &i));
	eft("handle-protocol.null-interface status=%r", eft_bs->HandleProtocol(h, &guid_a, NULL));

	EFI_HANDLE same = h;
	s = eft_bs->InstallProtocolInterface(&h, &guid_b, EFI_NATIVE_INTERFACE, &if_b);
	eft("install.second status=%r same-handle=%b", s, h == same);

	EFI_GUID **guids = NULL;
	UINTN count = 0;
	s = eft_bs->ProtocolsPerHandle(h, &guids, &count);
	eft("protocols-per-handle status=%r count=%u has-a=%b has-b=%b", s, (UINT64)count,
	    has_guid(guids, count, &guid_a), has_guid(guids, count, &guid_b));
	eft("protocols-per-handle.free status=%r", eft_bs->FreePool(guids));
}

static void check_locate(void)
{
	EFI_STATUS s;
	UINTN size, n;
	void *i;

	size = 0;
	s = eft_bs->LocateHandle(ByProtocol, &guid_a, NULL, &size, NULL);
	eft("locate-handle.probe status=%r handles=%u", s, (UINT64)(size / sizeof(EFI_HANDLE)));
	n = locate(ByProtocol, &guid_a, NULL, &s);
	eft("locate-handle status=%r handles=%u match=%b", s, (UINT64)n, n == 1 && handle_buf[0] == h);
	locate(ByProtocol, &guid_unused, NULL, &s);
	eft("locate-handle.unknown status=%r", s);
	locate(ByProtocol, NULL, NULL, &s);
	eft("locate-handle.null-protocol status=%r", s);
	size = 0;
	s = eft_bs->LocateHandle(AllHandles, NULL, NULL, &size, NULL);
	eft("locate-handle.all-probe status=%r size-multiple=%b", s,
	    size != 0 && size % sizeof(EFI_HANDLE) == 0);
	n = locate(AllHandles, NULL, NULL, &s);
	int found = 0;
	for (UINTN k = 0; k < n; k++)
		found |= handle_buf[k] == h;
	eft("locate-handle.all status=%r contains-ours=%b", s, found);
	locate((EFI_LOCATE_SEARCH_TYPE)5, &guid_a, NULL, &s);
	eft("locate-handle.bad-type status=%r", s);

	EFI_HANDLE *buf = NULL;
	n = 0;
	s = eft_bs->LocateHandleBuffer(ByProtocol, &guid_a, NULL, &n, &buf);
	eft("locate-handle-buffer status=%r handles=%u match=%b", s, (UINT64)n,
	    n == 1 && buf && buf[0] == h);
	if (s == EFI_SUCCESS)
		eft("locate-handle-buffer.free status=%r", eft_bs->FreePool(buf));
	s = eft_bs->LocateHandleBuffer(ByProtocol, &guid_unused, NULL, &n, &buf);
	eft("locate-handle-buffer.unknown status=%r", s);

	i = NULL;
	s = eft_bs->LocateProtocol(&guid_a, NULL, &i);
	eft("locate-protocol status=%r same=%b", s, i == &if_a1);
	eft("locate-protocol.unknown status=%r", eft_bs->LocateProtocol(&guid_unused, NULL, &i));
	eft("locate-protocol.null-interface status=%r", eft_bs->LocateProtocol(&guid_a, NULL, NULL));
}

static void check_reinstall(void)
{
	EFI_STATUS s;
	void *i = NULL;

	s = eft_bs->ReinstallProtocolInterface(h, &guid_a, &if_a1, &if_a2);
	eft_bs->HandleProtocol(h, &guid_a, &i);
	eft("reinstall status=%r new=%b", s, i == &if_a2);
	s = eft_bs->ReinstallProtocolInterface(h, &guid_a, &if_a1, &if_a2);
	eft("reinstall.stale-old status=%r", s);
	eft("uninstall.wrong-interface status=%r",
	    eft_bs->UninstallProtocolInterface(h, &guid_a, &if_a1));
	eft("uninstall.unknown status=%r",
	    eft_bs->UninstallProtocolInterface(h, &guid_unused, &if_a1));
}

/* Entries of OpenProtocolInformation counted per attribute value (order is not specified). */
static void open_info(const char *what)
{
	EFI_OPEN_PROTOCOL_INFORMATION_ENTRY *e = NULL;
	UINTN n = 0, by_handle = 0, get = 0, test = 0, driver = 0, excl = 0, other = 0, app = 0;
	EFI_STATUS s = eft_bs->OpenProtocolInformation(h, &guid_a, &e, &n);
	for (UINTN k = 0; k < n; k++) {
		switch (e[k].Attributes) {
		case EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL: by_handle++; break;
		case EFI_OPEN_PROTOCOL_GET_PROTOCOL: get++; break;
		case EFI_OPEN_PROTOCOL_TEST_PROTOCOL: test++; break;
		case EFI_OPEN_PROTOCOL_BY_DRIVER: driver++; break;
		case EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE: excl++; break;
		default: other++; break;
		}
		app += e[k].AgentHandle == eft_image;
	}
	eft("%s status=%r entries=%u by-app=%u", what, s, (UINT64)n, (UINT64)app);
	eft("%s by-handle=%u get=%u test=%u by-driver=%u driver-excl=%u other=%u", what,
	    (UINT64)by_handle, (UINT64)get, (UINT64)test, (UINT64)driver, (UINT64)excl,
	    (UINT64)other);
	if (e)
		eft_bs->FreePool(e);
}

static void check_open(void)
{
	EFI_STATUS s;
	void *i;

	h_agent = NULL;
	s = eft_bs->InstallProtocolInterface(&h_agent, &guid_c, EFI_NATIVE_INTERFACE, &if_c);
	eft("open.agent-handle status=%r", s);

	i = NULL;
	s = eft_bs->OpenProtocol(h, &guid_a, &i, eft_image, NULL, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
	eft("open.get status=%r same=%b", s, i == &if_a2);
	s = eft_bs->OpenProtocol(h, &guid_a, NULL, eft_image, NULL, EFI_OPEN_PROTOCOL_TEST_PROTOCOL);
	eft("open.test-null-interface status=%r", s);
	s = eft_bs->OpenProtocol(h, &guid_a, NULL, eft_image, NULL, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
	eft("open.get-null-interface status=%r", s);
	s = eft_bs->OpenProtocol(h, &guid_unused, &i, eft_image, NULL,
				 EFI_OPEN_PROTOCOL_GET_PROTOCOL);
	eft("open.unknown status=%r", s);
	s = eft_bs->OpenProtocol(h, &guid_a, &i, eft_image, h, 0x123);
	eft("open.bad-attributes status=%r", s);
	s = eft_bs->OpenProtocol(h, &guid_a, &i, eft_image, NULL, EFI_OPEN_PROTOCOL_BY_DRIVER);
	eft("open.by-driver-null-controller status=%r", s);

	/* §7.3.9: one BY_DRIVER opener; the same one again is ALREADY_STARTED, others are
	 * refused, and EXCLUSIVE cannot take it from an agent that is not a driver. */
	i = NULL;
	s = eft_bs->OpenProtocol(h, &guid_a, &i, eft_image, h, EFI_OPEN_PROTOCOL_BY_DRIVER);
	eft("open.by-driver status=%r same=%b", s, i == &if_a2);
	i = NULL;
	s = eft_bs->OpenProtocol(h, &guid_a, &i, eft_image, h, EFI_OPEN_PROTOCOL_BY_DRIVER);
	eft("open.by-driver-again status=%r interface-set=%b", s, i == &if_a2);
	s = eft_bs->OpenProtocol(h, &guid_a, &i, h_agent, h, EFI_OPEN_PROTOCOL_BY_DRIVER);
	eft("open.by-driver-other status=%r", s);
	s = eft_bs->OpenProtocol(h, &guid_a, &i, h_agent, h,
				 EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE);
	eft("open.exclusive-other status=%r", s);
	open_info("open-info.by-driver");

	/* §7.3.3: an interface opened BY_DRIVER cannot be uninstalled (its opener would have
	 * to be disconnected, and this application is no driver). */
	s = eft_bs->UninstallProtocolInterface(h, &guid_a, &if_a2);
	eft("uninstall.while-by-driver status=%r", s);
	eft("uninstall.while-by-driver still-there=%b",
	    eft_bs->HandleProtocol(h, &guid_a, &i) == EFI_SUCCESS);

	eft("close status=%r", eft_bs->CloseProtocol(h, &guid_a, eft_image, h));
	eft("close.again status=%r", eft_bs->CloseProtocol(h, &guid_a, eft_image, h));
	eft("close.null-agent status=%r", eft_bs->CloseProtocol(h, &guid_a, NULL, h));
	eft("close.unknown status=%r", eft_bs->CloseProtocol(h, &guid_unused, eft_image, NULL));
	open_info("open-info.closed");

	s = eft_bs->OpenProtocol(h, &guid_a, &i, h_agent, h,
				 EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE);
	eft("open.exclusive status=%r", s);
	s = eft_bs->OpenProtocol(h, &guid_a, &i, eft_image, h, EFI_OPEN_PROTOCOL_BY_DRIVER);
	eft("open.by-driver-vs-exclusive status=%r", s);
	eft("close.exclusive status=%r", eft_bs->CloseProtocol(h, &guid_a, h_agent, h));

	/* GET_PROTOCOL opens do not hold an interface (§7.3.3 removes them). */
	s = eft_bs->UninstallProtocolInterface(h, &guid_a, &if_a2);
	eft("uninstall status=%r", s);
	eft("uninstall.gone status=%r", eft_bs->HandleProtocol(h, &guid_a, &i));
	s = eft_bs->UninstallProtocolInterface(h, &guid_b, &if_b);
	eft("uninstall.last status=%r", s);
	/* §7.3.3: removing the last interface frees the handle. */
	eft("uninstall.handle-freed status=%r", eft_bs->HandleProtocol(h, &guid_b, &i));
}

static void check_multiple(void)
{
	EFI_STATUS s;
	EFI_HANDLE h3 = NULL;
	void *i;

	s = eft_bs->InstallMultipleProtocolInterfaces(&h3, &guid_a, &if_a1, &guid_b, &if_b, NULL);
	EFI_GUID **guids = NULL;
	UINTN count = 0;
	eft_bs->ProtocolsPerHandle(h3, &guids, &count);
	eft("install-multiple status=%r count=%u", s, (UINT64)count);
	if (guids)
		eft_bs->FreePool(guids);

	/* §7.3.16: all or nothing: C must not stay when A fails. */
	s = eft_bs->InstallMultipleProtocolInterfaces(&h3, &guid_c, &if_c, &guid_a, &if_a1, NULL);
	eft("install-multiple.duplicate status=%r", s);
	eft("install-multiple.rolled-back status=%r", eft_bs->HandleProtocol(h3, &guid_c, &i));

	/* §7.3.17: likewise for removal: A comes back when C is not there. */
	s = eft_bs->UninstallMultipleProtocolInterfaces(h3, &guid_a, &if_a1, &guid_c, &if_c, NULL);
	eft("uninstall-multiple.missing status=%r", s);
	eft("uninstall-multiple.restored status=%r", eft_bs->HandleProtocol(h3, &guid_a, &i));
	s = eft_bs->UninstallMultipleProtocolInterfaces(h3, &guid_a, &if_a1, &guid_b, &if_b, NULL);
	eft("uninstall-multiple status=%r", s);
	eft("uninstall-multiple.handle-freed status=%r", eft_bs->HandleProtocol(h3, &guid_a, &i));
}

static void check_device_path(void)
{
	static const EFI_GUID v1 = EFT_GUID_VENDOR_1, v2 = EFT_GUID_VENDOR_2;
	const EFI_GUID *one[] = { &v1 }, *two[] = { &v2 }, *both[] = { &v1, &v2 };
	EFI_HANDLE h4 = NULL, h5 = NULL, found;
	EFI_DEVICE_PATH *dp;
	EFI_STATUS s;

	make_path(path_1[0], one, 1);
	make_path(path_1_again, one, 1);
	make_path(path_12, both, 2);
	make_path(path_2, two, 1);

	s = eft_bs->InstallMultipleProtocolInterfaces(&h4, &guid_dp, path_1[0], &guid_a, &if_a1,
						      NULL);
	eft("device-path.install status=%r", s);
	/* §7.3.16: a device path already in the handle database is refused. */
	s = eft_bs->InstallMultipleProtocolInterfaces(&h5, &guid_dp, path_1_again, NULL);
	eft("device-path.install-duplicate status=%r", s);

	dp = (EFI_DEVICE_PATH *)path_1_again;
	found = NULL;
	s = eft_bs->LocateDevicePath(&guid_a, &dp, &found);
	eft("locate-device-path.full status=%r handle=%b rest-is-end=%b consumed=%u", s, found == h4,
	    is_end(dp), (UINT64)((UINT8 *)dp - path_1_again));
	dp = (EFI_DEVICE_PATH *)path_12;
	found = NULL;
	s = eft_bs->LocateDevicePath(&guid_a, &dp, &found);
	eft("locate-device-path.prefix status=%r handle=%b rest-is-end=%b consumed=%u", s,
	    found == h4, is_end(dp), (UINT64)((UINT8 *)dp - path_12));
	dp = (EFI_DEVICE_PATH *)path_2;
	s = eft_bs->LocateDevicePath(&guid_a, &dp, &found);
	eft("locate-device-path.no-match status=%r unchanged=%b", s, (UINT8 *)dp == path_2);
	dp = (EFI_DEVICE_PATH *)path_1_again;
	s = eft_bs->LocateDevicePath(&guid_unused, &dp, &found);
	eft("locate-device-path.no-protocol status=%r", s);
	dp = (EFI_DEVICE_PATH *)path_1_again;
	found = NULL;
	s = eft_bs->LocateDevicePath(&guid_dp, &dp, &found);
	eft("locate-device-path.by-dp status=%r handle=%b", s, found == h4);
	eft("locate-device-path.null-path status=%r",
	    eft_bs->LocateDevicePath(&guid_a, NULL, &found));
	dp = (EFI_DEVICE_PATH *)path_1_again;
	eft("locate-device-path.null-device status=%r", eft_bs->LocateDevicePath(&guid_a, &dp, NULL));

	s = eft_bs->UninstallMultipleProtocolInterfaces(h4, &guid_dp, path_1[0], &guid_a, &if_a1,
							NULL);
	eft("device-path.uninstall status=%r", s);
}

static UINTN notified;

static void EFIAPI count_notify(EFI_EVENT event, void *context)
{
	(*(UINTN *)context)++;
}

static void check_notify(void)
{
	EFI_HANDLE hn1 = NULL, hn2 = NULL, hn3 = NULL, hn4 = NULL;
	EFI_EVENT ev = NULL;
	void *reg = NULL, *i;
	EFI_STATUS s;
	UINTN n;

	s = eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, count_notify, &notified, &ev);
	eft("notify.event status=%r", s);
	s = eft_bs->RegisterProtocolNotify(&guid_n, ev, &reg);
	eft("notify.register status=%r registration-set=%b", s, reg != NULL);
	locate(ByRegisterNotify, NULL, reg, &s);
	eft("notify.locate-before status=%r", s);

	eft_bs->InstallProtocolInterface(&hn1, &guid_n, EFI_NATIVE_INTERFACE, &if_n1);
	eft("notify.install-1 notified=%u", (UINT64)notified);
	eft_bs->InstallProtocolInterface(&hn2, &guid_n, EFI_NATIVE_INTERFACE, &if_n2);
	eft("notify.install-2 notified=%u", (UINT64)notified);

	/* §7.3.12: ByRegisterNotify returns one new handle per call, oldest first. */
	n = locate(ByRegisterNotify, NULL, reg, &s);
	eft("notify.locate-1 status=%r handles=%u first=%b", s, (UINT64)n, n && handle_buf[0] == hn1);
	n = locate(ByRegisterNotify, NULL, reg, &s);
	eft("notify.locate-2 status=%r handles=%u second=%b", s, (UINT64)n,
	    n && handle_buf[0] == hn2);
	locate(ByRegisterNotify, NULL, reg, &s);
	eft("notify.locate-3 status=%r", s);
	eft("notify.locate-protocol-consumed status=%r", eft_bs->LocateProtocol(&guid_n, reg, &i));

	eft_bs->InstallProtocolInterface(&hn3, &guid_n, EFI_NATIVE_INTERFACE, &if_n3);
	i = NULL;
	s = eft_bs->LocateProtocol(&guid_n, reg, &i);
	eft("notify.locate-protocol status=%r notified=%u same=%b", s, (UINT64)notified,
	    i == &if_n3);
	eft("notify.locate-protocol-again status=%r", eft_bs->LocateProtocol(&guid_n, reg, &i));

	/* A reinstall is a new interface for the registration (§7.3.4). */
	s = eft_bs->ReinstallProtocolInterface(hn1, &guid_n, &if_n1, &if_n1b);
	n = locate(ByRegisterNotify, NULL, reg, &s);
	eft("notify.reinstall notified=%u locate=%r is-hn1=%b", (UINT64)notified, s,
	    n && handle_buf[0] == hn1);
	eft_bs->UninstallProtocolInterface(hn2, &guid_n, &if_n2);
	eft("notify.uninstall notified=%u", (UINT64)notified);

	/* Closing the event ends the registration (§7.1.3). */
	eft("notify.close status=%r", eft_bs->CloseEvent(ev));
	eft_bs->InstallProtocolInterface(&hn4, &guid_n, EFI_NATIVE_INTERFACE, &if_n4);
	eft("notify.after-close notified=%u", (UINT64)notified);

	eft_bs->UninstallProtocolInterface(hn1, &guid_n, &if_n1b);
	eft_bs->UninstallProtocolInterface(hn3, &guid_n, &if_n3);
	eft_bs->UninstallProtocolInterface(hn4, &guid_n, &if_n4);
	locate(ByProtocol, &guid_n, NULL, &s);
	eft("notify.cleanup locate=%r", s);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	eft_begin(image, st, "protocols");
	check_install();
	check_locate();
	check_reinstall();
	check_open();
	check_multiple();
	check_device_path();
	check_notify();
	eft("agent.uninstall status=%r", eft_bs->UninstallProtocolInterface(h_agent, &guid_c, &if_c));
	eft_end();
	return EFI_SUCCESS;
}
