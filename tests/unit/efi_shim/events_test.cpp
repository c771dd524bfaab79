// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "efi_shim/events.hpp"
#include "efi_shim/fakes.hpp"

namespace efikexec::efi {
namespace {

using testing::FakeClock;
using testing::FakePool;

// What notify functions saw, in order: "name@tpl".
struct Log {
  EventManager* events = nullptr;
  std::vector<std::string> calls;
};

struct Notify {
  Log* log;
  const char* name;
  EFI_EVENT signal_on_call = nullptr;  // signalled by the notify function (wait events)
  bool close_self = false;
};

void EFIAPI record(EFI_EVENT event, void* context) {
  auto* notify = static_cast<Notify*>(context);
  notify->log->calls.push_back(std::string(notify->name) + "@" +
                               std::to_string(notify->log->events->current_tpl()));
  if (notify->signal_on_call != nullptr) notify->log->events->signal_event(notify->signal_on_call);
  if (notify->close_self) notify->log->events->close_event(event);
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override { log.events = &events; }
  EFI_EVENT make(UINT32 type, EFI_TPL tpl, Notify* notify, const EFI_GUID* group = nullptr) {
    EFI_EVENT event = nullptr;
    EXPECT_EQ(events.create_event_ex(type, tpl, notify ? record : nullptr, notify, group, &event),
              EFI_SUCCESS);
    return event;
  }

  FakeClock clock;
  FakePool pool;
  EventManager events{clock, pool};
  Log log;
};

TEST_F(EventsTest, RaiseAndRestoreFollowTheRules) {
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_APPLICATION));
  EXPECT_EQ(events.raise_tpl(TPL_NOTIFY), static_cast<EFI_TPL>(TPL_APPLICATION));
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_NOTIFY));
  // Raising to a lower TPL is a caller bug: the TPL stays, the misuse is counted.
  EXPECT_EQ(events.raise_tpl(TPL_CALLBACK), static_cast<EFI_TPL>(TPL_NOTIFY));
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_NOTIFY));
  EXPECT_EQ(events.tpl_misuse_count(), 1u);
  // So is restoring to a higher one.
  events.restore_tpl(TPL_HIGH_LEVEL);
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_NOTIFY));
  EXPECT_EQ(events.tpl_misuse_count(), 2u);
  EXPECT_EQ(events.raise_tpl(99), static_cast<EFI_TPL>(TPL_NOTIFY));
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_HIGH_LEVEL));
  events.restore_tpl(TPL_APPLICATION);
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_APPLICATION));
}

TEST_F(EventsTest, CreateEventValidatesLikeEdk2) {
  EFI_EVENT event = nullptr;
  Notify n{&log, "n"};
  EXPECT_EQ(events.create_event(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, record, &n, nullptr),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.create_event(0x12345678, TPL_CALLBACK, record, &n, &event), EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.create_event(EVT_RUNTIME | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, record, &n, &event),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.create_event(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, nullptr, &n, &event),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.create_event(EVT_NOTIFY_WAIT, TPL_APPLICATION, record, &n, &event),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.create_event(EVT_NOTIFY_WAIT, TPL_HIGH_LEVEL, record, &n, &event),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.create_event(EVT_NOTIFY_WAIT, 12, record, &n, &event), EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.create_event_ex(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK, record, &n,
                                   &kEventGroupReadyToBoot, &event),
            EFI_INVALID_PARAMETER);
  // The EBS group turns a plain event into a notify-signal one that needs a function.
  EXPECT_EQ(events.create_event_ex(0, 0, nullptr, nullptr, &kEventGroupExitBootServices, &event),
            EFI_INVALID_PARAMETER);
  // Non-notify events ignore TPL and function.
  EXPECT_EQ(events.create_event(EVT_TIMER, 77, record, &n, &event), EFI_SUCCESS);
  EXPECT_TRUE(events.is_event(event));
  EXPECT_EQ(pool.live.count(event), 1u);
  EXPECT_EQ(pool.live[event].first, EfiBootServicesData);
}

TEST_F(EventsTest, SignalRunsNotifyAtOnceBelowItsTplAndLaterAbove) {
  Notify n{&log, "n"};
  EFI_EVENT event = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &n);
  EXPECT_EQ(events.signal_event(event), EFI_SUCCESS);
  EXPECT_EQ(log.calls, std::vector<std::string>{"n@8"});
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_APPLICATION));

  EFI_TPL old = events.raise_tpl(TPL_NOTIFY);
  EXPECT_EQ(events.signal_event(event), EFI_SUCCESS);
  EXPECT_EQ(events.signal_event(event), EFI_SUCCESS);  // already signalled: one notify only
  EXPECT_EQ(log.calls.size(), 1u);
  events.restore_tpl(old);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"n@8", "n@8"}));
  EXPECT_EQ(events.signal_event(nullptr), EFI_INVALID_PARAMETER);
  int not_an_event = 0;
  EXPECT_EQ(events.signal_event(&not_an_event), EFI_INVALID_PARAMETER);
}

TEST_F(EventsTest, PendingNotifiesRunHighestTplFirstThenInQueueOrder) {
  Notify a{&log, "a"}, b{&log, "b"}, c{&log, "c"};
  EFI_EVENT ea = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &a);
  EFI_EVENT eb = make(EVT_NOTIFY_SIGNAL, TPL_NOTIFY, &b);
  EFI_EVENT ec = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &c);
  EFI_TPL old = events.raise_tpl(TPL_HIGH_LEVEL);
  events.signal_event(ea);
  events.signal_event(eb);
  events.signal_event(ec);
  EXPECT_TRUE(log.calls.empty());
  // Down to TPL_CALLBACK: only the TPL_NOTIFY one may run.
  events.restore_tpl(TPL_CALLBACK);
  EXPECT_EQ(log.calls, std::vector<std::string>{"b@16"});
  events.restore_tpl(old);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"b@16", "a@8", "c@8"}));
}

TEST_F(EventsTest, CheckEventAndWaitEvents) {
  EFI_EVENT plain = make(0, 0, nullptr);
  EXPECT_EQ(events.check_event(plain), EFI_NOT_READY);
  EXPECT_EQ(events.signal_event(plain), EFI_SUCCESS);
  EXPECT_EQ(events.check_event(plain), EFI_SUCCESS);
  EXPECT_EQ(events.check_event(plain), EFI_NOT_READY);

  Notify s{&log, "s"};
  EFI_EVENT signal_type = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &s);
  EXPECT_EQ(events.check_event(signal_type), EFI_INVALID_PARAMETER);

  // A wait event's notify runs on every check while it is not signalled; this one signals it.
  Notify w{&log, "w"};
  EFI_EVENT wait = make(EVT_NOTIFY_WAIT, TPL_NOTIFY, &w);
  w.signal_on_call = wait;
  EXPECT_EQ(events.check_event(wait), EFI_SUCCESS);
  EXPECT_EQ(log.calls, std::vector<std::string>{"w@16"});
}

TEST_F(EventsTest, WaitForEventChecksTplArgumentsAndReportsTheIndex) {
  EFI_EVENT plain = make(0, 0, nullptr);
  Notify s{&log, "s"};
  EFI_EVENT signal_type = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &s);
  UINTN index = 99;
  EFI_EVENT list[] = {plain, signal_type};
  EXPECT_EQ(events.wait_for_event(0, list, &index), EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.wait_for_event(1, nullptr, &index), EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.wait_for_event(2, list, &index), EFI_INVALID_PARAMETER);
  EXPECT_EQ(index, 1u);
  EFI_TPL old = events.raise_tpl(TPL_CALLBACK);
  EXPECT_EQ(events.wait_for_event(1, list, &index), EFI_UNSUPPORTED);
  events.restore_tpl(old);
}

TEST_F(EventsTest, WaitForEventSleepsUntilATimerFires) {
  EFI_EVENT plain = make(0, 0, nullptr);
  EFI_EVENT timer = make(EVT_TIMER, 0, nullptr);
  ASSERT_EQ(events.set_timer(timer, TimerRelative, 25 * 10000), EFI_SUCCESS);  // 25 ms
  EFI_EVENT list[] = {plain, timer};
  UINTN index = 99;
  std::uint64_t start = clock.now_ns;
  EXPECT_EQ(events.wait_for_event(2, list, &index), EFI_SUCCESS);
  EXPECT_EQ(index, 1u);
  std::uint64_t waited = clock.now_ns - start;
  EXPECT_GE(waited, 25'000'000u);
  EXPECT_LT(waited, 26'000'000u);
  // Never more than one tick per sleep, so wait-type notifies keep being polled.
  EXPECT_GE(clock.sleeps, 3u);
}

TEST_F(EventsTest, WaitForEventPollsWaitNotifies) {
  Notify w{&log, "w"};
  EFI_EVENT wait = make(EVT_NOTIFY_WAIT, TPL_CALLBACK, &w);
  int sleeps = 0;
  clock.on_sleep = [&] {
    if (++sleeps == 3) w.signal_on_call = wait;  // "a key arrives" after 3 ticks
  };
  UINTN index = 99;
  EXPECT_EQ(events.wait_for_event(1, &wait, &index), EFI_SUCCESS);
  EXPECT_EQ(index, 0u);
  EXPECT_EQ(log.calls.size(), 4u);
}

TEST_F(EventsTest, TimersRelativePeriodicAndCancel) {
  Notify p{&log, "p"};
  EFI_EVENT periodic = make(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &p);
  EFI_EVENT plain = make(0, 0, nullptr);
  EXPECT_EQ(events.set_timer(plain, TimerRelative, 10), EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.set_timer(periodic, static_cast<EFI_TIMER_DELAY>(3), 10), EFI_INVALID_PARAMETER);
  EXPECT_EQ(events.set_timer(nullptr, TimerRelative, 10), EFI_INVALID_PARAMETER);

  ASSERT_EQ(events.set_timer(periodic, TimerPeriodic, 10000), EFI_SUCCESS);  // 1 ms
  events.poll();
  EXPECT_TRUE(log.calls.empty());
  clock.now_ns += 1'000'000;
  events.poll();
  EXPECT_EQ(log.calls.size(), 1u);
  clock.now_ns += 1'000'000;
  events.poll();
  EXPECT_EQ(log.calls.size(), 2u);
  // Ten periods missed while nobody polled: one notify, not ten.
  clock.now_ns += 10'000'000;
  events.poll();
  EXPECT_EQ(log.calls.size(), 3u);
  // Timers do not fire at TPL_HIGH_LEVEL, but do when it is restored.
  EFI_TPL old = events.raise_tpl(TPL_HIGH_LEVEL);
  clock.now_ns += 1'000'000;
  events.poll();
  EXPECT_EQ(log.calls.size(), 3u);
  events.restore_tpl(old);
  EXPECT_EQ(log.calls.size(), 4u);
  EXPECT_EQ(events.set_timer(periodic, TimerCancel, 0), EFI_SUCCESS);
  clock.now_ns += 5'000'000;
  events.poll();
  EXPECT_EQ(log.calls.size(), 4u);

  // Relative 0 fires before SetTimer returns, as EDK2 signals its timer check at once.
  Notify r{&log, "r"};
  EFI_EVENT relative = make(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_NOTIFY, &r);
  EXPECT_EQ(events.set_timer(relative, TimerRelative, 0), EFI_SUCCESS);
  EXPECT_EQ(log.calls.back(), "r@16");
  // Periodic 0 means one timer tick.
  EXPECT_EQ(events.set_timer(relative, TimerPeriodic, 0), EFI_SUCCESS);
  std::size_t before = log.calls.size();
  clock.now_ns += EventManager::kTimerTick * 100;
  events.poll();
  EXPECT_EQ(log.calls.size(), before + 1);
}

TEST_F(EventsTest, GroupsReachTheirNotifySignalMembersLikeOvmf) {
  const EFI_GUID group = {0x3a6e8b7c, 0x10d4, 0x4f2e, {0xb1, 0x6c, 0x5e, 0x27, 0x94, 0x0a, 0xd3, 0x01}};
  Notify a{&log, "a"}, b{&log, "b"};
  EFI_EVENT ea = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &a, &group);
  EFI_EVENT eb = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &b, &group);
  EFI_EVENT plain = make(0, 0, nullptr, &group);
  EXPECT_EQ(events.signal_event(ea), EFI_SUCCESS);
  // Newest member first, as EDK2 queues a group.
  EXPECT_EQ(log.calls, (std::vector<std::string>{"b@8", "a@8"}));
  // The plain member is not signalled by the group, and signalling it reaches nobody else.
  EXPECT_EQ(events.check_event(plain), EFI_NOT_READY);
  EXPECT_EQ(events.signal_event(plain), EFI_SUCCESS);
  EXPECT_EQ(log.calls.size(), 2u);
  EXPECT_EQ(events.check_event(plain), EFI_SUCCESS);
  EXPECT_EQ(events.close_event(eb), EFI_SUCCESS);
  events.signal_event_group(group);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"b@8", "a@8", "a@8"}));
  (void)ea;
}

TEST_F(EventsTest, ExitBootServicesGroups) {
  Notify legacy{&log, "legacy"}, modern{&log, "modern"}, before{&log, "before"};
  EFI_EVENT e1 = nullptr;
  ASSERT_EQ(events.create_event(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_NOTIFY, record, &legacy, &e1),
            EFI_SUCCESS);
  make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &modern, &kEventGroupExitBootServices);
  make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &before, &kEventGroupBeforeExitBootServices);
  Notify vam{&log, "vam"};
  EFI_EVENT ev = nullptr;
  ASSERT_EQ(events.create_event(EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE, TPL_NOTIFY, record, &vam, &ev),
            EFI_SUCCESS);
  Notify t{&log, "timer"};
  EFI_EVENT timer = make(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &t);
  events.set_timer(timer, TimerRelative, 100000);

  events.signal_before_exit_boot_services();
  events.signal_before_exit_boot_services();  // a retried ExitBootServices: once only
  EXPECT_EQ(log.calls, std::vector<std::string>{"before@8"});
  events.signal_exit_boot_services();
  EXPECT_EQ(log.calls, (std::vector<std::string>{"before@8", "legacy@16", "modern@8"}));
  EXPECT_TRUE(events.exited_boot_services());
  // No timer fires after ExitBootServices.
  clock.now_ns += 1'000'000'000;
  events.poll();
  EXPECT_EQ(log.calls.size(), 3u);
}

TEST_F(EventsTest, CloseEventFreesRecordCancelsAndCallsTheHook) {
  static std::vector<EFI_EVENT> closed;
  closed.clear();
  events.set_close_hook([](void*, EFI_EVENT event) { closed.push_back(event); }, nullptr);
  Notify n{&log, "n"};
  EFI_EVENT timer = make(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &n);
  events.set_timer(timer, TimerRelative, 1000);
  std::size_t live = pool.live.size();
  EXPECT_EQ(events.close_event(timer), EFI_SUCCESS);
  EXPECT_EQ(pool.live.size(), live - 1);
  EXPECT_EQ(closed, std::vector<EFI_EVENT>{timer});
  EXPECT_FALSE(events.is_event(timer));
  EXPECT_EQ(events.close_event(timer), EFI_INVALID_PARAMETER);
  clock.now_ns += 1'000'000;
  events.poll();
  EXPECT_TRUE(log.calls.empty());

  // A notify function may close its own event (one-shot notifications do).
  Notify once{&log, "once"};
  once.close_self = true;
  EFI_EVENT self = make(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &once);
  EXPECT_EQ(events.signal_event(self), EFI_SUCCESS);
  EXPECT_EQ(log.calls, std::vector<std::string>{"once@8"});
  EXPECT_FALSE(events.is_event(self));
}

TEST_F(EventsTest, RunsOutOfSlotsAndPoolCleanly) {
  std::vector<EFI_EVENT> made;
  EFI_EVENT event = nullptr;
  for (std::size_t i = 0; i < EventManager::kMaxEvents; ++i) {
    ASSERT_EQ(events.create_event(0, 0, nullptr, nullptr, &event), EFI_SUCCESS);
    made.push_back(event);
  }
  EXPECT_EQ(events.create_event(0, 0, nullptr, nullptr, &event), EFI_OUT_OF_RESOURCES);
  EXPECT_EQ(events.close_event(made.back()), EFI_SUCCESS);
  pool.fail_after = 0;
  EXPECT_EQ(events.create_event(0, 0, nullptr, nullptr, &event), EFI_OUT_OF_RESOURCES);
  pool.fail_after = -1;
  EXPECT_EQ(events.create_event(0, 0, nullptr, nullptr, &event), EFI_SUCCESS);
}

TEST_F(EventsTest, StallSleepsAndFiresTimersMeanwhile) {
  Notify n{&log, "n"};
  EFI_EVENT timer = make(EVT_TIMER | EVT_NOTIFY_SIGNAL, TPL_CALLBACK, &n);
  events.set_timer(timer, TimerRelative, 5000);  // 0.5 ms
  std::uint64_t start = clock.now_ns;
  EXPECT_EQ(events.stall(2000), EFI_SUCCESS);
  EXPECT_GE(clock.now_ns - start, 2'000'000u);
  EXPECT_LT(clock.now_ns - start, 2'010'000u);
  EXPECT_EQ(log.calls, std::vector<std::string>{"n@8"});
  std::uint64_t before = clock.now_ns;
  EXPECT_EQ(events.stall(0), EFI_SUCCESS);
  EXPECT_EQ(clock.now_ns, before);
}

TEST_F(EventsTest, WatchdogIsRecorded) {
  EXPECT_EQ(events.set_watchdog_timer(0, 0, 0, nullptr), EFI_SUCCESS);  // OVMF: Success
  EXPECT_EQ(events.set_watchdog_timer(300, 0x10000, 0, nullptr), EFI_SUCCESS);
  EXPECT_EQ(events.watchdog_timeout_seconds(), 300u);
}

TEST(MonotonicCounter, LowHalfCountsHighHalfMovesOn) {
  MonotonicCounter counter(7);
  UINT64 count = 0;
  ASSERT_EQ(counter.get_next_monotonic_count(&count), EFI_SUCCESS);
  EXPECT_EQ(count, 7ull << 32);
  ASSERT_EQ(counter.get_next_monotonic_count(&count), EFI_SUCCESS);
  EXPECT_EQ(count, (7ull << 32) + 1);
  UINT32 high = 0;
  ASSERT_EQ(counter.get_next_high_monotonic_count(&high), EFI_SUCCESS);
  EXPECT_EQ(high, 8u);
  ASSERT_EQ(counter.get_next_monotonic_count(&count), EFI_SUCCESS);
  EXPECT_EQ(count, 8ull << 32);
  EXPECT_EQ(counter.get_next_monotonic_count(nullptr), EFI_INVALID_PARAMETER);
  EXPECT_EQ(counter.get_next_high_monotonic_count(nullptr), EFI_INVALID_PARAMETER);
}

}  // namespace
}  // namespace efikexec::efi
