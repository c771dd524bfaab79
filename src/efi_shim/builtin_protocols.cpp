// SPDX-License-Identifier: MIT
// The protocols the shim itself provides: the console (ConOut/StdErr captured to the host
// console, ConIn with no keys), RNG from host randomness, LoadFile2 serving an external initrd
// on the Linux initrd media device path, and the boot volume the image was "loaded from" (a
// read-only SimpleFileSystem over the FileVolume snapshot the host gave, file_volume.hpp).
#include <cstring>

#include "efi_shim/builtin_protocols.hpp"
#include "efi_shim/device_path.hpp"
#include "efi_shim/guids.hpp"
#include "efi_shim/service_call.hpp"

namespace efikexec::efi {

namespace {

#define CALL(name) ServiceCall call("P." name, __builtin_return_address(0))

// UCS-2 from image memory to UTF-8 for the host console (at most `limit` characters).
std::size_t ucs2_to_utf8(const CHAR16* text, char* out, std::size_t capacity, std::size_t limit) {
  std::size_t used = 0;
  for (std::size_t i = 0; i < limit && text[i] != 0; ++i) {
    const CHAR16 c = text[i];
    char encoded[3];
    std::size_t length;
    if (c < 0x80) {
      encoded[0] = static_cast<char>(c);
      length = 1;
    } else if (c < 0x800) {
      encoded[0] = static_cast<char>(0xc0 | (c >> 6));
      encoded[1] = static_cast<char>(0x80 | (c & 0x3f));
      length = 2;
    } else if (c >= 0xd800 && c < 0xe000) {
      encoded[0] = '?';  // a surrogate half: not UCS-2
      length = 1;
    } else {
      encoded[0] = static_cast<char>(0xe0 | (c >> 12));
      encoded[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      encoded[2] = static_cast<char>(0x80 | (c & 0x3f));
      length = 3;
    }
    if (used + length > capacity) break;
    std::memcpy(out + used, encoded, length);
    used += length;
  }
  return used;
}

// ---- Simple Text Output (UEFI 2.10 §12.4) ----

constexpr std::size_t kMaxOutputChars = 4096;

EFI_STATUS EFIAPI text_reset(SIMPLE_TEXT_OUTPUT_INTERFACE* self, BOOLEAN) {
  CALL("ConOut.Reset");
  if (self != nullptr && self->Mode != nullptr) {
    self->Mode->CursorColumn = 0;
    self->Mode->CursorRow = 0;
  }
  if (call.traced()) call.result(EFI_SUCCESS);
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI text_output_string(SIMPLE_TEXT_OUTPUT_INTERFACE* self, CHAR16* string) {
  CALL("ConOut.OutputString");
  if (string == nullptr) return EFI_INVALID_PARAMETER;
  char utf8[kMaxOutputChars * 3];
  std::size_t length = ucs2_to_utf8(string, utf8, sizeof utf8, kMaxOutputChars);
  call.shim().host().console->write({utf8, length});
  if (self != nullptr && self->Mode != nullptr)
    for (std::size_t i = 0; i < length; ++i)
      self->Mode->CursorColumn = utf8[i] == '\n' || utf8[i] == '\r' ? 0
                                                                    : self->Mode->CursorColumn + 1;
  if (call.traced()) {
    call.text().ucs2(string, 200);
    call.result(EFI_SUCCESS);
  }
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI text_test_string(SIMPLE_TEXT_OUTPUT_INTERFACE*, CHAR16* string) {
  return string != nullptr ? EFI_SUCCESS : EFI_INVALID_PARAMETER;
}

// One mode, 80x25, as the firmware's mode 0 (§12.4.5).
EFI_STATUS EFIAPI text_query_mode(SIMPLE_TEXT_OUTPUT_INTERFACE*, UINTN mode, UINTN* columns,
                                  UINTN* rows) {
  if (columns == nullptr || rows == nullptr) return EFI_INVALID_PARAMETER;
  if (mode != 0) return EFI_UNSUPPORTED;
  *columns = 80;
  *rows = 25;
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI text_set_mode(SIMPLE_TEXT_OUTPUT_INTERFACE*, UINTN mode) {
  return mode == 0 ? EFI_SUCCESS : EFI_UNSUPPORTED;
}

EFI_STATUS EFIAPI text_set_attribute(SIMPLE_TEXT_OUTPUT_INTERFACE* self, UINTN attribute) {
  if (attribute > 0x7f) return EFI_UNSUPPORTED;
  if (self != nullptr && self->Mode != nullptr) self->Mode->Attribute = static_cast<INT32>(attribute);
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI text_clear_screen(SIMPLE_TEXT_OUTPUT_INTERFACE* self) {
  if (self != nullptr && self->Mode != nullptr) {
    self->Mode->CursorColumn = 0;
    self->Mode->CursorRow = 0;
  }
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI text_set_cursor_position(SIMPLE_TEXT_OUTPUT_INTERFACE* self, UINTN column,
                                           UINTN row) {
  if (column >= 80 || row >= 25) return EFI_UNSUPPORTED;
  if (self != nullptr && self->Mode != nullptr) {
    self->Mode->CursorColumn = static_cast<INT32>(column);
    self->Mode->CursorRow = static_cast<INT32>(row);
  }
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI text_enable_cursor(SIMPLE_TEXT_OUTPUT_INTERFACE* self, BOOLEAN visible) {
  if (self != nullptr && self->Mode != nullptr) self->Mode->CursorVisible = visible;
  return EFI_SUCCESS;
}

// ---- Simple Text Input and Input Ex (§12.3, §12.2): a console without keys ----

EFI_STATUS EFIAPI input_reset(SIMPLE_INPUT_INTERFACE*, BOOLEAN) { return EFI_SUCCESS; }

EFI_STATUS EFIAPI input_read_key(SIMPLE_INPUT_INTERFACE*, EFI_INPUT_KEY* key) {
  return key != nullptr ? EFI_NOT_READY : EFI_INVALID_PARAMETER;
}

EFI_STATUS EFIAPI input_ex_reset(EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL*, BOOLEAN) {
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI input_ex_read_key(EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL*, EFI_KEY_DATA* key) {
  return key != nullptr ? EFI_NOT_READY : EFI_INVALID_PARAMETER;
}

EFI_STATUS EFIAPI input_ex_set_state(EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL*, EFI_KEY_TOGGLE_STATE* state) {
  return state != nullptr ? EFI_SUCCESS : EFI_INVALID_PARAMETER;
}

EFI_STATUS EFIAPI input_ex_register(EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL* self, EFI_KEY_DATA* key,
                                    EFI_KEY_NOTIFY_FUNCTION notify, VOID** handle) {
  if (key == nullptr || notify == nullptr || handle == nullptr) return EFI_INVALID_PARAMETER;
  *handle = self;  // no key ever arrives, so no notification is ever made
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI input_ex_unregister(EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL*, VOID* handle) {
  return handle != nullptr ? EFI_SUCCESS : EFI_INVALID_PARAMETER;
}

// ---- RNG (§37.5) ----

EFI_STATUS EFIAPI rng_get_info(EFI_RNG_PROTOCOL*, UINTN* size, EFI_RNG_ALGORITHM* list) {
  CALL("RNG.GetInfo");
  EFI_STATUS status = EFI_SUCCESS;
  if (size == nullptr) {
    status = EFI_INVALID_PARAMETER;
  } else if (*size < sizeof(EFI_GUID) || list == nullptr) {
    *size = sizeof(EFI_GUID);
    status = EFI_BUFFER_TOO_SMALL;
  } else {
    *size = sizeof(EFI_GUID);
    std::memcpy(list, &guids::kRngAlgorithmRaw, sizeof(EFI_GUID));
  }
  if (call.traced()) call.result(status);
  return status;
}

EFI_STATUS EFIAPI rng_get_rng(EFI_RNG_PROTOCOL*, EFI_RNG_ALGORITHM* algorithm, UINTN length,
                              UINT8* value) {
  CALL("RNG.GetRNG");
  EFI_STATUS status = EFI_SUCCESS;
  if (value == nullptr || length == 0) {
    status = EFI_INVALID_PARAMETER;
  } else if (algorithm != nullptr && !guid_equal(*algorithm, guids::kRngAlgorithmRaw)) {
    status = EFI_UNSUPPORTED;
  } else if (!call.shim().host().random->fill({reinterpret_cast<std::byte*>(value), length})) {
    status = EFI_DEVICE_ERROR;
  }
  if (call.traced()) {
    call.text().str("len=").hex(length);
    call.result(status);
  }
  return status;
}

// ---- Device path to text (UEFI 2.10 §10.6.2) ----

// The text as a UCS-2 string in boot-services pool memory, which the caller frees (§10.6.2.1);
// null when the path is null or memory ran out.
CHAR16* to_pool_string(const Text& text) {
  const std::string_view view = text.view();
  void* memory = nullptr;
  if (active_shim().memory().allocate_pool(EfiBootServicesData, (view.size() + 1) * sizeof(CHAR16),
                                           &memory) != EFI_SUCCESS)
    return nullptr;
  auto* out = static_cast<CHAR16*>(memory);
  for (std::size_t i = 0; i < view.size(); ++i) out[i] = static_cast<unsigned char>(view[i]);
  out[view.size()] = 0;
  return out;
}

// As the reference traces quote strings: backslashes doubled.
void quote(Text& out, std::string_view text) {
  out.chr('"');
  for (char c : text) {
    if (c == '\\') out.str("\\\\");
    else out.chr(c);
  }
  out.chr('"');
}

// One node (ConvertDeviceNodeToText) or a whole path (ConvertDevicePathToText). DisplayOnly and
// AllowShortcuts change nothing for the nodes the shim spells (EDK2 shortens some messaging
// nodes with them; the shim spells those in the generic Path() form anyway).
CHAR16* device_path_text(ServiceCall& call, const EFI_DEVICE_PATH* path, bool node,
                         BOOLEAN display_only, BOOLEAN allow_shortcuts) {
  Text text;
  CHAR16* result = nullptr;
  if (path != nullptr) {
    if (node) append_device_node_firmware_text(text, path);
    else append_device_path_firmware_text(text, path);
    result = to_pool_string(text);
  }
  if (call.traced()) {
    call.text().str(node ? "node=" : "dp=");
    call.device_path(path).str(", DisplayOnly=").dec(display_only)
        .str(", AllowShortcuts=").dec(allow_shortcuts);
    call.text().str(") -> str=").hex(reinterpret_cast<UINTN>(result)).chr(' ');
    quote(call.text(), text.view());
  }
  return result;
}

CHAR16* EFIAPI device_node_to_text(const EFI_DEVICE_PATH* node, BOOLEAN display_only,
                                   BOOLEAN allow_shortcuts) {
  CALL("DevicePathToText.ConvertDeviceNodeToText");
  return device_path_text(call, node, true, display_only, allow_shortcuts);
}

CHAR16* EFIAPI device_path_to_text(const EFI_DEVICE_PATH* path, BOOLEAN display_only,
                                   BOOLEAN allow_shortcuts) {
  CALL("DevicePathToText.ConvertDevicePathToText");
  return device_path_text(call, path, false, display_only, allow_shortcuts);
}

// ---- LoadFile2 for the initrd (Linux: drivers/firmware/efi/libstub/efi-stub-helper.c) ----

struct InitrdLoadFile {
  EFI_LOAD_FILE_PROTOCOL protocol;
  const std::byte* data;
  UINTN size;
};

EFI_STATUS EFIAPI initrd_load_file(EFI_LOAD_FILE_PROTOCOL* self, EFI_DEVICE_PATH* file_path,
                                   BOOLEAN boot_policy, UINTN* size, VOID* buffer) {
  CALL("LoadFile2.LoadFile");
  EFI_STATUS status;
  const UINTN offered = size ? *size : 0;
  auto* initrd = reinterpret_cast<InitrdLoadFile*>(self);
  if (self == nullptr || size == nullptr) {
    status = EFI_INVALID_PARAMETER;
  } else if (boot_policy) {
    status = EFI_UNSUPPORTED;  // LoadFile2 never loads boot options (§13.2)
  } else if (buffer == nullptr || *size < initrd->size) {
    *size = initrd->size;
    status = EFI_BUFFER_TOO_SMALL;
  } else {
    std::memcpy(buffer, initrd->data, initrd->size);
    *size = initrd->size;
    status = EFI_SUCCESS;
  }
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self)).str(", dp=");
    call.device_path(file_path).str(", BootPolicy=").dec(boot_policy).str(", size=")
        .hex(offered).str(", buf=").hex(reinterpret_cast<UINTN>(buffer));
    Text& out = call.result(status);
    if (size != nullptr) out.str(" size=").hex(*size);
  }
  return status;
}

// ---- The boot volume: SimpleFileSystem and File (§13.4, §13.5) over a FileVolume ----

struct VolumeFile {
  EFI_FILE_PROTOCOL protocol;
  std::uint32_t node;
  // Files: the byte offset. Directories: the node index the next Read() starts looking at.
  UINT64 position;
};

const FileVolume& volume() { return active_shim().boot_volume(); }

VolumeFile* as_file(EFI_FILE_PROTOCOL* self) { return reinterpret_cast<VolumeFile*>(self); }

bool is_directory(const VolumeFile* file) { return volume().node(file->node).directory; }

EFI_STATUS EFIAPI file_close(EFI_FILE_PROTOCOL* self);
EFI_STATUS EFIAPI file_open(EFI_FILE_PROTOCOL* self, EFI_FILE_PROTOCOL** out, CHAR16* name,
                            UINT64 mode, UINT64 attributes);
EFI_STATUS EFIAPI file_read(EFI_FILE_PROTOCOL* self, UINTN* size, VOID* buffer);
EFI_STATUS EFIAPI file_get_info(EFI_FILE_PROTOCOL* self, EFI_GUID* type, UINTN* size,
                                VOID* buffer);

// The volume is read-only: Delete closes and warns (§13.5.4), writes are refused as EDK2's FAT
// driver refuses them on a handle opened read-only (every handle here is).
EFI_STATUS EFIAPI file_delete(EFI_FILE_PROTOCOL* self) {
  CALL("File.Delete");
  (void)file_close(self);
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self));
    call.result(EFI_WARN_DELETE_FAILURE);
  }
  return EFI_WARN_DELETE_FAILURE;
}

EFI_STATUS EFIAPI file_write(EFI_FILE_PROTOCOL* self, UINTN* size, VOID*) {
  CALL("File.Write");
  // As EDK2's FAT driver on a read-only volume (conformance eft_files): a directory cannot be
  // written, a file is write-protected.
  const EFI_STATUS status = self == nullptr || size == nullptr ? EFI_INVALID_PARAMETER
                            : is_directory(as_file(self))      ? EFI_UNSUPPORTED
                                                               : EFI_WRITE_PROTECTED;
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self));
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI file_get_position(EFI_FILE_PROTOCOL* self, UINT64* position) {
  CALL("File.GetPosition");
  EFI_STATUS status = EFI_SUCCESS;
  if (self == nullptr || position == nullptr) status = EFI_INVALID_PARAMETER;
  else if (is_directory(as_file(self))) status = EFI_UNSUPPORTED;
  else *position = as_file(self)->position;
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self));
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" pos=").hex(*position);
  }
  return status;
}

EFI_STATUS EFIAPI file_set_position(EFI_FILE_PROTOCOL* self, UINT64 position) {
  CALL("File.SetPosition");
  EFI_STATUS status = EFI_SUCCESS;
  if (self == nullptr) {
    status = EFI_INVALID_PARAMETER;
  } else if (VolumeFile* file = as_file(self); is_directory(file)) {
    // Directories rewind only (§13.5.10).
    if (position != 0) status = EFI_UNSUPPORTED;
    else file->position = 0;
  } else {
    const UINT64 size = volume().node(file->node).data.size();
    file->position = position == ~UINT64{0} ? size : position;
  }
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self)).str(", pos=").hex(position);
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI file_set_info(EFI_FILE_PROTOCOL* self, EFI_GUID*, UINTN, VOID*) {
  CALL("File.SetInfo");
  const EFI_STATUS status = self == nullptr ? EFI_INVALID_PARAMETER : EFI_WRITE_PROTECTED;
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self));
    call.result(status);
  }
  return status;
}

EFI_STATUS EFIAPI file_flush(EFI_FILE_PROTOCOL* self) {
  CALL("File.Flush");
  // A read-only volume refuses every flush, of directories too (EDK2's FAT driver, eft_files).
  const EFI_STATUS status = self == nullptr ? EFI_INVALID_PARAMETER : EFI_WRITE_PROTECTED;
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self));
    call.result(status);
  }
  return status;
}

EFI_FILE_PROTOCOL* new_file(std::uint32_t node) {
  void* memory = nullptr;
  if (active_shim().memory().allocate_pool(EfiBootServicesData, sizeof(VolumeFile), &memory) !=
      EFI_SUCCESS)
    return nullptr;
  auto* file = static_cast<VolumeFile*>(memory);
  std::memset(file, 0, sizeof *file);
  file->protocol.Revision = EFI_FILE_PROTOCOL_REVISION;  // no Ex functions
  file->protocol.Open = file_open;
  file->protocol.Close = file_close;
  file->protocol.Delete = file_delete;
  file->protocol.Read = file_read;
  file->protocol.Write = file_write;
  file->protocol.GetPosition = file_get_position;
  file->protocol.SetPosition = file_set_position;
  file->protocol.GetInfo = file_get_info;
  file->protocol.SetInfo = file_set_info;
  file->protocol.Flush = file_flush;
  file->node = node;
  return &file->protocol;
}

// A NUL-terminated name in image memory, at most FileVolume::kMaxPathChars + 1 characters of it.
std::span<const CHAR16> bounded_name(const CHAR16* name) {
  std::size_t length = 0;
  while (length <= FileVolume::kMaxPathChars && name[length] != 0) ++length;
  return {name, length};
}

EFI_STATUS EFIAPI file_open(EFI_FILE_PROTOCOL* self, EFI_FILE_PROTOCOL** out, CHAR16* name,
                            UINT64 mode, UINT64 attributes) {
  CALL("File.Open");
  EFI_FILE_PROTOCOL** const out_file = out;
  EFI_STATUS status;
  constexpr UINT64 kReadWrite = EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE;
  if (self == nullptr || out == nullptr || name == nullptr ||
      (mode != EFI_FILE_MODE_READ && mode != kReadWrite &&
       mode != (kReadWrite | EFI_FILE_MODE_CREATE))) {
    status = EFI_INVALID_PARAMETER;  // the three modes §13.5.2 allows
  } else if (mode != EFI_FILE_MODE_READ) {
    status = EFI_WRITE_PROTECTED;  // a read-only volume, as EDK2's FAT driver answers
  } else if (auto found = volume().open(as_file(self)->node, bounded_name(name)); !found) {
    status = EFI_NOT_FOUND;
  } else {
    *out = new_file(*found);
    status = *out != nullptr ? EFI_SUCCESS : EFI_OUT_OF_RESOURCES;
  }
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self)).str(", ");
    call.text().ucs2(name).str(", mode=").hex(mode).str(", attr=").hex(attributes);
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" file=").hex(reinterpret_cast<UINTN>(*out_file));
  }
  return status;
}

EFI_STATUS EFIAPI file_close(EFI_FILE_PROTOCOL* self) {
  CALL("File.Close");
  if (self != nullptr) (void)active_shim().memory().free_pool(self);
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self));
    call.result(EFI_SUCCESS);
  }
  return EFI_SUCCESS;
}

// A directory gives one EFI_FILE_INFO per call (§13.5.5), `.` and `..` first below the root as
// on FAT, BUFFER_TOO_SMALL with the size it needs, and size 0 at its end.
EFI_STATUS read_directory(VolumeFile* file, UINTN* size, VOID* buffer) {
  const auto entry = volume().directory_entry(file->node, file->position);
  if (!entry) {
    *size = 0;
    return EFI_SUCCESS;
  }
  const std::size_t needed = volume().file_info_size(entry->name);
  if (*size < needed) {
    *size = needed;
    return EFI_BUFFER_TOO_SMALL;
  }
  if (buffer == nullptr) return EFI_INVALID_PARAMETER;
  volume().write_file_info(entry->node, entry->name, {static_cast<std::byte*>(buffer), needed});
  *size = needed;
  file->position = entry->next_position;
  return EFI_SUCCESS;
}

EFI_STATUS EFIAPI file_read(EFI_FILE_PROTOCOL* self, UINTN* size, VOID* buffer) {
  CALL("File.Read");
  auto* file = as_file(self);
  EFI_STATUS status = EFI_SUCCESS;
  const UINTN offered = size != nullptr ? *size : 0;
  if (self == nullptr || size == nullptr) {
    status = EFI_INVALID_PARAMETER;
  } else if (is_directory(file)) {
    status = read_directory(file, size, buffer);
  } else {
    ByteView data = volume().node(file->node).data;
    if (file->position > data.size()) {
      status = EFI_DEVICE_ERROR;  // reading from beyond the end (§13.5.5)
    } else {
      const UINT64 left = data.size() - file->position;
      const UINTN count = *size < left ? *size : static_cast<UINTN>(left);
      if (count != 0 && buffer == nullptr) {
        status = EFI_INVALID_PARAMETER;
      } else {
        if (count != 0) std::memcpy(buffer, data.data() + file->position, count);
        file->position += count;
        *size = count;
      }
    }
  }
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self)).str(", size=").hex(offered)
        .str(", buf=").hex(reinterpret_cast<UINTN>(buffer));
    Text& out = call.result(status);
    if (size != nullptr) out.str(" size=").hex(*size);
  }
  return status;
}

EFI_STATUS EFIAPI file_get_info(EFI_FILE_PROTOCOL* self, EFI_GUID* type, UINTN* size,
                                VOID* buffer) {
  CALL("File.GetInfo");
  auto* file = as_file(self);
  EFI_STATUS status = EFI_SUCCESS;
  const UINTN offered = size != nullptr ? *size : 0;
  if (self == nullptr || type == nullptr || size == nullptr) {
    status = EFI_INVALID_PARAMETER;
  } else {
    const FileVolume& files = volume();
    std::size_t needed = 0;
    void (*write)(const FileVolume&, std::uint32_t, std::span<std::byte>) = nullptr;
    if (guid_equal(*type, guids::kFileInfo)) {
      needed = files.file_info_size(file->node);
      write = [](const FileVolume& v, std::uint32_t node, std::span<std::byte> out) {
        v.write_file_info(node, out);
      };
    } else if (guid_equal(*type, guids::kFileSystemInfo)) {
      needed = files.system_info_size();
      write = [](const FileVolume& v, std::uint32_t, std::span<std::byte> out) {
        v.write_system_info(out);
      };
    } else if (guid_equal(*type, guids::kFileSystemVolumeLabel)) {
      needed = files.label_info_size();
      write = [](const FileVolume& v, std::uint32_t, std::span<std::byte> out) {
        v.write_label_info(out);
      };
    }
    if (write == nullptr) {
      status = EFI_UNSUPPORTED;
    } else if (*size < needed || buffer == nullptr) {
      *size = needed;
      status = EFI_BUFFER_TOO_SMALL;
    } else {
      write(files, file->node, {static_cast<std::byte*>(buffer), needed});
      *size = needed;
    }
  }
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self)).str(", ");
    call.guid(type).str(", size=").hex(offered);
    Text& out = call.result(status);
    if (size != nullptr) out.str(" size=").hex(*size);
    if (status == EFI_SUCCESS && guid_equal(*type, guids::kFileInfo)) {
      const auto* info = static_cast<const EFI_FILE_INFO*>(buffer);
      out.str(" FileSize=").hex(info->FileSize).str(" name=").ucs2(info->FileName);
      // A directory's size is the file system's (FAT: its clusters): the trace says which
      // answers are directories so that comparisons can leave that size out.
      if ((info->Attribute & EFI_FILE_DIRECTORY) != 0) out.str(" Attribute=").hex(info->Attribute);
    }
  }
  return status;
}

EFI_STATUS EFIAPI volume_open(EFI_FILE_IO_INTERFACE* self, EFI_FILE_PROTOCOL** root) {
  CALL("SimpleFileSystem.OpenVolume");
  EFI_STATUS status = EFI_INVALID_PARAMETER;
  if (self != nullptr && root != nullptr) {
    *root = new_file(FileVolume::kRoot);
    status = *root != nullptr ? EFI_SUCCESS : EFI_OUT_OF_RESOURCES;
  }
  if (call.traced()) {
    call.text().str("this=").hex(reinterpret_cast<UINTN>(self));
    Text& out = call.result(status);
    if (status == EFI_SUCCESS) out.str(" root=").hex(reinterpret_cast<UINTN>(*root));
  }
  return status;
}

template <class T>
T* allocate_zeroed(MemoryManager& memory, std::size_t size = sizeof(T)) {
  void* p = nullptr;
  if (memory.allocate_pool(EfiBootServicesData, size, &p) != EFI_SUCCESS) return nullptr;
  std::memset(p, 0, size);
  return static_cast<T*>(p);
}

}  // namespace

EFI_STATUS install_console(Shim& shim, EFI_SYSTEM_TABLE& system_table) {
  MemoryManager& memory = shim.memory();
  auto* mode = allocate_zeroed<SIMPLE_TEXT_OUTPUT_MODE>(memory);
  auto* out = allocate_zeroed<SIMPLE_TEXT_OUTPUT_INTERFACE>(memory);
  auto* err = allocate_zeroed<SIMPLE_TEXT_OUTPUT_INTERFACE>(memory);
  auto* in = allocate_zeroed<SIMPLE_INPUT_INTERFACE>(memory);
  auto* in_ex = allocate_zeroed<EFI_SIMPLE_TEXT_INPUT_EX_PROTOCOL>(memory);
  if (!mode || !out || !err || !in || !in_ex) return EFI_OUT_OF_RESOURCES;
  mode->MaxMode = 1;
  mode->Attribute = 0x07;  // EFI_LIGHTGRAY on EFI_BLACK
  mode->CursorVisible = 1;
  for (SIMPLE_TEXT_OUTPUT_INTERFACE* text : {out, err}) {
    text->Reset = text_reset;
    text->OutputString = text_output_string;
    text->TestString = text_test_string;
    text->QueryMode = text_query_mode;
    text->SetMode = text_set_mode;
    text->SetAttribute = text_set_attribute;
    text->ClearScreen = text_clear_screen;
    text->SetCursorPosition = text_set_cursor_position;
    text->EnableCursor = text_enable_cursor;
    text->Mode = mode;
  }
  in->Reset = input_reset;
  in->ReadKeyStroke = input_read_key;
  in_ex->Reset = input_ex_reset;
  in_ex->ReadKeyStrokeEx = input_ex_read_key;
  in_ex->SetState = input_ex_set_state;
  in_ex->RegisterKeyNotify = input_ex_register;
  in_ex->UnregisterKeyNotify = input_ex_unregister;
  // WaitForKey events that no key ever signals (§12.3.1).
  EFI_STATUS status = shim.events().create_event(0, 0, nullptr, nullptr, &in->WaitForKey);
  if (status == EFI_SUCCESS)
    status = shim.events().create_event(0, 0, nullptr, nullptr, &in_ex->WaitForKeyEx);
  if (status != EFI_SUCCESS) return status;

  EFI_HANDLE console = nullptr;
  const ProtocolInterfacePair console_protocols[] = {
      {&guids::kSimpleTextOutput, out},      {&guids::kSimpleTextInput, in},
      {&guids::kSimpleTextInputEx, in_ex},   {&guids::kConsoleOutDevice, nullptr},
      {&guids::kConsoleInDevice, nullptr}};
  status = shim.protocols().install_multiple_protocol_interfaces(&console, console_protocols);
  if (status != EFI_SUCCESS) return status;
  EFI_HANDLE error_console = nullptr;
  const ProtocolInterfacePair error_protocols[] = {{&guids::kSimpleTextOutput, err},
                                                   {&guids::kStandardErrorDevice, nullptr}};
  status = shim.protocols().install_multiple_protocol_interfaces(&error_console, error_protocols);
  if (status != EFI_SUCCESS) return status;
  system_table.ConsoleInHandle = console;
  system_table.ConIn = in;
  system_table.ConsoleOutHandle = console;
  system_table.ConOut = out;
  system_table.StandardErrorHandle = error_console;
  system_table.StdErr = err;
  return EFI_SUCCESS;
}

namespace {

// A protocol of the shim's own on a handle of its own.
EFI_STATUS install_on_new_handle(Shim& shim, const EFI_GUID& guid, void* interface) {
  if (interface == nullptr) return EFI_OUT_OF_RESOURCES;
  EFI_HANDLE handle = nullptr;
  return shim.protocols().install_protocol_interface(&handle, &guid, EFI_NATIVE_INTERFACE,
                                                     interface);
}

}  // namespace

EFI_STATUS install_device_path_to_text(Shim& shim) {
  auto* protocol = allocate_zeroed<EFI_DEVICE_PATH_TO_TEXT_PROTOCOL>(shim.memory());
  if (protocol != nullptr) {
    protocol->ConvertDeviceNodeToText = device_node_to_text;
    protocol->ConvertDevicePathToText = device_path_to_text;
  }
  return install_on_new_handle(shim, guids::kDevicePathToText, protocol);
}

EFI_STATUS install_rng(Shim& shim) {
  auto* rng = allocate_zeroed<EFI_RNG_PROTOCOL>(shim.memory());
  if (rng != nullptr) {
    rng->GetInfo = rng_get_info;
    rng->GetRNG = rng_get_rng;
  }
  return install_on_new_handle(shim, guids::kRng, rng);
}

// A vendor media node followed by End: the device paths the shim installs itself.
EFI_DEVICE_PATH* make_vendor_path(MemoryManager& memory, std::uint8_t type, std::uint8_t subtype,
                                  const EFI_GUID& guid) {
  constexpr std::size_t kVendorSize = 4 + sizeof(EFI_GUID);
  auto* bytes = allocate_zeroed<std::uint8_t>(memory, kVendorSize + 4);
  if (bytes == nullptr) return nullptr;
  bytes[0] = type;
  bytes[1] = subtype;
  bytes[2] = kVendorSize;
  std::memcpy(bytes + 4, &guid, sizeof guid);
  bytes[kVendorSize] = END_DEVICE_PATH_TYPE;
  bytes[kVendorSize + 1] = END_ENTIRE_DEVICE_PATH_SUBTYPE;
  bytes[kVendorSize + 2] = 4;
  return reinterpret_cast<EFI_DEVICE_PATH*>(bytes);
}

EFI_STATUS install_initrd(Shim& shim, ByteView initrd) {
  auto* load_file = allocate_zeroed<InitrdLoadFile>(shim.memory());
  EFI_DEVICE_PATH* path = make_vendor_path(shim.memory(), MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP,
                                           guids::kLinuxInitrdMedia);
  if (load_file == nullptr || path == nullptr) return EFI_OUT_OF_RESOURCES;
  load_file->protocol.LoadFile = initrd_load_file;
  load_file->data = initrd.data();
  load_file->size = initrd.size();
  EFI_HANDLE handle = nullptr;
  const ProtocolInterfacePair pairs[] = {{&guids::kDevicePath, path},
                                         {&guids::kLoadFile2, &load_file->protocol}};
  return shim.protocols().install_multiple_protocol_interfaces(&handle, pairs);
}

EFI_STATUS install_boot_volume(Shim& shim, EFI_HANDLE* handle, EFI_DEVICE_PATH** path) {
  auto* file_system = allocate_zeroed<EFI_FILE_IO_INTERFACE>(shim.memory());
  *path = make_vendor_path(shim.memory(), HARDWARE_DEVICE_PATH, HW_VENDOR_DP,
                           guids::kBootVolume);
  if (file_system == nullptr || *path == nullptr) return EFI_OUT_OF_RESOURCES;
  file_system->Revision = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_REVISION;
  file_system->OpenVolume = volume_open;
  *handle = nullptr;
  const ProtocolInterfacePair pairs[] = {{&guids::kDevicePath, *path},
                                         {&guids::kSimpleFileSystem, file_system}};
  return shim.protocols().install_multiple_protocol_interfaces(handle, pairs);
}

}  // namespace efikexec::efi
