// SPDX-License-Identifier: MIT
#include "uki/load_options.hpp"

#include <cstring>

#include "pe_loader/decimal.hpp"

namespace efikexec::uki {

namespace {

// Counts everything, copies what fits.
class Writer {
 public:
  explicit Writer(std::span<char> out) : out_(out) {}
  void add(std::string_view text) {
    // An empty output span has a null data(), which memcpy may not take even for no bytes.
    if (!text.empty() && length_ <= out_.size() && text.size() <= out_.size() - length_)
      std::memcpy(out_.data() + length_, text.data(), text.size());
    length_ += text.size();
  }
  void add_number(unsigned value) {
    add(Decimal(value).view());
  }
  std::size_t length() const { return length_; }

 private:
  std::span<char> out_;
  std::size_t length_ = 0;
};

}  // namespace

std::string_view section_text_view(ByteView bytes) {
  std::string_view text = bytes.chars();
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n' || text.back() == ' ' ||
                           text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

Result<std::optional<std::size_t>> compose_load_options(const Uki& uki,
                                                        const CommandLineRequest& request,
                                                        std::span<char> out) {
  if (request.profile) {
    if (auto exists = uki.check_profile(*request.profile); !exists)
      return std::unexpected(exists.error());
  }
  std::optional<std::string_view> line = request.command_line;
  std::optional<std::string_view> appended;
  if (request.append) {
    if (!line) {
      const pe::Section* own = uki.find(".cmdline", request.profile);
      line = own != nullptr ? section_text_view(uki.image().section_data(*own))
                            : std::string_view();
    }
    if (line->empty()) {
      line = *request.append;
    } else {
      appended = *request.append;
    }
  }
  // "@N" only for a UKI that has profiles (systemd-stub >= 257 reads it). A UKI without
  // .profile sections is its own profile 0, and stubs before 257 would take "@0" for the
  // kernel's command line.
  const bool selector = request.profile && uki.profile_count() > 0;
  if (!line && !selector) return std::optional<std::size_t>();
  Writer writer(out);
  if (selector) {
    writer.add("@");
    writer.add_number(*request.profile);
    if (line) writer.add(" ");
  }
  if (line) writer.add(*line);
  if (appended) {
    writer.add(" ");
    writer.add(*appended);
  }
  return std::optional<std::size_t>(writer.length());
}

}  // namespace efikexec::uki
