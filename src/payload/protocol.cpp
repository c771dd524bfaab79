// SPDX-License-Identifier: MIT
#include "protocol.hpp"

namespace efikexec::payload {

namespace {

constexpr std::string_view kPrefix = "efikexec.";
constexpr std::string_view kSeparator = " -- ";

// A decimal number without sign, leading zeros (but "0") or overflow past `limit`.
std::optional<std::uint64_t> parse_decimal(std::string_view digits, std::uint64_t limit) {
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    auto times_ten = checked_mul(value, 10);
    if (!times_ten) return std::nullopt;
    auto sum = checked_add(*times_ten, static_cast<std::uint64_t>(c - '0'));
    if (!sum) return std::nullopt;
    value = *sum;
  }
  if (value > limit) return std::nullopt;
  return value;
}

}  // namespace

Result<ProtocolRequest> parse_protocol_command_line(std::string_view text) {
  ProtocolRequest request;
  // The options end at the first " -- "; the rest is the command-line text, verbatim.
  std::string_view options = text;
  const std::size_t separator = text.find(kSeparator);
  if (separator != std::string_view::npos) {
    options = slice(text, 0, separator);
    request.command_line = slice(text, separator + kSeparator.size());
  } else if (text.ends_with(" --")) {
    options = slice(text, 0, text.size() - 3);
  }
  if (text == "--" || text.starts_with("-- "))
    return fail(ErrorCode::kNotFound, "efikexec.uki_size= is missing (nothing before --)", 0);
  if (options.empty()) return fail(ErrorCode::kNotFound, "efikexec.uki_size= is missing", 0);

  bool have_uki = false, have_initrd = false, have_profile = false, have_mode = false,
       have_esp = false, have_esp_image = false;
  std::size_t position = 0;
  bool first = true;
  while (position <= options.size()) {
    std::size_t end = options.find(' ', position);
    if (end == std::string_view::npos) end = options.size();
    const std::string_view token = slice(options, position, end - position);
    if (token.empty())
      return fail(ErrorCode::kMalformed, "options must be separated by single spaces", position);
    if (!token.starts_with(kPrefix))
      return fail(ErrorCode::kMalformed, "an option does not start with efikexec.", position);
    const std::size_t equals = token.find('=');
    if (equals == std::string_view::npos)
      return fail(ErrorCode::kMalformed, "an efikexec. option has no '='", position);
    const std::string_view key = slice(token, kPrefix.size(), equals - kPrefix.size());
    const std::string_view value = slice(token, equals + 1);
    if (key == "uki_size") {
      if (!first) return fail(ErrorCode::kMalformed, "efikexec.uki_size= must come first", position);
      auto number = parse_decimal(value, ~std::uint64_t{0});
      if (!number || *number == 0)
        return fail(ErrorCode::kMalformed, "efikexec.uki_size= is not a positive decimal number",
                    position);
      request.uki_size = *number;
      have_uki = true;
    } else if (first) {
      return fail(ErrorCode::kNotFound, "efikexec.uki_size= is missing (it must come first)",
                  position);
    } else if (key == "initrd_size") {
      if (have_initrd) return fail(ErrorCode::kMalformed, "efikexec.initrd_size= given twice", position);
      auto number = parse_decimal(value, ~std::uint64_t{0});
      if (!number)
        return fail(ErrorCode::kMalformed, "efikexec.initrd_size= is not a decimal number", position);
      request.initrd_size = *number;
      have_initrd = true;
    } else if (key == "profile") {
      if (have_profile) return fail(ErrorCode::kMalformed, "efikexec.profile= given twice", position);
      auto number = parse_decimal(value, 0xFFFFFFFFu);
      if (!number)
        return fail(ErrorCode::kMalformed, "efikexec.profile= is not a 32-bit decimal number",
                    position);
      request.profile = static_cast<std::uint32_t>(*number);
      have_profile = true;
    } else if (key == "cmdline") {
      if (have_mode) return fail(ErrorCode::kMalformed, "efikexec.cmdline= given twice", position);
      if (value == "append") {
        request.replace_command_line = false;
      } else if (value == "replace") {
        request.replace_command_line = true;
      } else {
        return fail(ErrorCode::kMalformed, "efikexec.cmdline= is neither append nor replace",
                    position);
      }
      have_mode = true;
    } else if (key == "esp_size") {
      if (have_esp) return fail(ErrorCode::kMalformed, "efikexec.esp_size= given twice", position);
      auto number = parse_decimal(value, ~std::uint64_t{0});
      if (!number || *number == 0)
        return fail(ErrorCode::kMalformed, "efikexec.esp_size= is not a positive decimal number",
                    position);
      request.esp_size = *number;
      have_esp = true;
    } else if (key == "esp_image") {
      if (have_esp_image)
        return fail(ErrorCode::kMalformed, "efikexec.esp_image= given twice", position);
      if (value.empty() || value.size() > kMaxEspImagePath)
        return fail(ErrorCode::kMalformed, "efikexec.esp_image= is empty or too long", position);
      for (const char c : value)
        if (!esp_image_character(c))
          return fail(ErrorCode::kMalformed,
                      "efikexec.esp_image= holds a character other than printable ASCII", position);
      request.esp_image = value;
      have_esp_image = true;
    } else {
      return fail(ErrorCode::kUnsupported, "unknown efikexec. option", position);
    }
    first = false;
    position = end + 1;
  }
  if (!have_uki) return fail(ErrorCode::kNotFound, "efikexec.uki_size= is missing", 0);
  if (have_esp != have_esp_image)
    return fail(ErrorCode::kMalformed, "efikexec.esp_size= and efikexec.esp_image= go together", 0);
  return request;
}

Result<Bundle> split_bundle(ByteView ramdisk, const ProtocolRequest& request) {
  Bundle bundle;
  auto uki = ramdisk.subview(0, request.uki_size, "efikexec.uki_size= is larger than the ramdisk");
  if (!uki) return std::unexpected(uki.error());
  bundle.uki = *uki;
  auto initrd_start = align_up(request.uki_size, kBundleAlignment);
  if (!initrd_start) return fail(ErrorCode::kOverflow, "efikexec.uki_size= overflows when aligned");
  if (request.initrd_size != 0) {
    auto initrd = ramdisk.subview(*initrd_start, request.initrd_size,
                                  "efikexec.initrd_size= runs past the end of the ramdisk");
    if (!initrd) return std::unexpected(initrd.error());
    bundle.extra_initrd = *initrd;
  }
  if (request.esp_size != 0) {
    auto initrd_end = checked_add(*initrd_start, request.initrd_size);
    auto esp_start = initrd_end ? align_up(*initrd_end, kBundleAlignment) : std::nullopt;
    if (!esp_start)
      return fail(ErrorCode::kOverflow, "efikexec.initrd_size= overflows when aligned");
    auto esp = ramdisk.subview(*esp_start, request.esp_size,
                               "efikexec.esp_size= runs past the end of the ramdisk");
    if (!esp) return std::unexpected(esp.error());
    bundle.esp_archive = *esp;
  }
  return bundle;
}

}  // namespace efikexec::payload
