// SPDX-License-Identifier: MIT
#include "efi_shim/memory.hpp"

#include <cstring>

#include "pe_loader/byte_view.hpp"

namespace efikexec::efi {

namespace {

// UEFI 2.10 §7.2.1 adds two types after EfiPalCode that gnu-efi does not spell.
constexpr std::uint32_t kPersistentMemory = 14;
constexpr std::uint32_t kUnacceptedMemory = 15;
constexpr std::uint32_t kMaxMemoryType = 16;
constexpr std::uint32_t kOemTypesStart = 0x70000000;

// A pool block header, written in front of each block inside pool chunks (EDK2 and U-Boot do
// the same): FreePool checks it, so a pointer that was not allocated is refused, not followed.
struct PoolHeader {
  std::uint32_t magic;
  std::uint32_t type;
  std::uint64_t block_size;  // header included; multiple of kPoolAlignment
  std::uint64_t requested;
  std::uint64_t reserved;
};
constexpr std::uint64_t kPoolHeaderSize = sizeof(PoolHeader);
static_assert(kPoolHeaderSize == 32);
constexpr std::uint32_t kPoolUsed = 0x45535550;  // "PUSE"
constexpr std::uint32_t kPoolFree = 0x45524650;  // "PFRE"
constexpr std::uint64_t kPoolAlignment = 16;
constexpr std::uint64_t kPoolChunkPages = 16;
constexpr std::uint64_t kPoolChunkBytes = kPoolChunkPages * kPageSize;

// UEFI 2.10 §7.2.1 AllocatePages: types that may not be asked for.
bool is_allocatable_type(std::uint32_t type) {
  if (type >= kOemTypesStart) return true;
  return type < kMaxMemoryType && type != EfiConventionalMemory && type != kPersistentMemory &&
         type != kUnacceptedMemory;
}

bool same_kind(const MemoryRange& a, const MemoryRange& b) {
  return a.type == b.type && a.attribute == b.attribute && a.allocated == b.allocated &&
         (a.virtual_start == 0) == (b.virtual_start == 0);
}

// True when b continues a without a break, physically and (if they have one) virtually.
bool continues(const MemoryRange& a, const MemoryRange& b) {
  return a.end() == b.start &&
         (a.virtual_start == 0 || a.virtual_start + pages_to_bytes(a.pages) == b.virtual_start);
}

}  // namespace

const char* memory_type_name(std::uint32_t type) {
  static constexpr const char* kNames[] = {
      "Reserved",       "LoaderCode",          "LoaderData",          "BootServicesCode",
      "BootServicesData", "RuntimeServicesCode", "RuntimeServicesData", "Conventional",
      "Unusable",       "ACPIReclaim",         "ACPINVS",             "MMIO",
      "MMIOPortSpace",  "PalCode",             "Persistent",          "Unaccepted"};
  if (type < kMaxMemoryType) return kNames[type];
  return type >= 0x80000000 ? "OSReserved" : type >= kOemTypesStart ? "OEMReserved" : "Invalid";
}

bool is_runtime_type(std::uint32_t type) {
  return type == EfiRuntimeServicesCode || type == EfiRuntimeServicesData;
}

Result<void> MemoryManager::init(std::span<const MemoryRange> machine, PhysicalMemory& memory) {
  memory_ = &memory;
  ranges_.clear();
  chunks_.clear();
  identity_virtual_ = false;
  for (const MemoryRange& range : machine) {
    if (range.start % kPageSize != 0 || range.pages == 0 || range.virtual_start % kPageSize != 0)
      return fail(ErrorCode::kInvalidArgument, "machine memory range not page aligned",
                  range.start);
    if (range.virtual_start != 0) {
      if (!checked_add(range.virtual_start, pages_to_bytes(range.pages)))
        return fail(ErrorCode::kOverflow, "machine memory range wraps", range.start);
      identity_virtual_ = true;
    }
    if (!checked_add(range.start, pages_to_bytes(range.pages)))
      return fail(ErrorCode::kOverflow, "machine memory range wraps", range.start);
    std::size_t at = 0;
    while (at < ranges_.size() && ranges_[at].start < range.start) ++at;
    if ((at > 0 && ranges_[at - 1].end() > range.start) ||
        (at < ranges_.size() && range.end() > ranges_[at].start))
      return fail(ErrorCode::kOverlap, "machine memory ranges overlap", range.start);
    MemoryRange copy = range;
    copy.allocated = false;
    if (!ranges_.insert(at, copy))
      return fail(ErrorCode::kNoMemory, "too many machine memory ranges");
  }
  coalesce();
  map_key_ = 1;
  return {};
}

const MemoryRange* MemoryManager::find(std::uint64_t address) const {
  for (const MemoryRange& range : ranges_)
    if (address >= range.start && address < range.end()) return &range;
  return nullptr;
}

bool MemoryManager::is_allocated(std::uint64_t address, std::uint64_t size) const {
  auto end = checked_add(address, size);
  if (!end) return false;
  std::uint64_t cursor = address;
  while (cursor < *end || (size == 0 && cursor == address)) {
    const MemoryRange* range = find(cursor);
    if (range == nullptr || !range->allocated) return false;
    if (size == 0) return true;
    cursor = range->end();
  }
  return true;
}

bool MemoryManager::find_free_below(std::uint64_t pages, std::uint64_t floor,
                                    std::uint64_t ceiling, std::uint64_t* address) const {
  const std::uint64_t bytes = pages_to_bytes(pages);
  for (std::size_t i = ranges_.size(); i-- > 0;) {
    const MemoryRange& range = ranges_[i];
    if (range.type != EfiConventionalMemory) continue;
    std::uint64_t top = range.end() < ceiling ? range.end() : ceiling;
    top &= ~(kPageSize - 1);
    std::uint64_t bottom = range.start > floor ? range.start : floor;
    if (top <= bottom || top - bottom < bytes) continue;
    *address = top - bytes;
    return true;
  }
  return false;
}

bool MemoryManager::find_free(EFI_ALLOCATE_TYPE kind, std::uint64_t pages, std::uint64_t limit,
                              std::uint64_t* address) const {
  const std::uint64_t bytes = pages_to_bytes(pages);
  switch (kind) {
    case AllocateAddress: {
      auto end = checked_add(limit, bytes);
      if (!end || limit < kLowestAllocation) return false;
      for (std::uint64_t cursor = limit; cursor < *end;) {
        const MemoryRange* range = find(cursor);
        if (range == nullptr || range->type != EfiConventionalMemory) return false;
        cursor = range->end();
      }
      *address = limit;
      return true;
    }
    case AllocateMaxAddress: {
      auto ceiling = checked_add(limit, 1);
      return find_free_below(pages, kLowestAllocation, ceiling ? *ceiling : ~std::uint64_t{0},
                             address);
    }
    default:
      return find_free_below(pages, kLowestAllocation, kPreferredCeiling, address) ||
             find_free_below(pages, kPreferredCeiling, ~std::uint64_t{0}, address);
  }
}

void MemoryManager::coalesce() {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < ranges_.size(); ++i) {
    if (kept > 0 && same_kind(ranges_[kept - 1], ranges_[i]) &&
        continues(ranges_[kept - 1], ranges_[i])) {
      ranges_[kept - 1].pages += ranges_[i].pages;
      continue;
    }
    ranges_[kept++] = ranges_[i];
  }
  ranges_.truncate(kept);
}

EFI_STATUS MemoryManager::convert(std::uint64_t start, std::uint64_t pages, std::uint32_t type,
                                  bool allocated) {
  const std::uint64_t end = start + pages_to_bytes(pages);
  // Split the ranges that straddle either boundary, then retype everything in between.
  for (std::uint64_t boundary : {start, end}) {
    for (std::size_t i = 0; i < ranges_.size(); ++i) {
      MemoryRange& range = ranges_[i];
      if (boundary <= range.start || boundary >= range.end()) continue;
      MemoryRange upper = range;
      upper.start = boundary;
      upper.pages = (range.end() - boundary) / kPageSize;
      if (range.virtual_start != 0) upper.virtual_start += boundary - range.start;
      range.pages = (boundary - range.start) / kPageSize;
      if (!ranges_.insert(i + 1, upper)) return EFI_OUT_OF_RESOURCES;
      break;
    }
  }
  for (MemoryRange& range : ranges_) {
    if (range.start < start || range.end() > end) continue;
    range.type = type;
    range.allocated = allocated;
    range.attribute = is_runtime_type(type) ? range.attribute | EFI_MEMORY_RUNTIME
                                            : range.attribute & ~EFI_MEMORY_RUNTIME;
  }
  coalesce();
  ++map_key_;
  return EFI_SUCCESS;
}

EFI_STATUS MemoryManager::claim(EFI_ALLOCATE_TYPE kind, std::uint32_t type, std::uint64_t pages,
                                std::uint64_t limit_or_address, std::uint64_t* address) {
  if (!find_free(kind, pages, limit_or_address, address))
    return kind == AllocateAddress ? EFI_NOT_FOUND : EFI_OUT_OF_RESOURCES;
  // The splits may need two more table entries; refuse before changing anything.
  if (ranges_.size() + 2 > ranges_.capacity()) return EFI_OUT_OF_RESOURCES;
  if (!memory_->back(*address, pages_to_bytes(pages))) return EFI_OUT_OF_RESOURCES;
  const EFI_STATUS status = convert(*address, pages, type, true);
  if (status == EFI_SUCCESS && !allocations_.push_back({*address, pages}))
    allocations_complete_ = false;
  return status;
}

void MemoryManager::forget_allocations(std::uint64_t start, std::uint64_t end) {
  const std::size_t count = allocations_.size();
  for (std::size_t i = 0; i < count; ++i) {
    Allocation& allocation = allocations_[i];
    const std::uint64_t allocation_end = allocation.start + pages_to_bytes(allocation.pages);
    if (allocation_end <= start || allocation.start >= end) continue;
    // What is left outside [start, end): the part before stays here, the part after goes last.
    if (allocation_end > end && !allocations_.push_back({end, (allocation_end - end) / kPageSize}))
      allocations_complete_ = false;
    allocation.pages = allocation.start < start ? (start - allocation.start) / kPageSize : 0;
  }
  allocations_.erase_if([](const Allocation& allocation) { return allocation.pages == 0; });
}

EFI_STATUS MemoryManager::allocate_pages(EFI_ALLOCATE_TYPE kind, EFI_MEMORY_TYPE type,
                                         UINTN pages, EFI_PHYSICAL_ADDRESS* address) {
  if (address == nullptr || kind >= MaxAllocateType || !is_allocatable_type(type))
    return EFI_INVALID_PARAMETER;
  if (pages == 0 || !checked_mul(pages, kPageSize)) return EFI_OUT_OF_RESOURCES;
  if (kind == AllocateAddress && *address % kPageSize != 0) return EFI_NOT_FOUND;
  std::uint64_t found = 0;
  EFI_STATUS status = claim(kind, type, pages, kind == AllocateAnyPages ? 0 : *address, &found);
  if (status == EFI_SUCCESS) *address = found;
  return status;
}

EFI_STATUS MemoryManager::free_pages(EFI_PHYSICAL_ADDRESS address, UINTN pages) {
  if (address % kPageSize != 0) return EFI_INVALID_PARAMETER;
  auto bytes = checked_mul(pages, kPageSize);
  if (pages == 0 || !bytes || !is_allocated(address, *bytes)) return EFI_NOT_FOUND;
  if (ranges_.size() + 2 > ranges_.capacity()) return EFI_OUT_OF_RESOURCES;
  const MemoryRange* first = find(address);
  const std::uint64_t attribute = first->attribute & ~EFI_MEMORY_RUNTIME;
  EFI_STATUS status = convert(address, pages, EfiConventionalMemory, false);
  if (status == EFI_SUCCESS) forget_allocations(address, address + *bytes);
  // Freed pages return to the attributes of the RAM they came from.
  for (MemoryRange& range : ranges_)
    if (range.start >= address && range.end() <= address + *bytes) range.attribute = attribute;
  coalesce();
  return status;
}

EFI_STATUS MemoryManager::get_memory_map(UINTN* map_size, EFI_MEMORY_DESCRIPTOR* map,
                                         UINTN* map_key, UINTN* descriptor_size,
                                         UINT32* descriptor_version) const {
  if (map_size == nullptr) return EFI_INVALID_PARAMETER;
  // Linux sizes its buffer from DescriptorSize returned with EFI_BUFFER_TOO_SMALL: set it first.
  if (descriptor_size != nullptr) *descriptor_size = kDescriptorSize;
  if (descriptor_version != nullptr) *descriptor_version = EFI_MEMORY_DESCRIPTOR_VERSION;
  const UINTN needed = ranges_.size() * kDescriptorSize;
  if (*map_size < needed) {
    *map_size = needed;
    return EFI_BUFFER_TOO_SMALL;
  }
  if (map == nullptr) return EFI_INVALID_PARAMETER;
  auto* out = reinterpret_cast<std::byte*>(map);
  for (const MemoryRange& range : ranges_) {
    EFI_MEMORY_DESCRIPTOR descriptor{};
    descriptor.Type = range.type;
    descriptor.PhysicalStart = range.start;
    descriptor.VirtualStart = range.virtual_start != 0 ? range.virtual_start
                              : identity_virtual_     ? range.start
                                                      : 0;
    descriptor.NumberOfPages = range.pages;
    descriptor.Attribute = range.attribute;
    std::memset(out, 0, kDescriptorSize);
    std::memcpy(out, &descriptor, sizeof descriptor);
    out += kDescriptorSize;
  }
  *map_size = needed;
  if (map_key != nullptr) *map_key = map_key_;
  return EFI_SUCCESS;
}

const MemoryManager::PoolChunk* MemoryManager::chunk_of(std::uint64_t address) const {
  for (const PoolChunk& chunk : chunks_)
    if (address >= chunk.start && address < chunk.start + pages_to_bytes(chunk.pages))
      return &chunk;
  return nullptr;
}

// First fit over the blocks of one chunk; splits the block it takes when the rest is useful.
void* MemoryManager::allocate_in_chunk(const PoolChunk& chunk, std::uint64_t size) {
  const std::uint64_t need = kPoolHeaderSize + size;
  const std::uint64_t chunk_end = chunk.start + pages_to_bytes(chunk.pages);
  for (std::uint64_t at = chunk.start; at < chunk_end;) {
    PoolHeader header;
    std::memcpy(&header, memory_->pointer(at), sizeof header);
    if (header.block_size < kPoolHeaderSize || header.block_size > chunk_end - at) return nullptr;
    if (header.magic == kPoolFree && header.block_size >= need) {
      if (header.block_size - need >= kPoolHeaderSize + kPoolAlignment) {
        PoolHeader rest{kPoolFree, chunk.type, header.block_size - need, 0, 0};
        std::memcpy(memory_->pointer(at + need), &rest, sizeof rest);
        header.block_size = need;
      }
      header.magic = kPoolUsed;
      header.requested = size;
      std::memcpy(memory_->pointer(at), &header, sizeof header);
      return memory_->pointer(at + kPoolHeaderSize);
    }
    at += header.block_size;
  }
  return nullptr;
}

EFI_STATUS MemoryManager::allocate_pool(EFI_MEMORY_TYPE type, UINTN size, void** buffer) {
  if (buffer == nullptr || !is_allocatable_type(type)) return EFI_INVALID_PARAMETER;
  auto rounded = align_up(size == 0 ? 1 : size, kPoolAlignment);
  if (!rounded || *rounded > (std::uint64_t{1} << 48)) return EFI_OUT_OF_RESOURCES;
  const std::uint64_t need = *rounded + kPoolHeaderSize;

  if (need > kPoolChunkBytes / 2) {
    if (chunks_.full()) return EFI_OUT_OF_RESOURCES;
    std::uint64_t start = 0;
    const std::uint64_t pages = bytes_to_pages(need);
    EFI_STATUS status = claim(AllocateAnyPages, type, pages, 0, &start);
    if (status != EFI_SUCCESS) return status;
    PoolHeader header{kPoolUsed, type, pages_to_bytes(pages), size, 0};
    std::memcpy(memory_->pointer(start), &header, sizeof header);
    (void)chunks_.push_back({start, pages, type, true});
    *buffer = memory_->pointer(start + kPoolHeaderSize);
    return EFI_SUCCESS;
  }
  for (const PoolChunk& chunk : chunks_) {
    if (chunk.large || chunk.type != type) continue;
    if (void* block = allocate_in_chunk(chunk, *rounded)) {
      *buffer = block;
      return EFI_SUCCESS;
    }
  }
  if (chunks_.full()) return EFI_OUT_OF_RESOURCES;
  std::uint64_t start = 0;
  EFI_STATUS status = claim(AllocateAnyPages, type, kPoolChunkPages, 0, &start);
  if (status != EFI_SUCCESS) return status;
  PoolHeader whole{kPoolFree, type, kPoolChunkBytes, 0, 0};
  std::memcpy(memory_->pointer(start), &whole, sizeof whole);
  (void)chunks_.push_back({start, kPoolChunkPages, type, false});
  *buffer = allocate_in_chunk(chunks_.back(), *rounded);
  return *buffer != nullptr ? EFI_SUCCESS : EFI_OUT_OF_RESOURCES;
}

EFI_STATUS MemoryManager::free_pool(void* buffer) {
  if (buffer == nullptr) return EFI_INVALID_PARAMETER;
  const std::uint64_t address = memory_->address_of(buffer);
  const PoolChunk* chunk = chunk_of(address);
  if (chunk == nullptr || address < chunk->start + kPoolHeaderSize) return EFI_INVALID_PARAMETER;

  if (chunk->large) {
    PoolHeader header;
    std::memcpy(&header, memory_->pointer(chunk->start), sizeof header);
    if (address != chunk->start + kPoolHeaderSize || header.magic != kPoolUsed)
      return EFI_INVALID_PARAMETER;
    header.magic = kPoolFree;
    std::memcpy(memory_->pointer(chunk->start), &header, sizeof header);
    const PoolChunk freed = *chunk;
    chunks_.erase(static_cast<std::size_t>(chunk - chunks_.begin()));
    return free_pages(freed.start, freed.pages);
  }

  // Walk the chunk to find the block (so only real block starts are accepted) and merge it with
  // free neighbours on both sides.
  const std::uint64_t chunk_end = chunk->start + pages_to_bytes(chunk->pages);
  std::uint64_t previous_free = 0;
  for (std::uint64_t at = chunk->start; at < chunk_end;) {
    PoolHeader header;
    std::memcpy(&header, memory_->pointer(at), sizeof header);
    if (header.block_size < kPoolHeaderSize || header.block_size > chunk_end - at)
      return EFI_INVALID_PARAMETER;
    if (at + kPoolHeaderSize == address) {
      if (header.magic != kPoolUsed) return EFI_INVALID_PARAMETER;
      header.magic = kPoolFree;
      header.requested = 0;
      const std::uint64_t next = at + header.block_size;
      if (next < chunk_end) {
        PoolHeader after;
        std::memcpy(&after, memory_->pointer(next), sizeof after);
        if (after.magic == kPoolFree && after.block_size <= chunk_end - next)
          header.block_size += after.block_size;
      }
      if (previous_free != 0) {
        PoolHeader before;
        std::memcpy(&before, memory_->pointer(previous_free), sizeof before);
        before.block_size += header.block_size;
        std::memcpy(memory_->pointer(previous_free), &before, sizeof before);
      } else {
        std::memcpy(memory_->pointer(at), &header, sizeof header);
      }
      return EFI_SUCCESS;
    }
    previous_free = header.magic == kPoolFree ? at : 0;
    at += header.block_size;
  }
  return EFI_INVALID_PARAMETER;
}

}  // namespace efikexec::efi
