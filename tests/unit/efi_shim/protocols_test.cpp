// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "efi_shim/guids.hpp"
#include "efi_shim/device_path.hpp"
#include "efi_shim/events.hpp"
#include "efi_shim/fakes.hpp"
#include "efi_shim/paths.hpp"
#include "efi_shim/protocols.hpp"
#include "efi_shim/text.hpp"

namespace efikexec::efi {
namespace {

using testing::as_path;
using testing::FakeClock;
using testing::FakePool;
using testing::kInitrdMedia;
using testing::PathBuilder;

constexpr EFI_GUID kGuidA = {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x01}};
constexpr EFI_GUID kGuidB = {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x02}};
constexpr EFI_GUID kGuidC = {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x03}};
constexpr EFI_GUID kGuidN = {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0x04}};
constexpr EFI_GUID kGuidUnused = {0x5d1d1f0e, 0x7a43, 0x4c59, {0x9d, 0x2b, 0x41, 0x0e, 0x6a, 0x11, 0x3c, 0xff}};
constexpr EFI_GUID kVendor1 = {0x0c8f1a52, 0x2f6b, 0x4e0a, {0xa5, 0x3e, 0x8d, 0x71, 0x90, 0x4b, 0x22, 0x01}};
constexpr EFI_GUID kVendor2 = {0x0c8f1a52, 0x2f6b, 0x4e0a, {0xa5, 0x3e, 0x8d, 0x71, 0x90, 0x4b, 0x22, 0x02}};
constexpr EFI_GUID kLoadedImage = {0x5b1b31a1, 0x9562, 0x11d2, {0x8e, 0x3f, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b}};
constexpr EFI_GUID kLoadFile2 = {0x4006c0c1, 0xfcb3, 0x403e, {0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d}};
constexpr EFI_GUID kBlockIo = {0x964e5b21, 0x6459, 0x11d2, {0x8e, 0x39, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b}};

class ProtocolsTest : public ::testing::Test {
 public:
  void SetUp() override {
    // The firmware's own image handle (EDK2: the DXE core) and the application's.
    firmware = install_new(kLoadedImage, &firmware_image);
    db.set_firmware_agent(firmware);
    image = install_new(kLoadedImage, &app_image);
  }
  EFI_HANDLE install_new(const EFI_GUID& guid, void* interface) {
    EFI_HANDLE handle = nullptr;
    EXPECT_EQ(db.install_protocol_interface(&handle, &guid, EFI_NATIVE_INTERFACE, interface),
              EFI_SUCCESS);
    return handle;
  }

  FakeClock clock;
  FakePool pool;
  EventManager events{clock, pool};
  ProtocolDatabase db{pool, events};
  int firmware_image = 0, app_image = 0;
  EFI_HANDLE firmware = nullptr, image = nullptr;
};

// ---------------------------------------------------------------------------------------------
// tests/efi_apps/eft_protocols.c, step by step against the database, printing the same lines.
// The expected transcript is what OVMF printed (tests/conformance, OVMF 2022.11 under QEMU).

const char* kOvmfTranscript = R"(install status=Success handle-set=yes
install.duplicate status=InvalidParameter
install.bad-interface-type status=InvalidParameter
install.null-handle status=InvalidParameter
handle-protocol status=Success same=yes
handle-protocol.unknown status=Unsupported
handle-protocol.null-handle status=InvalidParameter
handle-protocol.null-interface status=InvalidParameter
install.second status=Success same-handle=yes
protocols-per-handle status=Success count=2 has-a=yes has-b=yes
protocols-per-handle.free status=Success
locate-handle.probe status=BufferTooSmall handles=1
locate-handle status=Success handles=1 match=yes
locate-handle.unknown status=NotFound
locate-handle.null-protocol status=InvalidParameter
locate-handle.all-probe status=BufferTooSmall size-multiple=yes
locate-handle.all status=BufferTooSmall contains-ours=no
locate-handle.bad-type status=InvalidParameter
locate-handle-buffer status=Success handles=1 match=yes
locate-handle-buffer.free status=Success
locate-handle-buffer.unknown status=NotFound
locate-protocol status=Success same=yes
locate-protocol.unknown status=NotFound
locate-protocol.null-interface status=InvalidParameter
reinstall status=Success new=yes
reinstall.stale-old status=NotFound
uninstall.wrong-interface status=NotFound
uninstall.unknown status=NotFound
open.agent-handle status=Success
open.get status=Success same=yes
open.test-null-interface status=Success
open.get-null-interface status=InvalidParameter
open.unknown status=Unsupported
open.bad-attributes status=InvalidParameter
open.by-driver-null-controller status=InvalidParameter
open.by-driver status=Success same=yes
open.by-driver-again status=AlreadyStarted interface-set=yes
open.by-driver-other status=AccessDenied
open.exclusive-other status=AccessDenied
open-info.by-driver status=Success entries=4 by-app=3
open-info.by-driver by-handle=1 get=1 test=1 by-driver=1 driver-excl=0 other=0
uninstall.while-by-driver status=AccessDenied
uninstall.while-by-driver still-there=yes
close status=Success
close.again status=NotFound
close.null-agent status=InvalidParameter
close.unknown status=NotFound
open-info.closed status=Success entries=3 by-app=2
open-info.closed by-handle=1 get=1 test=1 by-driver=0 driver-excl=0 other=0
open.exclusive status=Success
open.by-driver-vs-exclusive status=AccessDenied
close.exclusive status=Success
uninstall status=Success
uninstall.gone status=Unsupported
uninstall.last status=Success
uninstall.handle-freed status=InvalidParameter
install-multiple status=Success count=2
install-multiple.duplicate status=InvalidParameter
install-multiple.rolled-back status=Unsupported
uninstall-multiple.missing status=InvalidParameter
uninstall-multiple.restored status=Success
uninstall-multiple status=Success
uninstall-multiple.handle-freed status=InvalidParameter
device-path.install status=Success
device-path.install-duplicate status=AlreadyStarted
locate-device-path.full status=Success handle=yes rest-is-end=yes consumed=20
locate-device-path.prefix status=Success handle=yes rest-is-end=no consumed=20
locate-device-path.no-match status=NotFound unchanged=yes
locate-device-path.no-protocol status=NotFound
locate-device-path.by-dp status=Success handle=yes
locate-device-path.null-path status=InvalidParameter
locate-device-path.null-device status=InvalidParameter
device-path.uninstall status=Success
notify.event status=Success
notify.register status=Success registration-set=yes
notify.locate-before status=NotFound
notify.install-1 notified=1
notify.install-2 notified=2
notify.locate-1 status=Success handles=1 first=yes
notify.locate-2 status=Success handles=1 second=yes
notify.locate-3 status=NotFound
notify.locate-protocol-consumed status=NotFound
notify.locate-protocol status=Success notified=3 same=yes
notify.locate-protocol-again status=NotFound
notify.reinstall notified=4 locate=Success is-hn1=yes
notify.uninstall notified=4
notify.close status=Success
notify.after-close notified=4
notify.cleanup locate=NotFound
agent.uninstall status=Success
)";

// OVMF has more handles than the application's 2048-entry buffer holds; the shim has a few.
const char* kShimAllHandles = "locate-handle.all status=Success contains-ours=yes";

class EftProtocols {
 public:
  EftProtocols(ProtocolDatabase& db, EventManager& events, FakePool& pool, EFI_HANDLE image)
      : db_(db), events_(events), pool_(pool), image_(image) {}

  std::string run() {
    check_install();
    check_locate();
    check_reinstall();
    check_open();
    check_multiple();
    check_device_path();
    check_notify();
    out_ << "agent.uninstall status=" << st(db_.uninstall_protocol_interface(h_agent_, &kGuidC, &if_c_))
         << "\n";
    return out_.str();
  }

 private:
  static std::string st(EFI_STATUS status) { return status_name(status); }
  static const char* yn(bool value) { return value ? "yes" : "no"; }

  UINTN locate(EFI_LOCATE_SEARCH_TYPE type, const EFI_GUID* guid, void* key, EFI_STATUS* status) {
    UINTN size = sizeof(handles_);
    *status = db_.locate_handle(type, guid, key, &size, handles_);
    return *status == EFI_SUCCESS ? size / sizeof(EFI_HANDLE) : 0;
  }
  static bool has_guid(EFI_GUID** list, UINTN n, const EFI_GUID& guid) {
    for (UINTN i = 0; i < n; ++i)
      if (guid_equal(*list[i], guid)) return true;
    return false;
  }

  void check_install() {
    void* i = nullptr;
    h_ = nullptr;
    EFI_STATUS s = db_.install_protocol_interface(&h_, &kGuidA, EFI_NATIVE_INTERFACE, &if_a1_);
    out_ << "install status=" << st(s) << " handle-set=" << yn(h_ != nullptr) << "\n";
    s = db_.install_protocol_interface(&h_, &kGuidA, EFI_NATIVE_INTERFACE, &if_a1_);
    out_ << "install.duplicate status=" << st(s) << "\n";
    EFI_HANDLE h2 = nullptr;
    s = db_.install_protocol_interface(&h2, &kGuidA, static_cast<EFI_INTERFACE_TYPE>(1), &if_a1_);
    out_ << "install.bad-interface-type status=" << st(s) << "\n";
    s = db_.install_protocol_interface(nullptr, &kGuidA, EFI_NATIVE_INTERFACE, &if_a1_);
    out_ << "install.null-handle status=" << st(s) << "\n";
    s = db_.handle_protocol(h_, &kGuidA, &i);
    out_ << "handle-protocol status=" << st(s) << " same=" << yn(i == &if_a1_) << "\n";
    out_ << "handle-protocol.unknown status=" << st(db_.handle_protocol(h_, &kGuidUnused, &i)) << "\n";
    out_ << "handle-protocol.null-handle status=" << st(db_.handle_protocol(nullptr, &kGuidA, &i))
         << "\n";
    out_ << "handle-protocol.null-interface status="
         << st(db_.handle_protocol(h_, &kGuidA, nullptr)) << "\n";
    EFI_HANDLE same = h_;
    s = db_.install_protocol_interface(&h_, &kGuidB, EFI_NATIVE_INTERFACE, &if_b_);
    out_ << "install.second status=" << st(s) << " same-handle=" << yn(h_ == same) << "\n";
    EFI_GUID** guids = nullptr;
    UINTN count = 0;
    s = db_.protocols_per_handle(h_, &guids, &count);
    out_ << "protocols-per-handle status=" << st(s) << " count=" << count
         << " has-a=" << yn(has_guid(guids, count, kGuidA))
         << " has-b=" << yn(has_guid(guids, count, kGuidB)) << "\n";
    out_ << "protocols-per-handle.free status=" << st(pool_.free_pool(guids)) << "\n";
  }

  void check_locate() {
    EFI_STATUS s;
    UINTN size = 0;
    s = db_.locate_handle(ByProtocol, &kGuidA, nullptr, &size, nullptr);
    out_ << "locate-handle.probe status=" << st(s) << " handles=" << size / sizeof(EFI_HANDLE) << "\n";
    UINTN n = locate(ByProtocol, &kGuidA, nullptr, &s);
    out_ << "locate-handle status=" << st(s) << " handles=" << n
         << " match=" << yn(n == 1 && handles_[0] == h_) << "\n";
    locate(ByProtocol, &kGuidUnused, nullptr, &s);
    out_ << "locate-handle.unknown status=" << st(s) << "\n";
    locate(ByProtocol, nullptr, nullptr, &s);
    out_ << "locate-handle.null-protocol status=" << st(s) << "\n";
    size = 0;
    s = db_.locate_handle(AllHandles, nullptr, nullptr, &size, nullptr);
    out_ << "locate-handle.all-probe status=" << st(s)
         << " size-multiple=" << yn(size != 0 && size % sizeof(EFI_HANDLE) == 0) << "\n";
    n = locate(AllHandles, nullptr, nullptr, &s);
    bool found = false;
    for (UINTN k = 0; k < n; ++k) found |= handles_[k] == h_;
    out_ << "locate-handle.all status=" << st(s) << " contains-ours=" << yn(found) << "\n";
    locate(static_cast<EFI_LOCATE_SEARCH_TYPE>(5), &kGuidA, nullptr, &s);
    out_ << "locate-handle.bad-type status=" << st(s) << "\n";

    EFI_HANDLE* buf = nullptr;
    n = 0;
    s = db_.locate_handle_buffer(ByProtocol, &kGuidA, nullptr, &n, &buf);
    out_ << "locate-handle-buffer status=" << st(s) << " handles=" << n
         << " match=" << yn(n == 1 && buf && buf[0] == h_) << "\n";
    if (s == EFI_SUCCESS) out_ << "locate-handle-buffer.free status=" << st(pool_.free_pool(buf)) << "\n";
    s = db_.locate_handle_buffer(ByProtocol, &kGuidUnused, nullptr, &n, &buf);
    out_ << "locate-handle-buffer.unknown status=" << st(s) << "\n";

    void* i = nullptr;
    s = db_.locate_protocol(&kGuidA, nullptr, &i);
    out_ << "locate-protocol status=" << st(s) << " same=" << yn(i == &if_a1_) << "\n";
    out_ << "locate-protocol.unknown status=" << st(db_.locate_protocol(&kGuidUnused, nullptr, &i)) << "\n";
    out_ << "locate-protocol.null-interface status="
         << st(db_.locate_protocol(&kGuidA, nullptr, nullptr)) << "\n";
  }

  void check_reinstall() {
    void* i = nullptr;
    EFI_STATUS s = db_.reinstall_protocol_interface(h_, &kGuidA, &if_a1_, &if_a2_);
    db_.handle_protocol(h_, &kGuidA, &i);
    out_ << "reinstall status=" << st(s) << " new=" << yn(i == &if_a2_) << "\n";
    s = db_.reinstall_protocol_interface(h_, &kGuidA, &if_a1_, &if_a2_);
    out_ << "reinstall.stale-old status=" << st(s) << "\n";
    out_ << "uninstall.wrong-interface status="
         << st(db_.uninstall_protocol_interface(h_, &kGuidA, &if_a1_)) << "\n";
    out_ << "uninstall.unknown status="
         << st(db_.uninstall_protocol_interface(h_, &kGuidUnused, &if_a1_)) << "\n";
  }

  void open_info(const char* what) {
    EFI_OPEN_PROTOCOL_INFORMATION_ENTRY* e = nullptr;
    UINTN n = 0, by_handle = 0, get = 0, test = 0, driver = 0, excl = 0, other = 0, app = 0;
    EFI_STATUS s = db_.open_protocol_information(h_, &kGuidA, &e, &n);
    for (UINTN k = 0; k < n; ++k) {
      switch (e[k].Attributes) {
        case EFI_OPEN_PROTOCOL_BY_HANDLE_PROTOCOL: by_handle++; break;
        case EFI_OPEN_PROTOCOL_GET_PROTOCOL: get++; break;
        case EFI_OPEN_PROTOCOL_TEST_PROTOCOL: test++; break;
        case EFI_OPEN_PROTOCOL_BY_DRIVER: driver++; break;
        case EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE: excl++; break;
        default: other++; break;
      }
      app += e[k].AgentHandle == image_;
    }
    out_ << what << " status=" << st(s) << " entries=" << n << " by-app=" << app << "\n";
    out_ << what << " by-handle=" << by_handle << " get=" << get << " test=" << test
         << " by-driver=" << driver << " driver-excl=" << excl << " other=" << other << "\n";
    if (e) pool_.free_pool(e);
  }

  void check_open() {
    void* i = nullptr;
    h_agent_ = nullptr;
    EFI_STATUS s = db_.install_protocol_interface(&h_agent_, &kGuidC, EFI_NATIVE_INTERFACE, &if_c_);
    out_ << "open.agent-handle status=" << st(s) << "\n";
    s = db_.open_protocol(h_, &kGuidA, &i, image_, nullptr, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
    out_ << "open.get status=" << st(s) << " same=" << yn(i == &if_a2_) << "\n";
    s = db_.open_protocol(h_, &kGuidA, nullptr, image_, nullptr, EFI_OPEN_PROTOCOL_TEST_PROTOCOL);
    out_ << "open.test-null-interface status=" << st(s) << "\n";
    s = db_.open_protocol(h_, &kGuidA, nullptr, image_, nullptr, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
    out_ << "open.get-null-interface status=" << st(s) << "\n";
    s = db_.open_protocol(h_, &kGuidUnused, &i, image_, nullptr, EFI_OPEN_PROTOCOL_GET_PROTOCOL);
    out_ << "open.unknown status=" << st(s) << "\n";
    s = db_.open_protocol(h_, &kGuidA, &i, image_, h_, 0x123);
    out_ << "open.bad-attributes status=" << st(s) << "\n";
    s = db_.open_protocol(h_, &kGuidA, &i, image_, nullptr, EFI_OPEN_PROTOCOL_BY_DRIVER);
    out_ << "open.by-driver-null-controller status=" << st(s) << "\n";
    i = nullptr;
    s = db_.open_protocol(h_, &kGuidA, &i, image_, h_, EFI_OPEN_PROTOCOL_BY_DRIVER);
    out_ << "open.by-driver status=" << st(s) << " same=" << yn(i == &if_a2_) << "\n";
    i = nullptr;
    s = db_.open_protocol(h_, &kGuidA, &i, image_, h_, EFI_OPEN_PROTOCOL_BY_DRIVER);
    out_ << "open.by-driver-again status=" << st(s) << " interface-set=" << yn(i == &if_a2_) << "\n";
    s = db_.open_protocol(h_, &kGuidA, &i, h_agent_, h_, EFI_OPEN_PROTOCOL_BY_DRIVER);
    out_ << "open.by-driver-other status=" << st(s) << "\n";
    s = db_.open_protocol(h_, &kGuidA, &i, h_agent_, h_,
                          EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE);
    out_ << "open.exclusive-other status=" << st(s) << "\n";
    open_info("open-info.by-driver");
    s = db_.uninstall_protocol_interface(h_, &kGuidA, &if_a2_);
    out_ << "uninstall.while-by-driver status=" << st(s) << "\n";
    out_ << "uninstall.while-by-driver still-there="
         << yn(db_.handle_protocol(h_, &kGuidA, &i) == EFI_SUCCESS) << "\n";
    out_ << "close status=" << st(db_.close_protocol(h_, &kGuidA, image_, h_)) << "\n";
    out_ << "close.again status=" << st(db_.close_protocol(h_, &kGuidA, image_, h_)) << "\n";
    out_ << "close.null-agent status=" << st(db_.close_protocol(h_, &kGuidA, nullptr, h_)) << "\n";
    out_ << "close.unknown status=" << st(db_.close_protocol(h_, &kGuidUnused, image_, nullptr)) << "\n";
    open_info("open-info.closed");
    s = db_.open_protocol(h_, &kGuidA, &i, h_agent_, h_,
                          EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE);
    out_ << "open.exclusive status=" << st(s) << "\n";
    s = db_.open_protocol(h_, &kGuidA, &i, image_, h_, EFI_OPEN_PROTOCOL_BY_DRIVER);
    out_ << "open.by-driver-vs-exclusive status=" << st(s) << "\n";
    out_ << "close.exclusive status=" << st(db_.close_protocol(h_, &kGuidA, h_agent_, h_)) << "\n";
    s = db_.uninstall_protocol_interface(h_, &kGuidA, &if_a2_);
    out_ << "uninstall status=" << st(s) << "\n";
    out_ << "uninstall.gone status=" << st(db_.handle_protocol(h_, &kGuidA, &i)) << "\n";
    s = db_.uninstall_protocol_interface(h_, &kGuidB, &if_b_);
    out_ << "uninstall.last status=" << st(s) << "\n";
    out_ << "uninstall.handle-freed status=" << st(db_.handle_protocol(h_, &kGuidB, &i)) << "\n";
  }

  void check_multiple() {
    EFI_HANDLE h3 = nullptr;
    void* i = nullptr;
    ProtocolInterfacePair ab[] = {{&kGuidA, &if_a1_}, {&kGuidB, &if_b_}};
    EFI_STATUS s = db_.install_multiple_protocol_interfaces(&h3, ab);
    EFI_GUID** guids = nullptr;
    UINTN count = 0;
    db_.protocols_per_handle(h3, &guids, &count);
    out_ << "install-multiple status=" << st(s) << " count=" << count << "\n";
    if (guids) pool_.free_pool(guids);
    ProtocolInterfacePair ca[] = {{&kGuidC, &if_c_}, {&kGuidA, &if_a1_}};
    s = db_.install_multiple_protocol_interfaces(&h3, ca);
    out_ << "install-multiple.duplicate status=" << st(s) << "\n";
    out_ << "install-multiple.rolled-back status=" << st(db_.handle_protocol(h3, &kGuidC, &i)) << "\n";
    ProtocolInterfacePair ac[] = {{&kGuidA, &if_a1_}, {&kGuidC, &if_c_}};
    s = db_.uninstall_multiple_protocol_interfaces(h3, ac);
    out_ << "uninstall-multiple.missing status=" << st(s) << "\n";
    out_ << "uninstall-multiple.restored status=" << st(db_.handle_protocol(h3, &kGuidA, &i)) << "\n";
    s = db_.uninstall_multiple_protocol_interfaces(h3, ab);
    out_ << "uninstall-multiple status=" << st(s) << "\n";
    out_ << "uninstall-multiple.handle-freed status=" << st(db_.handle_protocol(h3, &kGuidA, &i)) << "\n";
  }

  void check_device_path() {
    auto path_1 = PathBuilder().ven_media(kVendor1).end().bytes();
    auto path_1_again = path_1;
    auto path_12 = PathBuilder().ven_media(kVendor1).ven_media(kVendor2).end().bytes();
    auto path_2 = PathBuilder().ven_media(kVendor2).end().bytes();
    EFI_HANDLE h4 = nullptr, h5 = nullptr, found = nullptr;
    EFI_DEVICE_PATH* dp;
    ProtocolInterfacePair install[] = {{&guids::kDevicePath, path_1.data()}, {&kGuidA, &if_a1_}};
    EFI_STATUS s = db_.install_multiple_protocol_interfaces(&h4, install);
    out_ << "device-path.install status=" << st(s) << "\n";
    ProtocolInterfacePair duplicate[] = {{&guids::kDevicePath, path_1_again.data()}};
    s = db_.install_multiple_protocol_interfaces(&h5, duplicate);
    out_ << "device-path.install-duplicate status=" << st(s) << "\n";

    auto consumed = [](EFI_DEVICE_PATH* p, std::vector<std::uint8_t>& base) {
      return reinterpret_cast<std::uint8_t*>(p) - base.data();
    };
    dp = as_path(path_1_again);
    s = db_.locate_device_path(&kGuidA, &dp, &found);
    out_ << "locate-device-path.full status=" << st(s) << " handle=" << yn(found == h4)
         << " rest-is-end=" << yn(device_path_end(dp)) << " consumed=" << consumed(dp, path_1_again) << "\n";
    dp = as_path(path_12);
    found = nullptr;
    s = db_.locate_device_path(&kGuidA, &dp, &found);
    out_ << "locate-device-path.prefix status=" << st(s) << " handle=" << yn(found == h4)
         << " rest-is-end=" << yn(device_path_end(dp)) << " consumed=" << consumed(dp, path_12) << "\n";
    dp = as_path(path_2);
    s = db_.locate_device_path(&kGuidA, &dp, &found);
    out_ << "locate-device-path.no-match status=" << st(s)
         << " unchanged=" << yn(dp == as_path(path_2)) << "\n";
    dp = as_path(path_1_again);
    s = db_.locate_device_path(&kGuidUnused, &dp, &found);
    out_ << "locate-device-path.no-protocol status=" << st(s) << "\n";
    dp = as_path(path_1_again);
    found = nullptr;
    s = db_.locate_device_path(&guids::kDevicePath, &dp, &found);
    out_ << "locate-device-path.by-dp status=" << st(s) << " handle=" << yn(found == h4) << "\n";
    out_ << "locate-device-path.null-path status="
         << st(db_.locate_device_path(&kGuidA, nullptr, &found)) << "\n";
    dp = as_path(path_1_again);
    out_ << "locate-device-path.null-device status="
         << st(db_.locate_device_path(&kGuidA, &dp, nullptr)) << "\n";
    s = db_.uninstall_multiple_protocol_interfaces(h4, install);
    out_ << "device-path.uninstall status=" << st(s) << "\n";
  }

  static bool device_path_end(const EFI_DEVICE_PATH* dp) {
    return dp->Type == END_DEVICE_PATH_TYPE && dp->SubType == END_ENTIRE_DEVICE_PATH_SUBTYPE;
  }

  static void EFIAPI count_notify(EFI_EVENT, void* context) { ++*static_cast<UINTN*>(context); }

  void check_notify() {
    EFI_HANDLE hn1 = nullptr, hn2 = nullptr, hn3 = nullptr, hn4 = nullptr;
    EFI_EVENT ev = nullptr;
    void* reg = nullptr;
    void* i = nullptr;
    EFI_STATUS s = events_.create_event(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, count_notify, &notified_, &ev);
    out_ << "notify.event status=" << st(s) << "\n";
    s = db_.register_protocol_notify(&kGuidN, ev, &reg);
    out_ << "notify.register status=" << st(s) << " registration-set=" << yn(reg != nullptr) << "\n";
    locate(ByRegisterNotify, nullptr, reg, &s);
    out_ << "notify.locate-before status=" << st(s) << "\n";
    db_.install_protocol_interface(&hn1, &kGuidN, EFI_NATIVE_INTERFACE, &if_n1_);
    out_ << "notify.install-1 notified=" << notified_ << "\n";
    db_.install_protocol_interface(&hn2, &kGuidN, EFI_NATIVE_INTERFACE, &if_n2_);
    out_ << "notify.install-2 notified=" << notified_ << "\n";
    UINTN n = locate(ByRegisterNotify, nullptr, reg, &s);
    out_ << "notify.locate-1 status=" << st(s) << " handles=" << n
         << " first=" << yn(n && handles_[0] == hn1) << "\n";
    n = locate(ByRegisterNotify, nullptr, reg, &s);
    out_ << "notify.locate-2 status=" << st(s) << " handles=" << n
         << " second=" << yn(n && handles_[0] == hn2) << "\n";
    locate(ByRegisterNotify, nullptr, reg, &s);
    out_ << "notify.locate-3 status=" << st(s) << "\n";
    out_ << "notify.locate-protocol-consumed status=" << st(db_.locate_protocol(&kGuidN, reg, &i)) << "\n";
    db_.install_protocol_interface(&hn3, &kGuidN, EFI_NATIVE_INTERFACE, &if_n3_);
    i = nullptr;
    s = db_.locate_protocol(&kGuidN, reg, &i);
    out_ << "notify.locate-protocol status=" << st(s) << " notified=" << notified_
         << " same=" << yn(i == &if_n3_) << "\n";
    out_ << "notify.locate-protocol-again status=" << st(db_.locate_protocol(&kGuidN, reg, &i)) << "\n";
    s = db_.reinstall_protocol_interface(hn1, &kGuidN, &if_n1_, &if_n1b_);
    n = locate(ByRegisterNotify, nullptr, reg, &s);
    out_ << "notify.reinstall notified=" << notified_ << " locate=" << st(s)
         << " is-hn1=" << yn(n && handles_[0] == hn1) << "\n";
    db_.uninstall_protocol_interface(hn2, &kGuidN, &if_n2_);
    out_ << "notify.uninstall notified=" << notified_ << "\n";
    out_ << "notify.close status=" << st(events_.close_event(ev)) << "\n";
    db_.install_protocol_interface(&hn4, &kGuidN, EFI_NATIVE_INTERFACE, &if_n4_);
    out_ << "notify.after-close notified=" << notified_ << "\n";
    db_.uninstall_protocol_interface(hn1, &kGuidN, &if_n1b_);
    db_.uninstall_protocol_interface(hn3, &kGuidN, &if_n3_);
    db_.uninstall_protocol_interface(hn4, &kGuidN, &if_n4_);
    locate(ByProtocol, &kGuidN, nullptr, &s);
    out_ << "notify.cleanup locate=" << st(s) << "\n";
  }

  ProtocolDatabase& db_;
  EventManager& events_;
  FakePool& pool_;
  EFI_HANDLE image_;
  std::ostringstream out_;
  EFI_HANDLE handles_[2048] = {};
  EFI_HANDLE h_ = nullptr, h_agent_ = nullptr;
  std::uint64_t if_a1_ = 0, if_a2_ = 0, if_b_ = 0, if_c_ = 0, if_n1_ = 0, if_n1b_ = 0, if_n2_ = 0,
                if_n3_ = 0, if_n4_ = 0;
  UINTN notified_ = 0;
};

TEST_F(ProtocolsTest, AnswersTheConformanceApplicationLikeOvmf) {
  auto app = std::make_unique<EftProtocols>(db, events, pool, image);
  std::string ours = app->run();
  std::string expected = kOvmfTranscript;
  std::string all = "locate-handle.all status=BufferTooSmall contains-ours=no";
  expected.replace(expected.find(all), all.size(), kShimAllHandles);
  EXPECT_EQ(ours, expected);
  // Everything the application installed is gone again, handles included.
  EXPECT_EQ(db.handle_count(), 2u);
}

// ---------------------------------------------------------------------------------------------

TEST_F(ProtocolsTest, HandlesAreUniquePoolRecordsAndUnknownOnesAreRefused) {
  int a = 0, b = 0;
  EFI_HANDLE h1 = install_new(kGuidA, &a);
  EFI_HANDLE h2 = install_new(kGuidA, &b);
  EXPECT_NE(h1, h2);
  EXPECT_EQ(pool.live.at(h1).first, EfiBootServicesData);
  // Stack addresses that are no handle: refused, never followed.
  int bogus = 0;
  void* i = nullptr;
  EXPECT_EQ(db.handle_protocol(&bogus, &kGuidA, &i), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.uninstall_protocol_interface(&bogus, &kGuidA, &a), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.open_protocol(&bogus, &kGuidA, &i, image, nullptr, EFI_OPEN_PROTOCOL_GET_PROTOCOL),
            EFI_INVALID_PARAMETER);
  EFI_HANDLE wrong = &bogus;
  EXPECT_EQ(db.install_protocol_interface(&wrong, &kGuidB, EFI_NATIVE_INTERFACE, &a),
            EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.connect_controller(&bogus, nullptr, nullptr, TRUE), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.disconnect_controller(&bogus, nullptr, nullptr), EFI_INVALID_PARAMETER);
  EFI_GUID** guids = nullptr;
  UINTN count = 0;
  EXPECT_EQ(db.protocols_per_handle(&bogus, &guids, &count), EFI_INVALID_PARAMETER);
  EFI_OPEN_PROTOCOL_INFORMATION_ENTRY* entries = nullptr;
  EXPECT_EQ(db.open_protocol_information(&bogus, &kGuidA, &entries, &count), EFI_NOT_FOUND);
  EXPECT_EQ(db.open_protocol_information(h1, &kGuidA, nullptr, &count), EFI_INVALID_PARAMETER);
  // The last interface frees the record.
  EXPECT_EQ(db.uninstall_protocol_interface(h1, &kGuidA, &a), EFI_SUCCESS);
  EXPECT_EQ(pool.live.count(h1), 0u);
  EXPECT_FALSE(db.is_handle(h1));
}

TEST_F(ProtocolsTest, LocateOrdersByInstallAndReinstallMovesToTheEnd) {
  int a1 = 0, a2 = 0, a3 = 0;
  EFI_HANDLE h1 = install_new(kGuidA, &a1);
  EFI_HANDLE h2 = install_new(kGuidA, &a2);
  EFI_HANDLE h3 = install_new(kGuidA, &a3);
  EFI_HANDLE found[4] = {};
  UINTN size = sizeof(found);
  ASSERT_EQ(db.locate_handle(ByProtocol, &kGuidA, nullptr, &size, found), EFI_SUCCESS);
  EXPECT_EQ(size, 3 * sizeof(EFI_HANDLE));
  EXPECT_EQ(found[0], h1);
  EXPECT_EQ(found[2], h3);
  int a1b = 0;
  ASSERT_EQ(db.reinstall_protocol_interface(h1, &kGuidA, &a1, &a1b), EFI_SUCCESS);
  size = sizeof(found);
  ASSERT_EQ(db.locate_handle(ByProtocol, &kGuidA, nullptr, &size, found), EFI_SUCCESS);
  EXPECT_EQ(found[0], h2);
  EXPECT_EQ(found[2], h1);
  void* i = nullptr;
  ASSERT_EQ(db.locate_protocol(&kGuidA, nullptr, &i), EFI_SUCCESS);
  EXPECT_EQ(i, &a2);
  // AllHandles in creation order: firmware, image, then ours.
  size = sizeof(found);
  EXPECT_EQ(db.locate_handle(AllHandles, nullptr, nullptr, &size, found), EFI_BUFFER_TOO_SMALL);
  EXPECT_EQ(size, 5 * sizeof(EFI_HANDLE));
  EFI_HANDLE* all = nullptr;
  UINTN n = 0;
  ASSERT_EQ(db.locate_handle_buffer(AllHandles, nullptr, nullptr, &n, &all), EFI_SUCCESS);
  ASSERT_EQ(n, 5u);
  EXPECT_EQ(all[0], firmware);
  EXPECT_EQ(all[4], h3);
  EXPECT_EQ(pool.live.at(all).first, EfiBootServicesData);
  pool.free_pool(all);
  // A non-zero size with no buffer, and an unknown registration.
  size = 8;
  EXPECT_EQ(db.locate_handle(ByProtocol, &kGuidA, nullptr, &size, nullptr), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.locate_handle(ByProtocol, &kGuidA, nullptr, nullptr, found), EFI_INVALID_PARAMETER);
  int bogus = 0;
  size = sizeof(found);
  EXPECT_EQ(db.locate_handle(ByRegisterNotify, nullptr, &bogus, &size, found), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.locate_handle(ByRegisterNotify, nullptr, nullptr, &size, found), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.locate_protocol(&kGuidA, &bogus, &i), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.locate_handle_buffer(ByProtocol, &kGuidA, nullptr, nullptr, &all), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.locate_handle_buffer(ByProtocol, nullptr, nullptr, &n, &all), EFI_INVALID_PARAMETER);
}

TEST_F(ProtocolsTest, ProtocolsPerHandleIsOneFreeablePoolBufferNewestFirst) {
  int a = 0, b = 0, c = 0;
  EFI_HANDLE h = install_new(kGuidA, &a);
  db.install_protocol_interface(&h, &kGuidB, EFI_NATIVE_INTERFACE, &b);
  db.install_protocol_interface(&h, &kGuidC, EFI_NATIVE_INTERFACE, &c);
  EFI_GUID** guids = nullptr;
  UINTN count = 0;
  ASSERT_EQ(db.protocols_per_handle(h, &guids, &count), EFI_SUCCESS);
  ASSERT_EQ(count, 3u);
  EXPECT_TRUE(guid_equal(*guids[0], kGuidC));
  EXPECT_TRUE(guid_equal(*guids[2], kGuidA));
  std::size_t live = pool.live.size();
  EXPECT_EQ(pool.free_pool(guids), EFI_SUCCESS);
  EXPECT_EQ(pool.live.size(), live - 1);
  EXPECT_EQ(db.protocols_per_handle(h, nullptr, &count), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.protocols_per_handle(h, &guids, nullptr), EFI_INVALID_PARAMETER);
}

// The initrd hand-over of the reference traces: systemd-stub installs LoadFile2 on the
// LINUX_EFI_INITRD_MEDIA vendor path, the kernel finds it with LocateDevicePath.
TEST_F(ProtocolsTest, LinuxInitrdMediaHandOver) {
  auto kernel_query = PathBuilder().ven_media(kInitrdMedia).end().bytes();
  EFI_DEVICE_PATH* dp = as_path(kernel_query);
  EFI_HANDLE device = nullptr;
  EXPECT_EQ(db.locate_device_path(&kLoadFile2, &dp, &device), EFI_NOT_FOUND);

  auto stub_path = PathBuilder().ven_media(kInitrdMedia).end().bytes();
  int load_file2 = 0;
  EFI_HANDLE initrd = nullptr;
  ProtocolInterfacePair pairs[] = {{&guids::kDevicePath, stub_path.data()},
                                   {&kLoadFile2, &load_file2}};
  ASSERT_EQ(db.install_multiple_protocol_interfaces(&initrd, pairs), EFI_SUCCESS);
  ASSERT_NE(initrd, nullptr);

  dp = as_path(kernel_query);
  ASSERT_EQ(db.locate_device_path(&kLoadFile2, &dp, &device), EFI_SUCCESS);
  EXPECT_EQ(device, initrd);
  EXPECT_TRUE(device_path_is_end(dp));
  EXPECT_EQ(reinterpret_cast<std::uint8_t*>(dp), kernel_query.data() + 20);
  void* i = nullptr;
  EXPECT_EQ(db.handle_protocol(device, &kLoadFile2, &i), EFI_SUCCESS);
  EXPECT_EQ(i, &load_file2);
}

// systemd 257: LocateDevicePath(BlockIo, PciRoot/Pci/Sata) picks the longest prefix.
TEST_F(ProtocolsTest, LocateDevicePathPicksTheLongestPrefix) {
  auto controller = PathBuilder().pci_root(0).pci(0x1f, 2).end().bytes();
  auto disk = PathBuilder().pci_root(0).pci(0x1f, 2).sata(0, 0xffff, 0).end().bytes();
  int io1 = 0, io2 = 0;
  EFI_HANDLE hc = nullptr, hd = nullptr;
  ProtocolInterfacePair c[] = {{&guids::kDevicePath, controller.data()}, {&kBlockIo, &io1}};
  ProtocolInterfacePair d[] = {{&guids::kDevicePath, disk.data()}, {&kBlockIo, &io2}};
  ASSERT_EQ(db.install_multiple_protocol_interfaces(&hc, c), EFI_SUCCESS);
  ASSERT_EQ(db.install_multiple_protocol_interfaces(&hd, d), EFI_SUCCESS);
  auto file = testing::boot_file_path();
  EFI_DEVICE_PATH* dp = as_path(file);
  EFI_HANDLE found = nullptr;
  ASSERT_EQ(db.locate_device_path(&kBlockIo, &dp, &found), EFI_SUCCESS);
  EXPECT_EQ(found, hd);
  EXPECT_EQ(reinterpret_cast<std::uint8_t*>(dp), file.data() + disk.size() - 4);
  // A malformed path is refused before any handle is compared.
  std::vector<std::uint8_t> bad = {0x01, 0x01, 0x00, 0x00};
  dp = as_path(bad);
  EXPECT_EQ(db.locate_device_path(&kBlockIo, &dp, &found), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.connect_controller(hd, nullptr, nullptr, TRUE), EFI_NOT_FOUND);
  EXPECT_EQ(db.disconnect_controller(hd, nullptr, nullptr), EFI_SUCCESS);
}

// A driver binding whose Stop() closes what its Start() would have opened.
struct TestDriver {
  EFI_DRIVER_BINDING_PROTOCOL binding;
  ProtocolDatabase* db;
  EFI_HANDLE self;
  const EFI_GUID* protocol;
  std::vector<std::pair<EFI_HANDLE, UINTN>> stops;  // (controller, children) per call
  EFI_STATUS result = EFI_SUCCESS;
  bool close = true;
};

EFI_STATUS EFIAPI driver_stop(EFI_DRIVER_BINDING_PROTOCOL* binding, EFI_HANDLE controller,
                              UINTN children, EFI_HANDLE* child_buffer) {
  auto* driver = reinterpret_cast<TestDriver*>(binding);
  driver->stops.push_back({controller, children});
  if (driver->result != EFI_SUCCESS) return driver->result;
  for (UINTN i = 0; i < children; ++i)
    driver->db->close_protocol(controller, driver->protocol, driver->self, child_buffer[i]);
  if (children == 0 && driver->close)
    driver->db->close_protocol(controller, driver->protocol, driver->self, controller);
  return EFI_SUCCESS;
}

// A driver image (with its binding) that manages a new controller carrying kGuidA.
struct ManagedController {
  std::unique_ptr<TestDriver> driver;
  EFI_HANDLE controller;
};

ManagedController manage(ProtocolsTest& t, int* interface) {
  auto driver = std::make_unique<TestDriver>();
  driver->binding.Stop = driver_stop;
  driver->db = &t.db;
  driver->protocol = &kGuidA;
  driver->self = t.install_new(guids::kDriverBinding, &driver->binding);
  EFI_HANDLE controller = t.install_new(kGuidA, interface);
  void* i = nullptr;
  EXPECT_EQ(t.db.open_protocol(controller, &kGuidA, &i, driver->self, controller,
                               EFI_OPEN_PROTOCOL_BY_DRIVER),
            EFI_SUCCESS);
  return {std::move(driver), controller};
}

TEST_F(ProtocolsTest, DisconnectStopsImageDriversChildrenFirst) {
  int a = 0, c = 0;
  auto [driver, controller] = manage(*this, &a);
  EFI_HANDLE child = install_new(kGuidC, &c);
  void* i = nullptr;
  ASSERT_EQ(db.open_protocol(controller, &kGuidA, &i, driver->self, child,
                             EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER),
            EFI_SUCCESS);
  // Uninstalling the controller's interface disconnects the driver first (§7.3.3).
  EXPECT_EQ(db.uninstall_protocol_interface(controller, &kGuidA, &a), EFI_SUCCESS);
  ASSERT_EQ(driver->stops.size(), 2u);
  EXPECT_EQ(driver->stops[0], (std::pair<EFI_HANDLE, UINTN>{controller, 1}));
  EXPECT_EQ(driver->stops[1], (std::pair<EFI_HANDLE, UINTN>{controller, 0}));
  EXPECT_FALSE(db.is_handle(controller));
}

TEST_F(ProtocolsTest, DriversThatWillNotLetGoKeepTheInterface) {
  int a = 0;
  auto [driver, controller] = manage(*this, &a);
  void* i = nullptr;
  driver->result = EFI_DEVICE_ERROR;
  EXPECT_EQ(db.disconnect_controller(controller, nullptr, nullptr), EFI_DEVICE_ERROR);
  EXPECT_EQ(db.uninstall_protocol_interface(controller, &kGuidA, &a), EFI_ACCESS_DENIED);
  // Success reported, open kept: bounded retries, then refused (EDK2 would spin forever).
  driver->result = EFI_SUCCESS;
  driver->close = false;
  EXPECT_EQ(db.uninstall_protocol_interface(controller, &kGuidA, &a), EFI_ACCESS_DENIED);
  // An exclusive opener takes it once the driver lets go.
  driver->close = true;
  EXPECT_EQ(db.open_protocol(controller, &kGuidA, &i, image, nullptr, EFI_OPEN_PROTOCOL_EXCLUSIVE),
            EFI_SUCCESS);
  EXPECT_EQ(i, &a);
  // A driver image without a driver binding is no driver.
  EXPECT_EQ(db.disconnect_controller(controller, image, nullptr), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.disconnect_controller(controller, driver->self, nullptr), EFI_SUCCESS);
}

TEST_F(ProtocolsTest, CapacitiesEndInOutOfResources) {
  std::vector<EFI_GUID> guids(ProtocolDatabase::kMaxProtocolsPerHandle + 1, kGuidA);
  int interface = 0;
  EFI_HANDLE h = nullptr;
  for (std::size_t k = 0; k < guids.size(); ++k) {
    guids[k].Data4[7] = static_cast<UINT8>(0x80 + k);
    EFI_STATUS expected = k < ProtocolDatabase::kMaxProtocolsPerHandle ? EFI_SUCCESS
                                                                         : EFI_OUT_OF_RESOURCES;
    EXPECT_EQ(db.install_protocol_interface(&h, &guids[k], EFI_NATIVE_INTERFACE, &interface), expected);
  }
  // Open records per interface.
  void* i = nullptr;
  std::vector<EFI_HANDLE> agents;
  for (std::size_t k = 0; k <= ProtocolDatabase::kMaxOpensPerInterface; ++k) {
    EFI_STATUS expected = k < ProtocolDatabase::kMaxOpensPerInterface ? EFI_SUCCESS
                                                                        : EFI_OUT_OF_RESOURCES;
    EFI_HANDLE agent = reinterpret_cast<EFI_HANDLE>(0x1000 + 16 * k);  // not validated for GET
    EXPECT_EQ(db.open_protocol(h, &guids[0], &i, agent, nullptr, EFI_OPEN_PROTOCOL_GET_PROTOCOL),
              expected);
  }
  // A pool that fails: no new handle, nothing half-made.
  std::size_t handles = db.handle_count();
  pool.fail_after = 0;
  EFI_HANDLE none = nullptr;
  EXPECT_EQ(db.install_protocol_interface(&none, &kGuidB, EFI_NATIVE_INTERFACE, &interface),
            EFI_OUT_OF_RESOURCES);
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(db.handle_count(), handles);
  pool.fail_after = -1;
}

TEST_F(ProtocolsTest, NotifyRegistrationsNeedALiveEventAndDieWithIt) {
  int bogus = 0;
  void* reg = nullptr;
  EXPECT_EQ(db.register_protocol_notify(&kGuidN, &bogus, &reg), EFI_INVALID_PARAMETER);
  EFI_EVENT ev = nullptr;
  ASSERT_EQ(events.create_event(0, 0, nullptr, nullptr, &ev), EFI_SUCCESS);
  EXPECT_EQ(db.register_protocol_notify(nullptr, ev, &reg), EFI_INVALID_PARAMETER);
  EXPECT_EQ(db.register_protocol_notify(&kGuidN, ev, nullptr), EFI_INVALID_PARAMETER);
  // Interfaces already installed are reported too: the position starts at the beginning.
  int n = 0;
  EFI_HANDLE existing = install_new(kGuidN, &n);
  ASSERT_EQ(db.register_protocol_notify(&kGuidN, ev, &reg), EFI_SUCCESS);
  EXPECT_EQ(pool.live.count(reg), 1u);
  void* i = nullptr;
  EXPECT_EQ(db.locate_protocol(&kGuidUnused, reg, &i), EFI_SUCCESS);  // Protocol ignored
  EXPECT_EQ(i, &n);
  (void)existing;
  EXPECT_EQ(events.close_event(ev), EFI_SUCCESS);
  EXPECT_EQ(pool.live.count(reg), 0u);
  EXPECT_EQ(db.locate_protocol(&kGuidN, reg, &i), EFI_INVALID_PARAMETER);
}

// Notify functions of InstallMultipleProtocolInterfaces run after all interfaces are in place.
struct MultipleSeen {
  ProtocolDatabase* db;
  void* registration;
  bool b_present;
  int calls;
};

void EFIAPI check_b_on_notify(EFI_EVENT, void* context) {
  auto* seen = static_cast<MultipleSeen*>(context);
  ++seen->calls;
  EFI_HANDLE found[8];
  UINTN size = sizeof(found);
  void* i = nullptr;
  if (seen->db->locate_handle(ByRegisterNotify, nullptr, seen->registration, &size, found) ==
      EFI_SUCCESS)
    seen->b_present = seen->db->handle_protocol(found[0], &kGuidB, &i) == EFI_SUCCESS;
}

TEST_F(ProtocolsTest, InstallMultipleNotifiesAfterEverythingIsInstalled) {
  MultipleSeen seen{&db, nullptr, false, 0};
  EFI_EVENT ev = nullptr;
  ASSERT_EQ(events.create_event(EVT_NOTIFY_SIGNAL, TPL_CALLBACK, check_b_on_notify, &seen, &ev),
            EFI_SUCCESS);
  ASSERT_EQ(db.register_protocol_notify(&kGuidA, ev, &seen.registration), EFI_SUCCESS);
  int a = 0, b = 0;
  EFI_HANDLE h = nullptr;
  ProtocolInterfacePair pairs[] = {{&kGuidA, &a}, {&kGuidB, &b}};
  ASSERT_EQ(db.install_multiple_protocol_interfaces(&h, pairs), EFI_SUCCESS);
  EXPECT_EQ(seen.calls, 1);
  EXPECT_TRUE(seen.b_present);
  EXPECT_EQ(events.current_tpl(), static_cast<EFI_TPL>(TPL_APPLICATION));
}

}  // namespace
}  // namespace efikexec::efi
