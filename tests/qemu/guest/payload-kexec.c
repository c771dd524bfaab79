// SPDX-License-Identifier: MIT
// A guest-only program of tests/qemu/test-payload.sh (built static there, run only inside QEMU
// guests): the payload protocol's kexec_file_load, as `efikexec load --payload` does it.
//   payload-kexec load PAYLOAD BUNDLE CMDLINE   kexec_file_load(PAYLOAD, BUNDLE, CMDLINE)
//   payload-kexec exec                          reboot(LINUX_REBOOT_CMD_KEXEC)
// It refuses to do anything when EFIKEXEC_FORBID_KEXEC is set (the test hosts set it).
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (getenv("EFIKEXEC_FORBID_KEXEC")) {
    fprintf(stderr, "payload-kexec: EFIKEXEC_FORBID_KEXEC is set: refusing\n");
    return 2;
  }
  if (argc == 5 && strcmp(argv[1], "load") == 0) {
    int kernel = open(argv[2], O_RDONLY | O_CLOEXEC);
    int initrd = open(argv[3], O_RDONLY | O_CLOEXEC);
    if (kernel < 0 || initrd < 0) {
      fprintf(stderr, "payload-kexec: open: %s\n", strerror(errno));
      return 1;
    }
    if (syscall(SYS_kexec_file_load, kernel, initrd, strlen(argv[4]) + 1, argv[4], 0UL) != 0) {
      fprintf(stderr, "payload-kexec: kexec_file_load: %s\n", strerror(errno));
      return 1;
    }
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "exec") == 0) {
    sync();
    syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, NULL);
    fprintf(stderr, "payload-kexec: reboot(KEXEC): %s\n", strerror(errno));
    return 1;
  }
  fprintf(stderr, "usage: payload-kexec load PAYLOAD BUNDLE CMDLINE | exec\n");
  return 2;
}
