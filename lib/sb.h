/*
 * sb.h - the scalebench timing and result library.
 *
 * Every benchmark uses it the same way:
 *
 *     struct sb *r = sb_init("socketbench", "n socket_ns bind_ns", argc, argv);
 *     ...parse arguments (sb_count), set up, sb_raise_nofile(r, count)...
 *     for (i = 0; i < count && !sb_interrupted(); i++) {
 *         sb_tick t0 = sb_ticks();
 *         fd = socket(...);
 *         sb_tick t1 = sb_ticks();
 *         if (fd < 0) { sb_stop(r, "socket()", i, errno, NULL); break; }
 *         sb_put(r, sb_row(r, i), 1, t1 - t0);
 *     }
 *     return sb_finish(r);
 *
 * Samples live in memory until sb_finish() prints header, rows and trailer
 * (docs/format.md), so no output I/O happens while anything is measured.
 *
 * This is the core every benchmark uses: the clock, a run (rows, stop,
 * finish), signals, arguments and limits. Opt-in parts have their own
 * headers: net.h (loopback sources, descriptor keepers), files.h (the
 * small-file tree, page-cache residency), events.h (event mechanisms).
 * Everything that differs between systems is in platform.h / platform.c,
 * which this header includes first.
 */
#ifndef SB_H
#define SB_H

#include "platform.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- exit statuses (docs/format.md) ---- */
enum {
	SB_EXIT_OK = 0,      /* completed: every requested operation measured */
	SB_EXIT_FAIL = 1,    /* an unexpected error; rows so far still printed */
	SB_EXIT_USAGE = 2,   /* bad arguments; nothing measured */
	SB_EXIT_LIMIT = 3,   /* stopped at a resource limit; rows so far printed */
};
/* Interrupted by SIGINT, SIGTERM or SIGHUP: rows so far are printed, then the
 * program dies by that same signal (a shell shows status 128 + signal). */

/* ---- the clock: the cycle counter (platform.h) or CLOCK_MONOTONIC ---- */
typedef uint64_t sb_tick;

/* Nanoseconds of CLOCK_MONOTONIC: the calibration reference and fallback. */
static inline sb_tick sb_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (sb_tick)ts.tv_sec * 1000000000u + (sb_tick)ts.tv_nsec;
}

/* Set by sb_init(): nonzero when the cycle counter is used. The fallback is
 * taken on other CPUs, and on x86_64 when the TSC is not invariant. */
extern int sb_use_counter;

/* ---- which CPU a stamp was taken on ----
 * Every stamp reads sb_cpu_now() (platform.h) right after the counter when
 * sb_cpu_known is set (by the calibration, where the OS has a cheap way to
 * ask). A stamp that finds another CPU than the thread's previous stamp logs
 * that change (out of line, rarely), so that a sample whose interval holds a
 * change is known to have crossed CPUs (sb_put_ticks). */
extern int sb_cpu_known;
extern _Thread_local int sb_stamp_cpu;   /* CPU of this thread's last stamp; -1 before the first */
void sb_cpu_moved(sb_tick t, int cpu);

/* The time stamp taken around every measured operation. */
static inline sb_tick sb_ticks(void)
{
	sb_tick t = HAVE_CYCLE_COUNTER && sb_use_counter ? sb_counter() : sb_mono_ns();
	if (sb_cpu_known) {
		int cpu = sb_cpu_now();
		if (__builtin_expect(cpu != sb_stamp_cpu, 0))
			sb_cpu_moved(t, cpu);
	}
	return t;
}

/* The CPU the calling thread's last stamp was taken on, -1 if not known: a
 * stamp taken in another process (forkbench's child) is reported with it. */
static inline int sb_last_cpu(void)
{
	return sb_cpu_known ? sb_stamp_cpu : -1;
}

/* ---- the clock as calibrated by sb_init() ---- */
struct sb_clock {
	const char *name;       /* "rdtsc", "cntvct_el0" or "clock_gettime(CLOCK_MONOTONIC)" */
	const char *note;       /* why this clock, e.g. "invariant TSC" */
	double hz;              /* ticks per second: as the CPU states it (aarch64
				 * cntfrq_el0), else measured against CLOCK_MONOTONIC */
	double tick_ns;         /* the finest step the clock can show, in ns: one
				 * counter tick, or clock_getres() of the fallback */
	double overhead_ticks;  /* median of back-to-back sb_ticks() pairs */
	double spread_ppm;      /* (largest - smallest) / median rate of the accepted windows */
	int windows, rejected;  /* calibration windows accepted; rejected (no quiet bracket) */
	const char *cpu_how;    /* how a stamp learns its CPU, or why it does not */
	double cpu_cost_ticks;  /* what reading the CPU adds to a stamp pair (difference of medians) */
	sb_tick anchor_tick;    /* the first window's start, on the counter ... */
	sb_tick anchor_ns;      /* ... and on CLOCK_MONOTONIC: the drift check's baseline */
};
void sb_clock_calibrate(struct sb_clock *c);
double sb_ticks_to_ns(const struct sb_clock *c, double ticks);

/* ---- a run: header, samples and how it ended ---- */
struct sb;

/* Calibrates the clock, installs the SIGINT/SIGTERM/SIGHUP handlers, asks to
 * be sent SIGTERM when the parent dies (where the OS can), records the
 * command line. columns: space-separated names, the first "n"; a name ending
 * in _ns holds time (stored in ticks, printed in ns), any other a count. */
struct sb *sb_init(const char *bench, const char *columns, int argc, char **argv);

/* Adds a header line "# key: value" (printf-style value). */
void sb_meta(struct sb *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Makes room for rows in advance so that sb_row() does not allocate inside a
 * measured phase. Returns 0, or -1 when the memory cannot be had: the run is
 * then stopped (sb_stop: ENOMEM, the limit named, e.g. RLIMIT_AS) and the
 * caller must measure nothing more; sb_finish() still prints the header,
 * the rows so far and the # end: line. */
int sb_reserve(struct sb *r, size_t rows);

/* Memory for a benchmark's own arrays (descriptors, pids, addresses): count
 * elements of size bytes, or NULL after stopping the run the same way
 * ("stopped: malloc() of 8000000 bytes for descriptors at n=0: ENOMEM
 * (RLIMIT_AS=8192000)"). what says what the memory is for. Free with free(). */
void *sb_alloc(struct sb *r, size_t count, size_t size, const char *what);

/* Appends a row for n objects, all values missing; returns its index, or
 * SB_NO_ROW when there was no memory for it (the run is then stopped as by
 * sb_reserve(); sb_put() ignores SB_NO_ROW). */
#define SB_NO_ROW ((size_t)-1)
size_t sb_row(struct sb *r, uint64_t n);

/* Sets column col (1 = first column after n) of row: a time in ticks for _ns
 * columns (a fraction is fine: ticks / operations), a count otherwise. A
 * time of 2^62 ticks or more is a wrapped negative interval: counted and not
 * stored, as by sb_put_ticks(). */
void sb_put(struct sb *r, size_t row, int col, double value);

/* Sets time column col of row to the interval from stamp t0 to stamp t1,
 * both taken by the calling thread. A negative interval (t1 < t0: the clock
 * went backwards) is never stored: the value stays missing, it is counted
 * (# clock_backwards:), and more than SB_BACKWARDS_MAX of them end the run
 * "failed: clock went backwards" (sb_interrupted() then says so, so that the
 * measuring loop ends). An interval during which the thread's stamps saw
 * another CPU is stored, and counted as migrated (# migrated:,
 * # migrated_at:). */
#define SB_BACKWARDS_MAX 3
void sb_put_ticks(struct sb *r, size_t row, int col, sb_tick t0, sb_tick t1);

/* The same for two stamps taken by different threads or processes, each
 * with the CPU it was taken on (sb_last_cpu() right after the stamp, in the
 * thread that took it; -1 when not known). */
void sb_put_ticks_cpu(struct sb *r, size_t row, int col, sb_tick t0, int cpu0, sb_tick t1, int cpu1);

size_t sb_rows(const struct sb *r);
const struct sb_clock *sb_clock(const struct sb *r);

/* Ends the measurement early because call failed with err at n objects.
 * EMFILE, ENFILE, EAGAIN, ENOMEM, ENOBUFS, EADDRNOTAVAIL, EADDRINUSE,
 * ECONNREFUSED (and EPROCLIM where it exists) are limits: the run "stopped"
 * (SB_EXIT_LIMIT). Any other errno is a failure (SB_EXIT_FAIL). limit names
 * the limit and its value; NULL lets the library name it from call and err.
 * The first stop wins; later calls are ignored. */
void sb_stop(struct sb *r, const char *call, uint64_t n, int err, const char *limit);

/* A failure that is not a system call's errno, e.g. a short read. */
void sb_fail(struct sb *r, uint64_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Nonzero once SIGINT, SIGTERM or SIGHUP arrived, or the clock went
 * backwards more than SB_BACKWARDS_MAX times. Loops test it every iteration;
 * a call failing with EINTR while a signal is pending ends the run. */
int sb_interrupted(void);

/* Nonzero once sb_stop(), sb_fail() or a signal ended the measurement. */
int sb_ended(const struct sb *r);

/* Prints header, rows and trailer to stdout, frees the run, and returns the
 * exit status (or, if a signal interrupted the run, dies by that signal). */
int sb_finish(struct sb *r);

/* Like sb_stop(), but the run counts as stopped at a limit whatever err is:
 * for a call whose errno does not by itself say "limit" but does here, e.g.
 * ETIMEDOUT from connect() when a full listen backlog drops the SYNs. limit
 * must name it. */
void sb_stop_limit(struct sb *r, const char *call, uint64_t n, int err, const char *limit);

/* ---- limits ---- */
/* Raise RLIMIT_NOFILE / RLIMIT_NPROC so that `need` more descriptors or
 * processes fit: the soft limit up to the hard one, and the hard one as well
 * when the process may. Records "# rlimit_nofile: soft S, hard H" in the header.
 * Returns the soft limit in force afterwards. */
long long sb_raise_nofile(struct sb *r, long long need);
long long sb_raise_nproc(struct sb *r, long long need);

/* Writes into buf the limit that call failing with err runs into, with the
 * values in force now, as sb_stop() names it: e.g. for ("fork()", EAGAIN)
 * "RLIMIT_NPROC=..., kernel.pid_max=..., kernel.threads-max=..., cgroup
 * pids.max=...". For recording the limits in the header before a run. */
void sb_limit_text(const char *call, int err, char *buf, size_t len);
/* Memory shared with the children this process forks afterwards (an
 * anonymous shared mapping), zero-filled: counters and time stamps that
 * children report to the benchmark. NULL with errno set on failure; free it
 * with munmap(p, len). */
void *sb_shared(size_t len);

/* ---- arguments ---- */
/* Parses a whole number in [min, max] for option opt, or prints one line
 * "bench: -c: 'x' is not a whole number from min to max" and exits with
 * SB_EXIT_USAGE. */
long long sb_number(const char *bench, char opt, const char *s, long long min, long long max);

/* getopt(3) that turns an unknown option or a missing value into one line
 * "bench: unknown option -x (try -h)" and SB_EXIT_USAGE; never returns '?'.
 * Its first call records the command line verbatim for # args: (before the
 * program can cut an argument in place). -P CPU is every program's and is
 * handled here, never returned: the thread is pinned at once (sb_pin_cpu,
 * before the calibration) and # pin: says so; a program with its own -P in
 * opts (httpd: a pid file) keeps it. */
int sb_getopt(const char *bench, int argc, char **argv, const char *opts);

/* The operands left after sb_getopt(): with name NULL there must be none,
 * else exactly one, which is returned. Anything else is a one-line usage
 * error ("bench: no DIR given (try -h)", "unexpected argument 'x' ..."). */
const char *sb_operand(const char *bench, int argc, char **argv, const char *name);

/* Prints "bench: message" as one line to stderr, exits SB_EXIT_USAGE. */
void sb_usage_error(const char *bench, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Parses a size in bytes in [min, max] for option opt: a whole number,
 * optionally followed by K, M, G or T (powers of 1024: "200M" is
 * 209715200), or prints one line and exits with SB_EXIT_USAGE. */
long long sb_size(const char *bench, char opt, const char *s, long long min, long long max);


#endif
