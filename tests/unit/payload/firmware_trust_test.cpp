// SPDX-License-Identifier: MIT
// Trust anchors from the firmware (src/payload/firmware_trust.hpp): GetVariable found through a
// fake system table and runtime services table (their "physical" addresses are this process's,
// their virtual ones elsewhere, as after SetVirtualAddressMap), called with the MS x64 ABI, and
// the policy composed from the firmware's variables and the built-in anchors.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "payload/firmware_trust.hpp"
#include "payload/page_tables.hpp"
#include "support/pe_builder.hpp"

namespace efikexec::payload {
namespace {

using testing::Bytes;

constexpr std::uint64_t kDataVirtual = 0xfffffffeffb40000;

// The firmware's variables, by name (ASCII of the CHAR16 name) and vendor GUID.
struct FakeFirmware {
  std::map<std::string, Bytes> variables;  // by key()
  int calls = 0;
  std::uint64_t status = kEfiSuccess;  // when not kEfiSuccess: returned as is
  std::uint64_t lie_size = 0;          // when not 0: the size reported on success
};
FakeFirmware* g_firmware = nullptr;

// A variable's key: its name and its vendor GUID's bytes.
std::string key(const std::string& name, const pe::Guid& vendor) {
  return name + '/' + std::string(vendor.bytes.begin(), vendor.bytes.end());
}

__attribute__((ms_abi)) std::uint64_t fake_get_variable(const char16_t* name, const pe::Guid* vendor,
                                                        std::uint32_t* attributes,
                                                        std::uint64_t* size, void* data) {
  ++g_firmware->calls;
  if (g_firmware->status != kEfiSuccess) return g_firmware->status;
  std::string ascii;
  for (; *name; ++name) ascii += static_cast<char>(*name);
  auto found = g_firmware->variables.find(key(ascii, *vendor));
  if (found == g_firmware->variables.end()) return kEfiNotFound;
  const Bytes& value = found->second;
  if (*size < value.size()) {
    *size = value.size();
    return kEfiBufferTooSmall;
  }
  if (!value.empty()) std::memcpy(data, value.data(), value.size());
  *size = g_firmware->lie_size ? g_firmware->lie_size : value.size();
  *attributes = 0x27;
  return kEfiSuccess;
}

// One EFI_CERT_SHA256 list of `count` hashes (first byte `seed + i`).
Bytes sha256_list(std::size_t count, std::uint8_t seed) {
  Bytes list(28 + count * 48, 0);
  std::memcpy(list.data(), pe::kCertSha256Guid.bytes.data(), 16);
  testing::put32(list, 16, static_cast<std::uint32_t>(list.size()));
  testing::put32(list, 24, 48);
  for (std::size_t i = 0; i < count; ++i) list[28 + i * 48 + 16] = static_cast<std::uint8_t>(seed + i);
  return list;
}

Bytes text(const char* value) { return Bytes(value, value + std::strlen(value)); }

// A system table and a runtime services table in one page of "runtime services data", and the
// runtime map describing it and the code page of fake_get_variable.
struct FakeTables {
  alignas(4096) std::uint8_t data[4096]{};
  std::vector<EfiMemoryDescriptor> map;

  FakeTables() {
    std::uint8_t* system = data;
    std::uint8_t* services = data + 512;
    std::memcpy(system, "IBI SYST", 8);
    put32(system, 12, 120);
    put64(system, 88, kDataVirtual + 512);  // RuntimeServices: virtual
    std::memcpy(services, "RUNTSERV", 8);
    put32(services, 12, 136);
    put64(services, 72, code_address());
    const std::uint64_t code_page = code_address() & ~std::uint64_t{0xfff};
    map = {{6, physical(), kDataVirtual, 1, kEfiMemoryWriteBack},
           {kEfiRuntimeServicesCode, code_page, code_page, 2, kEfiMemoryWriteBack}};
  }
  static void put32(std::uint8_t* at, std::size_t offset, std::uint32_t value) {
    std::memcpy(at + offset, &value, 4);
  }
  static void put64(std::uint8_t* at, std::size_t offset, std::uint64_t value) {
    std::memcpy(at + offset, &value, 8);
  }
  static std::uint64_t code_address() { return reinterpret_cast<std::uint64_t>(&fake_get_variable); }
  std::uint64_t physical() const { return reinterpret_cast<std::uint64_t>(data); }
};

class FirmwareTrust : public ::testing::Test {
 protected:
  void SetUp() override { g_firmware = &firmware; }
  void TearDown() override { g_firmware = nullptr; }

  Result<verifier::Policy> compose(TrustSource source, const BuiltinTrust& builtin,
                                   EfiGetVariable get = &fake_get_variable) {
    const TrustStorage storage{db, dbx, sbat_text, sbat_entries, builtin_entries};
    return compose_trust(source, builtin, get, storage, report);
  }

  FakeFirmware firmware;
  std::vector<std::byte> db = std::vector<std::byte>(4096);
  std::vector<std::byte> dbx = std::vector<std::byte>(4096);
  std::vector<std::byte> sbat_text = std::vector<std::byte>(256);
  std::vector<pe::SbatLevelEntry> sbat_entries = std::vector<pe::SbatLevelEntry>(256);
  std::vector<pe::SbatLevelEntry> builtin_entries = std::vector<pe::SbatLevelEntry>(128);
  TrustReport report;
};

TEST_F(FirmwareTrust, FindsGetVariableThroughTheVirtualRuntimeServicesTable) {
  FakeTables tables;
  auto get = find_get_variable(tables.physical(), tables.map);
  ASSERT_TRUE(get) << get.error().message;
  EXPECT_EQ(*get, &fake_get_variable);
  firmware.variables[key("db", pe::kImageSecurityDatabaseGuid)] = sha256_list(2, 1);
  std::vector<std::byte> buffer(256);
  auto read = get_variable(*get, u"db", pe::kImageSecurityDatabaseGuid, buffer);
  ASSERT_TRUE(read);
  ASSERT_TRUE(*read);
  EXPECT_EQ((*read)->size(), 28u + 2 * 48);
}

TEST_F(FirmwareTrust, RefusesTablesItCannotTrustTheShapeOf) {
  auto refused = [](FakeTables& tables, std::uint64_t system_table) {
    auto get = find_get_variable(system_table, tables.map);
    return get ? ErrorCode{} : get.error().code;
  };
  {
    FakeTables tables;  // not inside a runtime region; none at all
    EXPECT_EQ(refused(tables, tables.physical() + 4040), ErrorCode::kOutOfRange);
    EXPECT_EQ(refused(tables, 0), ErrorCode::kOutOfRange);
    EXPECT_EQ(find_get_variable(tables.physical(), {}).error().code, ErrorCode::kOutOfRange);
  }
  {
    FakeTables tables;
    tables.data[0] = 'X';
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kBadMagic);
  }
  {
    FakeTables tables;
    FakeTables::put32(tables.data, 12, 64);  // header ends before RuntimeServices
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kTruncated);
  }
  {
    FakeTables tables;  // RuntimeServices at its physical address: not a virtual one of the map
    FakeTables::put64(tables.data, 88, tables.physical() + 512);
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kOutOfRange);
  }
  {
    FakeTables tables;  // the table would run past the region
    FakeTables::put64(tables.data, 88, kDataVirtual + 4096 - 40);
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kOutOfRange);
  }
  {
    FakeTables tables;
    tables.data[512] = 'X';
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kBadMagic);
  }
  {
    FakeTables tables;
    FakeTables::put32(tables.data + 512, 12, 72);  // header ends before GetVariable
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kTruncated);
  }
  {
    FakeTables tables;  // GetVariable into runtime data, or nowhere
    FakeTables::put64(tables.data + 512, 72, kDataVirtual + 8);
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kOutOfRange);
    FakeTables::put64(tables.data + 512, 72, 0x1234);
    EXPECT_EQ(refused(tables, tables.physical()), ErrorCode::kOutOfRange);
  }
}

TEST_F(FirmwareTrust, AVariableTooLargeIsAnErrorNotATruncation) {
  std::vector<std::byte> buffer(100);
  firmware.variables[key("dbx", pe::kImageSecurityDatabaseGuid)] = sha256_list(3, 1);
  auto read = get_variable(&fake_get_variable, u"dbx", pe::kImageSecurityDatabaseGuid, buffer);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kNoMemory);
  EXPECT_EQ(read.error().offset, 28u + 3 * 48);
  // Missing: nullopt. Another vendor GUID: missing.
  auto missing = get_variable(&fake_get_variable, u"dbx", pe::kShimLockGuid, buffer);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  // A size past the buffer on success, or a failure status: errors.
  firmware.variables[key("dbx", pe::kImageSecurityDatabaseGuid)] = sha256_list(1, 1);
  firmware.lie_size = 4096;
  EXPECT_EQ(get_variable(&fake_get_variable, u"dbx", pe::kImageSecurityDatabaseGuid, buffer)
                .error().code,
            ErrorCode::kOutOfRange);
  firmware.lie_size = 0;
  firmware.status = 0x8000000000000007;  // EFI_DEVICE_ERROR
  auto failed = get_variable(&fake_get_variable, u"dbx", pe::kImageSecurityDatabaseGuid, buffer);
  EXPECT_EQ(failed.error().code, ErrorCode::kIo);
  EXPECT_EQ(failed.error().offset, 0x8000000000000007u);
}

TEST_F(FirmwareTrust, FirmwareOnlyUsesTheFirmwaresVariables) {
  firmware.variables[key("db", pe::kImageSecurityDatabaseGuid)] = sha256_list(2, 1);
  firmware.variables[key("dbx", pe::kImageSecurityDatabaseGuid)] = sha256_list(3, 9);
  firmware.variables[key("SbatLevelRT", pe::kShimLockGuid)] = text("sbat,1,2024010900\nshim,4\n");
  const Bytes builtin_db = sha256_list(5, 50);
  auto policy = compose(TrustSource::kFirmware, {testing::view(builtin_db), {}, {}});
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(report.db_entries, 2u);  // the built-in db is not used
  EXPECT_EQ(report.dbx_entries, 3u);
  EXPECT_EQ(report.sbat_rows, 2u);
  EXPECT_TRUE(report.firmware_read && report.firmware_db && report.firmware_dbx &&
              report.firmware_sbat_level);
  ASSERT_TRUE(policy->sbat_level);
  EXPECT_EQ((*policy->sbat_level)[1].component, "shim");
  EXPECT_EQ((*policy->sbat_level)[1].generation, 4u);
  EXPECT_EQ(policy->db.size(), 28u + 2 * 48);

  // No SbatLevelRT, no dbx: no level, an empty dbx.
  firmware.variables.erase(key("SbatLevelRT", pe::kShimLockGuid));
  firmware.variables.erase(key("dbx", pe::kImageSecurityDatabaseGuid));
  policy = compose(TrustSource::kFirmware, {});
  ASSERT_TRUE(policy);
  EXPECT_FALSE(policy->sbat_level);
  EXPECT_TRUE(policy->dbx.empty());
  EXPECT_FALSE(report.firmware_dbx);
}

TEST_F(FirmwareTrust, FirmwareOnlyRefusesWithoutRuntimeServicesOrDb) {
  auto unreachable = compose(TrustSource::kFirmware, {}, nullptr);
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, ErrorCode::kNotFound);
  auto empty = compose(TrustSource::kFirmware, {});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kUntrusted);
  EXPECT_FALSE(report.firmware_db);
}

TEST_F(FirmwareTrust, ABadFirmwareDatabaseOrLevelRefusesEverything) {
  Bytes broken = sha256_list(2, 1);
  testing::put32(broken, 16, static_cast<std::uint32_t>(broken.size() + 48));  // runs past
  firmware.variables[key("db", pe::kImageSecurityDatabaseGuid)] = sha256_list(1, 1);
  firmware.variables[key("dbx", pe::kImageSecurityDatabaseGuid)] = broken;
  auto bad_dbx = compose(TrustSource::kFirmware, {});
  ASSERT_FALSE(bad_dbx);
  EXPECT_EQ(bad_dbx.error().code, ErrorCode::kMalformed);
  EXPECT_STREQ(bad_dbx.error().message, "the firmware's dbx is not a valid signature database");
  firmware.variables[key("dbx", pe::kImageSecurityDatabaseGuid)] = {};
  firmware.variables[key("SbatLevelRT", pe::kShimLockGuid)] = text("sbat,1,2024\nshim,two\n");
  EXPECT_EQ(compose(TrustSource::kFirmware, {}).error().code, ErrorCode::kMalformed);
  // Larger than the room: named, never cut.
  firmware.variables.erase(key("SbatLevelRT", pe::kShimLockGuid));
  firmware.variables[key("db", pe::kImageSecurityDatabaseGuid)] = sha256_list(100, 1);
  auto too_large = compose(TrustSource::kFirmware, {});
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().code, ErrorCode::kNoMemory);
  EXPECT_STREQ(too_large.error().message, "the firmware's db is larger than the payload's limit");
}

TEST_F(FirmwareTrust, BuiltinNeverCallsTheFirmware) {
  const Bytes builtin_db = sha256_list(1, 7);
  auto policy = compose(TrustSource::kBuiltin,
                        {testing::view(builtin_db), {}, testing::view(text("sbat,1,2024\n"))});
  ASSERT_TRUE(policy);
  EXPECT_EQ(firmware.calls, 0);
  EXPECT_FALSE(report.firmware_read);
  EXPECT_EQ(report.db_entries, 1u);
  EXPECT_EQ(report.sbat_rows, 1u);
  EXPECT_EQ(compose(TrustSource::kBuiltin, {}).error().code, ErrorCode::kUntrusted);
}

TEST_F(FirmwareTrust, BothTakesTheUnionAndEveryLevelRow) {
  const Bytes builtin_db = sha256_list(1, 7);
  const Bytes builtin_dbx = sha256_list(2, 70);
  const Bytes builtin_level = text("sbat,1,2023\nshim,2\ngrub,3\n");
  firmware.variables[key("db", pe::kImageSecurityDatabaseGuid)] = sha256_list(2, 1);
  firmware.variables[key("dbx", pe::kImageSecurityDatabaseGuid)] = sha256_list(3, 9);
  firmware.variables[key("SbatLevelRT", pe::kShimLockGuid)] = text("sbat,1,2024\nshim,4\n");
  const BuiltinTrust builtin{testing::view(builtin_db), testing::view(builtin_dbx),
                             testing::view(builtin_level)};
  auto policy = compose(TrustSource::kBoth, builtin);
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(report.db_entries, 3u);
  EXPECT_EQ(report.dbx_entries, 5u);
  EXPECT_EQ(report.sbat_rows, 5u);  // shim,2 and shim,4 both apply: the higher counts
  // The built-in lists come first, byte for byte.
  EXPECT_EQ(std::memcmp(policy->db.data(), builtin_db.data(), builtin_db.size()), 0);

  // Without runtime services: the built-in anchors alone.
  policy = compose(TrustSource::kBoth, builtin, nullptr);
  ASSERT_TRUE(policy);
  EXPECT_FALSE(report.firmware_read);
  EXPECT_EQ(report.db_entries, 1u);
  EXPECT_EQ(report.sbat_rows, 3u);
}

TEST(TrustSource, OnlyTheThreeValues) {
  EXPECT_EQ(*trust_source_of(0), TrustSource::kBuiltin);
  EXPECT_EQ(*trust_source_of(1), TrustSource::kFirmware);
  EXPECT_EQ(*trust_source_of(2), TrustSource::kBoth);
  EXPECT_EQ(trust_source_of(3).error().code, ErrorCode::kMalformed);
  EXPECT_STREQ(trust_source_name(TrustSource::kFirmware), "firmware");
}

}  // namespace
}  // namespace efikexec::payload
