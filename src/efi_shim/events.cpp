// SPDX-License-Identifier: MIT
#include "efi_shim/events.hpp"

#include <cstring>

namespace efikexec::efi {

namespace {

// The Type values CreateEvent accepts (EDK2's mEventTable; UEFI 2.10 §7.1.1 lists the flags).
constexpr UINT32 kValidEventTypes[] = {
    EVT_TIMER | EVT_NOTIFY_SIGNAL, EVT_TIMER,       EVT_NOTIFY_WAIT,
    EVT_NOTIFY_SIGNAL,             EVT_SIGNAL_EXIT_BOOT_SERVICES,
    EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE, 0,           EVT_TIMER | EVT_NOTIFY_WAIT,
};

// What the record behind an EFI_EVENT holds: nothing the shim reads back.
struct EventRecord {
  std::uint64_t signature;
  std::uint64_t serial;
};
constexpr std::uint64_t kEventSignature = 0x544e564545464b45;  // "EKFEEVNT"

constexpr UINT64 saturating_add(UINT64 a, UINT64 b) {
  UINT64 sum;
  return __builtin_add_overflow(a, b, &sum) ? ~UINT64{0} : sum;
}

}  // namespace

EventManager::Slot* EventManager::find(EFI_EVENT event) {
  if (event == nullptr) return nullptr;
  for (Slot& slot : slots_)
    if (slot.handle == event) return &slot;
  return nullptr;
}

const EventManager::Slot* EventManager::find(EFI_EVENT event) const {
  return const_cast<EventManager*>(this)->find(event);
}

std::uint64_t EventManager::now() const { return clock_.monotonic_ns() / 100; }

EFI_TPL EventManager::raise_tpl(EFI_TPL new_tpl) {
  EFI_TPL old = tpl_;
  if (new_tpl > TPL_HIGH_LEVEL) {
    ++tpl_misuse_;
    new_tpl = TPL_HIGH_LEVEL;
  }
  if (new_tpl < old) {
    ++tpl_misuse_;
    return old;
  }
  tpl_ = new_tpl;
  return old;
}

void EventManager::restore_tpl(EFI_TPL old_tpl) {
  if (old_tpl > tpl_) {
    ++tpl_misuse_;
    return;
  }
  if (old_tpl < TPL_HIGH_LEVEL && !exited_) fire_expired_timers();
  dispatch(old_tpl);
}

EFI_STATUS EventManager::create_event(UINT32 type, EFI_TPL notify_tpl,
                                      EFI_EVENT_NOTIFY notify_function, void* notify_context,
                                      EFI_EVENT* event) {
  return create_event_ex(type, notify_tpl, notify_function, notify_context, nullptr, event);
}

EFI_STATUS EventManager::create_event_ex(UINT32 type, EFI_TPL notify_tpl,
                                         EFI_EVENT_NOTIFY notify_function,
                                         const void* notify_context, const EFI_GUID* event_group,
                                         EFI_EVENT* event) {
  if (event == nullptr) return EFI_INVALID_PARAMETER;
  bool valid_type = false;
  for (UINT32 valid : kValidEventTypes) valid_type |= type == valid;
  if (!valid_type) return EFI_INVALID_PARAMETER;

  // The exit-boot-services and virtual-address-change types and groups are two spellings of the
  // same thing (§7.1.2); a group given together with such a type is refused, as in EDK2.
  EFI_GUID group{};
  bool in_group = false;
  if (event_group != nullptr) {
    if (type == EVT_SIGNAL_EXIT_BOOT_SERVICES || type == EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE)
      return EFI_INVALID_PARAMETER;
    group = *event_group;
    in_group = true;
    if (guid_equal(group, kEventGroupExitBootServices)) type = EVT_SIGNAL_EXIT_BOOT_SERVICES;
    else if (guid_equal(group, kEventGroupVirtualAddressChange))
      type = EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE;
  } else if (type == EVT_SIGNAL_EXIT_BOOT_SERVICES) {
    group = kEventGroupExitBootServices;
    in_group = true;
  } else if (type == EVT_SIGNAL_VIRTUAL_ADDRESS_CHANGE) {
    group = kEventGroupVirtualAddressChange;
    in_group = true;
  }

  if ((type & (EVT_NOTIFY_WAIT | EVT_NOTIFY_SIGNAL)) != 0) {
    // EDK2 accepts exactly TPL_CALLBACK and TPL_NOTIFY for notify functions.
    if (notify_function == nullptr || (notify_tpl != TPL_CALLBACK && notify_tpl != TPL_NOTIFY))
      return EFI_INVALID_PARAMETER;
  } else {
    notify_tpl = 0;
    notify_function = nullptr;
    notify_context = nullptr;
  }

  Slot* free = nullptr;
  for (Slot& slot : slots_) {
    if (slot.handle == nullptr) {
      free = &slot;
      break;
    }
  }
  if (free == nullptr) return EFI_OUT_OF_RESOURCES;
  void* record = nullptr;
  if (pool_.allocate_pool(EfiBootServicesData, sizeof(EventRecord), &record) != EFI_SUCCESS ||
      record == nullptr)
    return EFI_OUT_OF_RESOURCES;
  std::uint64_t serial = next_serial_++;
  EventRecord contents{kEventSignature, serial};
  std::memcpy(record, &contents, sizeof(contents));

  *free = Slot{};
  free->handle = record;
  free->serial = serial;
  free->type = type;
  free->notify_tpl = notify_tpl;
  free->notify_function = notify_function;
  free->notify_context = const_cast<void*>(notify_context);
  free->group = group;
  free->in_group = in_group;
  *event = record;
  return EFI_SUCCESS;
}

EFI_STATUS EventManager::set_timer(EFI_EVENT event, EFI_TIMER_DELAY type, UINT64 trigger_time) {
  Slot* slot = find(event);
  if (slot == nullptr || static_cast<UINT32>(type) > TimerRelative ||
      (slot->type & EVT_TIMER) == 0)
    return EFI_INVALID_PARAMETER;
  slot->timer_armed = false;
  slot->period = 0;
  if (type == TimerCancel) return EFI_SUCCESS;
  if (type == TimerPeriodic) {
    if (trigger_time == 0) trigger_time = kTimerTick;
    slot->period = trigger_time;
  }
  slot->trigger_time = saturating_add(now(), trigger_time);
  slot->timer_armed = !exited_;
  // A relative timer of 0 fires at the next tick; EDK2 signals its timer check right away.
  poll();
  return EFI_SUCCESS;
}

EFI_STATUS EventManager::wait_for_event(UINTN number_of_events, EFI_EVENT* events, UINTN* index) {
  if (tpl_ != TPL_APPLICATION) return EFI_UNSUPPORTED;
  if (number_of_events == 0 || events == nullptr) return EFI_INVALID_PARAMETER;
  for (;;) {
    for (UINTN i = 0; i < number_of_events; ++i) {
      EFI_STATUS status = check_event(events[i]);
      if (status != EFI_NOT_READY) {
        if (index != nullptr) *index = i;
        return status;
      }
    }
    clock_.sleep_us(idle_sleep_us());
  }
}

EFI_STATUS EventManager::signal_event(EFI_EVENT event) {
  Slot* slot = find(event);
  if (slot == nullptr) return EFI_INVALID_PARAMETER;
  if (!slot->signaled) signal(*slot);
  dispatch(tpl_);
  return EFI_SUCCESS;
}

EFI_STATUS EventManager::close_event(EFI_EVENT event) {
  Slot* slot = find(event);
  if (slot == nullptr) return EFI_INVALID_PARAMETER;
  // Forget the event first: a hook or a failing free must not leave a half-closed event behind.
  *slot = Slot{};
  if (close_hook_ != nullptr) close_hook_(close_context_, event);
  return pool_.free_pool(event);
}

EFI_STATUS EventManager::check_event(EFI_EVENT event) {
  Slot* slot = find(event);
  if (slot == nullptr || (slot->type & EVT_NOTIFY_SIGNAL) != 0) return EFI_INVALID_PARAMETER;
  // Notifies run by poll() may close the event: every callback is followed by a new lookup.
  poll();
  slot = find(event);
  if (slot == nullptr) return EFI_NOT_READY;
  // A wait-type event runs its notify function while it is not signalled (§7.1.6); the
  // function may signal it.
  if (!slot->signaled && (slot->type & EVT_NOTIFY_WAIT) != 0) {
    queue_notify(*slot);
    dispatch(tpl_);
    slot = find(event);
    if (slot == nullptr) return EFI_NOT_READY;
  }
  if (!slot->signaled) return EFI_NOT_READY;
  slot->signaled = false;
  return EFI_SUCCESS;
}

EFI_STATUS EventManager::stall(UINTN microseconds) {
  UINT64 deadline = saturating_add(now(), microseconds > ~UINT64{0} / 10 ? ~UINT64{0}
                                                                          : microseconds * 10);
  for (;;) {
    poll();
    UINT64 current = now();
    if (current >= deadline) return EFI_SUCCESS;
    UINT64 sleep_us = (deadline - current + 9) / 10;
    UINT64 until_timer = idle_sleep_us();
    clock_.sleep_us(until_timer < sleep_us ? until_timer : sleep_us);
  }
}

EFI_STATUS EventManager::set_watchdog_timer(UINTN timeout_seconds, UINT64, UINTN, const CHAR16*) {
  watchdog_timeout_ = timeout_seconds;
  return EFI_SUCCESS;
}

void EventManager::poll() {
  if (tpl_ < TPL_HIGH_LEVEL && !exited_) fire_expired_timers();
  dispatch(tpl_);
}

void EventManager::signal_event_group(const EFI_GUID& group) {
  queue_group(group);
  dispatch(tpl_);
}

void EventManager::signal_before_exit_boot_services() {
  if (before_exit_signaled_) return;
  before_exit_signaled_ = true;
  signal_event_group(kEventGroupBeforeExitBootServices);
}

void EventManager::signal_exit_boot_services() {
  signal_event_group(kEventGroupExitBootServices);
  exited_ = true;
  for (Slot& slot : slots_) slot.timer_armed = false;
}

void EventManager::queue_notify(Slot& slot) {
  // Queued again at the tail when already queued, as EDK2's CoreNotifyEvent does.
  slot.queued = true;
  slot.queue_order = next_queue_order_++;
}

void EventManager::signal(Slot& slot) {
  slot.signaled = true;
  if ((slot.type & EVT_NOTIFY_SIGNAL) == 0) return;
  if (slot.in_group) queue_group(slot.group);
  else queue_notify(slot);
}

void EventManager::queue_group(const EFI_GUID& group) {
  // Only notify-signal members hear the group, as in EDK2 (its signal list holds only those).
  // Newest first, as EDK2 builds that list by inserting at the head: same notify order as OVMF.
  std::uint64_t below = ~std::uint64_t{0};
  for (;;) {
    Slot* newest = nullptr;
    for (Slot& slot : slots_) {
      if (slot.handle == nullptr || !slot.in_group || slot.serial >= below ||
          (slot.type & EVT_NOTIFY_SIGNAL) == 0 || !guid_equal(slot.group, group))
        continue;
      if (newest == nullptr || slot.serial > newest->serial) newest = &slot;
    }
    if (newest == nullptr) return;
    below = newest->serial;
    queue_notify(*newest);
  }
}

void EventManager::dispatch(EFI_TPL level) {
  for (;;) {
    Slot* next = nullptr;
    for (Slot& slot : slots_) {
      if (slot.handle == nullptr || !slot.queued || slot.notify_tpl <= level) continue;
      if (next == nullptr || slot.notify_tpl > next->notify_tpl ||
          (slot.notify_tpl == next->notify_tpl && slot.queue_order < next->queue_order))
        next = &slot;
    }
    if (next == nullptr) break;
    next->queued = false;
    // Only signal-type events are reset here; wait-type ones stay signalled until checked.
    if ((next->type & EVT_NOTIFY_SIGNAL) != 0) next->signaled = false;
    tpl_ = next->notify_tpl;
    // Copied out: the notify function may close the event or create others in its slot.
    EFI_EVENT_NOTIFY function = next->notify_function;
    EFI_EVENT handle = next->handle;
    void* context = next->notify_context;
    function(handle, context);
  }
  tpl_ = level;
}

void EventManager::fire_expired_timers() {
  UINT64 current = now();
  for (;;) {
    // Earliest deadline first, as EDK2's sorted timer list.
    Slot* expired = nullptr;
    for (Slot& slot : slots_) {
      if (slot.handle == nullptr || !slot.timer_armed || slot.trigger_time > current) continue;
      if (expired == nullptr || slot.trigger_time < expired->trigger_time) expired = &slot;
    }
    if (expired == nullptr) return;
    if (expired->period != 0) {
      // Periods missed while nobody looked at the time are skipped, not fired in a burst.
      UINT64 next = saturating_add(expired->trigger_time, expired->period);
      expired->trigger_time = next > current ? next : saturating_add(current, expired->period);
    } else {
      expired->timer_armed = false;
    }
    signal(*expired);
  }
}

std::uint64_t EventManager::idle_sleep_us() const {
  constexpr std::uint64_t kTickUs = kTimerTick / 10;
  UINT64 current = now();
  std::uint64_t sleep = kTickUs;
  for (const Slot& slot : slots_) {
    if (slot.handle == nullptr || !slot.timer_armed) continue;
    std::uint64_t until = slot.trigger_time > current ? (slot.trigger_time - current + 9) / 10 : 0;
    if (until < sleep) sleep = until;
  }
  return sleep == 0 ? 1 : sleep;
}

EFI_STATUS MonotonicCounter::get_next_monotonic_count(UINT64* count) {
  if (count == nullptr) return EFI_INVALID_PARAMETER;
  *count = value_++;
  return EFI_SUCCESS;
}

EFI_STATUS MonotonicCounter::get_next_high_monotonic_count(UINT32* high_count) {
  if (high_count == nullptr) return EFI_INVALID_PARAMETER;
  auto high = static_cast<UINT32>((value_ >> 32) + 1);
  value_ = std::uint64_t{high} << 32;
  *high_count = high;
  return EFI_SUCCESS;
}

}  // namespace efikexec::efi
