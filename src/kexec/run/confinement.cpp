// SPDX-License-Identifier: MIT
#include "kexec/run/confinement.hpp"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace efikexec::kexec {

namespace {

// The system calls the shim makes while the image runs, each for one reason
// (docs/threat-model.md lists them). Everything else is refused.
constexpr long kAllowed[] = {
    __NR_rt_sigreturn,     // the end of every privileged-instruction emulation (SIGSEGV handler)
    __NR_exit_group,       // the child's end, after the report is written
    __NR_exit,             //   (the same, as glibc may spell it)
    __NR_getrandom,        // the RNG protocol
    __NR_clock_gettime,    // the time services and the run's clock, when the vDSO falls back
    __NR_clock_nanosleep,  // BS.Stall()
    __NR_nanosleep,        //   (the same, as older glibc spells it)
    __NR_munmap,           // the shim's heap (std::string in a fault report), never image memory
    __NR_brk,              //   (the same: malloc's main arena)
};
// Checked further below: write (the console echo on stderr only) and mmap (not executable, unless
// it maps the run's memory file: an on-demand arena).

#ifdef EFIKEXEC_SANITIZED
// The sanitizer runtime reports from inside the child too (AddressSanitizer and UBSan builds only):
// it reads /proc/self/maps, changes signal state and protections, and writes its report.
constexpr long kSanitizerAllowed[] = {
    __NR_read,      __NR_pread64,   __NR_openat,  __NR_open,        __NR_close,
    __NR_fstat,     __NR_newfstatat, __NR_lseek,  __NR_readlink,    __NR_readlinkat,
    __NR_getpid,    __NR_gettid,    __NR_tgkill,  __NR_rt_sigprocmask, __NR_rt_sigaction,
    __NR_sigaltstack, __NR_sched_yield, __NR_futex, __NR_madvise,   __NR_mprotect,
    __NR_prctl,     __NR_prlimit64, __NR_getrlimit, __NR_mremap,    __NR_write,
    __NR_sched_getaffinity, __NR_uname, __NR_getcwd, __NR_fcntl,   __NR_dup2,
};
#endif

// seccomp_data (linux/seccomp.h): nr, arch, instruction_pointer, args[6]; little-endian words.
constexpr std::uint32_t kNr = offsetof(seccomp_data, nr);
constexpr std::uint32_t kArch = offsetof(seccomp_data, arch);
constexpr std::uint32_t kIpLow = offsetof(seccomp_data, instruction_pointer);
constexpr std::uint32_t kIpHigh = kIpLow + 4;
constexpr std::uint32_t arg_low(int index) {
  return static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * index);
}

// A classic BPF program with forward jumps to labels, resolved when it is finished.
class FilterBuilder {
 public:
  enum Label : std::uint8_t { kAllow, kTrap, kKill, kCheckCall, kCheckWrite, kCheckMmap, kMmapFd,
                              kLabels };
  void load(std::uint32_t offset) { code_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
  // if (A op k) goto yes; else goto no (either a label or the next instruction).
  void jump(std::uint16_t op, std::uint32_t k, int yes, int no) {
    fixups_.push_back({code_.size(), yes, no});
    code_.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0));
  }
  void here(Label label) { at_[label] = static_cast<int>(code_.size()); }
  void ret(std::uint32_t action) { code_.push_back(BPF_STMT(BPF_RET | BPF_K, action)); }
  static constexpr int kNext = -1;

  bool finish(std::vector<sock_filter>& out) {
    for (const Fixup& fixup : fixups_) {
      for (auto [target, field] : {std::pair{fixup.yes, &sock_filter::jt},
                                   std::pair{fixup.no, &sock_filter::jf}}) {
        if (target == kNext) continue;
        const int distance = at_[target] - static_cast<int>(fixup.at) - 1;
        if (at_[target] < 0 || distance < 0 || distance > 255) return false;
        code_[fixup.at].*field = static_cast<std::uint8_t>(distance);
      }
    }
    out = code_;
    return true;
  }

 private:
  struct Fixup {
    std::size_t at;
    int yes, no;
  };
  std::vector<sock_filter> code_;
  std::vector<Fixup> fixups_;
  std::array<int, kLabels> at_ = [] {
    std::array<int, kLabels> unset{};
    unset.fill(-1);
    return unset;
  }();
};

bool build_filter(const ConfinementRequest& request, bool check_caller,
                  std::vector<sock_filter>& program) {
  using F = FilterBuilder;
  F f;
  f.load(kArch);
  f.jump(BPF_JEQ, AUDIT_ARCH_X86_64, F::kNext, F::kKill);
  f.load(kNr);
  f.jump(BPF_JGE, 0x40000000u, F::kTrap, F::kNext);  // the x32 ABI: never ours
  if (check_caller) {
    // A call made from below image_top comes from the image's memory: refused, whatever it is.
    const auto top_high = static_cast<std::uint32_t>(request.image_top >> 32);
    const auto top_low = static_cast<std::uint32_t>(request.image_top);
    f.load(kIpHigh);
    f.jump(BPF_JGT, top_high, F::kCheckCall, F::kNext);
    f.jump(BPF_JEQ, top_high, F::kNext, F::kTrap);
    f.load(kIpLow);
    f.jump(BPF_JGE, top_low, F::kCheckCall, F::kTrap);
  }
  f.here(F::kCheckCall);
  f.load(kNr);
  for (long nr : kAllowed) f.jump(BPF_JEQ, static_cast<std::uint32_t>(nr), F::kAllow, F::kNext);
#ifdef EFIKEXEC_SANITIZED
  for (long nr : kSanitizerAllowed)
    f.jump(BPF_JEQ, static_cast<std::uint32_t>(nr), F::kAllow, F::kNext);
#endif
  f.jump(BPF_JEQ, __NR_write, F::kCheckWrite, F::kNext);
  f.jump(BPF_JEQ, __NR_mmap, F::kCheckMmap, F::kTrap);
  f.here(F::kCheckWrite);  // write(2, ...) only, and only when stderr was kept
  f.load(arg_low(0));
  f.jump(BPF_JEQ, request.keep_stderr ? STDERR_FILENO : 0xffffffffu, F::kAllow, F::kTrap);
  f.here(F::kCheckMmap);  // mmap: executable pages only from the run's memory file
  f.load(arg_low(2));
  f.jump(BPF_JSET, PROT_EXEC, F::kMmapFd, F::kAllow);
  f.here(F::kMmapFd);  // ... mapped from the file itself, not anonymous memory given its number
  f.load(arg_low(3));
  f.jump(BPF_JSET, MAP_ANONYMOUS, F::kTrap, F::kNext);
  f.load(arg_low(4));
  f.jump(BPF_JEQ, static_cast<std::uint32_t>(request.memory_fd),
         request.memory_fd >= 0 ? F::kAllow : F::kTrap, F::kTrap);
  f.here(F::kAllow);
  f.ret(SECCOMP_RET_ALLOW);
  f.here(F::kTrap);
  f.ret(SECCOMP_RET_TRAP);  // SIGSYS: the run's handler names the call and ends the run
  f.here(F::kKill);
  f.ret(SECCOMP_RET_KILL_PROCESS);
  return f.finish(program);
}

// Closes every descriptor but `keep` (sorted, unique).
void close_all_but(std::vector<unsigned> keep) {
  unsigned from = 0;
  for (unsigned fd : keep) {
    if (fd > from) syscall(__NR_close_range, from, fd - 1, 0);
    from = fd + 1;
  }
  syscall(__NR_close_range, from, ~0u, 0);
}

void skip(ConfinementResult& result, ConfinementStep step, int error) {
  const auto index = static_cast<std::uint32_t>(step);
  result.skipped |= 1u << index;
  result.skipped_errno[index] = static_cast<std::uint8_t>(std::min(error, 255));
}

void enter_namespaces(ConfinementResult& result) {
  constexpr std::pair<int, ConfinementStep> kNamespaces[] = {
      {CLONE_NEWNS, ConfinementStep::kMountNamespace},
      {CLONE_NEWPID, ConfinementStep::kPidNamespace},
      {CLONE_NEWIPC, ConfinementStep::kIpcNamespace},
      {CLONE_NEWNET, ConfinementStep::kNetworkNamespace},
  };
  int all = 0;
  for (auto [flag, step] : kNamespaces) all |= flag;
  // Without root, a user namespace of its own lets the child make the others.
  const int user = geteuid() == 0 ? 0 : CLONE_NEWUSER;
  if (unshare(all | user) == 0) return;
  if (user != 0 && unshare(user) != 0) {
    for (auto [flag, step] : kNamespaces) skip(result, step, errno);
    return;
  }
  for (auto [flag, step] : kNamespaces)
    if (unshare(flag) != 0) skip(result, step, errno);
}

// root gives way to nobody (65534): no file of anyone else can be opened even if a call got out.
void drop_root(ConfinementResult& result) {
  if (geteuid() != 0) return;
  constexpr uid_t kNobody = 65534;
  if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
      setresuid(kNobody, kNobody, kNobody) != 0)
    skip(result, ConfinementStep::kUnprivilegedUser, errno);
}

}  // namespace

const char* confinement_step_name(ConfinementStep step) {
  switch (step) {
    case ConfinementStep::kMountNamespace: return "mount namespace";
    case ConfinementStep::kPidNamespace: return "PID namespace";
    case ConfinementStep::kIpcNamespace: return "IPC namespace";
    case ConfinementStep::kNetworkNamespace: return "network namespace";
    case ConfinementStep::kUnprivilegedUser: return "unprivileged user";
    case ConfinementStep::kCallerCheck: return "caller check";
    case ConfinementStep::kCount: break;
  }
  return "unknown step";
}

HostResult<ConfinementResult> confine(const ConfinementRequest& request) {
  ConfinementResult result;
  std::vector<unsigned> keep;
  if (request.keep_stderr) keep.push_back(STDERR_FILENO);
  if (request.memory_fd >= 0) keep.push_back(static_cast<unsigned>(request.memory_fd));
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  close_all_but(keep);
  enter_namespaces(result);
  drop_root(result);
  // A change of credentials clears both; the child must still die with its parent.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_DUMPABLE, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return host_fail_errno(Stage::kRun, "cannot set no_new_privs", {});
  // The rule on callers needs the host's code above the image's memory (a PIE program is).
  const bool check_caller =
      reinterpret_cast<std::uintptr_t>(&confine) >= request.image_top && request.image_top != 0;
  if (!check_caller) skip(result, ConfinementStep::kCallerCheck, 0);
  std::vector<sock_filter> code;
  if (!build_filter(request, check_caller, code))
    return host_fail(Stage::kRun, "the system call filter does not fit");
  sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)
    return host_fail_errno(Stage::kRun, "cannot install the system call filter", {});
  return result;
}

std::vector<std::string> skipped_confinement_steps(std::uint32_t skipped,
                                                   const std::uint8_t* skipped_errno) {
  std::vector<std::string> out;
  for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(ConfinementStep::kCount); ++i) {
    if ((skipped & (1u << i)) == 0) continue;
    std::string text = confinement_step_name(static_cast<ConfinementStep>(i));
    if (skipped_errno[i] != 0) {
      const char* name = strerrorname_np(skipped_errno[i]);
      text += std::string(" (") + (name != nullptr ? name : "error") + ")";
    }
    out.push_back(std::move(text));
  }
  return out;
}

std::string system_call_name(long number) {
  struct Entry {
    long number;
    const char* name;
  };
#define E(name) Entry{__NR_##name, #name}
  static constexpr Entry kNames[] = {
    E(_sysctl), E(accept), E(accept4), E(access), E(acct), E(add_key), E(adjtimex), E(afs_syscall),
    E(alarm), E(arch_prctl), E(bind), E(bpf), E(brk), E(capget), E(capset), E(chdir), E(chmod),
    E(chown), E(chroot), E(clock_adjtime), E(clock_getres), E(clock_gettime), E(clock_nanosleep),
    E(clock_settime), E(clone), E(clone3), E(close), E(close_range), E(connect),
    E(copy_file_range), E(creat), E(create_module), E(delete_module), E(dup), E(dup2), E(dup3),
    E(epoll_create), E(epoll_create1), E(epoll_ctl), E(epoll_ctl_old), E(epoll_pwait),
    E(epoll_pwait2), E(epoll_wait), E(epoll_wait_old), E(eventfd), E(eventfd2), E(execve),
    E(execveat), E(exit), E(exit_group), E(faccessat), E(faccessat2), E(fadvise64), E(fallocate),
    E(fanotify_init), E(fanotify_mark), E(fchdir), E(fchmod), E(fchmodat), E(fchown), E(fchownat),
    E(fcntl), E(fdatasync), E(fgetxattr), E(finit_module), E(flistxattr), E(flock), E(fork),
    E(fremovexattr), E(fsconfig), E(fsetxattr), E(fsmount), E(fsopen), E(fspick), E(fstat),
    E(fstatfs), E(fsync), E(ftruncate), E(futex), E(futex_waitv), E(futimesat), E(get_kernel_syms),
    E(get_mempolicy), E(get_robust_list), E(get_thread_area), E(getcpu), E(getcwd), E(getdents),
    E(getdents64), E(getegid), E(geteuid), E(getgid), E(getgroups), E(getitimer), E(getpeername),
    E(getpgid), E(getpgrp), E(getpid), E(getpmsg), E(getppid), E(getpriority), E(getrandom),
    E(getresgid), E(getresuid), E(getrlimit), E(getrusage), E(getsid), E(getsockname),
    E(getsockopt), E(gettid), E(gettimeofday), E(getuid), E(getxattr), E(init_module),
    E(inotify_add_watch), E(inotify_init), E(inotify_init1), E(inotify_rm_watch), E(io_cancel),
    E(io_destroy), E(io_getevents), E(io_pgetevents), E(io_setup), E(io_submit), E(io_uring_enter),
    E(io_uring_register), E(io_uring_setup), E(ioctl), E(ioperm), E(iopl), E(ioprio_get),
    E(ioprio_set), E(kcmp), E(kexec_file_load), E(kexec_load), E(keyctl), E(kill),
    E(landlock_add_rule), E(landlock_create_ruleset), E(landlock_restrict_self), E(lchown),
    E(lgetxattr), E(link), E(linkat), E(listen), E(listxattr), E(llistxattr), E(lookup_dcookie),
    E(lremovexattr), E(lseek), E(lsetxattr), E(lstat), E(madvise), E(mbind), E(membarrier),
    E(memfd_create), E(memfd_secret), E(migrate_pages), E(mincore), E(mkdir), E(mkdirat), E(mknod),
    E(mknodat), E(mlock), E(mlock2), E(mlockall), E(mmap), E(modify_ldt), E(mount),
    E(mount_setattr), E(move_mount), E(move_pages), E(mprotect), E(mq_getsetattr), E(mq_notify),
    E(mq_open), E(mq_timedreceive), E(mq_timedsend), E(mq_unlink), E(mremap), E(msgctl), E(msgget),
    E(msgrcv), E(msgsnd), E(msync), E(munlock), E(munlockall), E(munmap), E(name_to_handle_at),
    E(nanosleep), E(newfstatat), E(nfsservctl), E(open), E(open_by_handle_at), E(open_tree),
    E(openat), E(openat2), E(pause), E(perf_event_open), E(personality), E(pidfd_getfd),
    E(pidfd_open), E(pidfd_send_signal), E(pipe), E(pipe2), E(pivot_root), E(pkey_alloc),
    E(pkey_free), E(pkey_mprotect), E(poll), E(ppoll), E(prctl), E(pread64), E(preadv), E(preadv2),
    E(prlimit64), E(process_madvise), E(process_mrelease), E(process_vm_readv),
    E(process_vm_writev), E(pselect6), E(ptrace), E(putpmsg), E(pwrite64), E(pwritev), E(pwritev2),
    E(query_module), E(quotactl), E(quotactl_fd), E(read), E(readahead), E(readlink),
    E(readlinkat), E(readv), E(reboot), E(recvfrom), E(recvmmsg), E(recvmsg), E(remap_file_pages),
    E(removexattr), E(rename), E(renameat), E(renameat2), E(request_key), E(restart_syscall),
    E(rmdir), E(rseq), E(rt_sigaction), E(rt_sigpending), E(rt_sigprocmask), E(rt_sigqueueinfo),
    E(rt_sigreturn), E(rt_sigsuspend), E(rt_sigtimedwait), E(rt_tgsigqueueinfo),
    E(sched_get_priority_max), E(sched_get_priority_min), E(sched_getaffinity), E(sched_getattr),
    E(sched_getparam), E(sched_getscheduler), E(sched_rr_get_interval), E(sched_setaffinity),
    E(sched_setattr), E(sched_setparam), E(sched_setscheduler), E(sched_yield), E(seccomp),
    E(security), E(select), E(semctl), E(semget), E(semop), E(semtimedop), E(sendfile),
    E(sendmmsg), E(sendmsg), E(sendto), E(set_mempolicy), E(set_mempolicy_home_node),
    E(set_robust_list), E(set_thread_area), E(set_tid_address), E(setdomainname), E(setfsgid),
    E(setfsuid), E(setgid), E(setgroups), E(sethostname), E(setitimer), E(setns), E(setpgid),
    E(setpriority), E(setregid), E(setresgid), E(setresuid), E(setreuid), E(setrlimit), E(setsid),
    E(setsockopt), E(settimeofday), E(setuid), E(setxattr), E(shmat), E(shmctl), E(shmdt),
    E(shmget), E(shutdown), E(sigaltstack), E(signalfd), E(signalfd4), E(socket), E(socketpair),
    E(splice), E(stat), E(statfs), E(statx), E(swapoff), E(swapon), E(symlink), E(symlinkat),
    E(sync), E(sync_file_range), E(syncfs), E(sysfs), E(sysinfo), E(syslog), E(tee), E(tgkill),
    E(time), E(timer_create), E(timer_delete), E(timer_getoverrun), E(timer_gettime),
    E(timer_settime), E(timerfd_create), E(timerfd_gettime), E(timerfd_settime), E(times),
    E(tkill), E(truncate), E(tuxcall), E(umask), E(umount2), E(uname), E(unlink), E(unlinkat),
    E(unshare), E(uselib), E(userfaultfd), E(ustat), E(utime), E(utimensat), E(utimes), E(vfork),
    E(vhangup), E(vmsplice), E(vserver), E(wait4), E(waitid), E(write), E(writev),
  };
#undef E
  for (const Entry& entry : kNames)
    if (entry.number == number) return entry.name;
  return "system call " + std::to_string(number);
}

}  // namespace efikexec::kexec
