/*
 * sb.c - the scalebench timing and result library (see sb.h, docs/format.md).
 */
#define _GNU_SOURCE 1       /* Linux: prctl; harmless elsewhere */
#if defined(__APPLE__)
#define _DARWIN_C_SOURCE 1
#endif
#if defined(__FreeBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
#undef _POSIX_C_SOURCE      /* the BSD namespace (mincore, sysctlbyname) */
#endif
#include "sb.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* ======================= platform section =======================
 * Everything that differs between Linux, the BSDs and macOS is here:
 * reading tunables, dying with the parent, whether the TSC can be trusted,
 * and which tunables name a limit. */
#if defined(__linux__)
#include <sys/prctl.h>
#define SB_OS_LINUX 1
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#include <sys/sysctl.h>
#define SB_OS_BSD 1
#elif defined(__APPLE__) || defined(__OpenBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
#include <sys/sysctl.h>
#define SB_OS_BSD 1
#endif
#if defined(SB_CLOCK_TSC)
#include <cpuid.h>
#endif

int sb_sysctl(const char *name, char *buf, size_t len)
{
	if (len == 0)
		return -1;
#if defined(SB_OS_LINUX)
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
#elif defined(SB_OS_BSD)
	/* Only numeric tunables are asked for; their width tells the type. */
	union { int i; long l; long long ll; } v;
	size_t sz = sizeof v;
	if (sysctlbyname(name, &v, &sz, NULL, 0) != 0)
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

int sb_die_with_parent(int sig)
{
#if defined(SB_OS_LINUX)
	return prctl(PR_SET_PDEATHSIG, sig);
#elif defined(__FreeBSD__)
	return procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig);
#else
	(void)sig;
	return -1;
#endif
}

/* Can the cycle counter stand in for wall-clock time? */
static int counter_trusted(const char **note)
{
#if defined(SB_CLOCK_TSC)
	unsigned a, b, c, d;
	if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) {
		*note = "invariant TSC, lfence-fenced";
		return 1;
	}
#if defined(SB_OS_LINUX)
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
#elif defined(SB_CLOCK_CNTVCT)
	*note = "generic timer, isb-fenced";
	return 1;
#else
	*note = "no cycle counter is read on this CPU";
	return 0;
#endif
}

/* The tunables that bound what a failing call ran into. */
static void name_limit(const char *call, int err, char *out, size_t len)
{
	char a[64], b[64], c[64];
	struct rlimit rl;
#define RL(res) (getrlimit(res, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long long)rl.rlim_cur : -1LL)
#define SYS(name, buf) (sb_sysctl(name, buf, sizeof buf) == 0 ? buf : "?")
	int is_fork = strncmp(call, "fork", 4) == 0 || strncmp(call, "vfork", 5) == 0 ||
		      strncmp(call, "posix_spawn", 11) == 0 || strncmp(call, "pthread_create", 14) == 0;
	switch (err) {
	case EMFILE:
		snprintf(out, len, "RLIMIT_NOFILE=%lld", RL(RLIMIT_NOFILE));
		return;
	case ENFILE:
#if defined(SB_OS_LINUX)
		snprintf(out, len, "fs.file-max=%s", SYS("fs.file-max", a));
#else
		snprintf(out, len, "kern.maxfiles=%s", SYS("kern.maxfiles", a));
#endif
		return;
	case ENOMEM:
		if (strncmp(call, "mmap", 4) == 0) {
#if defined(SB_OS_LINUX)
			snprintf(out, len, "vm.max_map_count=%s", SYS("vm.max_map_count", a));
#else
			snprintf(out, len, "memory or map entries");
#endif
			return;
		}
		if (!is_fork) {
			snprintf(out, len, "memory");
			return;
		}
		/* Linux fork() says ENOMEM when kernel.pid_max is reached */
		/* fall through */
	case EAGAIN:
#if defined(EPROCLIM)
	case EPROCLIM:
#endif
		if (is_fork) {
#if defined(SB_OS_LINUX)
			snprintf(out, len, "RLIMIT_NPROC=%lld, kernel.pid_max=%s, kernel.threads-max=%s%s",
				 RL(RLIMIT_NPROC), SYS("kernel.pid_max", a), SYS("kernel.threads-max", b),
				 err == ENOMEM ? ", or memory" : "");
			/* a cgroup's pids.max (v2 path first, then v1) */
			FILE *f = fopen("/proc/self/cgroup", "r");
			char line[512], path[700];
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
#elif defined(SB_OS_BSD)
			snprintf(out, len, "RLIMIT_NPROC=%lld, kern.maxproc=%s", RL(RLIMIT_NPROC),
				 SYS("kern.maxproc", a));
#else
			snprintf(out, len, "RLIMIT_NPROC=%lld", RL(RLIMIT_NPROC));
#endif
			return;
		}
		if (strncmp(call, "connect", 7) != 0) {
			snprintf(out, len, "a kernel resource (EAGAIN)");
			return;
		}
		/* Linux connect() says EAGAIN when no ephemeral port is left */
		/* fall through */
	case EADDRNOTAVAIL:
	case EADDRINUSE:
#if defined(SB_OS_LINUX)
		snprintf(out, len, "ephemeral ports, net.ipv4.ip_local_port_range=%s",
			 SYS("net.ipv4.ip_local_port_range", a));
#elif defined(__OpenBSD__)
		snprintf(out, len, "ephemeral ports, net.inet.ip.porthifirst=%s, porthilast=%s",
			 SYS("net.inet.ip.porthifirst", a), SYS("net.inet.ip.porthilast", b));
#elif defined(__NetBSD__)
		snprintf(out, len, "ephemeral ports, net.inet.ip.anonportmin=%s, anonportmax=%s",
			 SYS("net.inet.ip.anonportmin", a), SYS("net.inet.ip.anonportmax", b));
#else
		snprintf(out, len, "ephemeral ports, net.inet.ip.portrange.first=%s, last=%s",
			 SYS("net.inet.ip.portrange.first", a), SYS("net.inet.ip.portrange.last", b));
#endif
		return;
	case ECONNREFUSED:
#if defined(SB_OS_LINUX)
		snprintf(out, len, "listen backlog, net.core.somaxconn=%s", SYS("net.core.somaxconn", a));
#elif defined(__OpenBSD__) || defined(__NetBSD__)
		snprintf(out, len, "listen backlog, kern.somaxconn=%s", SYS("kern.somaxconn", a));
#else
		snprintf(out, len, "listen backlog, kern.ipc.somaxconn=%s", SYS("kern.ipc.somaxconn", a));
#endif
		return;
	case ENOBUFS:
		snprintf(out, len, "kernel buffer memory");
		return;
	default:
		snprintf(out, len, "%s", strerror(err));
		return;
	}
#undef RL
#undef SYS
}

/* ---- files and the page cache ---- */
long long sb_read_all(int fd)
{
	char buf[65536];
	long long total = 0;
	for (;;) {
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR && !sb_interrupted())
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			return total;
		total += got;
	}
}

/* mincore() is not POSIX: Linux fills unsigned chars, the BSDs and macOS
 * chars; OpenBSD no longer has it. */
#if defined(SB_OS_LINUX)
typedef unsigned char sb_mincore_vec;
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__DragonFly__) || defined(__APPLE__)
typedef char sb_mincore_vec;
#endif

int sb_resident(int fd, size_t len, size_t *resident, size_t *pages)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	*resident = 0;
	*pages = (len + ps - 1) / ps;
	if (len == 0)
		return 0;
#if defined(SB_OS_LINUX) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__DragonFly__) || \
	defined(__APPLE__)
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	sb_mincore_vec *vec = malloc(*pages);
	int rc = -1, err = ENOMEM;
	if (vec) {
		rc = mincore(p, len, vec);
		err = errno;
		for (size_t i = 0; rc == 0 && i < *pages; i++)
			*resident += (size_t)(vec[i] & 1);
		free(vec);
	}
	munmap(p, len);
	errno = err;
	return rc == 0 ? 0 : -1;
#else
	(void)fd;
	errno = ENOSYS;
	return -1;
#endif
}

/* ======================= clock ======================= */
int sb_use_counter;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void sb_clock_calibrate(struct sb_clock *c)
{
	const char *forced = getenv("SB_CLOCK");
	sb_use_counter = counter_trusted(&c->note);
	if (forced && strcmp(forced, "monotonic") == 0 && sb_use_counter) {
		sb_use_counter = 0;
		c->note = "SB_CLOCK=monotonic asked for it";
	}
#if defined(SB_CLOCK_TSC)
	c->name = sb_use_counter ? "rdtsc" : "clock_gettime(CLOCK_MONOTONIC)";
#elif defined(SB_CLOCK_CNTVCT)
	c->name = sb_use_counter ? "cntvct_el0" : "clock_gettime(CLOCK_MONOTONIC)";
#else
	c->name = "clock_gettime(CLOCK_MONOTONIC)";
#endif
	c->hz = 1e9;
	if (sb_use_counter) {
		/* Three 20 ms windows against CLOCK_MONOTONIC; each end is read
		 * between two counter stamps and placed at their midpoint. */
		double rate[3];
		for (int w = 0; w < 3; w++) {
			sb_tick a0 = sb_ticks(), m0 = sb_mono_ns(), b0 = sb_ticks();
			sb_tick m1;
			do
				m1 = sb_mono_ns();
			while (m1 - m0 < 20000000u);
			sb_tick a1 = sb_ticks(), m2 = sb_mono_ns(), b1 = sb_ticks();
			(void)m1;
			double ticks = ((double)a1 + (double)b1) / 2 - ((double)a0 + (double)b0) / 2;
			rate[w] = ticks / ((double)(m2 - m0) / 1e9);
		}
		c->hz = median(rate, 3);
	}
	enum { PAIRS = 1001 };
	double d[PAIRS];
	for (int i = 0; i < PAIRS; i++) {
		sb_tick a = sb_ticks();
		sb_tick b = sb_ticks();
		d[i] = (double)(b - a);
	}
	c->overhead_ticks = median(d, PAIRS);
}

double sb_ticks_to_ns(const struct sb_clock *c, double ticks)
{
	return ticks * 1e9 / c->hz;
}

/* ======================= signals ======================= */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

int sb_interrupted(void)
{
	return got_signal != 0;
}

static const char *signame(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "signal";
}

/* ======================= a run ======================= */
struct sb {
	const char *bench;
	struct sb_clock clock;
	int ncols;                /* values per row, not counting n */
	char *colspec;            /* "n a_ns b" */
	char *colbuf;             /* colspec cut into the names below */
	char *colnames[32];
	int is_time[32];
	char **meta;              /* "key: value" lines */
	size_t nmeta;
	char *args;
	uint64_t *n;
	double *v;
	size_t rows, cap;
	char *end;                /* NULL while running */
	int status;
	sb_tick started_ns;
};

static void *xalloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (!q) {
		fprintf(stderr, "scalebench: out of memory for %zu bytes of samples\n", size);
		exit(SB_EXIT_FAIL);
	}
	return q;
}

static char *xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;
	return memcpy(xalloc(NULL, len), s, len);
}

static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *vformat(const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	char *s = xalloc(NULL, (size_t)(len < 0 ? 0 : len) + 1);
	vsnprintf(s, (size_t)len + 1, fmt, ap);
	return s;
}

struct sb *sb_init(const char *bench, const char *columns, int argc, char **argv)
{
	struct sb *r = xalloc(NULL, sizeof *r);
	memset(r, 0, sizeof *r);
	r->started_ns = sb_mono_ns();
	r->bench = bench;
	r->colspec = xstrdup(columns);
	char *save = NULL;
	int k = 0;
	r->colbuf = xstrdup(columns);
	for (char *t = strtok_r(r->colbuf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (k == 0 && strcmp(t, "n") != 0) {
			fprintf(stderr, "%s: internal error: columns must start with n\n", bench);
			exit(SB_EXIT_FAIL);
		}
		if (k > 0) {
			if (k > 32) {
				fprintf(stderr, "%s: internal error: more than 32 columns\n", bench);
				exit(SB_EXIT_FAIL);
			}
			size_t len = strlen(t);
			r->colnames[k - 1] = t;
			r->is_time[k - 1] = len > 3 && strcmp(t + len - 3, "_ns") == 0;
		}
		k++;
	}
	r->ncols = k - 1;

	size_t alen = 1;
	for (int i = 0; i < argc; i++)
		alen += strlen(argv[i]) + 1;
	r->args = xalloc(NULL, alen);
	r->args[0] = 0;
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(r->args, " ");
		strcat(r->args, argv[i]);
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;      /* no SA_RESTART: blocking calls see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid_t parent = getppid();
	if (sb_die_with_parent(SIGTERM) == 0 && getppid() != parent)
		got_signal = SIGTERM;   /* the parent died before we asked */

	sb_clock_calibrate(&r->clock);
	return r;
}

void sb_meta(struct sb *r, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *val = vformat(fmt, ap);
	va_end(ap);
	size_t len = strlen(key) + strlen(val) + 3;
	char *line = xalloc(NULL, len);
	snprintf(line, len, "%s: %s", key, val);
	free(val);
	r->meta = xalloc(r->meta, (r->nmeta + 1) * sizeof *r->meta);
	r->meta[r->nmeta++] = line;
}

void sb_reserve(struct sb *r, size_t rows)
{
	if (rows <= r->cap)
		return;
	r->n = xalloc(r->n, rows * sizeof *r->n);
	r->v = xalloc(r->v, rows * (size_t)(r->ncols ? r->ncols : 1) * sizeof *r->v);
	r->cap = rows;
}

size_t sb_row(struct sb *r, uint64_t n)
{
	if (r->rows == r->cap)
		sb_reserve(r, r->cap ? 2 * r->cap : 1024);
	size_t i = r->rows++;
	r->n[i] = n;
	for (int c = 0; c < r->ncols; c++)
		r->v[i * (size_t)r->ncols + (size_t)c] = -1;   /* missing */
	return i;
}

void sb_put(struct sb *r, size_t row, int col, double value)
{
	if (row >= r->rows || col < 1 || col > r->ncols || !(value >= 0)) {
		fprintf(stderr, "%s: internal error: sb_put(row %zu, col %d, %g) out of range\n", r->bench,
			row, col, value);
		exit(SB_EXIT_FAIL);
	}
	r->v[row * (size_t)r->ncols + (size_t)(col - 1)] = value;
}

size_t sb_rows(const struct sb *r)
{
	return r->rows;
}

const struct sb_clock *sb_clock(const struct sb *r)
{
	return &r->clock;
}

int sb_ended(const struct sb *r)
{
	return r->end != NULL || got_signal;
}

static const char *errname(int err)
{
	static const struct { int e; const char *s; } t[] = {
		{EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {ESRCH, "ESRCH"}, {EINTR, "EINTR"}, {EIO, "EIO"},
		{E2BIG, "E2BIG"}, {EBADF, "EBADF"}, {ECHILD, "ECHILD"}, {EAGAIN, "EAGAIN"},
		{ENOMEM, "ENOMEM"}, {EACCES, "EACCES"}, {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"},
		{EEXIST, "EEXIST"}, {ENODEV, "ENODEV"}, {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"},
		{EINVAL, "EINVAL"}, {ENFILE, "ENFILE"}, {EMFILE, "EMFILE"}, {ENOSPC, "ENOSPC"},
		{EPIPE, "EPIPE"}, {ERANGE, "ERANGE"}, {EINPROGRESS, "EINPROGRESS"}, {ENOTSOCK, "ENOTSOCK"},
		{EPROTONOSUPPORT, "EPROTONOSUPPORT"}, {EOPNOTSUPP, "EOPNOTSUPP"},
		{EAFNOSUPPORT, "EAFNOSUPPORT"}, {EADDRINUSE, "EADDRINUSE"},
		{EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {ENETUNREACH, "ENETUNREACH"},
		{ECONNABORTED, "ECONNABORTED"}, {ECONNRESET, "ECONNRESET"}, {ENOBUFS, "ENOBUFS"},
		{ENOTCONN, "ENOTCONN"}, {ETIMEDOUT, "ETIMEDOUT"}, {ECONNREFUSED, "ECONNREFUSED"},
		{EHOSTUNREACH, "EHOSTUNREACH"}, {ENAMETOOLONG, "ENAMETOOLONG"}, {ENOSYS, "ENOSYS"},
		{ELOOP, "ELOOP"}, {EOVERFLOW, "EOVERFLOW"},
#if defined(EPROCLIM)
		{EPROCLIM, "EPROCLIM"},
#endif
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].e == err)
			return t[i].s;
	return NULL;
}

static int is_limit(int err)
{
	switch (err) {
	case EMFILE: case ENFILE: case EAGAIN: case ENOMEM: case ENOBUFS:
	case EADDRNOTAVAIL: case EADDRINUSE: case ECONNREFUSED:
#if defined(EPROCLIM)
	case EPROCLIM:
#endif
		return 1;
	default:
		return 0;
	}
}

static void set_end(struct sb *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_end(struct sb *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r->end = vformat(fmt, ap);
	va_end(ap);
	r->status = status;
}

void sb_stop(struct sb *r, const char *call, uint64_t n, int err, const char *limit)
{
	if (r->end)
		return;
	char buf[512], num[32];
	const char *name = errname(err);
	if (!name) {
		snprintf(num, sizeof num, "errno %d", err);
		name = num;
	}
	if (err == EINTR && got_signal) {
		set_end(r, SB_EXIT_FAIL, "interrupted: %s during %s at n=%llu", signame(got_signal), call,
			(unsigned long long)n);
	} else if (is_limit(err)) {
		if (!limit) {
			name_limit(call, err, buf, sizeof buf);
			limit = buf;
		}
		set_end(r, SB_EXIT_LIMIT, "stopped: %s at n=%llu: %s (%s)", call, (unsigned long long)n,
			name, limit);
	} else {
		set_end(r, SB_EXIT_FAIL, "failed: %s at n=%llu: %s (%s)", call, (unsigned long long)n, name,
			limit ? limit : strerror(err));
	}
	fprintf(stderr, "%s: %s\n", r->bench, r->end);
}

void sb_fail(struct sb *r, uint64_t n, const char *fmt, ...)
{
	if (r->end)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *what = vformat(fmt, ap);
	va_end(ap);
	set_end(r, SB_EXIT_FAIL, "failed: %s at n=%llu", what, (unsigned long long)n);
	free(what);
	fprintf(stderr, "%s: %s\n", r->bench, r->end);
}

static void print_value(double v, int is_time, const struct sb_clock *c)
{
	if (v < 0)
		fputs(" -", stdout);
	else if (is_time)
		printf(" %.1f", sb_ticks_to_ns(c, v));
	else
		printf(" %.10g", v);
}

int sb_finish(struct sb *r)
{
	int sig = got_signal;
	if (sig && !r->end)
		set_end(r, SB_EXIT_FAIL, "interrupted: %s", signame(sig));
	if (!r->end)
		set_end(r, SB_EXIT_OK, "completed");

	struct utsname u;
	if (uname(&u) != 0)
		memset(&u, 0, sizeof u);
	char units[32 * 6 + 8] = "count";
	for (int c = 0; c < r->ncols; c++)
		strcat(units, r->is_time[c] ? " ns" : " count");
	time_t now = time(NULL);
	char date[32] = "?";
	struct tm tm;
	if (gmtime_r(&now, &tm))
		strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);

	printf("# scalebench: 1\n");
	printf("# bench: %s\n", r->bench);
	printf("# args: %s\n", r->args);
	printf("# columns: %s\n", r->colspec);
	printf("# units: %s\n", units);
	printf("# clock: %s (%s)\n", r->clock.name, r->clock.note);
	printf("# clock_hz: %.0f\n", r->clock.hz);
	printf("# stamp_overhead_ns: %.1f\n", sb_ticks_to_ns(&r->clock, r->clock.overhead_ticks));
	printf("# os: %s\n# release: %s\n# machine: %s\n", u.sysname, u.release, u.machine);
	printf("# date: %s\n", date);
	for (size_t i = 0; i < r->nmeta; i++)
		printf("# %s\n", r->meta[i]);
	for (size_t i = 0; i < r->rows; i++) {
		printf("%llu", (unsigned long long)r->n[i]);
		for (int c = 0; c < r->ncols; c++)
			print_value(r->v[i * (size_t)r->ncols + (size_t)c], r->is_time[c], &r->clock);
		putchar('\n');
	}
	printf("# rows: %zu\n", r->rows);
	printf("# wall_s: %.3f\n", (double)(sb_mono_ns() - r->started_ns) / 1e9);
	printf("# end: %s\n", r->end);
	int status = r->status;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: writing the results failed: %s\n", r->bench, strerror(errno));
		status = SB_EXIT_FAIL;
	}

	for (size_t i = 0; i < r->nmeta; i++)
		free(r->meta[i]);
	free(r->meta);
	free(r->colspec);
	free(r->colbuf);
	free(r->args);
	free(r->n);
	free(r->v);
	free(r->end);
	free(r);
	if (sig) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return status;
}

void sb_stop_limit(struct sb *r, const char *call, uint64_t n, int err, const char *limit)
{
	if (r->end)
		return;
	const char *name = errname(err);
	char num[32];
	if (!name) {
		snprintf(num, sizeof num, "errno %d", err);
		name = num;
	}
	set_end(r, SB_EXIT_LIMIT, "stopped: %s at n=%llu: %s (%s)", call, (unsigned long long)n, name,
		limit ? limit : strerror(err));
	fprintf(stderr, "%s: %s\n", r->bench, r->end);
}

/* ======================= limits ======================= */
static long long raise_limit(struct sb *r, int res, const char *key, long long need)
{
	struct rlimit rl;
	if (getrlimit(res, &rl) != 0) {
		sb_meta(r, key, "unknown (getrlimit: %s)", strerror(errno));
		return -1;
	}
	rlim_t want = need < 0 ? 0 : (rlim_t)need;
	const char *how = "";
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		struct rlimit nl = rl;
		nl.rlim_cur = want;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
			nl.rlim_max = want;
		if (setrlimit(res, &nl) == 0) {
			how = nl.rlim_max != rl.rlim_max ? " (soft and hard raised)" : " (soft raised)";
		} else if (rl.rlim_cur < rl.rlim_max) {
			/* the hard limit may not be raised: go as far as it allows */
			nl = rl;
			nl.rlim_cur = rl.rlim_max;
			how = setrlimit(res, &nl) == 0 ? " (soft raised to hard; hard not raisable)"
						       : " (not raisable)";
		} else {
			how = " (hard limit not raisable)";
		}
		getrlimit(res, &rl);
	}
	char cur[32], max[32];
	snprintf(cur, sizeof cur, "%lld", (long long)rl.rlim_cur);
	snprintf(max, sizeof max, "%lld", (long long)rl.rlim_max);
	sb_meta(r, key, "soft %s, hard %s, wanted %lld%s", rl.rlim_cur == RLIM_INFINITY ? "unlimited" : cur,
		rl.rlim_max == RLIM_INFINITY ? "unlimited" : max, need, how);
	return rl.rlim_cur == RLIM_INFINITY ? -1 : (long long)rl.rlim_cur;
}

long long sb_raise_nofile(struct sb *r, long long need)
{
	/* room for stdin/out/err and a few the benchmark keeps for itself */
	return raise_limit(r, RLIMIT_NOFILE, "rlimit_nofile", need + 16);
}

long long sb_raise_nproc(struct sb *r, long long need)
{
	/* the limit counts every process of the user, not only ours */
	return raise_limit(r, RLIMIT_NPROC, "rlimit_nproc", need + 64);
}

void sb_limit_text(const char *call, int err, char *buf, size_t len)
{
	if (len > 0)
		name_limit(call, err, buf, len);
}

void *sb_shared(size_t len)
{
#if defined(MAP_ANONYMOUS)
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
#else
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, -1, 0);
#endif
	return p == MAP_FAILED ? NULL : p;
}

/* ======================= arguments ======================= */
void sb_usage_error(const char *bench, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", bench);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(SB_EXIT_USAGE);
}

int sb_getopt(const char *bench, int argc, char **argv, const char *opts)
{
	opterr = 0;
	int c = getopt(argc, argv, opts);
	if (c == '?' || c == ':') {
		if (optopt && strchr(opts, optopt) && optopt != ':')
			sb_usage_error(bench, "-%c needs a value (try -h)", optopt);
		sb_usage_error(bench, "unknown option -%c (try -h)", optopt ? optopt : '?');
	}
	return c;
}

const char *sb_operand(const char *bench, int argc, char **argv, const char *name)
{
	int want = name ? 1 : 0;
	if (argc - optind < want)
		sb_usage_error(bench, "no %s given (try -h)", name);
	if (argc - optind > want)
		sb_usage_error(bench, "unexpected argument '%s' (try -h)", argv[optind + want]);
	return want ? argv[optind] : NULL;
}

long long sb_number(const char *bench, char opt, const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != 0 || v < min || v > max || s[0] == ' ' || s[0] == '+')
		sb_usage_error(bench, "-%c: '%s' is not a whole number from %lld to %lld", opt, s, min, max);
	return v;
}

long long sb_size(const char *bench, char opt, const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	int shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	int ok = errno == 0 && end != s && *end == 0 && s[0] >= '0' && s[0] <= '9' && v >= 0 &&
		 v <= (LLONG_MAX >> shift);
	if (ok)
		v <<= shift;
	if (!ok || v < min || v > max)
		sb_usage_error(bench, "-%c: '%s' is not a size from %lld to %lld bytes (a whole number, "
			       "optionally followed by K, M, G or T: powers of 1024)", opt, s, min, max);
	return v;
}

/* ======================= the small-file tree ======================= */
void sb_tree_path(char *buf, size_t len, long long i)
{
	snprintf(buf, len, "%04lld/%02lld", i / SB_TREE_PER_DIR, i % SB_TREE_PER_DIR);
}

long long sb_tree_files(const char *dir)
{
	char path[4096], text[128], check[128];
	if (snprintf(path, sizeof path, "%s/%s", dir, SB_TREE_MARKER) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t got = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[got] = 0;
	long long n = -1;
	if (sscanf(text, SB_TREE_MARKER_FMT, &n) != 1 || n < 1 || n > SB_TREE_MAX) {
		errno = EINVAL;
		return -1;
	}
	snprintf(check, sizeof check, SB_TREE_MARKER_FMT, n);
	if (strcmp(check, text) != 0) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

/* ======================= sockets and descriptors ======================= */
unsigned sb_loopback_sources(struct sb *r, long long count)
{
	long long n = (count + SB_PER_SOURCE - 1) / SB_PER_SOURCE;
	unsigned nsrc = n < 1 ? 1 : n > 253 ? 253 : (unsigned)n;
	if (nsrc > 1)
		sb_meta(r, "sources", "%u addresses 127.0.0.1-127.0.0.%u, round robin, port chosen by connect()",
			nsrc, nsrc);
	else
		sb_meta(r, "sources", "one address, chosen by the kernel, as is the port");
	return nsrc;
}

int sb_bind_loopback_source(int fd, unsigned i)
{
	struct sockaddr_in a;
	if (i >= 254) {
		errno = EINVAL;
		return -1;
	}
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + i);
#if defined(IP_BIND_ADDRESS_NO_PORT)
	int on = 1;
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on) != 0)
		return -1;
#endif
	return bind(fd, (struct sockaddr *)&a, sizeof a);
}

struct sb_keeper {
	int *sock;        /* per keeper process: our end of its socket */
	pid_t *pid;
	int n;            /* keepers started; the last one is filled */
	long long kept;
};

struct sb_keeper *sb_keeper_new(void)
{
	struct sb_keeper *k = xalloc(NULL, sizeof *k);
	memset(k, 0, sizeof *k);
	return k;
}

int sb_keepers(const struct sb_keeper *k)
{
	return k->n;
}

long long sb_kept(const struct sb_keeper *k)
{
	return k->kept;
}

/* A one-byte message with room for one descriptor (SCM_RIGHTS): what sb_keep()
 * sends and a keeper receives. */
union sb_fdbuf { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; };

static void fd_msg(struct msghdr *m, struct iovec *iov, char *byte, union sb_fdbuf *cm)
{
	memset(cm, 0, sizeof *cm);
	memset(m, 0, sizeof *m);
	iov->iov_base = byte;
	iov->iov_len = 1;
	m->msg_iov = iov;
	m->msg_iovlen = 1;
	m->msg_control = cm->buf;
	m->msg_controllen = sizeof cm->buf;
}

/* The keeper process: receive descriptors and hold them; answer 'k' when
 * one was taken, 'F' when it could not be (descriptor table full); exit,
 * closing them all, when the other end closes. */
static void keeper_main(int s)
{
	/* A keeper ends when its parent closes the socket or dies (EOF), not by
	 * the signals that interrupt the run: the parent must see them first. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_DFL);
	if (sb_die_with_parent(SIGKILL) == 0 && getppid() == 1)
		_exit(0);
	struct rlimit rl;
	long top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
	for (long fd = 3; fd < top; fd++)   /* what the parent held is not ours to keep */
		if (fd != s)
			close((int)fd);
	for (;;) {
		char byte;
		union sb_fdbuf cm;
		struct iovec iov;
		struct msghdr m;
		fd_msg(&m, &iov, &byte, &cm);
		ssize_t got = recvmsg(s, &m, 0);
		if (got == 0)
			_exit(0);
		char reply = 'F';
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EMFILE && errno != ENFILE && errno != EMSGSIZE)
				_exit(1);
		} else {
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			if (!(m.msg_flags & MSG_CTRUNC) && c && c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS)
				reply = 'k';
		}
		while (write(s, &reply, 1) != 1)
			if (errno != EINTR)
				_exit(1);
	}
}

static int keeper_start(struct sb_keeper *k)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	fflush(NULL);
	pid_t p = fork();
	if (p < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (p == 0)
		keeper_main(sv[1]);
	close(sv[1]);
	k->sock = xalloc(k->sock, (size_t)(k->n + 1) * sizeof *k->sock);
	k->pid = xalloc(k->pid, (size_t)(k->n + 1) * sizeof *k->pid);
	k->sock[k->n] = sv[0];
	k->pid[k->n++] = p;
	return 0;
}

int sb_keep(struct sb_keeper *k, int fd)
{
	for (int fresh = 0;; fresh = 1) {
		if (k->n == 0 || fresh) {
			if (keeper_start(k) != 0)
				return -1;
		}
		int s = k->sock[k->n - 1];
		char byte = 'k', reply;
		union sb_fdbuf cm;
		struct iovec iov;
		struct msghdr m;
		fd_msg(&m, &iov, &byte, &cm);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
		ssize_t w;
		while ((w = sendmsg(s, &m, 0)) < 0 && errno == EINTR && !sb_interrupted())
			;
		if (w != 1)
			return -1;
		ssize_t got;
		while ((got = read(s, &reply, 1)) < 0 && errno == EINTR && !sb_interrupted())
			;
		if (got != 1) {
			if (got == 0)
				errno = EPIPE;   /* the keeper died */
			return -1;
		}
		if (reply == 'k') {
			k->kept++;
			return 0;
		}
		if (fresh) {
			errno = EMFILE;
			return -1;
		}
	}
}

void sb_keeper_end(struct sb_keeper *k)
{
	for (int i = 0; i < k->n; i++)
		close(k->sock[i]);
	for (int i = 0; i < k->n; i++)
		while (waitpid(k->pid[i], NULL, 0) < 0 && errno == EINTR)
			;
	free(k->sock);
	free(k->pid);
	free(k);
}
