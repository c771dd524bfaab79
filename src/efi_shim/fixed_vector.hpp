// SPDX-License-Identifier: MIT
// A vector with a capacity fixed at compile time: the core's container. Growing past the
// capacity fails (returns false) instead of allocating, so callers turn it into an EFI error.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>

namespace efikexec::efi {

template <class T, std::size_t N>
class FixedVector {
  static_assert(std::is_trivially_copyable_v<T>, "kept simple: elements are plain records");

 public:
  constexpr std::size_t size() const { return size_; }
  static constexpr std::size_t capacity() { return N; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr bool full() const { return size_ == N; }

  [[nodiscard]] bool push_back(const T& value) {
    if (size_ == N) return false;
    items_[size_++] = value;
    return true;
  }
  [[nodiscard]] bool insert(std::size_t index, const T& value) {
    if (size_ == N || index > size_) return false;
    for (std::size_t i = size_; i > index; --i) items_[i] = items_[i - 1];
    items_[index] = value;
    ++size_;
    return true;
  }
  void erase(std::size_t index) {
    for (std::size_t i = index; i + 1 < size_; ++i) items_[i] = items_[i + 1];
    --size_;
  }
  // Removes every element for which `predicate` holds, keeping the order of the rest.
  template <class Predicate>
  void erase_if(Predicate&& predicate) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i)
      if (!predicate(items_[i])) items_[kept++] = items_[i];
    size_ = kept;
  }
  void clear() { size_ = 0; }
  void truncate(std::size_t size) {
    if (size < size_) size_ = size;
  }

  T& operator[](std::size_t i) { return items_[i]; }
  const T& operator[](std::size_t i) const { return items_[i]; }
  T& back() { return items_[size_ - 1]; }
  T* begin() { return items_.data(); }
  T* end() { return items_.data() + size_; }
  const T* begin() const { return items_.data(); }
  const T* end() const { return items_.data() + size_; }
  std::span<T> span() { return {items_.data(), size_}; }
  std::span<const T> span() const { return {items_.data(), size_}; }

 private:
  std::array<T, N> items_{};
  std::size_t size_ = 0;
};

}  // namespace efikexec::efi
