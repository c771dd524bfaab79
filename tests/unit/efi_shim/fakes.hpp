// SPDX-License-Identifier: MIT
// Host fakes for the shim's unit tests: a clock whose time moves only when slept on, and a pool
// on malloc that keeps track of what is live and can be told to fail.
#pragma once

#include <cstdlib>
#include <functional>
#include <map>
#include <utility>

#include "efi_shim/host.hpp"

namespace efikexec::testing {

class FakeClock final : public efi::Clock {
 public:
  std::uint64_t monotonic_ns() override { return now_ns; }
  bool wall_clock(EFI_TIME& time) override {
    if (!has_wall_clock) return false;
    time = wall;
    return true;
  }
  void sleep_us(std::uint64_t microseconds) override {
    now_ns += microseconds * 1000;
    slept_us += microseconds;
    ++sleeps;
    if (on_sleep) on_sleep();
  }

  std::uint64_t now_ns = 1'000'000'000;
  std::uint64_t slept_us = 0;
  std::uint64_t sleeps = 0;
  bool has_wall_clock = true;
  EFI_TIME wall{2025, 6, 30, 12, 34, 56, 0, 0, EFI_UNSPECIFIED_TIMEZONE, 0, 0};
  // Runs after every sleep: lets a test make something happen "meanwhile".
  std::function<void()> on_sleep;
};

class FakePool final : public efi::PoolAllocator {
 public:
  FakePool() = default;
  FakePool(const FakePool&) = delete;
  FakePool& operator=(const FakePool&) = delete;
  ~FakePool() {
    for (auto& [buffer, info] : live) std::free(buffer);
  }

  EFI_STATUS allocate_pool(EFI_MEMORY_TYPE type, UINTN size, void** buffer) override {
    if (buffer == nullptr) return EFI_INVALID_PARAMETER;
    if (fail_after == 0) return EFI_OUT_OF_RESOURCES;
    if (fail_after > 0) --fail_after;
    // EFI pool memory is 8-byte aligned; malloc gives at least that.
    void* memory = std::malloc(size == 0 ? 1 : size);
    live[memory] = {type, size};
    ++allocations;
    *buffer = memory;
    return EFI_SUCCESS;
  }
  EFI_STATUS free_pool(void* buffer) override {
    auto it = live.find(buffer);
    if (it == live.end()) return EFI_INVALID_PARAMETER;
    std::free(buffer);
    live.erase(it);
    return EFI_SUCCESS;
  }

  std::map<void*, std::pair<EFI_MEMORY_TYPE, UINTN>> live;
  std::size_t allocations = 0;
  // Allocations left before allocate_pool fails; negative: never fails.
  int fail_after = -1;
};

}  // namespace efikexec::testing
