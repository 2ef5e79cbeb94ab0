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
#define RL(res) (getrlimit(res, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long long)rl.rlim_cur : -1LL)

/* The rlimits that bound the address space, where one is set: "RLIMIT_AS=N"
 * and/or "RLIMIT_DATA=N" (bytes). 0 when neither is. */
static int address_space_limit(char *out, size_t len)
{
	struct rlimit rl;
	long long as = HAVE_RLIMIT_AS ? RL(SB_RLIMIT_AS) : -1, data = RL(RLIMIT_DATA);
	if (as < 0 && data < 0)
		return 0;
	if (as >= 0 && data >= 0)
		snprintf(out, len, "RLIMIT_AS=%lld, RLIMIT_DATA=%lld", as, data);
	else if (as >= 0)
		snprintf(out, len, "RLIMIT_AS=%lld", as);
	else
		snprintf(out, len, "RLIMIT_DATA=%lld", data);
	return 1;
}

/* Memory ran out (ENOMEM from mmap(), malloc(), a reservation): the map
 * count when this process holds about as many mappings as the OS allows,
 * else the address-space rlimit when one is set, else memory itself. */
static void memory_limit(const char *call, char *out, size_t len)
{
	char os[384], names[128], val[64];
	long maps = sb_maps_in_use();
	long long max = -1;
	snprintf(names, sizeof names, "%s", sb_os_limit_names(SB_LIMIT_MAPS));
	names[strcspn(names, " ")] = 0;
	if (names[0] && sb_sysctl(names, val, sizeof val) == 0)
		max = atoll(val);
	if (maps >= 0 && max > 0 && maps + 16 >= max) {
		sb_os_limit(SB_LIMIT_MAPS, os, sizeof os);
		snprintf(out, len, "%s", os);
	} else if (address_space_limit(out, len)) {
		return;
	} else if (maps < 0 && strstr(call, "mmap")) {
		sb_os_limit(SB_LIMIT_MAPS, os, sizeof os);
		snprintf(out, len, "memory or map entries%s%s", os[0] ? ", " : "", os);
	} else {
		snprintf(out, len, "memory");
	}
}

/* pthread_create() says EAGAIN both when RLIMIT_NPROC is reached and when
 * there is no room for the thread's stack: nonzero when a stack-sized
 * mapping cannot be made now (the address space is full). */
static int no_room_for_a_stack(void)
{
	struct rlimit rl;
	size_t size = 8u << 20;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 0 &&
	    rl.rlim_cur < ((rlim_t)1 << 30))
		size = (size_t)rl.rlim_cur;
	void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | SB_MAP_ANON, -1, 0);
	if (p == MAP_FAILED)
		return errno == ENOMEM;
	munmap(p, size);
	return 0;
}

static void name_limit(const char *call, int err, char *out, size_t len)
{
	char os[384];
	struct rlimit rl;
	/* the call text may say more ("fork() of a keeper process") */
	int is_thread = strstr(call, "pthread_create") != NULL;
	int is_fork = is_thread || strstr(call, "fork()") || strstr(call, "vfork") || strstr(call, "posix_spawn");
	if (err == EMFILE) {
		snprintf(out, len, "RLIMIT_NOFILE=%lld", RL(RLIMIT_NOFILE));
	} else if (err == ENFILE) {
		sb_os_limit(SB_LIMIT_FILES, os, sizeof os);
		snprintf(out, len, "%s", os[0] ? os : "the system's open-file table");
	} else if (is_thread && (err == EAGAIN || err == ENOMEM) && no_room_for_a_stack() &&
		   address_space_limit(out, len)) {
		return;   /* the thread's stack did not fit */
	} else if (is_fork && (err == EAGAIN || err == ENOMEM || err == SB_EPROCLIM)) {
		/* Linux fork() says ENOMEM when kernel.pid_max is reached */
		sb_os_limit(SB_LIMIT_PROCS, os, sizeof os);
		snprintf(out, len, "RLIMIT_NPROC=%lld%s%s%s", RL(RLIMIT_NPROC), os[0] ? ", " : "", os,
			 err == ENOMEM ? ", or memory" : "");
	} else if (err == ENOMEM) {
		memory_limit(call, out, len);
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
}
#undef RL

/* ======================= clock ======================= */
int sb_use_counter;
int sb_cpu_known;
_Thread_local int sb_stamp_cpu = -1;

/* The stamps at which this thread's CPU changed, newest last (a ring): a
 * sample [t0, t1] crossed CPUs when one of them lies in (t0, t1]. */
enum { SB_MOVES = 64 };
static _Thread_local sb_tick moves[SB_MOVES];
static _Thread_local unsigned nmoves;

void sb_cpu_moved(sb_tick t, int cpu)
{
	if (sb_stamp_cpu >= 0 && cpu >= 0)
		moves[nmoves++ % SB_MOVES] = t;
	sb_stamp_cpu = cpu;
}

static int crossed(sb_tick t0, sb_tick t1)
{
	unsigned k = nmoves < SB_MOVES ? nmoves : SB_MOVES;
	for (unsigned i = 0; i < k; i++) {
		sb_tick m = moves[(nmoves - 1 - i) % SB_MOVES];
		if (m > t0 && m <= t1)
			return 1;
	}
	return 0;
}

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

/* Median of back-to-back stamp pairs, in ticks. */
static double pair_median(void)
{
	enum { PAIRS = 1001 };
	double d[PAIRS];
	for (int i = 0; i < PAIRS; i++) {
		sb_tick a = sb_ticks();
		sb_tick b = sb_ticks();
		d[i] = (double)(b - a);
	}
	return median(d, PAIRS);
}

/* A CLOCK_MONOTONIC read bracketed by two counter stamps: the counter's
 * value at the midpoint, and the bracket's width in ticks. */
static sb_tick bracket(sb_tick *mono, sb_tick *width)
{
	sb_tick a = sb_ticks();
	*mono = sb_mono_ns();
	sb_tick b = sb_ticks();
	*width = b - a;
	return a + (b - a) / 2;
}

enum { CAL_WINDOWS = 5, CAL_TRIES = 20, CAL_WINDOW_NS = 10000000 };
static double bracket_limit;   /* wider than this: preempted (ticks) */
static double bracket_typ;     /* median bracket (ticks) */

/* A bracket no wider than bracket_limit, taken again up to 8 times: one
 * wider than that was interrupted or preempted between its stamps (or the
 * clock read was slow), so its midpoint is not where the clock was read.
 * Returns 1 and the bracket, or 0. */
static int quiet_bracket(sb_tick *tick, sb_tick *mono)
{
	for (int i = 0; i < 8; i++) {
		sb_tick w;
		*tick = bracket(mono, &w);
		if ((double)w <= bracket_limit)
			return 1;
	}
	return 0;
}

void sb_clock_calibrate(struct sb_clock *c)
{
	const char *forced = getenv("SB_CLOCK");
	double stated_hz;
	sb_cpu_known = 0;
	int trusted = sb_counter_trusted(&c->note, &stated_hz);
	sb_use_counter = HAVE_CYCLE_COUNTER && trusted;
	if (forced && strcmp(forced, "monotonic") == 0 && sb_use_counter) {
		sb_use_counter = 0;
		c->note = "SB_CLOCK=monotonic asked for it";
	}
	c->name = sb_use_counter ? SB_COUNTER_NAME : "clock_gettime(CLOCK_MONOTONIC)";
	c->hz = 1e9;
	c->spread_ppm = 0;
	c->windows = c->rejected = 0;
	sb_tick w;
	c->anchor_tick = bracket(&c->anchor_ns, &w);
	if (sb_use_counter) {
		/* Windows of 10 ms against CLOCK_MONOTONIC; each end is a
		 * CLOCK_MONOTONIC read between two counter stamps, placed at their
		 * midpoint (quiet_bracket). A window without a quiet bracket at
		 * either end is rejected and measured again. */
		enum { B = 101 };
		double bw[B];
		for (int i = 0; i < B; i++) {
			sb_tick m;
			bracket(&m, &w);
			bw[i] = (double)w;
		}
		bracket_typ = median(bw, B);
		bracket_limit = 4 * bracket_typ + 1;
		double rate[CAL_WINDOWS];
		for (int tries = 0; tries < CAL_TRIES && c->windows < CAL_WINDOWS; tries++) {
			sb_tick m0, m1, t0, t1;
			int ok = quiet_bracket(&t0, &m0);
			do
				m1 = sb_mono_ns();
			while (m1 - m0 < CAL_WINDOW_NS);
			ok = ok && quiet_bracket(&t1, &m1);
			if (!ok || t1 <= t0 || m1 <= m0) {
				c->rejected++;
				continue;
			}
			if (c->windows == 0) {   /* the drift check's baseline starts here */
				c->anchor_tick = t0;
				c->anchor_ns = m0;
			}
			rate[c->windows++] = (double)(t1 - t0) / ((double)(m1 - m0) / 1e9);
		}
		if (c->windows == 0) {   /* never quiet: take one window as it comes */
			sb_tick m0, m1;
			sb_tick t0 = bracket(&m0, &w);
			do
				m1 = sb_mono_ns();
			while (m1 - m0 < CAL_WINDOW_NS);
			sb_tick t1 = bracket(&m1, &w);
			rate[c->windows++] = (double)(t1 - t0) / ((double)(m1 - m0) / 1e9);
			c->anchor_tick = t0;
			c->anchor_ns = m0;
		}
		double lo = rate[0], hi = rate[0];
		for (int i = 1; i < c->windows; i++) {
			lo = rate[i] < lo ? rate[i] : lo;
			hi = rate[i] > hi ? rate[i] : hi;
		}
		double measured = median(rate, (size_t)c->windows);
		c->spread_ppm = (hi - lo) / measured * 1e6;
		/* where the architecture states the rate (aarch64 cntfrq_el0) it
		 * is exact; the windows then only give the spread and the anchor */
		c->hz = stated_hz > 0 ? stated_hz : measured;
	}
	/* The finest step: one counter tick, or what the OS says the
	 * monotonic clock resolves (1 ns on Linux; 1000 ns on macOS). */
	c->tick_ns = 1e9 / c->hz;
	struct timespec res;
	if (!sb_use_counter && clock_getres(CLOCK_MONOTONIC, &res) == 0) {
		double rr = (double)res.tv_sec * 1e9 + (double)res.tv_nsec;
		if (rr > c->tick_ns)
			c->tick_ns = rr;
	}
	/* The CPU of every stamp, where the OS says it cheaply: kept when it
	 * adds less than 10 ns to a stamp pair. */
	double plain = pair_median();
	c->overhead_ticks = plain;
	c->cpu_cost_ticks = 0;
	c->cpu_how = sb_cpu_source();
	if (!c->cpu_how) {
		c->cpu_how = "none: this OS has no cheap way to ask; migrations are not detected";
		return;
	}
	sb_stamp_cpu = -1;
	sb_cpu_known = 1;
	double with = pair_median();
	c->cpu_cost_ticks = with - plain;
	if (sb_ticks_to_ns(c, c->cpu_cost_ticks) > 10) {
		sb_cpu_known = 0;
		static char why[128];
		snprintf(why, sizeof why, "none: %s adds %.1f ns to a stamp pair; migrations are not detected",
			 c->cpu_how, sb_ticks_to_ns(c, c->cpu_cost_ticks));
		c->cpu_how = why;
		return;
	}
	c->overhead_ticks = with;
}

double sb_ticks_to_ns(const struct sb_clock *c, double ticks)
{
	return ticks * 1e9 / c->hz;
}

/* The counter against CLOCK_MONOTONIC since the calibration's first window,
 * in ppm (positive: the counter ran fast); *res_ppm is what the brackets'
 * width alone can account for. Returns 0, or -1 when no quiet bracket. */
static int clock_drift(const struct sb_clock *c, double *ppm, double *res_ppm, double *secs)
{
	for (int tries = 0; tries < 4; tries++) {
		sb_tick m, t;
		if (!quiet_bracket(&t, &m) || m <= c->anchor_ns || t <= c->anchor_tick)
			continue;
		double el_ns = (double)(m - c->anchor_ns);
		double el_ticks_ns = sb_ticks_to_ns(c, (double)(t - c->anchor_tick));
		*ppm = (el_ticks_ns - el_ns) / el_ns * 1e6;
		*res_ppm = sb_ticks_to_ns(c, bracket_limit) / el_ns * 1e6;   /* two half-brackets */
		*secs = el_ns / 1e9;
		return 0;
	}
	return -1;
}

/* ======================= signals ======================= */
static volatile sig_atomic_t got_signal;
static int clock_failed;   /* the clock went backwards too often: loops end */

static void on_signal(int sig)
{
	got_signal = sig;
}

int sb_interrupted(void)
{
	return got_signal != 0 || clock_failed;
}

static const char *signame(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "signal";
}

/* ======================= the command line, the pin ======================= */
/* The command line as given, made by the first sb_getopt() call (before a
 * program can cut an argument in place) or by sb_init(): the arguments
 * joined by spaces, each one that is empty or holds anything but letters,
 * digits and _@%+=:,./- in single quotes, so that a shell reads it back. */
static char *saved_args;
static char pin_text[96] = "none";

static void *xalloc(void *p, size_t size);

static char *quote_args(int argc, char **argv)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
	size_t len = 1;
	for (int i = 0; i < argc; i++)
		len += 4 * strlen(argv[i]) + 3;
	char *s = xalloc(NULL, len), *p = s;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (i)
			*p++ = ' ';
		if (*a && strspn(a, safe) == strlen(a)) {
			size_t l = strlen(a);
			memcpy(p, a, l);
			p += l;
			continue;
		}
		*p++ = '\'';
		for (; *a; a++) {
			if (*a == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *a;
			}
		}
		*p++ = '\'';
	}
	*p = 0;
	return s;
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
	size_t checked;           /* time values whose CPUs were known at both ends */
	size_t migrated;          /* ... of which crossed CPUs */
	size_t *mig;              /* row * 64 + col of each, in the order stored */
	size_t nmig, capmig;
	size_t backwards;         /* negative intervals, not stored */
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

	r->args = saved_args ? saved_args : quote_args(argc, argv);
	saved_args = NULL;

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

/* The one way a run gets memory for what it measures: on failure the run is
 * stopped at ENOMEM, the call and the limit named (sb_stop), so that the
 * header, the rows so far and the # end: line are still printed. */
void *sb_alloc(struct sb *r, size_t count, size_t size, const char *what)
{
	char call[160];
	void *p = NULL;
	if (size == 0 || count <= SIZE_MAX / size)
		p = malloc(count && size ? count * size : 1);
	if (!p) {
		snprintf(call, sizeof call, "malloc() of %.0f bytes for %s", (double)count * (double)size, what);
		sb_stop(r, call, r->rows, ENOMEM, NULL);
	}
	return p;
}

int sb_reserve(struct sb *r, size_t rows)
{
	if (rows <= r->cap)
		return 0;
	size_t per = (size_t)(r->ncols ? r->ncols : 1);
	uint64_t *n = rows <= SIZE_MAX / sizeof *n ? realloc(r->n, rows * sizeof *n) : NULL;
	if (n)
		r->n = n;
	double *v = n && rows <= SIZE_MAX / per / sizeof *v ? realloc(r->v, rows * per * sizeof *v) : NULL;
	if (!n || !v) {
		char call[160];
		snprintf(call, sizeof call, "malloc() of room for %zu rows of samples", rows);
		sb_stop(r, call, r->rows, ENOMEM, NULL);
		return -1;
	}
	r->v = v;
	r->cap = rows;
	return 0;
}

size_t sb_row(struct sb *r, uint64_t n)
{
	if (r->rows == r->cap && sb_reserve(r, r->cap ? 2 * r->cap : 1024) != 0)
		return SB_NO_ROW;
	size_t i = r->rows++;
	r->n[i] = n;
	for (int c = 0; c < r->ncols; c++)
		r->v[i * (size_t)r->ncols + (size_t)c] = -1;   /* missing */
	return i;
}

static void clock_backwards(struct sb *r, size_t row)
{
	r->backwards++;
	if (r->backwards > SB_BACKWARDS_MAX && !r->end) {
		sb_fail(r, r->n[row], "clock went backwards (%zu negative intervals)", r->backwards);
		clock_failed = 1;
	}
}

void sb_put(struct sb *r, size_t row, int col, double value)
{
	if (row == SB_NO_ROW)
		return;   /* sb_row() found no memory: the run has stopped */
	if (row < r->rows && col >= 1 && col <= r->ncols && r->is_time[col - 1] && value >= 0x1p62) {
		clock_backwards(r, row);   /* a negative interval, wrapped */
		return;
	}
	if (row >= r->rows || col < 1 || col > r->ncols || !(value >= 0)) {
		fprintf(stderr, "%s: internal error: sb_put(row %zu, col %d, %g) out of range\n", r->bench,
			row, col, value);
		exit(SB_EXIT_FAIL);
	}
	r->v[row * (size_t)r->ncols + (size_t)(col - 1)] = value;
}

/* migrated: 1, 0, or -1 when not known */
static void put_interval(struct sb *r, size_t row, int col, sb_tick t0, sb_tick t1, int migrated)
{
	if (row == SB_NO_ROW)
		return;   /* sb_row() found no memory: the run has stopped */
	if (row >= r->rows || col < 1 || col > r->ncols || !r->is_time[col - 1]) {
		fprintf(stderr, "%s: internal error: sb_put_ticks(row %zu, col %d) out of range\n", r->bench, row, col);
		exit(SB_EXIT_FAIL);
	}
	if (t1 < t0) {
		clock_backwards(r, row);
		return;
	}
	sb_put(r, row, col, (double)(t1 - t0));
	if (migrated < 0 || t1 - t0 >= (sb_tick)1 << 62)
		return;
	r->checked++;
	if (migrated) {
		r->migrated++;
		if (r->nmig == r->capmig) {
			/* no memory for a longer list: the sample is counted in
			 * "migrated", only its place is not listed */
			size_t cap = r->capmig ? 2 * r->capmig : 64;
			void *m = realloc(r->mig, cap * sizeof *r->mig);
			if (!m)
				return;
			r->mig = m;
			r->capmig = cap;
		}
		r->mig[r->nmig++] = row * 64 + (size_t)col;
	}
}

void sb_put_ticks(struct sb *r, size_t row, int col, sb_tick t0, sb_tick t1)
{
	put_interval(r, row, col, t0, t1, sb_cpu_known ? crossed(t0, t1) : -1);
}

void sb_put_ticks_cpu(struct sb *r, size_t row, int col, sb_tick t0, int cpu0, sb_tick t1, int cpu1)
{
	put_interval(r, row, col, t0, t1, cpu0 < 0 || cpu1 < 0 ? -1 : cpu0 != cpu1);
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
		{E2BIG, "E2BIG"}, {ENOEXEC, "ENOEXEC"}, {ETXTBSY, "ETXTBSY"}, {EBADF, "EBADF"},
		{ECHILD, "ECHILD"}, {EAGAIN, "EAGAIN"},
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
	/* A counter the kernel does not keep time with is checked against
	 * CLOCK_MONOTONIC once more, over the whole run. */
	double drift = 0, drift_res = 0, drift_s = 0;
	char drift_cs[64] = "";
	int drift_checked = sb_use_counter && sb_counter_is_kernel_clock(drift_cs, sizeof drift_cs) != 1 &&
			    clock_drift(&r->clock, &drift, &drift_res, &drift_s) == 0;
	if (!drift_cs[0])
		strcpy(drift_cs, "unknown");
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
	if (sb_use_counter) {
		printf("# clock_spread_ppm: %.1f\n", r->clock.spread_ppm);
		printf("# clock_calibration: %d windows of %d ms against CLOCK_MONOTONIC, %d rejected as preempted\n",
		       r->clock.windows, CAL_WINDOW_NS / 1000000, r->clock.rejected);
	}
	if (sb_cpu_known)
		printf("# clock_cpu: %s, %+.1f ns per stamp pair\n", r->clock.cpu_how,
		       sb_ticks_to_ns(&r->clock, r->clock.cpu_cost_ticks));
	else
		printf("# clock_cpu: %s\n", r->clock.cpu_how);
	printf("# pin: %s\n", pin_text);
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
	if (sb_cpu_known) {
		printf("# migrated: %zu of %zu\n", r->migrated, r->checked);
		if (r->nmig) {
			fputs("# migrated_at:", stdout);
			for (size_t i = 0; i < r->nmig; i++)
				printf(" %zu.%zu", r->mig[i] / 64, r->mig[i] % 64);
			putchar('\n');
		}
	} else {
		printf("# migrated: unknown (no CPU number per stamp)\n");
	}
	printf("# clock_backwards: %zu\n", r->backwards);
	if (drift_checked) {
		printf("# clock_drift_ppm: %.1f\n", drift);
		double allowed = r->clock.spread_ppm > drift_res ? r->clock.spread_ppm : drift_res;
		if ((drift < 0 ? -drift : drift) > allowed)
			printf("# clock_drift: %.1f ppm against CLOCK_MONOTONIC over %.1f s (kernel clocksource %s), "
			       "beyond the calibration spread of %.1f ppm\n", drift, drift_s, drift_cs,
			       r->clock.spread_ppm);
	}
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
	free(r->mig);
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
	static int first = 1;
	static char all[128];
	if (first) {
		first = 0;
		if (!saved_args)
			saved_args = quote_args(argc, argv);
	}
	/* -P CPU: every program's, unless the program has a -P of its own */
	int lib_p = strchr(opts, 'P') == NULL && strlen(opts) + 3 <= sizeof all;
	if (lib_p) {
		snprintf(all, sizeof all, "%sP:", opts);
		opts = all;
	}
	opterr = 0;
	int c;
	while ((c = getopt(argc, argv, opts)) == 'P' && lib_p) {
		int cpu = (int)sb_number(bench, 'P', optarg, 0, 65535);
		if (sb_pin_cpu(cpu) == 0)
			snprintf(pin_text, sizeof pin_text, "cpu %d", cpu);
		else if (errno == EINVAL)
			sb_usage_error(bench, "-P: CPU %d does not exist or is not one this process may run on", cpu);
		else
			snprintf(pin_text, sizeof pin_text, "none (-P %d asked; this OS cannot pin a thread: %s)", cpu,
				 strerror(errno));
	}
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

