/*
 * sb_unit - C unit tests of the timing library, printing TAP for prove
 * (run through t/01-timing-library.t).
 */
#include "files.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int tests;
static int failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", cond ? "" : "not ", ++tests);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (!cond)
		failed++;
	fflush(stdout);
}

static void check_clock(const char *label)
{
	struct sb_clock c;
	sb_clock_calibrate(&c);
	printf("# %s: %s (%s), %.0f Hz, overhead %.1f ticks\n", label, c.name, c.note, c.hz,
	       c.overhead_ticks);
	/* A cycle counter runs between 1 MHz (slow ARM generic timers) and
	 * 100 GHz; the fallback counts nanoseconds exactly. */
	if (sb_use_counter)
		ok(c.hz > 1e6 && c.hz < 1e11, "%s: calibrated rate %.0f Hz is sane", label, c.hz);
	else
		ok(c.hz == 1e9, "%s: monotonic fallback counts nanoseconds", label);

	sb_tick prev = sb_ticks();
	int back = 0;
	for (int i = 0; i < 200000; i++) {
		sb_tick now = sb_ticks();
		if (now < prev)
			back++;
		prev = now;
	}
	ok(back == 0, "%s: 200000 successive stamps never go backwards (%d did)", label, back);

	double ovh = sb_ticks_to_ns(&c, c.overhead_ticks);
	ok(ovh >= 0 && ovh < 1000, "%s: stamp overhead %.1f ns is below 1 us", label, ovh);

	/* nanosleep() sleeps at least as long as asked: the converted interval
	 * can not be shorter (1%% slack for calibration error). */
	struct timespec ts = {0, 20000000};
	sb_tick t0 = sb_ticks();
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	sb_tick t1 = sb_ticks();
	double ns = sb_ticks_to_ns(&c, (double)(t1 - t0));
	ok(ns >= 19.8e6 && ns < 10e9, "%s: a 20 ms sleep measures %.3f ms", label, ns / 1e6);
}

/* Runs f in a child with stdout to a temp file; returns the wait status and
 * the output. */
static int in_child(void (*f)(void), char *out, size_t len)
{
	char path[] = "/tmp/sb_unit.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		f();
		_exit(99);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	ssize_t got = pread(fd, out, len - 1, 0);
	out[got > 0 ? got : 0] = 0;
	close(fd);
	return st;
}

static void bad_number(void)
{
	sb_number("unit", 'c', "12x", 1, 100);
}
static void big_number(void)
{
	sb_number("unit", 'c', "99999999999999999999999", 1, 100);
}
static void a_run(void)
{
	char *argv[] = {"unit", "-c", "3", NULL};
	struct sb *r = sb_init("unit", "n a_ns b", 3, argv);
	sb_meta(r, "count", "%d", 3);
	for (int i = 0; i < 3; i++) {
		size_t row = sb_row(r, (uint64_t)i);
		sb_put(r, row, 1, sb_clock(r)->hz / 1e6);   /* one microsecond of ticks */
		if (i != 1)
			sb_put(r, row, 2, 7);
	}
	sb_stop(r, "socket()", 3, EMFILE, NULL);
	sb_stop(r, "bind()", 2, EINVAL, NULL);          /* the first stop wins */
	exit(sb_finish(r));
}
/* every value two ticks: under 10 ticks, so the trailer says the clock is coarse */
static void a_coarse_run(void)
{
	char *argv[] = {"unit", NULL};
	struct sb *r = sb_init("unit", "n fast_ns slow_ns", 1, argv);
	for (int i = 0; i < 5; i++) {
		size_t row = sb_row(r, (uint64_t)i);
		sb_put(r, row, 1, 2);
		sb_put(r, row, 2, 1000);
	}
	exit(sb_finish(r));
}
static void a_failure(void)
{
	char *argv[] = {"unit", NULL};
	struct sb *r = sb_init("unit", "n x_ns", 1, argv);
	sb_stop(r, "bind()", 5, EINVAL, NULL);
	exit(sb_finish(r));
}

/* Memory that cannot be had (more than the address space holds): the run
 * stops at ENOMEM with what it has, it does not exit without a result. */
static void a_reservation_failure(void)
{
	char *argv[] = {"unit", NULL};
	struct sb *r = sb_init("unit", "n x_ns", 1, argv);
	sb_put(r, sb_row(r, 0), 1, 1000 * sb_clock(r)->hz / 1e9);
	int rc = sb_reserve(r, SIZE_MAX / 4);
	void *p = sb_alloc(r, SIZE_MAX / 2, 4, "nothing");
	exit(rc == -1 && p == NULL && sb_ended(r) ? sb_finish(r) : 99);
}

/* Clock integrity: negative intervals are counted, never stored. The
 * stamps are made up (the test hook is the public sb_put_ticks): row 0 a
 * forward interval, row 1 a backward one (t1 < t0), row 2 a wrapped
 * subtraction handed to sb_put as a huge number. */
static void backwards_run(void)
{
	char *argv[] = {"unit", NULL};
	struct sb *r = sb_init("unit", "n x_ns", 1, argv);
	sb_put_ticks(r, sb_row(r, 0), 1, 1000, 3000);
	sb_put_ticks(r, sb_row(r, 1), 1, 5000, 4000);
	sb_tick a = 7000, b = 6999;
	sb_put(r, sb_row(r, 2), 1, (double)(b - a));
	exit(sb_finish(r));
}
/* More than SB_BACKWARDS_MAX negative intervals end the run as failed, and
 * sb_interrupted() tells the measuring loop to stop. */
static void backwards_fail(void)
{
	char *argv[] = {"unit", NULL};
	struct sb *r = sb_init("unit", "n x_ns", 1, argv);
	int i;
	for (i = 0; i < 10 && !sb_interrupted(); i++)
		sb_put_ticks(r, sb_row(r, (uint64_t)i), 1, 100, 50);
	sb_meta(r, "loops", "%d", i);
	exit(sb_finish(r));
}
/* Migrations: stamps from two CPUs given explicitly (as forkbench's child
 * reports them), and the thread's own log (a change seen by a stamp inside
 * the interval). */
static void migrated_run(void)
{
	char *argv[] = {"unit", NULL};
	struct sb *r = sb_init("unit", "n x_ns y_ns", 1, argv);
	sb_put_ticks_cpu(r, sb_row(r, 0), 1, 100, 0, 200, 0);
	sb_put_ticks_cpu(r, sb_row(r, 1), 1, 100, 0, 200, 1);
	sb_put_ticks_cpu(r, sb_row(r, 2), 2, 100, -1, 200, 1);   /* not known: not counted */
	if (sb_cpu_known) {
		sb_tick t0 = sb_ticks();
		int was = sb_stamp_cpu;
		sb_cpu_moved(t0 + 1, was + 1);   /* as a stamp on another CPU would */
		sb_stamp_cpu = was;
		sb_tick t1 = sb_ticks();
		sb_put_ticks(r, 2, 1, t0, t1);           /* crossed */
		sb_tick t2 = sb_ticks(), t3 = sb_ticks();
		sb_put_ticks(r, 0, 2, t2, t3);           /* did not */
	}
	exit(sb_finish(r));
}

/* # args: verbatim: arguments a shell would split or expand are quoted */
static void quoted_run(void)
{
	static char a0[] = "unit", a1[] = "-m", a2[] = "select,poll", a3[] = "a b", a4[] = "it's", a5[] = "",
		    a6[] = "x*";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, NULL};
	optind = 1;
	while (sb_getopt("unit", 7, argv, "m:") != -1)   /* the first call records them */
		;
	argv[2][6] = 0;                                   /* as strtok_r would cut "select,poll" */
	struct sb *r = sb_init("unit", "n x_ns", 7, argv);
	exit(sb_finish(r));
}

static void bad_size(void)
{
	sb_size("unit", 's', "2X", 1, 1LL << 40);
}
static void huge_size(void)
{
	sb_size("unit", 's', "99999999T", 1, 1LL << 40);
}

/* sb_size, sb_tree_path, sb_read_all and sb_resident */
static void check_files(void)
{
	ok(sb_size("unit", 's', "200M", 1, 1LL << 40) == 209715200, "sb_size: 200M is 200*1024*1024 bytes");
	ok(sb_size("unit", 's', "1g", 1, 1LL << 40) == 1073741824 && sb_size("unit", 's', "4096", 1, 1LL << 40) == 4096 &&
	   sb_size("unit", 's', "3K", 1, 1LL << 40) == 3072, "sb_size: 1g, 4096 and 3K");
	char out[8192];
	int st = in_child(bad_size, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_USAGE && strstr(out, "-s: '2X' is not a size") != NULL,
	   "sb_size: an unknown suffix is a one-line usage error");
	st = in_child(huge_size, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_USAGE, "sb_size: an overflowing size is a usage error");

	char path[32];
	sb_tree_path(path, sizeof path, 4217);
	ok(strcmp(path, "0042/17") == 0, "sb_tree_path: file 4217 is 0042/17 (%s)", path);
	sb_tree_path(path, sizeof path, SB_TREE_MAX - 1);
	ok(strcmp(path, "9999/99") == 0, "sb_tree_path: the last file is 9999/99 (%s)", path);

	char name[] = "/tmp/sb_unit.XXXXXX";
	int fd = mkstemp(name);
	ok(fd >= 0, "a temporary file");
	if (fd < 0)
		return;
	unlink(name);
	long ps = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)ps * 5 + 7;
	char *buf = malloc(len);
	memset(buf, 'x', len);
	ok(buf && write(fd, buf, len) == (ssize_t)len && lseek(fd, 0, SEEK_SET) == 0, "5 pages and 7 bytes written");
	ok(sb_read_all(fd) == (long long)len, "sb_read_all reads them all");
	ok(sb_read_all(fd) == 0, "sb_read_all at the end reads 0");
	size_t res = 99, pages = 99;
	int rc = sb_resident(fd, len, &res, &pages);
	if (HAVE_MINCORE)
		ok(rc == 0 && pages == 6 && res == 6, "sb_resident: 6 pages, all resident (%zu of %zu)", res, pages);
	else
		ok(rc == -1 && errno == ENOSYS, "sb_resident: ENOSYS where the OS has no mincore()");
	ok(sb_resident(fd, 0, &res, &pages) == 0 && res == 0 && pages == 0, "sb_resident of 0 bytes: 0 pages");
	free(buf);
	close(fd);
}

/* the platform layer's calls (platform.h) */
static void check_platform(void)
{
	ok(sb_cpus() >= 1, "sb_cpus: %ld CPUs online", sb_cpus());
	struct sb_clock c;
	sb_clock_calibrate(&c);
	ok(c.tick_ns > 0 && (sb_use_counter ? c.tick_ns < 1000 && c.tick_ns > 0.99e9 / c.hz : c.tick_ns >= 1),
	   "the clock's tick: %.4g ns", c.tick_ns);

	/* sb_close_from, in a child: 0-4 stay, everything from 5 up goes */
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		if (dup2(0, 5) != 5 || dup2(0, 9) != 9 || dup2(0, 300) != 300 || dup2(0, 4) != 4)
			_exit(2);
		sb_close_from(5);
		int gone = fcntl(5, F_GETFD) == -1 && fcntl(9, F_GETFD) == -1 && fcntl(300, F_GETFD) == -1;
		_exit(gone && fcntl(4, F_GETFD) != -1 && fcntl(0, F_GETFD) != -1 ? 0 : 1);
	}
	int st = -1;
	waitpid(p, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sb_close_from(5) closes 5, 9 and 300, keeps 0-4");

	/* die-with-parent, in a child (it stays set for that process) */
	fflush(stdout);
	p = fork();
	if (p == 0)
		_exit(sb_die_with_parent(SIGTERM) == (HAVE_PDEATHSIG ? 0 : -1) ? 0 : 1);
	waitpid(p, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sb_die_with_parent: %s", HAVE_PDEATHSIG ? "0" : "-1 (no such call)");

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	const char *name = "";
	int rc = fd < 0 ? -2 : sb_reuseport(fd, &name);
	if (HAVE_SO_REUSEPORT || HAVE_SO_REUSEPORT_LB)
		ok(rc == 0 && strncmp(name, "SO_REUSEPORT", 12) == 0, "sb_reuseport sets %s", name);
	else
		ok(rc == -1 && errno == ENOPROTOOPT, "sb_reuseport: ENOPROTOOPT where there is none");
	if (fd >= 0)
		close(fd);

	static const enum sb_limit_kind kinds[] = {SB_LIMIT_FILES, SB_LIMIT_PROCS, SB_LIMIT_MAPS, SB_LIMIT_PORTS,
						   SB_LIMIT_BACKLOG};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		char first[64], text[512], want[80];
		snprintf(first, sizeof first, "%s", sb_os_limit_names(kinds[i]));
		first[strcspn(first, " ")] = 0;
		sb_os_limit(kinds[i], text, sizeof text);
		snprintf(want, sizeof want, "%s=", first);
		if (first[0])
			ok(strncmp(text, want, strlen(want)) == 0 && text[strlen(want)] >= '0' && text[strlen(want)] <= '9',
			   "sb_os_limit names %s with its value: %s", first, text);
		else
			ok(text[0] == 0, "sb_os_limit: no tunable for kind %d here", (int)kinds[i]);
	}
}

int main(void)
{
	check_clock("default clock");
	setenv("SB_CLOCK", "monotonic", 1);
	check_clock("SB_CLOCK=monotonic");
	unsetenv("SB_CLOCK");

	char out[8192];
	int st = in_child(bad_number, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_USAGE, "a non-numeric count exits with the usage status");
	ok(strstr(out, "-c: '12x' is not a whole number from 1 to 100") != NULL &&
	   strchr(out, '\n') == out + strlen(out) - 1, "the error is one line naming the option and range");
	st = in_child(big_number, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_USAGE, "an overflowing count exits with the usage status");

	st = in_child(a_run, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_LIMIT, "a run stopped at EMFILE exits with the limit status");
	ok(strstr(out, "\n0 1000.0 7\n1 1000.0 -\n2 1000.0 7\n# rows: 3\n") != NULL,
	   "rows print ticks as ns, counts as numbers and missing values as -");
	ok(strstr(out, "# end: stopped: socket() at n=3: EMFILE (RLIMIT_NOFILE=") != NULL,
	   "the end line names the call, n, errno and the limit");
	ok(strstr(out, "# columns: n a_ns b\n# units: count ns count\n") != NULL, "columns and units in the header");
	ok(strstr(out, "# count: 3\n") != NULL && strstr(out, "# args: unit -c 3\n") != NULL,
	   "meta lines and the command line in the header");
	ok(strstr(out, "\n# clock_tick_ns: ") != NULL, "the header records the clock's tick length");
	ok(strstr(out, "coarse_clock") == NULL, "values of 1000 ns: no coarse-clock line");
	st = in_child(a_coarse_run, out, sizeof out);
	char *cc = strstr(out, "\n# coarse_clock: fast_ns median ");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_OK && cc && strstr(cc, " is under 10 ticks of ") &&
	   strstr(out, "\n# wall_s: ") < cc && strstr(cc, "\n# end: completed\n"),
	   "values of two ticks: the trailer names the column, before # end:");
	ok(cc && strstr(cc, "slow_ns") == NULL, "a column of 1000 ticks is not named");
	st = in_child(a_reservation_failure, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_LIMIT, "a reservation that cannot be had: the limit status");
	ok(strstr(out, "# scalebench: 1\n") != NULL && strstr(out, "\n0 1000.0\n# rows: 1\n") != NULL &&
	   strstr(out, "# end: stopped: malloc() of room for ") != NULL && strstr(out, " at n=1: ENOMEM (") != NULL,
	   "... with the header, the row so far and # end: stopped ... ENOMEM (the limit)");
	st = in_child(a_failure, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_FAIL, "EINVAL is a failure, not a limit");
	ok(strstr(out, "# end: failed: bind() at n=5: EINVAL (") != NULL, "the failure is named in the end line");

	st = in_child(backwards_run, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_OK, "two negative intervals do not fail the run");
	ok(strstr(out, "\n1 -\n2 -\n# rows: 3\n") != NULL, "a negative interval, direct or wrapped, is stored as missing");
	ok(strstr(out, "# clock_backwards: 2\n") != NULL, "the trailer counts the negative intervals");
	ok(strstr(out, "e+") == NULL && strstr(out, "18446744") == NULL, "no huge number in the output");
	st = in_child(backwards_fail, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_FAIL, "more than %d negative intervals fail the run",
	   SB_BACKWARDS_MAX);
	ok(strstr(out, "# end: failed: clock went backwards (4 negative intervals) at n=3\n") != NULL,
	   "the end line says the clock went backwards");
	ok(strstr(out, "# loops: 4\n") != NULL, "sb_interrupted() ends the measuring loop at once");
	ok(strstr(out, "# clock_backwards: 4\n") != NULL && strstr(out, "\n0 -\n1 -\n2 -\n3 -\n# rows: 4\n") != NULL,
	   "none of them stored");
	st = in_child(migrated_run, out, sizeof out);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == SB_EXIT_OK, "a run with migrated samples completes");
	if (strstr(out, "# clock_cpu: none")) {
		ok(strstr(out, "# migrated: unknown") != NULL, "no CPU per stamp here: migrations are unknown");
		ok(1, "skipped: the thread's own migration log (no CPU per stamp on this OS)");
		ok(1, "skipped: migrated_at");
	} else {
		ok(strstr(out, "\n1 ") != NULL && strstr(out, "\n1 -") == NULL, "a migrated sample is kept");
		ok(strstr(out, "# migrated: 2 of 4\n") != NULL,
		   "explicit CPUs 0->1 and a logged change inside an interval are migrated; known-CPU samples counted");
		ok(strstr(out, "# migrated_at: 1.1 2.1\n") != NULL, "migrated_at lists row.column of each");
	}
	ok(strstr(out, "# clock_backwards: 0\n") != NULL, "no negative interval there");

	st = in_child(quoted_run, out, sizeof out);
	ok(strstr(out, "# args: unit -m select,poll 'a b' 'it'\\''s' '' 'x*'\n") != NULL,
	   "# args: is verbatim: recorded before parsing, quoted where a shell would split or expand");
	char buf[128];
	/* the first tunable that bounds processes here: kernel.pid_max on
	 * Linux, kern.maxproc on the BSDs and macOS */
	char procs[64];
	snprintf(procs, sizeof procs, "%s", sb_os_limit_names(SB_LIMIT_PROCS));
	procs[strcspn(procs, " ")] = 0;
	ok(sb_sysctl(procs, buf, sizeof buf) == 0 && atol(buf) > 0, "sb_sysctl reads %s (%s)", procs, buf);
	ok(sb_sysctl("no.such.tunable", buf, sizeof buf) == -1, "sb_sysctl says -1 for an unknown tunable");
	check_files();
	/* sb_shared: what a forked child writes, the parent reads */
	volatile long *shm = sb_shared(4096);
	ok(shm != NULL && shm[0] == 0 && shm[511] == 0, "sb_shared gives zero-filled memory");
	if (shm) {
		pid_t p = fork();
		if (p == 0) {
			shm[1] = 4242;
			_exit(0);
		}
		ok(p > 0 && waitpid(p, &st, 0) == p && shm[1] == 4242, "sb_shared memory is shared with a forked child");
		munmap((void *)shm, 4096);
	}

	check_platform();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
