// SPDX-License-Identifier: MIT
// The members of the uncompressed "newc" cpio archives (magic 070701) in an initrd: what
// systemd-stub packs its credentials, extensions and add-on initrds into (src/boot/cpio.c) before
// the kernel's initramfs unpacker reads them. An initrd concatenates archives, some compressed;
// the scan looks for newc headers anywhere and takes only those that parse, so compressed data is
// passed over. Untrusted bytes: every header field is checked against the input's end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <efikexec/error.hpp>

#include "pe_loader/byte_view.hpp"

namespace efikexec::uki {

struct CpioMember {
  std::string_view name;  // a view into the input, without its NUL
  std::uint32_t mode = 0;
  std::uint64_t offset = 0;  // of its header in the input
  std::uint64_t size = 0;    // of its data
  std::uint64_t data_offset = 0;  // of its data in the input (the header and name before it)
};

// Fills `out` with the members found, in input order, "TRAILER!!!" left out; returns how many.
// kNoMemory when `out` is full before the input ends (the members so far are in `out`).
Result<std::size_t> list_cpio_members(ByteView input, std::span<CpioMember> out);

}  // namespace efikexec::uki
