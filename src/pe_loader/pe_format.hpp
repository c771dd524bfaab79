// SPDX-License-Identifier: MIT
// PE/COFF on-disk structures, spelled as in the Microsoft PE/COFF specification. They are only
// ever filled by ByteView::read (a bounds-checked copy); fields are little-endian byte arrays.
#pragma once

#include <cstdint>

#include "byte_view.hpp"

namespace efikexec::pe {

inline constexpr std::uint16_t kDosMagic = 0x5a4d;          // "MZ"
inline constexpr std::uint32_t kPeSignature = 0x00004550;   // "PE\0\0"
inline constexpr std::uint16_t kPe32Magic = 0x10b;
inline constexpr std::uint16_t kPe32PlusMagic = 0x20b;
inline constexpr std::uint32_t kMaxDataDirectories = 16;
// The Windows loader's limit; UKIs carry about fifteen. Bounds every table we keep.
inline constexpr std::uint32_t kMaxSections = 96;

enum class Machine : std::uint16_t {
  kI386 = 0x14c,
  kArm = 0x1c2,
  kArmThumb2 = 0x1c4,
  kAmd64 = 0x8664,
  kArm64 = 0xaa64,
  kRiscv64 = 0x5064,
  kLoongArch64 = 0x6264,
};

enum class Subsystem : std::uint16_t {
  kEfiApplication = 10,
  kEfiBootServiceDriver = 11,
  kEfiRuntimeDriver = 12,
  kEfiRom = 13,
};

// PE/COFF §6.4 "Optional Header Data Directories".
enum class DirectoryIndex : std::uint32_t {
  kExport = 0,
  kImport = 1,
  kResource = 2,
  kException = 3,
  kCertificate = 4,  // the only directory holding a file offset instead of an RVA
  kBaseRelocation = 5,
  kDebug = 6,
};

// PE/COFF §6.6 base relocation types used on x86_64.
inline constexpr std::uint16_t kRelBasedAbsolute = 0;
inline constexpr std::uint16_t kRelBasedDir64 = 10;

inline constexpr std::uint32_t kSectionCntCode = 0x20;
inline constexpr std::uint32_t kSectionMemExecute = 0x20000000;
inline constexpr std::uint32_t kSectionMemRead = 0x40000000;
inline constexpr std::uint32_t kSectionMemWrite = 0x80000000;

struct DosHeader {
  Le16 e_magic;
  std::uint8_t e_unused[58];
  Le32 e_lfanew;
};
static_assert(sizeof(DosHeader) == 64);

struct CoffFileHeader {
  Le16 Machine;
  Le16 NumberOfSections;
  Le32 TimeDateStamp;
  Le32 PointerToSymbolTable;
  Le32 NumberOfSymbols;
  Le16 SizeOfOptionalHeader;
  Le16 Characteristics;
};
static_assert(sizeof(CoffFileHeader) == 20);

// The PE32+ optional header up to (not including) the data directories.
struct OptionalHeader64 {
  Le16 Magic;
  std::uint8_t MajorLinkerVersion;
  std::uint8_t MinorLinkerVersion;
  Le32 SizeOfCode;
  Le32 SizeOfInitializedData;
  Le32 SizeOfUninitializedData;
  Le32 AddressOfEntryPoint;
  Le32 BaseOfCode;
  Le64 ImageBase;
  Le32 SectionAlignment;
  Le32 FileAlignment;
  Le16 MajorOperatingSystemVersion;
  Le16 MinorOperatingSystemVersion;
  Le16 MajorImageVersion;
  Le16 MinorImageVersion;
  Le16 MajorSubsystemVersion;
  Le16 MinorSubsystemVersion;
  Le32 Win32VersionValue;
  Le32 SizeOfImage;
  Le32 SizeOfHeaders;
  Le32 CheckSum;
  Le16 Subsystem;
  Le16 DllCharacteristics;
  Le64 SizeOfStackReserve;
  Le64 SizeOfStackCommit;
  Le64 SizeOfHeapReserve;
  Le64 SizeOfHeapCommit;
  Le32 LoaderFlags;
  Le32 NumberOfRvaAndSizes;
};
static_assert(sizeof(OptionalHeader64) == 112);
inline constexpr std::uint32_t kCheckSumOffsetInOptionalHeader = 64;

struct ImageDataDirectory {
  Le32 VirtualAddress;
  Le32 Size;
};
static_assert(sizeof(ImageDataDirectory) == 8);

struct SectionHeader {
  std::uint8_t Name[8];
  Le32 VirtualSize;
  Le32 VirtualAddress;
  Le32 SizeOfRawData;
  Le32 PointerToRawData;
  Le32 PointerToRelocations;
  Le32 PointerToLinenumbers;
  Le16 NumberOfRelocations;
  Le16 NumberOfLinenumbers;
  Le32 Characteristics;
};
static_assert(sizeof(SectionHeader) == 40);

struct BaseRelocationBlock {
  Le32 PageRVA;
  Le32 SizeOfBlock;
};
static_assert(sizeof(BaseRelocationBlock) == 8);

}  // namespace efikexec::pe
