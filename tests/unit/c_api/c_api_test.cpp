// SPDX-License-Identifier: MIT
// The C API: argument checks, status mapping, and the pipeline (inspect, verify, plan, load,
// exec, unload) over the real fixture UKI with the kexec layer replaced by a fake.
#include <efikexec.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "c_api/c_api_support.hpp"

namespace {

using efikexec::testing::WithFakeKexec;

struct ContextFree {
  void operator()(efikexec_context* ctx) const { efikexec_context_free(ctx); }
};
struct OptionsFree {
  void operator()(efikexec_options* options) const { efikexec_options_free(options); }
};
using Context = std::unique_ptr<efikexec_context, ContextFree>;
using Options = std::unique_ptr<efikexec_options, OptionsFree>;

// Takes a string the library handed out.
std::string take(char* text) {
  std::string copy = text == nullptr ? std::string() : text;
  efikexec_string_free(text);
  return copy;
}

class CApi : public WithFakeKexec {
 protected:
  Context ctx{efikexec_context_new()};
  Options options{efikexec_options_new()};

  // Options for the fixture UKI signed by keys/db.crt, planned for a described q35 guest (the
  // machine's own efivarfs is never read).
  bool use_signed_uki() {
    const std::string uki = efikexec::testing::fixture_path("uki-signed.efi");
    const std::string db = efikexec::testing::fixture_path("keys/db.crt");
    if (uki.empty() || db.empty()) return false;
    EXPECT_EQ(efikexec_options_set_image(options.get(), uki.c_str()), EFIKEXEC_OK);
    EXPECT_EQ(efikexec_options_add_db(options.get(), db.c_str()), EFIKEXEC_OK);
    EXPECT_EQ(efikexec_options_set_efivars(options.get(), "/nonexistent"), EFIKEXEC_OK);
    EXPECT_EQ(efikexec_options_set_machine(options.get(), "q35"), EFIKEXEC_OK);
    return true;
  }
};

#define SIGNED_UKI_OR_SKIP()  \
  if (!use_signed_uki())      \
  EFIKEXEC_MISSING_PREREQUISITE("fixtures uki-signed.efi and keys/db.crt under EFIKEXEC_FIXTURES")

TEST(CApiStatus, EveryStatusHasItsOwnMessageAndAnExitCode) {
  std::set<std::string> messages;
  for (int s = EFIKEXEC_OK; s <= EFIKEXEC_ERR_INTERNAL; ++s) {
    const auto status = static_cast<efikexec_status>(s);
    ASSERT_NE(efikexec_strerror(status), nullptr);
    messages.insert(efikexec_strerror(status));
  }
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(EFIKEXEC_ERR_INTERNAL) + 1);
  EXPECT_STREQ(efikexec_strerror(static_cast<efikexec_status>(999)), "unknown status");
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_OK), 0);
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_ERR_REFUSED), 1);
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_ERR_RUN), 1);
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_ERR_KEXEC), 1);
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_ERR_BAD_INPUT), 2);
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_ERR_INVALID_ARGUMENT), 2);
  EXPECT_STREQ(efikexec_version(), "0.1.0");
}

TEST_F(CApi, NullHandlesAreRefusedNotDereferenced) {
  EXPECT_EQ(efikexec_options_set_image(nullptr, "x"), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_options_add_db(options.get(), nullptr), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_options_set_image(options.get(), ""), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_options_set_image_memory(options.get(), nullptr, 4),
            EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_verify(nullptr, options.get()), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_exec(nullptr), EFIKEXEC_ERR_INVALID_ARGUMENT);
  char* out = reinterpret_cast<char*>(1);
  EXPECT_EQ(efikexec_plan(ctx.get(), nullptr, &out), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out, nullptr);
  EXPECT_STREQ(efikexec_last_error(ctx.get()), "no options");
  EXPECT_STREQ(efikexec_last_error(nullptr), "no context");
  efikexec_context_free(nullptr);
  efikexec_options_free(nullptr);
  efikexec_string_free(nullptr);
}

TEST_F(CApi, OptionsThatCannotGoTogetherAreRefusedBeforeAnythingRuns) {
  EXPECT_EQ(efikexec_verify(ctx.get(), options.get()), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(efikexec_last_error(ctx.get())).find("no image"), std::string::npos);
  ASSERT_EQ(efikexec_options_set_image(options.get(), "/nonexistent.efi"), EFIKEXEC_OK);
  ASSERT_EQ(efikexec_options_add_db(options.get(), "/nonexistent.crt"), EFIKEXEC_OK);
  ASSERT_EQ(efikexec_options_set_no_verify(options.get(), 1), EFIKEXEC_OK);
  EXPECT_EQ(efikexec_load(ctx.get(), options.get()), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(fake->loads, 0);
  EXPECT_EQ(efikexec_options_set_timeout(options.get(), 0), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_options_set_timeout(options.get(), 3601), EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_options_set_timeout(options.get(), 5), EFIKEXEC_OK);
}

TEST_F(CApi, UnreadableImageIsBadInputAndTheMessageNamesIt) {
  ASSERT_EQ(efikexec_options_set_image(options.get(), "/nonexistent.efi"), EFIKEXEC_OK);
  ASSERT_EQ(efikexec_options_set_no_verify(options.get(), 1), EFIKEXEC_OK);
  char* json = nullptr;
  EXPECT_EQ(efikexec_inspect(ctx.get(), options.get(), &json), EFIKEXEC_ERR_BAD_INPUT);
  EXPECT_EQ(json, nullptr);
  EXPECT_NE(std::string(efikexec_last_error(ctx.get())).find("/nonexistent.efi"),
            std::string::npos);
  EXPECT_EQ(efikexec_load(ctx.get(), options.get()), EFIKEXEC_ERR_BAD_INPUT);
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(CApi, InspectGivesTheCliJsonDocument) {
  SIGNED_UKI_OR_SKIP();
  char* json = nullptr;
  ASSERT_EQ(efikexec_inspect(ctx.get(), options.get(), &json), EFIKEXEC_OK)
      << efikexec_last_error(ctx.get());
  const auto report = nlohmann::json::parse(take(json));
  EXPECT_EQ(report.value("kind", ""), "uki");
  EXPECT_EQ(report.value("machine", ""), "x86_64");
  EXPECT_STREQ(efikexec_last_error(ctx.get()), "");
}

TEST_F(CApi, VerifyAcceptsTheSignedUkiAndRefusesAForeignKey) {
  SIGNED_UKI_OR_SKIP();
  EXPECT_EQ(efikexec_verify(ctx.get(), options.get()), EFIKEXEC_OK)
      << efikexec_last_error(ctx.get());
  EFIKEXEC_NEED_FIXTURE(other, "keys/other.crt");
  Options foreign{efikexec_options_new()};
  ASSERT_EQ(efikexec_options_set_image(foreign.get(),
                                       efikexec::testing::fixture_path("uki-signed.efi").c_str()),
            EFIKEXEC_OK);
  ASSERT_EQ(efikexec_options_add_db(foreign.get(), other.c_str()), EFIKEXEC_OK);
  ASSERT_EQ(efikexec_options_set_efivars(foreign.get(), "/nonexistent"), EFIKEXEC_OK);
  EXPECT_EQ(efikexec_verify(ctx.get(), foreign.get()), EFIKEXEC_ERR_REFUSED);
  EXPECT_NE(std::string(efikexec_last_error(ctx.get())).find("refused"), std::string::npos);
  // A refused image never runs, so load stops before the kexec layer.
  ASSERT_EQ(efikexec_options_set_machine(foreign.get(), "q35"), EFIKEXEC_OK);
  EXPECT_EQ(efikexec_load(ctx.get(), foreign.get()), EFIKEXEC_ERR_REFUSED);
  EXPECT_EQ(fake->loads, 0);
}

TEST_F(CApi, PlanIsADryRunAndLoadHandsThePlannedSegmentsToKexec) {
  SIGNED_UKI_OR_SKIP();
  char* text = nullptr;
  ASSERT_EQ(efikexec_plan(ctx.get(), options.get(), &text), EFIKEXEC_OK)
      << efikexec_last_error(ctx.get());
  const auto plan = nlohmann::json::parse(take(text));
  EXPECT_EQ(fake->loads, 0);
  ASSERT_TRUE(plan.contains("segments"));
  const std::size_t planned = plan["segments"].size();
  EXPECT_GE(planned, 1u);
  EXPECT_LE(planned, 16u);

  ASSERT_EQ(efikexec_load(ctx.get(), options.get()), EFIKEXEC_OK)
      << efikexec_last_error(ctx.get());
  EXPECT_EQ(fake->loads, 1);
  EXPECT_EQ(fake->segments, planned);
  EXPECT_EQ(fake->buffer_bytes, plan["bufsz_total"].get<std::uint64_t>());
  EXPECT_EQ(fake->entry, std::stoull(plan["entry"].get<std::string>(), nullptr, 16));

  int loaded = 0;
  ASSERT_EQ(efikexec_is_loaded(ctx.get(), &loaded), EFIKEXEC_OK);
  EXPECT_EQ(loaded, 1);
  EXPECT_EQ(efikexec_exec(ctx.get()), EFIKEXEC_ERR_KEXEC);
  EXPECT_STREQ(efikexec_last_error(ctx.get()), "fake reboot returned");
  EXPECT_EQ(efikexec_unload(ctx.get()), EFIKEXEC_OK);
  EXPECT_EQ(fake->executes, 1);
  EXPECT_EQ(fake->unloads, 1);
}

TEST_F(CApi, AFailedKexecLoadIsReportedWithItsReason) {
  SIGNED_UKI_OR_SKIP();
  fake->fail_load = true;
  EXPECT_EQ(efikexec_load(ctx.get(), options.get()), EFIKEXEC_ERR_KEXEC);
  EXPECT_STREQ(efikexec_last_error(ctx.get()), "fake kexec_load failed");
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_ERR_KEXEC), 1);
}

TEST_F(CApi, AnImageInMemoryPlansLikeTheSameFile) {
  SIGNED_UKI_OR_SKIP();
  std::ifstream in(efikexec::testing::fixture_path("uki-signed.efi"), std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  ASSERT_FALSE(bytes.empty());
  ASSERT_EQ(efikexec_options_set_image_memory(options.get(), bytes.data(), bytes.size()),
            EFIKEXEC_OK);
  char* text = nullptr;
  ASSERT_EQ(efikexec_plan(ctx.get(), options.get(), &text), EFIKEXEC_OK)
      << efikexec_last_error(ctx.get());
  EXPECT_FALSE(nlohmann::json::parse(take(text))["segments"].empty());
}

TEST_F(CApi, AProfileTheImageLacksIsBadInput) {
  SIGNED_UKI_OR_SKIP();
  ASSERT_EQ(efikexec_options_set_profile(options.get(), 7), EFIKEXEC_OK);
  char* json = nullptr;
  EXPECT_EQ(efikexec_inspect(ctx.get(), options.get(), &json), EFIKEXEC_ERR_BAD_INPUT);
  EXPECT_EQ(efikexec_plan(ctx.get(), options.get(), &json), EFIKEXEC_ERR_BAD_INPUT);
  EXPECT_NE(std::string(efikexec_last_error(ctx.get())).find("profile 7"), std::string::npos);
}

// c99_header_test.c, compiled as C99.
extern "C" int efikexec_c99_smoke(const char* image);

TEST_F(CApi, HandoffAndPayloadAreOptions) {
  EXPECT_EQ(efikexec_options_set_handoff(options.get(), EFIKEXEC_HANDOFF_PAYLOAD), EFIKEXEC_OK);
  EXPECT_EQ(efikexec_options_set_handoff(options.get(), static_cast<efikexec_handoff>(3)),
            EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_options_set_handoff(nullptr, EFIKEXEC_HANDOFF_AUTO),
            EFIKEXEC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(efikexec_options_set_payload(options.get(), "/x.efi"), EFIKEXEC_OK);
  EXPECT_EQ(efikexec_options_set_payload(options.get(), nullptr), EFIKEXEC_OK);
  EXPECT_EQ(efikexec_options_set_payload(nullptr, "/x.efi"), EFIKEXEC_ERR_INVALID_ARGUMENT);
}

TEST_F(CApi, LockdownWithoutAPayloadRefusesAndLoadsNothing) {
  SIGNED_UKI_OR_SKIP();
  lock_down();
  EXPECT_EQ(efikexec_load(ctx.get(), options.get()), EFIKEXEC_ERR_KEXEC);
  EXPECT_NE(std::string(efikexec_last_error(ctx.get())).find("lockdown [integrity]"),
            std::string::npos)
      << efikexec_last_error(ctx.get());
  EXPECT_EQ(fake->loads + fake->file_loads + fake->unloads + fake->file_unloads, 0);
  EXPECT_EQ(efikexec_status_exit_code(EFIKEXEC_ERR_KEXEC), 1);
}

TEST_F(CApi, LockdownTakesThePayloadPathAndUnloadsWithTheFileCall) {
  SIGNED_UKI_OR_SKIP();
  EFIKEXEC_NEED_FIXTURE(payload, "vmlinuz-unsigned.efi");  // passes the bzImage probe checks
  lock_down();
  ASSERT_EQ(efikexec_options_set_payload(options.get(), payload.c_str()), EFIKEXEC_OK);
  char* plan_text = nullptr;
  ASSERT_EQ(efikexec_plan(ctx.get(), options.get(), &plan_text), EFIKEXEC_OK)
      << efikexec_last_error(ctx.get());
  const auto plan = nlohmann::json::parse(take(plan_text));
  EXPECT_EQ(plan["handoff"], "payload");
  EXPECT_EQ(plan["lockdown"], "integrity");
  EXPECT_EQ(plan["payload"]["path"], payload);
  EXPECT_EQ(fake->file_loads, 0) << "a plan calls nothing";

  ASSERT_EQ(efikexec_load(ctx.get(), options.get()), EFIKEXEC_OK) << efikexec_last_error(ctx.get());
  EXPECT_EQ(fake->file_loads, 1);
  EXPECT_EQ(fake->loads, 0);
  EXPECT_EQ(fake->file_command_line, plan["command_line"]);
  EXPECT_EQ(fake->file_initrd_size, plan["bundle"]["size"]);
  ASSERT_EQ(efikexec_unload(ctx.get()), EFIKEXEC_OK);
  EXPECT_EQ(fake->file_unloads, 1);
  EXPECT_EQ(fake->unloads, 0);
}

TEST_F(CApi, WithoutLockdownTheTrampolineIsPlannedAndUnloadUsesKexecLoad) {
  SIGNED_UKI_OR_SKIP();
  char* plan_text = nullptr;
  ASSERT_EQ(efikexec_plan(ctx.get(), options.get(), &plan_text), EFIKEXEC_OK)
      << efikexec_last_error(ctx.get());
  const auto plan = nlohmann::json::parse(take(plan_text));
  EXPECT_EQ(plan["handoff"], "trampoline");
  EXPECT_EQ(plan["lockdown"], "none");
  ASSERT_EQ(efikexec_unload(ctx.get()), EFIKEXEC_OK);
  EXPECT_EQ(fake->unloads, 1);
  EXPECT_EQ(fake->file_unloads, 0);
}

TEST_F(CApi, TheHeaderWorksFromC99) {
  EXPECT_EQ(efikexec_c99_smoke("/nonexistent.efi"), 0);
}

}  // namespace
