/*
 * platform.h - the one platform layer of scalebench.
 *
 * Every .c of lib/, bench/, tools/ and t/c/ includes this header FIRST,
 * directly or through sb.h, before any system header: it chooses the feature
 * macros that make each system's headers show what the suite needs, and it
 * answers, by name, which capabilities the system has. A benchmark asks
 *
 *     if (HAVE_SO_REUSEPORT_LB) ...        (C code, not #if, where it can)
 *     #if HAVE_EPOLL ... #endif            (only where a type or header needs it)
 *
 * and never tests an OS macro (__linux__, __FreeBSD__, ...) itself. Every
 * HAVE_* below is defined to 1 or 0. The calls that differ between systems
 * (sysctl, die-with-parent, close-from, CPU count, the names of limits, the
 * cycle counter's trust) are in platform.c, declared at the end.
 *
 * Systems: Linux (glibc, musl), FreeBSD, OpenBSD, NetBSD, macOS, DragonFly;
 * x86_64 and aarch64 (any other CPU falls back to CLOCK_MONOTONIC).
 * docs/portability.md says what was built, compile-checked and run where.
 */
#ifndef SB_PLATFORM_H
#define SB_PLATFORM_H

/* ---- feature macros: the system's full namespace on top of POSIX.1-2008 ----
 * The build may pass -D_POSIX_C_SOURCE=200809L (the Makefile and
 * scripts/cross-check do); without it this header defines it. Each system's
 * own "show my extensions too" macro is then added:
 *   Linux     _GNU_SOURCE (prctl, vfork, accept4, epoll, MSG_MORE, ...)
 *   macOS     _DARWIN_C_SOURCE (sysctlbyname, mincore, SO_REUSEPORT, ...)
 *   OpenBSD   _BSD_SOURCE (u_long for <sys/sysctl.h>, O_NOFOLLOW, ...)
 *   NetBSD    _NETBSD_SOURCE (_SC_NPROCESSORS_ONLN, sysctlbyname, ...)
 *   FreeBSD, DragonFly: no such macro exists (12.x); _POSIX_C_SOURCE is
 *   taken back instead, which is their "everything visible" default. */
#if defined(__linux__)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#elif defined(__APPLE__)
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE 1
#endif
#elif defined(__OpenBSD__)
#ifndef _BSD_SOURCE
#define _BSD_SOURCE 1
#endif
#elif defined(__NetBSD__)
#ifndef _NETBSD_SOURCE
#define _NETBSD_SOURCE 1
#endif
#elif defined(__FreeBSD__) || defined(__DragonFly__)
#undef _POSIX_C_SOURCE
#undef _XOPEN_SOURCE
#define SB_POSIX_TAKEN_BACK 1
#endif
#if !defined(_POSIX_C_SOURCE) && !defined(SB_POSIX_TAKEN_BACK)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/syscall.h>
#endif

/* ---- the operating system, as a name for the result header ---- */
#if defined(__linux__)
#define SB_OS_NAME "Linux"
#elif defined(__FreeBSD__)
#define SB_OS_NAME "FreeBSD"
#elif defined(__OpenBSD__)
#define SB_OS_NAME "OpenBSD"
#elif defined(__NetBSD__)
#define SB_OS_NAME "NetBSD"
#elif defined(__DragonFly__)
#define SB_OS_NAME "DragonFly"
#elif defined(__APPLE__)
#define SB_OS_NAME "macOS"
#else
#define SB_OS_NAME "unknown"
#endif

/* ---- event mechanisms (lib/events.{h,c} includes their headers) ---- */
#if defined(__linux__)
#define HAVE_EPOLL 1
#else
#define HAVE_EPOLL 0
#endif
#if defined(__linux__) && defined(EPOLLEXCLUSIVE)
#define HAVE_EPOLLEXCLUSIVE 1          /* Linux 4.5 */
#else
#define HAVE_EPOLLEXCLUSIVE 0
#endif
#if defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || defined(__APPLE__) || \
	defined(__DragonFly__)
#define HAVE_KQUEUE 1
#else
#define HAVE_KQUEUE 0
#endif
/* io_uring: Linux with the kernel's uapi header (musl-gcc sees no kernel
 * headers: 0 there) and the system call numbers in libc's <sys/syscall.h>. */
#if defined(__linux__) && defined(__has_include) && defined(SYS_io_uring_setup)
#if __has_include(<linux/io_uring.h>)
#define HAVE_IO_URING 1
#endif
#endif
#ifndef HAVE_IO_URING
#define HAVE_IO_URING 0
#endif

/* ---- sockets ---- */
#if defined(SO_REUSEPORT)
#define HAVE_SO_REUSEPORT 1            /* bind many sockets to one address:port */
#else
#define HAVE_SO_REUSEPORT 0
#endif
#if defined(SO_REUSEPORT_LB)
#define HAVE_SO_REUSEPORT_LB 1         /* FreeBSD 12: ... and spread connections over them */
#else
#define HAVE_SO_REUSEPORT_LB 0
#endif
#if defined(MSG_NOSIGNAL)
#define HAVE_MSG_NOSIGNAL 1
#define SB_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define HAVE_MSG_NOSIGNAL 0
#define SB_MSG_NOSIGNAL 0              /* macOS before 10.x: ignore SIGPIPE instead */
#endif
#if defined(MSG_MORE)
#define HAVE_MSG_MORE 1                /* Linux: more data follows (cork) */
#define SB_MSG_MORE MSG_MORE
#else
#define HAVE_MSG_MORE 0
#define SB_MSG_MORE 0
#endif
#if defined(__linux__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
	defined(__DragonFly__)
#define HAVE_ACCEPT4 1                 /* not on macOS */
#else
#define HAVE_ACCEPT4 0
#endif

/* ---- processes and descriptors ---- */
#if defined(__linux__) || defined(__FreeBSD__)
#define HAVE_PDEATHSIG 1               /* prctl(PR_SET_PDEATHSIG), procctl(PROC_PDEATHSIG_CTL) */
#else
#define HAVE_PDEATHSIG 0
#endif
#if defined(__linux__) && defined(SYS_close_range)
#define HAVE_CLOSE_RANGE 1             /* Linux 5.9, called through syscall() (musl has no wrapper) */
#else
#define HAVE_CLOSE_RANGE 0
#endif
#if defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
#define HAVE_CLOSEFROM 1
#else
#define HAVE_CLOSEFROM 0
#endif
#if defined(__linux__)
#define HAVE_PROC_SELF_EXE 1           /* the running program, by a path that stays valid */
#else
#define HAVE_PROC_SELF_EXE 0
#endif

/* EPROCLIM (BSDs, macOS: fork() beyond kern.maxprocperuid) as a value that
 * no real errno equals where the OS has no such errno. */
#if defined(EPROCLIM)
#define SB_EPROCLIM EPROCLIM
#else
#define SB_EPROCLIM (-1)
#endif

/* RLIMIT_AS (XSI; OpenBSD has none, only RLIMIT_DATA): the address-space
 * rlimit a failed allocation may have run into. HAVE_RLIMIT_AS 0: the
 * resource number is RLIMIT_DATA's, never asked for. */
#include <sys/resource.h>
#if defined(RLIMIT_AS)
#define HAVE_RLIMIT_AS 1
#define SB_RLIMIT_AS RLIMIT_AS
#else
#define HAVE_RLIMIT_AS 0
#define SB_RLIMIT_AS RLIMIT_DATA
#endif

/* ---- memory ---- */
/* mincore(): not POSIX. Linux fills unsigned chars; FreeBSD, NetBSD,
 * DragonFly and macOS chars; OpenBSD removed it (7.x). */
#if defined(__linux__)
#define HAVE_MINCORE 1
typedef unsigned char sb_mincore_vec;
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__DragonFly__) || defined(__APPLE__)
#define HAVE_MINCORE 1
typedef char sb_mincore_vec;
#else
#define HAVE_MINCORE 0
typedef char sb_mincore_vec;
#endif
#if defined(MAP_ANONYMOUS)
#define SB_MAP_ANON MAP_ANONYMOUS
#else
#define SB_MAP_ANON MAP_ANON
#endif

/* ---- linking ---- */
/* Static linking: not on macOS (no static libc). The Makefile does not ask
 * this header: it probes the compiler (docs/portability.md). */
#if defined(__APPLE__)
#define HAVE_STATIC_LINK 0
#else
#define HAVE_STATIC_LINK 1
#endif

/* ---- the cycle counter ----
 * sb_counter() reads the CPU's time-stamp counter, fenced so that nothing of
 * the timed call drifts out of the interval from either side:
 *   x86_64   rdtsc between two lfence (every earlier instruction finished;
 *            no later one starts before the read)
 *   aarch64  cntvct_el0 between two isb (the generic timer, in program order)
 * Elsewhere HAVE_CYCLE_COUNTER is 0 and the library uses CLOCK_MONOTONIC. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CYCLE_COUNTER 1
#define SB_COUNTER_NAME "rdtsc"
static inline uint64_t sb_counter(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CYCLE_COUNTER 1
#define SB_COUNTER_NAME "cntvct_el0"
static inline uint64_t sb_counter(void)
{
	uint64_t v;
	__asm__ __volatile__("isb\n\tmrs %0, cntvct_el0\n\tisb" : "=r"(v) : : "memory");
	return v;
}
#else
#define HAVE_CYCLE_COUNTER 0
#define SB_COUNTER_NAME "none"
static inline uint64_t sb_counter(void)
{
	return 0;
}
#endif

/* ---- the CPU the caller runs on: the clock's migration check ----
 * sb_cpu_now() is the number of the CPU running the calling thread, or -1.
 *   Linux, glibc 2.35+: the cpu_id field of the thread's rseq area, which the
 *            kernel rewrites whenever it moves the thread: one load, no call;
 *   else     sb_cpu_query(): sched_getcpu() where the C library has it (Linux
 *            with musl or an older glibc: the vDSO), else -1.
 * rdtscp's TSC_AUX is not used: it holds the CPU only where the kernel
 * programs it, and a hypervisor may hide rdtscp from CPUID and still execute
 * it (Firecracker: a meaningless TSC_AUX). sb_cpu_source() must be called
 * once before (sb_init() does, in the calibration). */
#if defined(__linux__) && defined(__GLIBC__) && defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define HAVE_RSEQ_CPU 1
#endif
#endif
#ifndef HAVE_RSEQ_CPU
#define HAVE_RSEQ_CPU 0
#endif
extern int sb_cpu_rseq;                 /* the rseq area is registered: read it */
int sb_cpu_query(void);
static inline int sb_cpu_now(void)
{
#if HAVE_RSEQ_CPU
	if (sb_cpu_rseq) {
		const struct rseq *rs = (const struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
		return (int)*(volatile const int32_t *)&rs->cpu_id;
	}
#endif
	return sb_cpu_query();
}

/* ---- the calls that differ between systems (platform.c) ---- */

/* Can the cycle counter stand in for wall-clock time here? Sets *note to the
 * reason either way ("invariant TSC, lfence-fenced", ...). Sets *hz to the
 * counter frequency the CPU states (aarch64: cntfrq_el0), or 0 where it
 * states none (then the library measures it). */
int sb_counter_trusted(const char **note, double *hz);

/* Reads a kernel tunable by its sysctl name (kernel.pid_max, vm.max_map_count,
 * net.ipv4.ip_local_port_range, kern.maxfiles, ...) as text: Linux
 * /proc/sys/NAME; FreeBSD, NetBSD, DragonFly, macOS sysctlbyname(); OpenBSD
 * (no sysctlbyname) the MIB of a known name. Numeric tunables only on the
 * BSDs. Returns 0 and fills buf, or -1 where the OS has no such tunable. */
int sb_sysctl(const char *name, char *buf, size_t len);

/* Asks the kernel to send sig to this process when its parent dies (Linux
 * PR_SET_PDEATHSIG, FreeBSD PROC_PDEATHSIG_CTL). Returns -1 where the OS has
 * no such call (HAVE_PDEATHSIG 0): the caller then needs another way, e.g. a
 * pipe whose write end only the parent holds. fork() clears it. */
int sb_die_with_parent(int sig);

/* Closes every descriptor >= lowfd: close_range(), closefrom(), or a loop up
 * to the descriptor limit. Async-signal-safe where the first two are used,
 * so a child between fork() and exec may call it. */
void sb_close_from(int lowfd);

/* How sb_cpu_now() learns the CPU ("rseq cpu_id", "sched_getcpu()"), or NULL
 * where it cannot (then it returns -1). Sets up its fast path. */
const char *sb_cpu_source(void);

/* Pins the calling thread, and the threads and processes it creates later,
 * to CPU cpu (Linux sched_setaffinity, FreeBSD cpuset_setaffinity). Returns
 * 0, or -1 with errno: EINVAL (no such CPU, or not one this process may run
 * on), ENOSYS (the OS cannot pin a thread: OpenBSD, NetBSD here, macOS). */
int sb_pin_cpu(int cpu);

/* Whether the kernel keeps its own time with the cycle counter the stamps
 * read: 1 yes (Linux clocksource "tsc" or "arch_sys_counter"), 0 no (the
 * clocksource's name in buf, e.g. "kvm-clock"), -1 the OS does not say. */
int sb_counter_is_kernel_clock(char *buf, size_t len);

/* Online CPUs (sysconf(_SC_NPROCESSORS_ONLN)); 1 when the OS does not say. */
long sb_cpus(void);

/* The path by which this program can exec itself: /proc/self/exe on Linux,
 * else argv0 when it holds a '/', else NULL. */
const char *sb_self_path(const char *argv0);

/* The OS-specific part of naming a limit: writes into out the tunables that
 * bound one kind of kernel object, with their values now, e.g. for
 * SB_LIMIT_PROCS on Linux "kernel.pid_max=4194304, kernel.threads-max=...,
 * cgroup pids.max=max". lib/sb.c adds the rlimits and composes the text. */
enum sb_limit_kind {
	SB_LIMIT_FILES,         /* the system-wide open-file table (ENFILE) */
	SB_LIMIT_PROCS,         /* processes and threads (fork EAGAIN) */
	SB_LIMIT_MAPS,          /* map entries of one process (mmap ENOMEM) */
	SB_LIMIT_PORTS,         /* the ephemeral port range (EADDRNOTAVAIL) */
	SB_LIMIT_BACKLOG,       /* the listen backlog cap (ECONNREFUSED) */
};
void sb_os_limit(enum sb_limit_kind kind, char *out, size_t len);

/* How many memory mappings this process holds (Linux: the lines of
 * /proc/self/maps, read without allocating); -1 where the OS does not say.
 * Tells a full map table (vm.max_map_count) from a full address space. */
long sb_maps_in_use(void);

/* The sysctl names that limit kind is set by on this OS, for docs and the
 * header (e.g. "kern.maxfiles"); "" where no tunable exists. */
const char *sb_os_limit_names(enum sb_limit_kind kind);

/* Sets the socket option that lets many sockets bind one address:port and
 * have the kernel spread incoming connections over them: SO_REUSEPORT_LB
 * where it exists (FreeBSD 12: SO_REUSEPORT there does not spread), else
 * SO_REUSEPORT. Sets *name to the option's name. Returns 0, or -1 with errno
 * (ENOPROTOOPT where neither exists). */
int sb_reuseport(int fd, const char **name);

/* Asks that connect() on fd, after bind() to an address with port 0, choose
 * the port only at connect() time (Linux IP_BIND_ADDRESS_NO_PORT), so that
 * the port need be unique only per 4-tuple. Returns 1 when set, 0 where the
 * OS has no such option (bind() then picks the port at once), -1 with errno. */
int sb_bind_no_port(int fd);

/* mincore() with the OS's own vector type. Returns -1 with ENOSYS where the
 * OS has none (HAVE_MINCORE 0). */
int sb_mincore(void *addr, size_t len, sb_mincore_vec *vec);

#endif
