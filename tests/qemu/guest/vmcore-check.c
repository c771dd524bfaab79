// SPDX-License-Identifier: MIT
// A guest-only program of tests/qemu/test-kdump.sh (built static there, run only inside QEMU
// guests):
//   vmcore-check mark NONCE        first kernel: writes a marker naming NONCE into a locked page
//                                  of its own memory, prints `marker PHYS`, then waits for the
//                                  crash (the page must stay in use)
//   vmcore-check check PHYS NONCE  crash kernel: reads /proc/vmcore as an ELF core, prints its
//                                  PT_LOADs and notes, and whether the marker is at PHYS
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void marker_text(const char* nonce, char* out, size_t size) {
  snprintf(out, size, "EFIKEXEC-VMCORE-MARKER %s", nonce);
}

static int mark(const char* nonce) {
  const long page = sysconf(_SC_PAGESIZE);
  char* p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || mlock(p, (size_t)page) != 0) {
    perror("vmcore-check: mmap/mlock");
    return 1;
  }
  marker_text(nonce, p, (size_t)page);
  // /proc/self/pagemap: 64 bits per virtual page, the PFN in bits 0-54 (root sees it).
  int fd = open("/proc/self/pagemap", O_RDONLY);
  uint64_t entry = 0;
  if (fd < 0 || pread(fd, &entry, 8, (off_t)((uintptr_t)p / (uintptr_t)page * 8)) != 8 ||
      !(entry >> 63) || (entry & ((1ull << 55) - 1)) == 0) {
    fprintf(stderr, "vmcore-check: no physical address for the marker page\n");
    return 1;
  }
  printf("marker 0x%" PRIx64 "\n", (entry & ((1ull << 55) - 1)) * (uint64_t)page);
  fflush(stdout);
  for (;;) pause();
}

static int check(uint64_t phys, const char* nonce) {
  int fd = open("/proc/vmcore", O_RDONLY);
  if (fd < 0) {
    perror("vmcore-check: /proc/vmcore");
    return 1;
  }
  Elf64_Ehdr header;
  if (pread(fd, &header, sizeof header, 0) != (ssize_t)sizeof header ||
      memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_phentsize != sizeof(Elf64_Phdr)) {
    printf("vmcore: not a 64-bit ELF\n");
    return 1;
  }
  printf("vmcore: type=%s machine=%u phnum=%u\n", header.e_type == ET_CORE ? "core" : "other",
         header.e_machine, header.e_phnum);
  int found = 0, loads = 0, vmcoreinfo = 0, prstatus = 0;
  uint64_t load_bytes = 0;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr phdr;
    if (pread(fd, &phdr, sizeof phdr, (off_t)(header.e_phoff + i * sizeof phdr)) != sizeof phdr)
      return 1;
    if (phdr.p_type == PT_NOTE) {
      // The crash kernel merges the notes into one segment: walk its entries.
      char* notes = malloc(phdr.p_filesz);
      if (notes == NULL || pread(fd, notes, phdr.p_filesz, (off_t)phdr.p_offset) !=
                               (ssize_t)phdr.p_filesz) {
        free(notes);
        continue;
      }
      for (uint64_t at = 0; at + sizeof(Elf64_Nhdr) <= phdr.p_filesz;) {
        Elf64_Nhdr note;
        memcpy(&note, notes + at, sizeof note);
        const uint64_t name = (note.n_namesz + 3) & ~3ull, desc = (note.n_descsz + 3) & ~3ull;
        if (note.n_namesz == 0 || at + sizeof note + name + desc > phdr.p_filesz) break;
        const char* n = notes + at + sizeof note;
        if (note.n_namesz >= 10 && memcmp(n, "VMCOREINFO", 10) == 0) vmcoreinfo = 1;
        if (note.n_type == NT_PRSTATUS && memcmp(n, "CORE", 4) == 0) ++prstatus;
        at += sizeof note + name + desc;
      }
      free(notes);
      continue;
    }
    if (phdr.p_type != PT_LOAD) continue;
    ++loads;
    load_bytes += phdr.p_memsz;
    printf("vmcore: load 0x%" PRIx64 "-0x%" PRIx64 "\n", (uint64_t)phdr.p_paddr,
           (uint64_t)(phdr.p_paddr + phdr.p_memsz));
    if (phys >= phdr.p_paddr && phys + 64 <= phdr.p_paddr + phdr.p_filesz && !found) {
      char expected[96], got[96] = {0};
      marker_text(nonce, expected, sizeof expected);
      if (pread(fd, got, strlen(expected), (off_t)(phdr.p_offset + (phys - phdr.p_paddr))) ==
              (ssize_t)strlen(expected) &&
          memcmp(got, expected, strlen(expected)) == 0)
        found = 1;
    }
  }
  printf("vmcore: loads=%d bytes=%" PRIu64 " prstatus=%d vmcoreinfo=%s\n", loads, load_bytes,
         prstatus, vmcoreinfo ? "yes" : "no");
  printf("vmcore: marker at 0x%" PRIx64 " %s\n", phys, found ? "found" : "missing");
  return found ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "mark") == 0) return mark(argv[2]);
  if (argc == 4 && strcmp(argv[1], "check") == 0)
    return check(strtoull(argv[2], NULL, 0), argv[3]);
  fprintf(stderr, "usage: vmcore-check mark NONCE | check PHYS NONCE\n");
  return 2;
}
