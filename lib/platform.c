/*
 * platform.c - the calls that differ between systems (see platform.h).
 *
 * The one place, with platform.h (and lib/events.c for the event
 * mechanisms), where an OS is named. Each function has one branch per
 * system family and a portable fallback.
 */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <netinet/in.h>

#if defined(__linux__)
#include <sched.h>
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/param.h>
#include <sys/cpuset.h>
#include <sys/procctl.h>
#include <sys/sysctl.h>
#elif defined(__APPLE__) || defined(__NetBSD__) || defined(__DragonFly__) || defined(__OpenBSD__)
#include <sys/sysctl.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

/* ======================= the cycle counter ======================= */
int sb_counter_trusted(const char **note, double *hz)
{
	*hz = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	unsigned a, b, c, d;
	if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) {
		*note = "invariant TSC, lfence-fenced";
		return 1;
	}
#if defined(__linux__)
	char cs[64];
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		int ok = fgets(cs, sizeof cs, f) && strncmp(cs, "tsc", 3) == 0;
		fclose(f);
		if (ok) {
			*note = "TSC is the kernel's clocksource, lfence-fenced";
			return 1;
		}
	}
#endif
	*note = "the TSC is not invariant here";
	return 0;
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
	uint64_t f;
	__asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(f));
	*hz = (double)f;
	*note = "generic timer, isb-fenced";
	return 1;
#else
	*note = "no cycle counter is read on this CPU";
	return 0;
#endif
}

/* ======================= sysctl ======================= */
#if defined(__OpenBSD__)
/* OpenBSD has no sysctlbyname(): the MIBs of the names the suite asks for. */
static const struct { const char *name; int mib[4]; unsigned len; } openbsd_mibs[] = {
	{"kern.maxfiles", {CTL_KERN, KERN_MAXFILES, 0, 0}, 2},
	{"kern.maxproc", {CTL_KERN, KERN_MAXPROC, 0, 0}, 2},
	{"kern.maxthread", {CTL_KERN, KERN_MAXTHREAD, 0, 0}, 2},
	{"kern.somaxconn", {CTL_KERN, KERN_SOMAXCONN, 0, 0}, 2},
	{"kern.nfiles", {CTL_KERN, KERN_NFILES, 0, 0}, 2},
	{"net.inet.ip.portfirst", {CTL_NET, PF_INET, IPPROTO_IP, IPCTL_IPPORT_FIRSTAUTO}, 4},
	{"net.inet.ip.portlast", {CTL_NET, PF_INET, IPPROTO_IP, IPCTL_IPPORT_LASTAUTO}, 4},
	{"net.inet.ip.porthifirst", {CTL_NET, PF_INET, IPPROTO_IP, IPCTL_IPPORT_HIFIRSTAUTO}, 4},
	{"net.inet.ip.porthilast", {CTL_NET, PF_INET, IPPROTO_IP, IPCTL_IPPORT_HILASTAUTO}, 4},
};
#endif

int sb_sysctl(const char *name, char *buf, size_t len)
{
	if (len == 0)
		return -1;
#if defined(__linux__)
	char path[256];
	int k = snprintf(path, sizeof path, "/proc/sys/%s", name);
	if (k < 0 || (size_t)k >= sizeof path)
		return -1;
	for (char *p = path + 10; *p; p++)
		if (*p == '.')
			*p = '/';
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t got = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[got] = 0;
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = 0;
	for (char *p = buf; *p; p++)
		if (*p == '\t' || *p == '\n')
			*p = ' ';
	return got > 0 ? 0 : -1;
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__DragonFly__) || defined(__APPLE__) || \
	defined(__OpenBSD__)
	/* Only numeric tunables are asked for; their width tells the type. */
	union { int i; long l; long long ll; } v;
	size_t sz = sizeof v;
	int rc = -1;
#if defined(__OpenBSD__)
	for (size_t i = 0; i < sizeof openbsd_mibs / sizeof openbsd_mibs[0]; i++)
		if (strcmp(openbsd_mibs[i].name, name) == 0) {
			int mib[4];
			memcpy(mib, openbsd_mibs[i].mib, sizeof mib);
			rc = sysctl(mib, openbsd_mibs[i].len, &v, &sz, NULL, 0);
			break;
		}
#else
	rc = sysctlbyname(name, &v, &sz, NULL, 0);
#endif
	if (rc != 0)
		return -1;
	long long x = sz == sizeof(int) ? v.i : sz == sizeof(long) ? v.l : v.ll;
	snprintf(buf, len, "%lld", x);
	return 0;
#else
	(void)name;
	(void)buf;
	return -1;
#endif
}

/* ======================= processes and descriptors ======================= */
int sb_die_with_parent(int sig)
{
#if defined(__linux__)
	return prctl(PR_SET_PDEATHSIG, sig);
#elif defined(__FreeBSD__) && defined(PROC_PDEATHSIG_CTL)
	return procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig);
#else
	(void)sig;
	errno = ENOSYS;
	return -1;
#endif
}

void sb_close_from(int lowfd)
{
#if HAVE_CLOSE_RANGE
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0u) == 0)
		return;         /* else an older kernel (ENOSYS): the loop */
#elif HAVE_CLOSEFROM
	closefrom(lowfd);
	return;
#endif
	struct rlimit rl;
	long top = 1L << 16;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < top)
		top = (long)rl.rlim_cur;
	for (long fd = lowfd; fd < top; fd++)
		close((int)fd);
}

/* ---- the CPU the caller runs on; pinning; the kernel's clocksource ---- */
int sb_cpu_rseq;

int sb_cpu_query(void)
{
#if defined(__linux__)
	return sched_getcpu();
#else
	return -1;
#endif
}

const char *sb_cpu_source(void)
{
#if HAVE_RSEQ_CPU
	if (__rseq_size >= 8) {   /* registered (glibc.pthread.rseq=0 turns it off) */
		sb_cpu_rseq = 1;
		if (sb_cpu_now() >= 0)
			return "rseq cpu_id";
		sb_cpu_rseq = 0;
	}
#endif
	if (sb_cpu_query() >= 0)
		return "sched_getcpu()";
	return NULL;
}

int sb_pin_cpu(int cpu)
{
#if defined(__linux__) || defined(__FreeBSD__)
#if defined(__linux__)
	cpu_set_t set;
#else
	cpuset_t set;
#endif
	if (cpu < 0 || cpu >= CPU_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
#if defined(__linux__)
	return sched_setaffinity(0, sizeof set, &set);
#else
	if (cpuset_setaffinity(CPU_LEVEL_WHICH, CPU_WHICH_TID, -1, sizeof set, &set) != 0) {
		if (errno == EDEADLK || errno == ERANGE)
			errno = EINVAL;
		return -1;
	}
	return 0;
#endif
#else
	(void)cpu;
	errno = ENOSYS;
	return -1;
#endif
}

int sb_counter_is_kernel_clock(char *buf, size_t len)
{
	if (len)
		buf[0] = 0;
#if defined(__linux__)
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (!f)
		return -1;
	int got = len > 1 && fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!got)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return strcmp(buf, "tsc") == 0 || strcmp(buf, "arch_sys_counter") == 0;
#else
	return -1;
#endif
}

long sb_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n;
}

const char *sb_self_path(const char *argv0)
{
#if HAVE_PROC_SELF_EXE
	(void)argv0;
	return "/proc/self/exe";
#else
	return argv0 && strchr(argv0, '/') ? argv0 : NULL;
#endif
}

/* ======================= naming limits ======================= */
const char *sb_os_limit_names(enum sb_limit_kind kind)
{
	switch (kind) {
#if defined(__linux__)
	case SB_LIMIT_FILES: return "fs.file-max";
	case SB_LIMIT_PROCS: return "kernel.pid_max kernel.threads-max";
	case SB_LIMIT_MAPS: return "vm.max_map_count";
	case SB_LIMIT_PORTS: return "net.ipv4.ip_local_port_range";
	case SB_LIMIT_BACKLOG: return "net.core.somaxconn";
#elif defined(__OpenBSD__)
	case SB_LIMIT_FILES: return "kern.maxfiles";
	case SB_LIMIT_PROCS: return "kern.maxproc kern.maxthread";
	case SB_LIMIT_MAPS: return "";
	case SB_LIMIT_PORTS: return "net.inet.ip.porthifirst net.inet.ip.porthilast";
	case SB_LIMIT_BACKLOG: return "kern.somaxconn";
#elif defined(__NetBSD__)
	case SB_LIMIT_FILES: return "kern.maxfiles";
	case SB_LIMIT_PROCS: return "kern.maxproc";
	case SB_LIMIT_MAPS: return "";
	case SB_LIMIT_PORTS: return "net.inet.ip.anonportmin net.inet.ip.anonportmax";
	case SB_LIMIT_BACKLOG: return "kern.somaxconn";
#elif defined(__APPLE__)
	case SB_LIMIT_FILES: return "kern.maxfiles";
	case SB_LIMIT_PROCS: return "kern.maxproc";
	case SB_LIMIT_MAPS: return "";
	case SB_LIMIT_PORTS: return "net.inet.ip.portrange.first net.inet.ip.portrange.last";
	case SB_LIMIT_BACKLOG: return "kern.ipc.somaxconn";
#elif defined(__FreeBSD__) || defined(__DragonFly__)
	case SB_LIMIT_FILES: return "kern.maxfiles";
	case SB_LIMIT_PROCS: return "kern.maxproc";
	case SB_LIMIT_MAPS: return "vm.max_user_wired";
	case SB_LIMIT_PORTS: return "net.inet.ip.portrange.first net.inet.ip.portrange.last";
	case SB_LIMIT_BACKLOG: return "kern.ipc.soacceptqueue";
#else
	case SB_LIMIT_FILES: case SB_LIMIT_PROCS: case SB_LIMIT_MAPS: case SB_LIMIT_PORTS:
	case SB_LIMIT_BACKLOG: return "";
#endif
	}
	return "";
}

#if defined(__linux__)
/* ", cgroup pids.max=N" of the cgroup this process is in (v2 path first,
 * then v1), appended to out. */
static void cgroup_pids_max(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512], path[700], c[64];
	while (f && fgets(line, sizeof line, f)) {
		char *p = strrchr(line, ':'), *q = strchr(line, ':');
		line[strcspn(line, "\n")] = 0;
		if (!p || !q)
			continue;
		if (strncmp(q, "::", 2) == 0)
			snprintf(path, sizeof path, "/sys/fs/cgroup%s/pids.max", p + 1);
		else if (strncmp(q, ":pids:", 6) == 0)
			snprintf(path, sizeof path, "/sys/fs/cgroup/pids%s/pids.max", p + 1);
		else
			continue;
		FILE *g = fopen(path, "r");
		if (g && fgets(c, sizeof c, g)) {
			size_t used = strlen(out);
			c[strcspn(c, "\n")] = 0;
			snprintf(out + used, len - used, ", cgroup pids.max=%s", c);
		}
		if (g)
			fclose(g);
		break;
	}
	if (f)
		fclose(f);
}
#endif

void sb_os_limit(enum sb_limit_kind kind, char *out, size_t len)
{
	if (len == 0)
		return;
	out[0] = 0;
	/* "a b" -> "a=VALUE, b=VALUE" */
	char names[128], val[64];
	snprintf(names, sizeof names, "%s", sb_os_limit_names(kind));
	char *save = NULL;
	for (char *t = strtok_r(names, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s%s=%s", used ? ", " : "", t,
			 sb_sysctl(t, val, sizeof val) == 0 ? val : "?");
	}
#if defined(__linux__)
	if (kind == SB_LIMIT_PROCS)
		cgroup_pids_max(out, len);
#endif
}

long sb_maps_in_use(void)
{
#if defined(__linux__)
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	long lines = 0;
	ssize_t got;
	while ((got = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < got; i++)
			lines += buf[i] == '\n';
	close(fd);
	return got < 0 ? -1 : lines;
#else
	return -1;
#endif
}

/* ======================= sockets ======================= */
int sb_reuseport(int fd, const char **name)
{
	int on = 1;
#if HAVE_SO_REUSEPORT_LB
	*name = "SO_REUSEPORT_LB";
	return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT_LB, &on, sizeof on);
#elif HAVE_SO_REUSEPORT
	*name = "SO_REUSEPORT";
	return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
#else
	(void)fd;
	(void)on;
	*name = "SO_REUSEPORT";
	errno = ENOPROTOOPT;
	return -1;
#endif
}

int sb_bind_no_port(int fd)
{
#if defined(IP_BIND_ADDRESS_NO_PORT)
	int on = 1;
	return setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on) == 0 ? 1 : -1;
#else
	(void)fd;
	return 0;
#endif
}

/* ======================= memory ======================= */
int sb_mincore(void *addr, size_t len, sb_mincore_vec *vec)
{
#if HAVE_MINCORE
	return mincore(addr, len, vec);
#else
	(void)addr;
	(void)len;
	(void)vec;
	errno = ENOSYS;
	return -1;
#endif
}
