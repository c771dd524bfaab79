/* SPDX-License-Identifier: MIT */
/*
 * Event, timer and task priority services (UEFI 2.10 §7.1) and the miscellaneous boot services
 * (§7.5: Stall, GetNextMonotonicCount, CalculateCrc32, CopyMem, SetMem, InstallConfigurationTable),
 * plus the table headers' CRC32 (§4.2).
 */
#include "eft.h"

static EFI_GUID group_guid = EFT_GUID_EVENT_GROUP, guid_a = EFT_GUID_A,
		guid_unused = EFT_GUID_UNUSED;

static UINTN count_cb, count_g1, count_g2, count_wait, count_timer;
static EFI_TPL tpl_seen;
static char order[8];
static UINTN order_len;

static void EFIAPI count_notify(EFI_EVENT event, void *context)
{
	(*(UINTN *)context)++;
}

/* Records the TPL a notification runs at: raising to HIGH_LEVEL returns the current one. */
static void EFIAPI tpl_notify(EFI_EVENT event, void *context)
{
	tpl_seen = eft_bs->RaiseTPL(TPL_HIGH_LEVEL);
	eft_bs->RestoreTPL(tpl_seen);
	count_cb++;
}

static void EFIAPI order_notify(EFI_EVENT event, void *context)
{
	if (order_len < sizeof(order) - 1)
		order[order_len++] = *(const char *)context;
}

/* A wait notification that signals its own event: CheckEvent then sees it signalled (§7.1.9). */
static void EFIAPI signalling_notify(EFI_EVENT event, void *context)
{
	count_wait++;
	eft_bs->SignalEvent(event);
}

static void check_tpl(void)
{
	EFI_TPL old = eft_bs->RaiseTPL(TPL_CALLBACK);
	EFI_TPL old2 = eft_bs->RaiseTPL(TPL_NOTIFY);
	eft_bs->RestoreTPL(old2);
	eft_bs->RestoreTPL(old);
	eft("tpl.raise old=%u then=%u", (UINT64)old, (UINT64)old2);
	EFI_TPL now = eft_bs->RaiseTPL(TPL_HIGH_LEVEL);
	eft_bs->RestoreTPL(now);
	eft("tpl.restored now=%u", (UINT64)now);
}

static void check_create(void)
{
	EFI_EVENT e = NULL;
	EFI_STATUS s;

	s = eft_bs->CreateEvent(0, 0, NULL, NULL, &e);
	eft("create.plain status=%r", s);
	eft("close.plain status=%r", eft_bs->CloseEvent(e));
	eft("create.signal-no-function status=%r",
	    eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, NULL, NULL, &e));
	eft("create.signal-high-tpl status=%r",
	    eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_HIGH_LEVEL, count_notify, &count_cb, &e));
	eft("create.signal-application-tpl status=%r",
	    eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_APPLICATION, count_notify, &count_cb, &e));
	eft("create.signal-and-wait status=%r",
	    eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL | EVT_NOTIFY_WAIT, TPL_CALLBACK, count_notify,
				&count_cb, &e));
	eft("create.bad-type status=%r",
	    eft_bs->CreateEvent(0x00100000, 0, NULL, NULL, &e));
	eft("create.null-event status=%r", eft_bs->CreateEvent(0, 0, NULL, NULL, NULL));
	s = eft_bs->CreateEvent(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, count_notify, &count_cb,
				&e);
	eft("create.exit-boot-services status=%r", s);
	if (s == EFI_SUCCESS)
		eft_bs->CloseEvent(e);
	/* §7.1.2: these two types are not for event groups. */
	eft("create-ex.exit-boot-services-group status=%r",
	    eft_bs->CreateEventEx(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, count_notify,
				  &count_cb, &group_guid, &e));
	s = eft_bs->CreateEventEx(0, 0, NULL, NULL, NULL, &e);
	eft("create-ex.no-group status=%r", s);
	if (s == EFI_SUCCESS)
		eft_bs->CloseEvent(e);
}

static void check_signal(void)
{
	EFI_EVENT plain = NULL, cb = NULL, wait = NULL, wait_sig = NULL, n = NULL, c = NULL;
	EFI_STATUS s;

	eft_bs->CreateEvent(0, 0, NULL, NULL, &plain);
	eft("check.unsignalled status=%r", eft_bs->CheckEvent(plain));
	eft("signal status=%r", eft_bs->SignalEvent(plain));
	eft("check.signalled status=%r", eft_bs->CheckEvent(plain));
	eft("check.reset status=%r", eft_bs->CheckEvent(plain));
	eft_bs->SignalEvent(plain);
	eft_bs->SignalEvent(plain);
	s = eft_bs->CheckEvent(plain);
	eft("check.signalled-twice first=%r second=%r", s, eft_bs->CheckEvent(plain));
	eft_bs->CloseEvent(plain);

	/* A notify-signal event runs its function now at TPL_APPLICATION, or when the TPL drops
	 * below its own (§7.1.1). */
	eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, tpl_notify, NULL, &cb);
	eft("check.notify-signal status=%r", eft_bs->CheckEvent(cb));
	eft_bs->SignalEvent(cb);
	eft("notify.immediate runs=%u tpl=%u", (UINT64)count_cb, (UINT64)tpl_seen);
	EFI_TPL old = eft_bs->RaiseTPL(TPL_NOTIFY);
	eft_bs->SignalEvent(cb);
	eft_bs->SignalEvent(cb);
	UINTN before = count_cb;
	eft_bs->RestoreTPL(old);
	eft("notify.deferred runs-before=%u runs-after=%u tpl=%u", (UINT64)before, (UINT64)count_cb,
	    (UINT64)tpl_seen);
	eft_bs->CloseEvent(cb);

	/* Higher TPL notifications run first when the TPL drops (§7.1.8). */
	static const char c_tag = 'C', n_tag = 'N';
	eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, order_notify, (void *)&c_tag, &c);
	eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_NOTIFY, order_notify, (void *)&n_tag, &n);
	old = eft_bs->RaiseTPL(TPL_HIGH_LEVEL);
	eft_bs->SignalEvent(c);
	eft_bs->SignalEvent(n);
	eft_bs->RestoreTPL(old);
	order[order_len] = 0;
	eft("notify.order order=%s", order);
	eft_bs->CloseEvent(c);
	eft_bs->CloseEvent(n);

	/* Wait notifications run from CheckEvent while the event is not signalled (§7.1.9). */
	eft_bs->CreateEvent(EVT_NOTIFY_WAIT, TPL_CALLBACK, count_notify, &count_wait, &wait);
	s = eft_bs->CheckEvent(wait);
	eft("check.notify-wait status=%r runs=%u", s, (UINT64)count_wait);
	eft_bs->CloseEvent(wait);
	count_wait = 0;
	eft_bs->CreateEvent(EVT_NOTIFY_WAIT, TPL_CALLBACK, signalling_notify, NULL, &wait_sig);
	s = eft_bs->CheckEvent(wait_sig);
	eft("check.notify-wait-signals status=%r runs=%u", s, (UINT64)count_wait);
	s = eft_bs->CheckEvent(wait_sig);
	eft("check.notify-wait-signals-again status=%r runs=%u", s, (UINT64)count_wait);
	eft_bs->CloseEvent(wait_sig);
}

static void check_groups(void)
{
	EFI_EVENT g1 = NULL, g2 = NULL, g3 = NULL, solo = NULL;
	EFI_STATUS s;

	s = eft_bs->CreateEventEx(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, count_notify, &count_g1,
				  &group_guid, &g1);
	eft("group.create status=%r", s);
	eft_bs->CreateEventEx(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, count_notify, &count_g2, &group_guid,
			      &g2);
	eft_bs->CreateEventEx(0, 0, NULL, NULL, &group_guid, &g3);
	eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, count_notify, &count_cb, &solo);
	UINTN solo_before = count_cb;

	/* §7.1.2: signalling one member signals the whole group. */
	eft("group.signal status=%r", eft_bs->SignalEvent(g1));
	eft("group.signal g1=%u g2=%u other=%u plain-member=%r", (UINT64)count_g1, (UINT64)count_g2,
	    (UINT64)(count_cb - solo_before), eft_bs->CheckEvent(g3));
	eft_bs->SignalEvent(g3);
	eft("group.signal-plain-member g1=%u g2=%u", (UINT64)count_g1, (UINT64)count_g2);
	eft("group.close status=%r", eft_bs->CloseEvent(g2));
	eft_bs->SignalEvent(g1);
	eft("group.signal-after-close g1=%u g2=%u", (UINT64)count_g1, (UINT64)count_g2);
	eft_bs->CloseEvent(g1);
	eft_bs->CloseEvent(g3);
	eft_bs->CloseEvent(solo);
}

static void check_timers(void)
{
	EFI_EVENT t = NULL, plain = NULL, never = NULL, sig = NULL, tn = NULL;
	EFI_STATUS s;
	UINTN idx;

	s = eft_bs->CreateEvent(EVT_TIMER, 0, NULL, NULL, &t);
	eft("timer.create status=%r", s);
	eft("timer.check-unset status=%r", eft_bs->CheckEvent(t));
	/* 100 ns units: 10 ms. */
	eft("timer.relative status=%r", eft_bs->SetTimer(t, TimerRelative, 100000));
	idx = 99;
	s = eft_bs->WaitForEvent(1, &t, &idx);
	eft("timer.wait status=%r index=%u", s, (UINT64)idx);
	eft("timer.check-after-wait status=%r", eft_bs->CheckEvent(t));
	eft("timer.zero status=%r", eft_bs->SetTimer(t, TimerRelative, 0));
	s = eft_bs->WaitForEvent(1, &t, &idx);
	eft("timer.zero-wait status=%r index=%u", s, (UINT64)idx);
	eft("timer.periodic status=%r", eft_bs->SetTimer(t, TimerPeriodic, 100000));
	s = eft_bs->WaitForEvent(1, &t, &idx);
	EFI_STATUS s2 = eft_bs->WaitForEvent(1, &t, &idx);
	eft("timer.periodic-wait first=%r second=%r", s, s2);
	eft("timer.cancel status=%r", eft_bs->SetTimer(t, TimerCancel, 0));
	eft_bs->Stall(30000);
	eft("timer.cancelled check=%r", eft_bs->CheckEvent(t));
	eft("timer.bad-type status=%r", eft_bs->SetTimer(t, (EFI_TIMER_DELAY)3, 100000));

	eft_bs->CreateEvent(0, 0, NULL, NULL, &plain);
	eft("timer.non-timer-event status=%r", eft_bs->SetTimer(plain, TimerRelative, 100000));

	/* §7.1.5: the index names the first signalled event. */
	eft_bs->CreateEvent(EVT_TIMER, 0, NULL, NULL, &never);
	eft_bs->SignalEvent(plain);
	EFI_EVENT two[2] = { never, plain };
	idx = 99;
	s = eft_bs->WaitForEvent(2, two, &idx);
	eft("wait.second-signalled status=%r index=%u", s, (UINT64)idx);
	eft("wait.zero-events status=%r", eft_bs->WaitForEvent(0, two, &idx));
	eft_bs->CreateEvent(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, count_notify, &count_cb, &sig);
	EFI_EVENT bad[2] = { plain, sig };
	idx = 99;
	s = eft_bs->WaitForEvent(2, bad, &idx);
	eft("wait.notify-signal-event status=%r index=%u", s, (UINT64)idx);
	EFI_TPL old = eft_bs->RaiseTPL(TPL_CALLBACK);
	s = eft_bs->WaitForEvent(1, &t, &idx);
	eft_bs->RestoreTPL(old);
	eft("wait.at-callback status=%r", s);

	/* A timer with a notification function fires while the application busy-waits. */
	eft_bs->CreateEvent(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, count_notify, &count_timer,
			    &tn);
	s = eft_bs->SetTimer(tn, TimerRelative, 100000);
	for (int ms = 0; ms < 2000 && !count_timer; ms++)
		eft_bs->Stall(1000);
	eft("timer.notify status=%r fired=%u", s, (UINT64)count_timer);

	eft("timer.close status=%r", eft_bs->CloseEvent(t));
	eft_bs->CloseEvent(tn);
	eft_bs->CloseEvent(never);
	eft_bs->CloseEvent(plain);
	eft_bs->CloseEvent(sig);
}

static void check_misc(void)
{
	EFI_STATUS s;
	UINT64 a = 0, b = 0;
	UINT32 crc = 0;

	eft("stall status=%r", eft_bs->Stall(1000));
	eft("stall.zero status=%r", eft_bs->Stall(0));
	s = eft_bs->GetNextMonotonicCount(&a);
	EFI_STATUS s2 = eft_bs->GetNextMonotonicCount(&b);
	eft("monotonic status=%r/%r increased=%b", s, s2, b > a);
	eft("monotonic.null status=%r", eft_bs->GetNextMonotonicCount(NULL));

	/* The CRC-32 of "123456789" is the standard check value 0xcbf43926 (§7.5.6, ITU-T V.42). */
	static UINT8 digits[] = "123456789";
	s = eft_bs->CalculateCrc32(digits, 9, &crc);
	eft("crc32 status=%r value=%x", s, (UINT64)crc);
	eft("crc32.zero-size status=%r", eft_bs->CalculateCrc32(digits, 0, &crc));
	eft("crc32.null-data status=%r", eft_bs->CalculateCrc32(NULL, 9, &crc));
	eft("crc32.null-result status=%r", eft_bs->CalculateCrc32(digits, 9, NULL));

	/* CopyMem handles overlap in both directions (§7.5.7: "as if" through a temporary). */
	char buf[12];
	eft_memeq(buf, buf, 0);
	for (int i = 0; i < 10; i++)
		buf[i] = (char)('0' + i);
	buf[10] = 0;
	eft_bs->CopyMem(buf + 2, buf, 8);
	eft("copy-mem.overlap-up result=%s", buf);
	for (int i = 0; i < 10; i++)
		buf[i] = (char)('0' + i);
	eft_bs->CopyMem(buf, buf + 2, 8);
	eft("copy-mem.overlap-down result=%s", buf);
	eft_bs->SetMem(buf + 3, 4, 'x');
	eft("set-mem result=%s", buf);
	static UINT8 page[4096 + 3];
	eft_bs->SetMem(page + 1, 4096, 0x5a);
	int ok = page[0] == 0 && page[4097] == 0;
	for (int i = 1; i <= 4096; i++)
		ok &= page[i] == 0x5a;
	eft("set-mem.page exact=%b", ok);
}

static int table_crc_ok(EFI_TABLE_HEADER *hdr)
{
	UINT32 saved = hdr->CRC32, crc = 0;
	hdr->CRC32 = 0;
	eft_bs->CalculateCrc32(hdr, hdr->HeaderSize, &crc);
	hdr->CRC32 = saved;
	return crc == saved;
}

static int config_table_has(EFI_GUID *g, void *table)
{
	for (UINTN i = 0; i < eft_st->NumberOfTableEntries; i++)
		if (eft_guideq(&eft_st->ConfigurationTable[i].VendorGuid, g))
			return eft_st->ConfigurationTable[i].VendorTable == table ? 1 : 2;
	return 0;
}

static void check_tables(void)
{
	static UINT64 table1, table2;

	eft("systab.header signature=%b revision-2.x=%b crc=%b",
	    eft_st->Hdr.Signature == EFI_SYSTEM_TABLE_SIGNATURE, (eft_st->Hdr.Revision >> 16) == 2,
	    table_crc_ok(&eft_st->Hdr));
	eft("bootservices.header signature=%b crc=%b",
	    eft_bs->Hdr.Signature == EFI_BOOT_SERVICES_SIGNATURE, table_crc_ok(&eft_bs->Hdr));
	eft("runtimeservices.header signature=%b crc=%b",
	    eft_st->RuntimeServices->Hdr.Signature == EFI_RUNTIME_SERVICES_SIGNATURE,
	    table_crc_ok(&eft_st->RuntimeServices->Hdr));

	/* §7.3.14: add, replace, delete; the system table's CRC follows. */
	UINTN n = eft_st->NumberOfTableEntries;
	EFI_STATUS s = eft_bs->InstallConfigurationTable(&guid_a, &table1);
	eft("config-table.add status=%r present=%b one-more=%b crc=%b", s,
	    config_table_has(&guid_a, &table1) == 1, eft_st->NumberOfTableEntries == n + 1,
	    table_crc_ok(&eft_st->Hdr));
	s = eft_bs->InstallConfigurationTable(&guid_a, &table2);
	eft("config-table.replace status=%r present=%b same-count=%b", s,
	    config_table_has(&guid_a, &table2) == 1, eft_st->NumberOfTableEntries == n + 1);
	s = eft_bs->InstallConfigurationTable(&guid_a, NULL);
	eft("config-table.delete status=%r gone=%b count-back=%b crc=%b", s,
	    config_table_has(&guid_a, NULL) == 0, eft_st->NumberOfTableEntries == n,
	    table_crc_ok(&eft_st->Hdr));
	eft("config-table.delete-unknown status=%r",
	    eft_bs->InstallConfigurationTable(&guid_unused, NULL));
	eft("config-table.null-guid status=%r", eft_bs->InstallConfigurationTable(NULL, &table1));
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	eft_begin(image, st, "events");
	check_tpl();
	check_create();
	check_signal();
	check_groups();
	check_timers();
	check_misc();
	check_tables();
	eft_end();
	return EFI_SUCCESS;
}
