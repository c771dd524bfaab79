// SPDX-License-Identifier: MIT
// The host boundary of the shim: small interfaces the core calls and the host layer implements
// (Linux in src/kexec, fakes in tests). Nothing here knows it runs in a process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <efikexec/error.hpp>

#include "efi_shim/efi_types.hpp"

namespace efikexec::efi {

// Physical memory as the image sees it. In the host's child process addresses are identity
// mapped (virtual == physical), so `pointer` is the address itself; `back` makes pages usable.
class PhysicalMemory {
 public:
  // Makes [address, address + size) readable and writable (page-aligned, inside RAM).
  virtual Result<void> back(std::uint64_t address, std::uint64_t size) = 0;
  virtual std::byte* pointer(std::uint64_t address) = 0;
  // The inverse of pointer(): the physical address of memory handed to the image.
  virtual std::uint64_t address_of(const void* pointer) = 0;

 protected:
  ~PhysicalMemory() = default;
};

class Clock {
 public:
  virtual std::uint64_t monotonic_ns() = 0;
  // Wall-clock time for GetTime(); false if the host cannot tell.
  virtual bool wall_clock(EFI_TIME& time) = 0;
  // Stall(): waits (or pretends to, in tests) for `microseconds`.
  virtual void sleep_us(std::uint64_t microseconds) = 0;

 protected:
  ~Clock() = default;
};

class Random {
 public:
  virtual bool fill(std::span<std::byte> out) = 0;

 protected:
  ~Random() = default;
};

// Where console output (ConOut, StdErr) goes: UTF-8 text, already converted from UCS-2.
class Console {
 public:
  virtual void write(std::string_view utf8) = 0;

 protected:
  ~Console() = default;
};

// Pool memory for the shim's own results that the image frees with FreePool (for example the
// buffers LocateHandleBuffer and ProtocolsPerHandle return), with FreePool's semantics.
class PoolAllocator {
 public:
  virtual EFI_STATUS allocate_pool(EFI_MEMORY_TYPE type, UINTN size, void** buffer) = 0;
  virtual EFI_STATUS free_pool(void* buffer) = 0;

 protected:
  ~PoolAllocator() = default;
};

// Receives one line per traced service call (`--trace`).
class TraceSink {
 public:
  virtual void line(std::string_view text) = 0;

 protected:
  ~TraceSink() = default;
};

// Enters EFI code and leaves it again (arch/x86_64 in the host; direct calls in tests).
class ImageRunner {
 public:
  // Calls `entry(handle, system_table)`. With `stack_top` non-zero the call runs on that stack
  // (the first image); 0 keeps the current one (a nested StartImage). `frame` receives what
  // exit_to() needs to make this call return.
  virtual EFI_STATUS call_entry(EFI_IMAGE_ENTRY_POINT entry, EFI_HANDLE handle,
                                EFI_SYSTEM_TABLE* system_table, std::uint64_t stack_top,
                                std::uint64_t* frame) = 0;
  // Exit(): abandons the running image; its call_entry returns `status`.
  [[noreturn]] virtual void exit_to(std::uint64_t* frame, EFI_STATUS status) = 0;

 protected:
  ~ImageRunner() = default;
};

// Where a run ends other than by returning: the host records how.
class RunEndSink {
 public:
  // ExitBootServices() accepted the map key and the tables are in their after-handoff state.
  // A host that captured the image's state (the confined child) ends the run here and never
  // returns; a host that returns lets ExitBootServices() return EFI_SUCCESS to the image, which
  // goes on to start its kernel (bare metal, where the image already runs in ring 0).
  virtual void boot_services_exited(EFI_HANDLE image) = 0;
  // The image asked for something that ends the run (ResetSystem, an impossible request).
  [[noreturn]] virtual void end_run(const char* reason, EFI_STATUS status) = 0;

 protected:
  ~RunEndSink() = default;
};

}  // namespace efikexec::efi
