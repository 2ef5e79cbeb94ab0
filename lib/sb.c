/*
 * sb.c - the scalebench core: clock, a run (rows, stop, finish), signals,
 * limits, arguments (see sb.h, docs/format.md). Nothing here names an OS:
 * what differs between systems is asked of platform.h / platform.c.
 */
#include "sb.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ======================= naming a limit =======================
 * Which limit a failing call ran into, with the values in force now. The
 * rlimits are POSIX; the tunables behind them are the OS's (sb_os_limit). */
static void name_limit(const char *call, int err, char *out, size_t len)
{
	char os[384];
	struct rlimit rl;
#define RL(res) (getrlimit(res, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long long)rl.rlim_cur : -1LL)
	int is_fork = strncmp(call, "fork", 4) == 0 || strncmp(call, "vfork", 5) == 0 ||
		      strncmp(call, "posix_spawn", 11) == 0 || strncmp(call, "pthread_create", 14) == 0;
	if (err == EMFILE) {
		snprintf(out, len, "RLIMIT_NOFILE=%lld", RL(RLIMIT_NOFILE));
	} else if (err == ENFILE) {
		sb_os_limit(SB_LIMIT_FILES, os, sizeof os);
		snprintf(out, len, "%s", os[0] ? os : "the system's open-file table");
	} else if (err == ENOMEM && strncmp(call, "mmap", 4) == 0) {
		sb_os_limit(SB_LIMIT_MAPS, os, sizeof os);
		snprintf(out, len, "%s", os[0] ? os : "memory or map entries");
	} else if (is_fork && (err == EAGAIN || err == ENOMEM || err == SB_EPROCLIM)) {
		/* Linux fork() says ENOMEM when kernel.pid_max is reached */
		sb_os_limit(SB_LIMIT_PROCS, os, sizeof os);
		snprintf(out, len, "RLIMIT_NPROC=%lld%s%s%s", RL(RLIMIT_NPROC), os[0] ? ", " : "", os,
			 err == ENOMEM ? ", or memory" : "");
	} else if (err == ENOMEM) {
		snprintf(out, len, "memory");
	} else if (err == EAGAIN && strncmp(call, "connect", 7) != 0) {
		snprintf(out, len, "a kernel resource (EAGAIN)");
	} else if (err == EAGAIN || err == EADDRNOTAVAIL || err == EADDRINUSE) {
		/* Linux connect() says EAGAIN when no ephemeral port is left */
		sb_os_limit(SB_LIMIT_PORTS, os, sizeof os);
		snprintf(out, len, "ephemeral ports%s%s", os[0] ? ", " : "", os);
	} else if (err == ECONNREFUSED) {
		sb_os_limit(SB_LIMIT_BACKLOG, os, sizeof os);
		snprintf(out, len, "listen backlog%s%s", os[0] ? ", " : "", os);
	} else if (err == ENOBUFS) {
		snprintf(out, len, "kernel buffer memory");
	} else {
		snprintf(out, len, "%s", strerror(err));
	}
#undef RL
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
	double stated_hz;
	int trusted = sb_counter_trusted(&c->note, &stated_hz);
	sb_use_counter = HAVE_CYCLE_COUNTER && trusted;
	if (forced && strcmp(forced, "monotonic") == 0 && sb_use_counter) {
		sb_use_counter = 0;
		c->note = "SB_CLOCK=monotonic asked for it";
	}
	c->name = sb_use_counter ? SB_COUNTER_NAME : "clock_gettime(CLOCK_MONOTONIC)";
	c->hz = 1e9;
	if (sb_use_counter && stated_hz > 0) {
		c->hz = stated_hz;      /* the architecture states it (aarch64 cntfrq_el0) */
	} else if (sb_use_counter) {
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
	/* The finest step: one counter tick, or what the OS says the
	 * monotonic clock resolves (1 ns on Linux; 1000 ns on macOS). */
	c->tick_ns = 1e9 / c->hz;
	struct timespec res;
	if (!sb_use_counter && clock_getres(CLOCK_MONOTONIC, &res) == 0) {
		double r = (double)res.tv_sec * 1e9 + (double)res.tv_nsec;
		if (r > c->tick_ns)
			c->tick_ns = r;
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
		{SB_EPROCLIM, "EPROCLIM"},
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
	case SB_EPROCLIM:
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

/* The trailer line "# coarse_clock: ..." naming each time column whose
 * median is under 10 clock ticks: there a value of one or two ticks is the
 * clock's step, not the operation's cost (docs/format.md). */
static void coarse_clock(const struct sb *r)
{
	double *v = malloc(r->rows * sizeof *v + 1);
	char line[1024] = "";
	for (int c = 0; v && c < r->ncols; c++) {
		if (!r->is_time[c])
			continue;
		size_t k = 0;
		for (size_t i = 0; i < r->rows; i++)
			if (r->v[i * (size_t)r->ncols + (size_t)c] >= 0)
				v[k++] = r->v[i * (size_t)r->ncols + (size_t)c];
		if (k == 0)
			continue;
		double med = sb_ticks_to_ns(&r->clock, median(v, k));
		if (r->clock.tick_ns > med / 10) {
			size_t used = strlen(line);
			snprintf(line + used, sizeof line - used, "%s%s median %.1f ns is under 10 ticks of %.4g ns",
				 used ? "; " : "", r->colnames[c], med, r->clock.tick_ns);
		}
	}
	free(v);
	if (line[0])
		printf("# coarse_clock: %s\n", line);
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
	printf("# clock_tick_ns: %.4g\n", r->clock.tick_ns);
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
	coarse_clock(r);
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
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | SB_MAP_ANON, -1, 0);
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

