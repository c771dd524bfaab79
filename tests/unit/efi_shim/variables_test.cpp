// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "efi_shim/guids.hpp"
#include "efi_shim/fakes.hpp"
#include "efi_shim/text.hpp"
#include "efi_shim/variables.hpp"
#include "support/prerequisites.hpp"

namespace efikexec::efi {
namespace {

using testing::FakeClock;
using Bytes = std::vector<std::uint8_t>;

constexpr EFI_GUID kLoaderVendor = {0x4a67b082, 0x0a4c, 0x41cf, {0xb6, 0xc7, 0x44, 0x0b, 0x29, 0xbb, 0x8c, 0x4f}};
constexpr EFI_GUID kMorControl = {0xe20939be, 0x32d4, 0x41be, {0xa1, 0x50, 0x89, 0x7f, 0x85, 0xd4, 0x98, 0x29}};
constexpr EFI_GUID kRandomSeed = {0x1ce1e5bc, 0x7ceb, 0x42f2, {0x81, 0xe5, 0x8a, 0xad, 0xf1, 0x80, 0xf5, 0x7b}};
constexpr UINT32 kBsRt = EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;
constexpr UINT32 kNvBsRt = EFI_VARIABLE_NON_VOLATILE | kBsRt;

// A NUL-terminated UCS-2 name as an image passes it.
std::vector<CHAR16> name16(std::string_view ascii) {
  std::vector<CHAR16> out(ascii.begin(), ascii.end());
  out.push_back(0);
  return out;
}

// UCS-2 text with its terminator, as systemd-stub stores strings in variables.
Bytes text16(std::string_view ascii) {
  Bytes out;
  for (char c : ascii) {
    out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0);
  }
  out.push_back(0);
  out.push_back(0);
  return out;
}

std::span<const std::byte> as_bytes(const Bytes& bytes) {
  return {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()};
}

class VariablesTest : public ::testing::Test {
 public:
  void SetUp() override {
    load("SecureBoot", guids::kGlobalVariable, kBsRt, {0x00});
    load("SetupMode", guids::kGlobalVariable, kBsRt, {0x01});
    load("Lang", guids::kGlobalVariable, kNvBsRt, {'e', 'n', 'g', 0});
  }
  void load(std::string_view name, const EFI_GUID& guid, UINT32 attributes, const Bytes& data) {
    auto n = name16(name);
    ASSERT_TRUE(store.load_snapshot_variable({n.data(), n.size() - 1}, guid, attributes, as_bytes(data)));
  }
  EFI_STATUS get(std::string_view name, const EFI_GUID& guid, UINTN* size, Bytes* data,
                 UINT32* attributes = nullptr) {
    auto n = name16(name);
    data->resize(*size);
    EFI_STATUS status = store.get_variable(n.data(), &guid, attributes, size, data->data());
    if (status == EFI_SUCCESS) data->resize(*size);
    return status;
  }
  EFI_STATUS set(std::string_view name, const EFI_GUID& guid, UINT32 attributes, const Bytes& data) {
    auto n = name16(name);
    return store.set_variable(n.data(), &guid, attributes, data.size(), data.empty() ? nullptr : data.data());
  }
  Bytes value(std::string_view name, const EFI_GUID& guid) {
    UINTN size = 4096;
    Bytes data;
    EXPECT_EQ(get(name, guid, &size, &data), EFI_SUCCESS) << name;
    return data;
  }

  std::vector<std::byte> arena = std::vector<std::byte>(64 * 1024);
  VariableStore store{arena};
};

// ---------------------------------------------------------------------------------------------
// The variable calls of the four reference boots (traces/*.trace, OVMF with SecureBoot=0,
// SetupMode=1, Lang="eng"), replayed with the statuses and results OVMF gave.

struct Call {
  bool set;
  const char* name;
  const EFI_GUID* guid;
  UINTN size;        // GetVariable: the buffer size passed
  Bytes data;        // SetVariable: the data; GetVariable: the data returned
  EFI_STATUS status;
  UINTN size_out = 0;  // GetVariable: *DataSize returned
};

Call get_call(const char* name, const EFI_GUID& guid, UINTN size, EFI_STATUS status,
              UINTN size_out = 0, Bytes data = {}) {
  return {false, name, &guid, size, std::move(data), status, size_out};
}
Call set_call(const char* name, Bytes data) {
  return {true, name, &kLoaderVendor, data.size(), std::move(data), EFI_SUCCESS};
}

void replay(VariablesTest& t, const std::vector<Call>& calls);

std::vector<Call> kernel_calls(bool random_seed) {
  std::vector<Call> calls = {
      get_call("SecureBoot", guids::kGlobalVariable, 1, EFI_SUCCESS, 1, {0x00}),
      get_call("SetupMode", guids::kGlobalVariable, 1, EFI_SUCCESS, 1, {0x01}),
      get_call("MemoryOverwriteRequestControl", kMorControl, 0, EFI_NOT_FOUND),
  };
  if (random_seed) calls.push_back(get_call("RandomSeed", kRandomSeed, 0, EFI_NOT_FOUND));
  return calls;
}

std::vector<Call> stub_identity_calls(UINTN size) {
  return {
      get_call("LoaderImageIdentifier", kLoaderVendor, size, EFI_NOT_FOUND),
      set_call("LoaderImageIdentifier", text16("\\target.efi")),
      get_call("LoaderFirmwareInfo", kLoaderVendor, size, EFI_NOT_FOUND),
      set_call("LoaderFirmwareInfo", text16("EDK II 1.00")),
      get_call("LoaderFirmwareType", kLoaderVendor, size, EFI_NOT_FOUND),
      set_call("LoaderFirmwareType", text16("UEFI 2.70")),
  };
}

// systemd-stub 257 and 262 after the loader variables: stub identity, then the Secure Boot probe.
std::vector<Call> stub_info_calls(const char* info, std::uint8_t features) {
  return {
      set_call("StubInfo", text16(info)),
      set_call("StubFeatures", {0xff, features, 0, 0, 0, 0, 0, 0}),
      set_call("StubProfile", text16("0")),
      set_call("StubImageIdentifier", text16("\\target.efi")),
      get_call("SecureBoot", guids::kGlobalVariable, 0, EFI_BUFFER_TOO_SMALL, 1),
      get_call("SecureBoot", guids::kGlobalVariable, 1, EFI_SUCCESS, 1, {0x00}),
  };
}

std::vector<Call> join(std::vector<std::vector<Call>> parts) {
  std::vector<Call> out;
  for (auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

TEST_F(VariablesTest, ReplaysTraceA_SystemdStub252) {
  replay(*this, join({
      {get_call("EFIDebug", guids::kGlobalVariable, 8, EFI_NOT_FOUND),
       get_call("Lang", guids::kGlobalVariable, 0x64, EFI_SUCCESS, 4, {'e', 'n', 'g', 0}),
       get_call("SecureBoot", guids::kGlobalVariable, 0x2000, EFI_SUCCESS, 1, {0x00}),
       get_call("LoaderDevicePartUUID", kLoaderVendor, 0x2000, EFI_NOT_FOUND)},
      stub_identity_calls(0x2000),
      {set_call("StubInfo", text16("systemd-stub 252.39-1~deb12u2")),
       set_call("StubFeatures", {0x0f, 0, 0, 0, 0, 0, 0, 0}),
       set_call("StubPcrKernelParameters", text16("12")),
       set_call("StubPcrInitRDSysExts", text16("13")),
       get_call("SecureBoot", guids::kGlobalVariable, 0x2000, EFI_SUCCESS, 1, {0x00})},
      kernel_calls(false),
  }));
}

TEST_F(VariablesTest, ReplaysTraceB_SystemdStub257) {
  replay(*this, join({
      {get_call("LoaderFeatures", kLoaderVendor, 0, EFI_NOT_FOUND),
       get_call("LoaderDevicePartUUID", kLoaderVendor, 0, EFI_NOT_FOUND)},
      stub_identity_calls(0),
      stub_info_calls("systemd-stub 257.13-1~deb13u1", 0x07),
      kernel_calls(true),
  }));
}

TEST_F(VariablesTest, ReplaysTraceC_SystemdStub262) {
  replay(*this, join({
      {get_call("LoaderFeatures", kLoaderVendor, 0, EFI_NOT_FOUND),
       get_call("LoaderDevicePartUUID", kLoaderVendor, 0, EFI_NOT_FOUND),
       get_call("LoaderDeviceURL", kLoaderVendor, 0, EFI_NOT_FOUND)},
      stub_identity_calls(0),
      {get_call("LoaderTpm2ActivePcrBanks", kLoaderVendor, 0, EFI_NOT_FOUND),
       set_call("LoaderTpm2ActivePcrBanks", text16("0x00000000")),
       get_call("LoaderKeyboardLayout", kLoaderVendor, 0, EFI_NOT_FOUND)},
      stub_info_calls("systemd-stub 262-1", 0x1f),
      kernel_calls(true),
  }));
}

TEST_F(VariablesTest, ReplaysTraceD_BareKernel) { replay(*this, kernel_calls(false)); }

void replay(VariablesTest& t, const std::vector<Call>& calls) {
  VariableStore& store = t.store;
  for (const Call& call : calls) {
    auto name = name16(call.name);
    SCOPED_TRACE(std::string(call.set ? "SetVariable " : "GetVariable ") + call.name);
    if (call.set) {
      EXPECT_EQ(store.set_variable(name.data(), call.guid, kBsRt, call.data.size(), call.data.data()),
                call.status);
      continue;
    }
    Bytes buffer(call.size);
    UINTN size = call.size;
    UINT32 attributes = 0xdead;
    EFI_STATUS status = store.get_variable(name.data(), call.guid, &attributes,
                                           &size, call.size ? buffer.data() : nullptr);
    EXPECT_EQ(status, call.status);
    if (status == EFI_SUCCESS || status == EFI_BUFFER_TOO_SMALL) {
      EXPECT_EQ(size, call.size_out);
      EXPECT_NE(attributes, 0xdeadu);
    }
    if (status == EFI_SUCCESS) {
      EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + size), call.data);
    }
  }
  // What the stub set is there, with the attributes it gave, marked as written by the run.
  for (const Call& call : calls) {
    if (!call.set) continue;
    UINTN size = 256;
    Bytes data;
    UINT32 attributes = 0;
    ASSERT_EQ(t.get(call.name, *call.guid, &size, &data, &attributes), EFI_SUCCESS);
    EXPECT_EQ(data, call.data);
    EXPECT_EQ(attributes, kBsRt);
  }
}

// ---------------------------------------------------------------------------------------------
// The same replay straight from the trace files, when EFIKEXEC_TRACES_DIR names their folder.

const EFI_GUID* trace_guid(const std::string& name) {
  if (name == "EFI_GLOBAL_VARIABLE") return &guids::kGlobalVariable;
  if (name == "SYSTEMD_LOADER_VENDOR") return &kLoaderVendor;
  if (name == "MEMORY_OVERWRITE_CONTROL") return &kMorControl;
  if (name == "LINUX_EFI_RANDOM_SEED_TABLE") return &kRandomSeed;
  return nullptr;
}

Bytes hex_bytes(const std::string& hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

EFI_STATUS status_by_name(const std::string& name) {
  for (EFI_STATUS status : std::vector<EFI_STATUS>{EFI_SUCCESS, EFI_NOT_FOUND, EFI_BUFFER_TOO_SMALL,
                                                   EFI_INVALID_PARAMETER, EFI_WRITE_PROTECTED,
                                                   EFI_OUT_OF_RESOURCES, EFI_UNSUPPORTED})
    if (name == status_name(status)) return status;
  ADD_FAILURE() << "status " << name;
  return EFI_ABORTED;
}

TEST(VariableTraces, ReplayEveryTraceFile) {
  // The committed reference traces (tests/conformance/traces), named by ctest.
  const std::string dir = ::efikexec::testing::find_under("EFIKEXEC_TRACES_DIR", "");
  if (dir.empty())
    EFIKEXEC_MISSING_PREREQUISITE("the reference traces (EFIKEXEC_TRACES_DIR, set by ctest)");
  const std::regex get_line(
      R"re(RT\.GetVariable\("([^"]*)", (\w+), size=0x([0-9a-f]+)\) -> (\w+)(?: size=0x([0-9a-f]+))?(?: data=\[([0-9a-f]*)\])?)re");
  const std::regex set_line(
      R"re(RT\.SetVariable\("([^"]*)", (\w+), attr=0x([0-9a-f]+)\[[^\]]*\], size=0x([0-9a-f]+), data=(?:u"((?:[^"\\]|\\.)*)"|\[([0-9a-f]*)\])\) -> (\w+))re");
  std::size_t files = 0, calls = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    if (file.path().extension() != ".trace") continue;
    ++files;
    SCOPED_TRACE(file.path().filename().string());
    std::vector<std::byte> arena(64 * 1024);
    VariableStore store(arena);
    auto load = [&](const char* name, UINT32 attributes, Bytes data) {
      auto n = name16(name);
      ASSERT_TRUE(store.load_snapshot_variable({n.data(), n.size() - 1}, guids::kGlobalVariable,
                                               attributes, as_bytes(data)));
    };
    load("SecureBoot", kBsRt, {0});
    load("SetupMode", kBsRt, {1});
    load("Lang", kNvBsRt, {'e', 'n', 'g', 0});
    std::ifstream in(file.path());
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (line.starts_with("TRACER:")) continue;
      bool is_get = std::regex_search(line, m, get_line);
      if (!is_get && !std::regex_search(line, m, set_line)) continue;
      // Both forms start with the name and the vendor's trace name.
      ++calls;
      SCOPED_TRACE(line);
      const EFI_GUID* guid = trace_guid(m[2]);
      ASSERT_NE(guid, nullptr);
      auto name = name16(m[1].str());
      if (is_get) {
        UINTN size = std::stoul(m[3], nullptr, 16);
        Bytes buffer(size);
        EFI_STATUS status = store.get_variable(name.data(), guid, nullptr, &size,
                                               buffer.empty() ? nullptr : buffer.data());
        EXPECT_EQ(status_name(status), m[4].str());
        if (m[5].matched) {
          EXPECT_EQ(size, std::stoul(m[5], nullptr, 16));
        }
        if (m[6].matched) {
          EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + size), hex_bytes(m[6]));
        }
        continue;
      }
      Bytes data = m[5].matched
                       ? text16(std::regex_replace(m[5].str(), std::regex(R"(\\(.))"), "$1"))
                       : hex_bytes(m[6]);
      data.resize(std::stoul(m[4], nullptr, 16));
      EFI_STATUS status = store.set_variable(name.data(), guid, std::stoul(m[3], nullptr, 16),
                                             data.size(), data.data());
      EXPECT_EQ(status, status_by_name(m[7]));
    }
  }
  EXPECT_EQ(files, 4u);
  EXPECT_GT(calls, 60u);
}

// ---------------------------------------------------------------------------------------------

TEST_F(VariablesTest, GetVariableReturnsSizeAndAttributesWhenTooSmall) {
  auto n = name16("Lang");
  UINTN size = 2;
  UINT32 attributes = 0;
  Bytes buffer(2);
  EXPECT_EQ(store.get_variable(n.data(), &guids::kGlobalVariable, &attributes, &size, buffer.data()),
            EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(size, 4u);
  EXPECT_EQ(attributes, kNvBsRt);
  // Big enough but no buffer.
  size = 8;
  EXPECT_EQ(store.get_variable(n.data(), &guids::kGlobalVariable, nullptr, &size, nullptr),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.get_variable(nullptr, &guids::kGlobalVariable, nullptr, &size, buffer.data()),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.get_variable(n.data(), nullptr, nullptr, &size, buffer.data()), EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.get_variable(n.data(), &guids::kGlobalVariable, nullptr, nullptr, buffer.data()),
            EFI_INVALID_PARAMETER);
  auto empty = name16("");
  EXPECT_EQ(store.get_variable(empty.data(), &guids::kGlobalVariable, nullptr, &size, buffer.data()),
            EFI_NOT_FOUND);
  // Same name, other vendor.
  EXPECT_EQ(store.get_variable(n.data(), &kLoaderVendor, nullptr, &size, buffer.data()), EFI_NOT_FOUND);
}

TEST_F(VariablesTest, NamesAreReadUnalignedAndBounded) {
  // "Lang" at an odd address, as a packed structure in image memory could hold it.
  std::vector<std::uint8_t> raw(1 + 10);
  auto n = name16("Lang");
  std::memcpy(raw.data() + 1, n.data(), 10);
  const auto* odd = reinterpret_cast<const CHAR16*>(raw.data() + 1);
  UINTN size = 16;
  Bytes buffer(16);
  EXPECT_EQ(store.get_variable(odd, &guids::kGlobalVariable, nullptr, &size, buffer.data()), EFI_SUCCESS);
  // A name without terminator within the cap is no variable's name.
  std::vector<CHAR16> endless(VariableStore::kMaxNameChars + 8, u'x');
  endless.back() = 0;
  size = 16;
  EXPECT_EQ(store.get_variable(endless.data(), &guids::kGlobalVariable, nullptr, &size, buffer.data()),
            EFI_NOT_FOUND);
  EXPECT_EQ(store.set_variable(endless.data(), &kLoaderVendor, kBsRt, 1, buffer.data()),
            EFI_INVALID_PARAMETER);
}

TEST_F(VariablesTest, GetNextVariableNameEnumerates) {
  ASSERT_EQ(set("Added", kLoaderVendor, kBsRt, {1}), EFI_SUCCESS);
  std::vector<CHAR16> name(64, 0);
  EFI_GUID guid{};
  std::vector<std::string> seen;
  for (;;) {
    UINTN size = name.size() * sizeof(CHAR16);
    EFI_STATUS status = store.get_next_variable_name(&size, name.data(), &guid);
    if (status == EFI_NOT_FOUND) break;
    ASSERT_EQ(status, EFI_SUCCESS);
    std::string ascii;
    for (std::size_t i = 0; name[i] != 0; ++i) ascii.push_back(static_cast<char>(name[i]));
    EXPECT_EQ(size, (ascii.size() + 1) * sizeof(CHAR16));
    seen.push_back(ascii);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"SecureBoot", "SetupMode", "Lang", "Added"}));

  // Too small: the size needed comes back and nothing is written.
  auto start = name16("");
  std::vector<CHAR16> small(4, 0);
  UINTN size = small.size() * sizeof(CHAR16);
  EXPECT_EQ(store.get_next_variable_name(&size, small.data(), &guid), EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(size, sizeof(u"SecureBoot"));
  // Not a variable: invalid (§8.2.2), as is a name not terminated within the given size.
  auto nope = name16("Nope");
  size = nope.size() * sizeof(CHAR16);
  EXPECT_EQ(store.get_next_variable_name(&size, nope.data(), &guid), EFI_INVALID_PARAMETER);
  auto lang = name16("Lang");
  size = 4 * sizeof(CHAR16);  // "Lang" without room for its terminator
  guid = guids::kGlobalVariable;
  EXPECT_EQ(store.get_next_variable_name(&size, lang.data(), &guid), EFI_INVALID_PARAMETER);
  size = 0;
  EXPECT_EQ(store.get_next_variable_name(&size, lang.data(), &guid), EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.get_next_variable_name(nullptr, lang.data(), &guid), EFI_INVALID_PARAMETER);
  // The right name with the wrong vendor is not a variable either.
  size = lang.size() * sizeof(CHAR16);
  guid = kLoaderVendor;
  EXPECT_EQ(store.get_next_variable_name(&size, lang.data(), &guid), EFI_INVALID_PARAMETER);
}

TEST_F(VariablesTest, SetVariableAttributeRules) {
  Bytes one = {1};
  EXPECT_EQ(set("X", kLoaderVendor, EFI_VARIABLE_RUNTIME_ACCESS, one), EFI_INVALID_PARAMETER);
  EXPECT_EQ(set("X", kLoaderVendor, EFI_VARIABLE_NON_VOLATILE, one), EFI_INVALID_PARAMETER);
  EXPECT_EQ(set("X", kLoaderVendor, kBsRt | EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS, one),
            EFI_UNSUPPORTED);
  EXPECT_EQ(set("X", kLoaderVendor, kNvBsRt | EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS, one),
            EFI_WRITE_PROTECTED);
  EXPECT_EQ(set("X", kLoaderVendor, kNvBsRt | EFI_VARIABLE_HARDWARE_ERROR_RECORD, one),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(set("X", kLoaderVendor, kBsRt | 0x100, one), EFI_INVALID_PARAMETER);
  auto n = name16("X");
  EXPECT_EQ(store.set_variable(n.data(), &kLoaderVendor, kBsRt, 1, nullptr), EFI_INVALID_PARAMETER);
  auto empty = name16("");
  EXPECT_EQ(store.set_variable(empty.data(), &kLoaderVendor, kBsRt, 1, one.data()),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.set_variable(nullptr, &kLoaderVendor, kBsRt, 1, one.data()), EFI_INVALID_PARAMETER);
  Bytes huge(VariableStore::kMaxVariableSize, 0);
  EXPECT_EQ(set("X", kLoaderVendor, kBsRt, huge), EFI_INVALID_PARAMETER);

  // The Secure Boot state and keys cannot be touched, not even deleted.
  EXPECT_EQ(set("SecureBoot", guids::kGlobalVariable, kBsRt, {1}), EFI_WRITE_PROTECTED);
  EXPECT_EQ(set("SetupMode", guids::kGlobalVariable, 0, {}), EFI_WRITE_PROTECTED);
  EXPECT_EQ(set("PK", guids::kGlobalVariable, kNvBsRt, {1}), EFI_WRITE_PROTECTED);
  EXPECT_EQ(set("db", guids::kImageSecurityDatabase, kNvBsRt, {1}), EFI_WRITE_PROTECTED);
  EXPECT_EQ(value("SecureBoot", guids::kGlobalVariable), Bytes{0});
  // A snapshot variable written with authentication stays as it is.
  load("MokList", kLoaderVendor,
       kNvBsRt | EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS, {7});
  EXPECT_EQ(set("MokList", kLoaderVendor, 0, {}), EFI_WRITE_PROTECTED);
}

TEST_F(VariablesTest, CreateRewriteAppendDelete) {
  EXPECT_EQ(set("V", kLoaderVendor, kBsRt, {}), EFI_NOT_FOUND);  // deleting nothing
  EXPECT_EQ(set("V", kLoaderVendor, 0, {1}), EFI_NOT_FOUND);
  EXPECT_EQ(set("V", kLoaderVendor, kBsRt | EFI_VARIABLE_APPEND_WRITE, {}), EFI_SUCCESS);
  EXPECT_EQ(set("V", kLoaderVendor, kBsRt | EFI_VARIABLE_APPEND_WRITE, {1}), EFI_SUCCESS);
  UINTN size = 16;
  Bytes data;
  UINT32 attributes = 0;
  ASSERT_EQ(get("V", kLoaderVendor, &size, &data, &attributes), EFI_SUCCESS);
  EXPECT_EQ(attributes, kBsRt);  // APPEND_WRITE is never stored
  EXPECT_EQ(set("V", kLoaderVendor, kBsRt | EFI_VARIABLE_APPEND_WRITE, {2, 3}), EFI_SUCCESS);
  EXPECT_EQ(value("V", kLoaderVendor), (Bytes{1, 2, 3}));
  EXPECT_EQ(set("V", kLoaderVendor, kBsRt, {9}), EFI_SUCCESS);
  EXPECT_EQ(value("V", kLoaderVendor), Bytes{9});
  EXPECT_EQ(set("V", kLoaderVendor, kNvBsRt, {9}), EFI_INVALID_PARAMETER);  // other attributes
  EXPECT_EQ(set("V", kLoaderVendor, kBsRt, {}), EFI_SUCCESS);
  size = 16;
  EXPECT_EQ(get("V", kLoaderVendor, &size, &data), EFI_NOT_FOUND);
  EXPECT_EQ(set("W", kLoaderVendor, kBsRt, {5}), EFI_SUCCESS);
  EXPECT_EQ(set("W", kLoaderVendor, 0, {5}), EFI_SUCCESS);  // no access attributes: delete
  size = 16;
  EXPECT_EQ(get("W", kLoaderVendor, &size, &data), EFI_NOT_FOUND);
}

TEST_F(VariablesTest, SnapshotVariablesCanBeOverriddenForTheRun) {
  EXPECT_EQ(set("Lang", guids::kGlobalVariable, kNvBsRt, {'f', 'r', 'a', 0}), EFI_SUCCESS);
  EXPECT_EQ(value("Lang", guids::kGlobalVariable), (Bytes{'f', 'r', 'a', 0}));
  bool reported = false;
  for (std::size_t i = 0; i < store.size(); ++i) {
    auto view = store.at(i);
    if (view.name.size() == 4 && view.name[0] == 'L') {
      reported = true;
      EXPECT_TRUE(view.from_snapshot);
      EXPECT_TRUE(view.changed);
      EXPECT_EQ(view.data.size(), 4u);
    }
  }
  EXPECT_TRUE(reported);
  EXPECT_EQ(set("Lang", guids::kGlobalVariable, 0, {}), EFI_SUCCESS);
  UINTN size = 16;
  Bytes data;
  EXPECT_EQ(get("Lang", guids::kGlobalVariable, &size, &data), EFI_NOT_FOUND);
}

TEST_F(VariablesTest, EnumeratesWhatTheRunSetAndStillHolds) {
  EXPECT_EQ(set("StubInfo", kLoaderVendor, kBsRt, text16("systemd-stub 257")), EFI_SUCCESS);
  EXPECT_EQ(set("Gone", kLoaderVendor, kBsRt, {1}), EFI_SUCCESS);
  EXPECT_EQ(set("Gone", kLoaderVendor, kBsRt, {}), EFI_SUCCESS);
  EXPECT_EQ(set("Lang", guids::kGlobalVariable, kNvBsRt, {'e', 'n', 'g', 0}), EFI_SUCCESS);
  std::vector<std::string> names;
  const std::size_t count =
      store.for_each_set_during_run([&](const VariableStore::VariableView& view) {
        names.emplace_back(view.name.begin(), view.name.end());
        EXPECT_TRUE(view.changed);
      });
  // Unchanged snapshot variables (SecureBoot, SetupMode, Lang rewritten with the same bytes) and
  // deleted ones are not listed.
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(names, std::vector<std::string>{"StubInfo"});
}

TEST_F(VariablesTest, AfterExitBootServicesOnlyRuntimeVariables) {
  ASSERT_EQ(set("BootOnly", kLoaderVendor, EFI_VARIABLE_BOOTSERVICE_ACCESS, {1}), EFI_SUCCESS);
  ASSERT_EQ(set("Volatile", kLoaderVendor, kBsRt, {1}), EFI_SUCCESS);
  ASSERT_EQ(set("Persistent", kLoaderVendor, kNvBsRt, {1}), EFI_SUCCESS);
  store.exit_boot_services();
  UINTN size = 16;
  Bytes data;
  EXPECT_EQ(get("BootOnly", kLoaderVendor, &size, &data), EFI_NOT_FOUND);
  EXPECT_EQ(set("BootOnly", kLoaderVendor, EFI_VARIABLE_BOOTSERVICE_ACCESS, {2}), EFI_WRITE_PROTECTED);
  EXPECT_EQ(set("New", kLoaderVendor, EFI_VARIABLE_BOOTSERVICE_ACCESS, {2}), EFI_INVALID_PARAMETER);
  EXPECT_EQ(set("New", kLoaderVendor, kBsRt, {2}), EFI_INVALID_PARAMETER);
  EXPECT_EQ(set("Volatile", kLoaderVendor, kBsRt, {2}), EFI_WRITE_PROTECTED);
  EXPECT_EQ(set("Persistent", kLoaderVendor, kNvBsRt, {2}), EFI_SUCCESS);
  std::vector<CHAR16> name(64, 0);
  EFI_GUID guid{};
  std::size_t count = 0;
  for (;;) {
    UINTN n = name.size() * sizeof(CHAR16);
    if (store.get_next_variable_name(&n, name.data(), &guid) != EFI_SUCCESS) break;
    EXPECT_FALSE(name[0] == 'B' && name[1] == 'o');
    ++count;
  }
  EXPECT_EQ(count, 5u);  // SecureBoot, SetupMode, Lang, Volatile, Persistent
}

TEST_F(VariablesTest, SmallArenaCompactsThenRunsOut) {
  // 320 bytes: an update needs room for the old and the new blob at once.
  std::vector<std::byte> small(320);
  VariableStore tiny(small);
  auto n = name16("Counter");
  Bytes data(40, 0);
  // Each rewrite takes a new blob; the old ones are reclaimed when the arena fills.
  for (int i = 0; i < 100; ++i) {
    data[0] = static_cast<std::uint8_t>(i);
    ASSERT_EQ(tiny.set_variable(n.data(), &kLoaderVendor, kBsRt, data.size(), data.data()), EFI_SUCCESS)
        << i;
  }
  auto m = name16("Other");
  Bytes big(150, 7);
  ASSERT_EQ(tiny.set_variable(m.data(), &kLoaderVendor, kBsRt, big.size(), big.data()), EFI_SUCCESS);
  // Appending after compaction keeps the old bytes.
  Bytes more(8, 9);
  ASSERT_EQ(tiny.set_variable(n.data(), &kLoaderVendor, kBsRt | EFI_VARIABLE_APPEND_WRITE,
                              more.size(), more.data()),
            EFI_SUCCESS);
  UINTN size = 64;
  Bytes out(64);
  ASSERT_EQ(tiny.get_variable(n.data(), &kLoaderVendor, nullptr, &size, out.data()), EFI_SUCCESS);
  EXPECT_EQ(size, 48u);
  EXPECT_EQ(out[0], 99);
  EXPECT_EQ(out[47], 9);
  Bytes too_big(200, 1);
  auto z = name16("Z");
  EXPECT_EQ(tiny.set_variable(z.data(), &kLoaderVendor, kBsRt, too_big.size(), too_big.data()),
            EFI_OUT_OF_RESOURCES);
  size = 200;
  out.resize(200);
  ASSERT_EQ(tiny.get_variable(m.data(), &kLoaderVendor, nullptr, &size, out.data()), EFI_SUCCESS);
  EXPECT_EQ(out[149], 7);
}

TEST_F(VariablesTest, QueryVariableInfo) {
  UINT64 max_storage = 0, remaining = 0, max_size = 0;
  EXPECT_EQ(store.query_variable_info(kNvBsRt, &max_storage, &remaining, &max_size), EFI_SUCCESS);
  EXPECT_EQ(max_storage, arena.size());
  EXPECT_LT(remaining, max_storage);
  EXPECT_GT(remaining, max_storage - 256);
  // The test arena is 64 KiB: the largest variable is what is left of it.
  EXPECT_EQ(max_size, remaining);
  EXPECT_EQ(store.query_variable_info(0, &max_storage, &remaining, &max_size), EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.query_variable_info(kBsRt, nullptr, &remaining, &max_size), EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.query_variable_info(EFI_VARIABLE_NON_VOLATILE, &max_storage, &remaining, &max_size),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.query_variable_info(EFI_VARIABLE_RUNTIME_ACCESS, &max_storage, &remaining, &max_size),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(store.query_variable_info(kBsRt | EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS, &max_storage,
                                      &remaining, &max_size),
            EFI_UNSUPPORTED);
  EXPECT_EQ(store.query_variable_info(kNvBsRt | EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS,
                                      &max_storage, &remaining, &max_size),
            EFI_UNSUPPORTED);
  EXPECT_EQ(store.query_variable_info(kNvBsRt | EFI_VARIABLE_HARDWARE_ERROR_RECORD, &max_storage,
                                      &remaining, &max_size),
            EFI_UNSUPPORTED);
  store.exit_boot_services();
  EXPECT_EQ(store.query_variable_info(EFI_VARIABLE_BOOTSERVICE_ACCESS, &max_storage, &remaining,
                                      &max_size),
            EFI_INVALID_PARAMETER);
}

TEST_F(VariablesTest, SnapshotLoadingRefusesNonsense) {
  auto n = name16("Lang");
  Bytes one = {1};
  EXPECT_FALSE(store.load_snapshot_variable({n.data(), 4}, guids::kGlobalVariable, kNvBsRt, as_bytes(one)));
  EXPECT_FALSE(store.load_snapshot_variable({n.data(), 0}, kLoaderVendor, kNvBsRt, as_bytes(one)));
  EXPECT_FALSE(store.load_snapshot_variable({n.data(), 4}, kLoaderVendor, kNvBsRt, {}));
  EXPECT_FALSE(store.load_snapshot_variable({n.data(), 4}, kLoaderVendor, 0x1000, as_bytes(one)));
  EXPECT_FALSE(store.load_snapshot_variable({n.data(), 5}, kLoaderVendor, kNvBsRt, as_bytes(one)));
  EXPECT_TRUE(store.load_snapshot_variable({n.data(), 4}, kLoaderVendor, kNvBsRt, as_bytes(one)));
}

// ---------------------------------------------------------------------------------------------

TEST(RuntimeServices, TimeComesFromTheHostClock) {
  FakeClock clock;
  RuntimeServices rt(clock);
  EFI_TIME time{};
  EFI_TIME_CAPABILITIES caps{};
  ASSERT_EQ(rt.get_time(&time, &caps), EFI_SUCCESS);
  EXPECT_EQ(time.Year, 2025);
  EXPECT_EQ(time.Second, 56);
  EXPECT_EQ(caps.Resolution, 1u);
  EXPECT_EQ(caps.Accuracy, 50000000u);
  EXPECT_EQ(caps.SetsToZero, FALSE);
  EXPECT_EQ(rt.get_time(&time, nullptr), EFI_SUCCESS);
  EXPECT_EQ(rt.get_time(nullptr, &caps), EFI_INVALID_PARAMETER);
  clock.has_wall_clock = false;
  EXPECT_EQ(rt.get_time(&time, nullptr), EFI_DEVICE_ERROR);

  EFI_TIME valid{2024, 2, 29, 23, 59, 59, 0, 999999999, 60, EFI_TIME_IN_DAYLIGHT, 0};
  EXPECT_EQ(rt.set_time(&valid), EFI_UNSUPPORTED);
  EFI_TIME bad = valid;
  bad.Year = 2023;  // not a leap year
  EXPECT_EQ(rt.set_time(&bad), EFI_INVALID_PARAMETER);
  bad = valid;
  bad.TimeZone = 1441;
  EXPECT_EQ(rt.set_time(&bad), EFI_INVALID_PARAMETER);
  EXPECT_EQ(rt.set_time(nullptr), EFI_INVALID_PARAMETER);

  BOOLEAN enabled = 0, pending = 0;
  EXPECT_EQ(rt.get_wakeup_time(&enabled, &pending, &time), EFI_UNSUPPORTED);
  EXPECT_EQ(rt.get_wakeup_time(nullptr, &pending, &time), EFI_INVALID_PARAMETER);
  EXPECT_EQ(rt.set_wakeup_time(FALSE, nullptr), EFI_UNSUPPORTED);
  EXPECT_EQ(rt.set_wakeup_time(TRUE, nullptr), EFI_INVALID_PARAMETER);
}

TEST(RuntimeServices, ResetIsRecordedForTheRunToEnd) {
  FakeClock clock;
  RuntimeServices rt(clock);
  EXPECT_EQ(rt.reset_request(), nullptr);
  auto reason = name16("watchdog expired");
  const ResetRequest& request =
      rt.reset_system(EfiResetWarm, EFI_ABORTED, reason.size() * sizeof(CHAR16), reason.data());
  EXPECT_EQ(request.type, EfiResetWarm);
  EXPECT_EQ(request.status, EFI_ABORTED);
  EXPECT_EQ(request.reason[0], u'w');
  EXPECT_EQ(request.reason[16], 0);
  ASSERT_NE(rt.reset_request(), nullptr);
  // DataSize bounds the read even without a terminator.
  const ResetRequest& cut = rt.reset_system(EfiResetShutdown, EFI_SUCCESS, 4, reason.data());
  EXPECT_EQ(cut.reason[1], u'a');
  EXPECT_EQ(cut.reason[2], 0);
  UINT64 max = 0;
  EFI_RESET_TYPE type{};
  EXPECT_EQ(rt.update_capsule(nullptr, 0, 0), EFI_UNSUPPORTED);
  EXPECT_EQ(rt.query_capsule_capabilities(nullptr, 0, &max, &type), EFI_UNSUPPORTED);
}

}  // namespace
}  // namespace efikexec::efi
