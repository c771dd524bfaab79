// SPDX-License-Identifier: MIT
// Event, timer and task priority services (UEFI 2.10 §7.1), Stall/SetWatchdogTimer and the
// monotonic counter (§7.5, §8.4.2).
//
// The shim is single threaded and has no timer interrupt: time is polled. Expired timers are
// signalled whenever time is looked at — in CheckEvent, WaitForEvent, Stall, SetTimer, RestoreTPL
// and poll(), which the system table's thunks call on every boot-service entry. Signalling an
// event queues its notify function; queued notifies run, highest TPL first and in queue order
// within a TPL, as soon as the current TPL drops below theirs — before SignalEvent returns if the
// caller's TPL is lower, otherwise at the RestoreTPL that lowers it (as EDK2 dispatches on lock
// release). Notify functions are EFI code called through their EFIAPI pointer.
//
// Events are opaque EFI_EVENT values: the address of a small record allocated from the pool
// (EfiBootServicesData). Values passed in are only compared against the table, never followed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "efi_shim/efi_types.hpp"
#include "efi_shim/host.hpp"

namespace efikexec::efi {

// Event groups of UEFI 2.10 §7.1.2 (CreateEventEx) that the shim signals or maps.
inline constexpr EFI_GUID kEventGroupExitBootServices = {
    0x27abf055, 0xb1b8, 0x4c26, {0x80, 0x48, 0x74, 0x8f, 0x37, 0xba, 0xa2, 0xdf}};
inline constexpr EFI_GUID kEventGroupBeforeExitBootServices = {
    0x8be0e274, 0x3970, 0x4b44, {0x80, 0xc5, 0x1a, 0xb9, 0x50, 0x2f, 0x3b, 0xfc}};
inline constexpr EFI_GUID kEventGroupVirtualAddressChange = {
    0x13fa7698, 0xc831, 0x49c7, {0x87, 0xea, 0x8f, 0x43, 0xfc, 0xc2, 0x51, 0x96}};
inline constexpr EFI_GUID kEventGroupMemoryMapChange = {
    0x78bee926, 0x692f, 0x48fd, {0x9e, 0xdb, 0x01, 0x42, 0x2e, 0xf0, 0xd7, 0xab}};
inline constexpr EFI_GUID kEventGroupReadyToBoot = {
    0x7ce88fb3, 0x4bd7, 0x4679, {0x87, 0xa8, 0xa8, 0xd8, 0xde, 0xe5, 0x0d, 0x2b}};

class EventManager {
 public:
  static constexpr std::size_t kMaxEvents = 256;
  // OVMF's timer tick (10 ms, in the 100 ns units of SetTimer): the period of a periodic timer
  // armed with TriggerTime 0, and the longest WaitForEvent sleeps before looking again.
  static constexpr UINT64 kTimerTick = 100000;

  // Called by close_event() before the event is freed; the protocol database drops the
  // RegisterProtocolNotify registrations of the event there (EDK2 CoreCloseEvent does the same).
  using CloseHook = void (*)(void* context, EFI_EVENT event);

  // Event records come from `pool`, time from `clock`.
  EventManager(Clock& clock, PoolAllocator& pool) : clock_(clock), pool_(pool) {}
  EventManager(const EventManager&) = delete;
  EventManager& operator=(const EventManager&) = delete;

  void set_close_hook(CloseHook hook, void* context) {
    close_hook_ = hook;
    close_context_ = context;
  }

  // §7.1.8 RaiseTPL. Raising to a lower TPL is a caller bug (EDK2 ASSERTs, then lowers): here the
  // TPL stays where it is and the current TPL is returned, counted in tpl_misuse_count(). A TPL
  // above TPL_HIGH_LEVEL is taken as TPL_HIGH_LEVEL.
  EFI_TPL raise_tpl(EFI_TPL new_tpl);
  // §7.1.9 RestoreTPL. Runs expired timers (below TPL_HIGH_LEVEL) and every queued notify above
  // `old_tpl`, then sets it. "Restoring" to a higher TPL is a bug: ignored and counted.
  void restore_tpl(EFI_TPL old_tpl);
  EFI_TPL current_tpl() const { return tpl_; }
  std::uint64_t tpl_misuse_count() const { return tpl_misuse_; }

  // §7.1.1 CreateEvent / §7.1.2 CreateEventEx, with EDK2's validation: Type must be one of the
  // eight defined combinations; notify events need a NotifyFunction and TPL_CALLBACK or
  // TPL_NOTIFY; EVT_SIGNAL_EXIT_BOOT_SERVICES and EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE join their
  // groups. Virtual-address-change events are accepted but never signalled: SetVirtualAddressMap
  // belongs to the next kernel's runtime-services stubs.
  EFI_STATUS create_event(UINT32 type, EFI_TPL notify_tpl, EFI_EVENT_NOTIFY notify_function,
                          void* notify_context, EFI_EVENT* event);
  EFI_STATUS create_event_ex(UINT32 type, EFI_TPL notify_tpl, EFI_EVENT_NOTIFY notify_function,
                             const void* notify_context, const EFI_GUID* event_group,
                             EFI_EVENT* event);
  // §7.1.7 SetTimer: TriggerTime in 100 ns units; TimerPeriodic with 0 uses kTimerTick.
  EFI_STATUS set_timer(EFI_EVENT event, EFI_TIMER_DELAY type, UINT64 trigger_time);
  // §7.1.5 WaitForEvent: EFI_UNSUPPORTED unless at TPL_APPLICATION; an EVT_NOTIFY_SIGNAL event
  // in the list gives EFI_INVALID_PARAMETER with *Index naming it. Sleeps through
  // Clock::sleep_us until the next timer deadline (at most kTimerTick at a time, so that
  // EVT_NOTIFY_WAIT notifies get polled). Per the specification it waits for as long as it takes:
  // if nothing can ever signal the events, the child's time limit ends the run.
  EFI_STATUS wait_for_event(UINTN number_of_events, EFI_EVENT* events, UINTN* index);
  // §7.1.4 SignalEvent. Signalling an EVT_NOTIFY_SIGNAL member of an event group queues the
  // notify functions of every EVT_NOTIFY_SIGNAL member. UEFI 2.10 §7.1.2 says "all events in the
  // group are signaled"; OVMF reaches only notify-signal members, and a plain or wait-type member
  // is signalled only by itself (tests/conformance/EXPECTED.md): the shim does what OVMF does.
  EFI_STATUS signal_event(EFI_EVENT event);
  // §7.1.3 CloseEvent: cancels its timer, drops a queued notify, frees the record.
  EFI_STATUS close_event(EFI_EVENT event);
  // §7.1.6 CheckEvent.
  EFI_STATUS check_event(EFI_EVENT event);

  // §7.5.2 Stall: sleeps through Clock::sleep_us, firing timers that expire meanwhile.
  EFI_STATUS stall(UINTN microseconds);
  // §7.5.1 SetWatchdogTimer: recorded only. The child's own time limit is the watchdog of a run;
  // a timeout here neither extends nor shortens it. Any WatchdogCode is accepted (as EDK2 does:
  // callers commonly disable with code 0).
  EFI_STATUS set_watchdog_timer(UINTN timeout_seconds, UINT64 watchdog_code, UINTN data_size,
                                const CHAR16* watchdog_data);
  UINTN watchdog_timeout_seconds() const { return watchdog_timeout_; }

  // Fires expired timers and runs queued notifies above the current TPL. The thunks call it on
  // every boot-service entry: it stands in for the timer interrupt.
  void poll();

  // Queues the notify functions of every EVT_NOTIFY_SIGNAL event of `group` and runs those above
  // the current TPL, as EDK2's CoreNotifySignalList; e.g. kEventGroupReadyToBoot.
  void signal_event_group(const EFI_GUID& group);
  // For ExitBootServices (§7.4.6): the first call signals EFI_EVENT_GROUP_BEFORE_EXIT_BOOT_SERVICES
  // (call it on entry, before the map key check, as EDK2 does; later calls do nothing).
  void signal_before_exit_boot_services();
  // Once the map key is accepted: signals EFI_EVENT_GROUP_EXIT_BOOT_SERVICES (which includes
  // EVT_SIGNAL_EXIT_BOOT_SERVICES events), then stops all timers for good.
  void signal_exit_boot_services();
  bool exited_boot_services() const { return exited_; }

  // Whether `event` is a live event of this manager (never dereferences it).
  bool is_event(EFI_EVENT event) const { return find(event) != nullptr; }

 private:
  struct Slot {
    EFI_EVENT handle;  // nullptr: slot free
    std::uint64_t serial;
    UINT32 type;
    EFI_TPL notify_tpl;
    EFI_EVENT_NOTIFY notify_function;
    void* notify_context;
    EFI_GUID group;
    bool in_group;
    bool signaled;
    bool queued;
    std::uint64_t queue_order;
    bool timer_armed;
    UINT64 trigger_time;  // 100 ns units of Clock::monotonic_ns
    UINT64 period;
  };

  Slot* find(EFI_EVENT event);
  const Slot* find(EFI_EVENT event) const;
  std::uint64_t now() const;
  void queue_notify(Slot& slot);
  // Marks signalled and queues the notify; for a notify-signal group member, the group's.
  void signal(Slot& slot);
  void queue_group(const EFI_GUID& group);
  // Runs queued notifies above `level`, then leaves the TPL at `level`.
  void dispatch(EFI_TPL level);
  void fire_expired_timers();
  // Microseconds to sleep while waiting: until the next timer deadline, at most one tick.
  std::uint64_t idle_sleep_us() const;

  Clock& clock_;
  PoolAllocator& pool_;
  std::array<Slot, kMaxEvents> slots_{};
  EFI_TPL tpl_ = TPL_APPLICATION;
  std::uint64_t tpl_misuse_ = 0;
  std::uint64_t next_serial_ = 1;
  std::uint64_t next_queue_order_ = 1;
  CloseHook close_hook_ = nullptr;
  void* close_context_ = nullptr;
  UINTN watchdog_timeout_ = 0;
  bool before_exit_signaled_ = false;
  bool exited_ = false;
};

// GetNextMonotonicCount (§7.5.3) and GetNextHighMonotonicCount (§8.4.2) share one 64-bit
// counter: the low 32 bits count calls, the high 32 bits persist across boots on real firmware
// (EDK2 keeps them in the "MTC" variable and starts one above it). The host seeds the high part
// (e.g. from the machine's MTC variable); nothing is written back.
class MonotonicCounter {
 public:
  explicit MonotonicCounter(std::uint32_t high = 0) : value_(std::uint64_t{high} << 32) {}

  EFI_STATUS get_next_monotonic_count(UINT64* count);
  // Moves to the next high value with the low half reset, as EDK2's driver does.
  EFI_STATUS get_next_high_monotonic_count(UINT32* high_count);

 private:
  std::uint64_t value_;
};

}  // namespace efikexec::efi
