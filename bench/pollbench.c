/*
 * pollbench - the cost of the wait call that delivers one event through
 * select, poll, epoll, kqueue and io_uring as the number of watched
 * descriptors N grows (the C10K problem: select and poll scan every
 * descriptor, epoll and kqueue do not). The mechanisms: lib/events.h.
 * Method: docs/bench/pollbench.md. Output: docs/format.md.
 */
#include "sb.h"
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TIMEOUT_S = 10, MAXMECH = 8, SPARE = 8 };
enum { POS_FIRST, POS_MIDDLE, POS_LAST, NPOS };
static const char *const pos_name[NPOS] = {"first", "middle", "last"};

static const char usage[] =
	"usage: pollbench [-m list] [-n maxn] [-r reps] [-p first|middle|last] [-h]\n"
	"  -m list  comma-separated mechanisms of select,poll,epoll,kqueue,io_uring\n"
	"           (default: every one this OS has)\n"
	"  -n maxn  largest number of watched descriptors (default 10000); N runs over\n"
	"           a geometric grid from 1 to maxn, 10 points per decade\n"
	"  -r reps  events timed per N and mechanism (default 100)\n"
	"  -p pos   where the one ready descriptor sits among the N, in descriptor\n"
	"           number and registration order (default last)\n"
	"Rows: n <mech>_ns..., n = descriptors watched; one row per repetition.\n"
	"Each value is the wait call alone: select(), poll(), epoll_wait(), kevent()\n"
	"or io_uring_enter(); the write that makes the descriptor ready and the read\n"
	"that drains it are outside.\n";

struct args {
	const struct sb_ev_mech *mech[MAXMECH];
	int nmech, pos;
	long long maxn, reps;
	char uring_note[160];
};

/* The descriptors: one AF_UNIX stream socketpair (the active end is
 * watched, its peer is written to) and idle unbound AF_UNIX datagram
 * sockets. fd[] is in ascending descriptor number; the active socket's file
 * sits at fd[act] and is moved by swapping descriptor numbers, so that its
 * rank is the same for select (which scans by number) and poll (which
 * scans its array, registered in this order). */
struct pool {
	int *fd, made, act, peer, fdcap;
};

/* ---- arguments ---- */

/* "poll,epoll" into a->mech[], from a copy: argv stays as given (# args). */
static void parse_mechs(const char *list, struct args *a)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		sb_usage_error("pollbench", "-m: out of memory");
	a->nmech = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct sb_ev_mech *m = sb_ev_mech(t);
		if (!m)
			sb_usage_error("pollbench", "-m: unknown mechanism '%s' (select,poll,epoll,kqueue,io_uring)", t);
		if (!m->available)
			sb_usage_error("pollbench", "-m: %s is not available on this OS", t);
		int dup = 0;
		for (int i = 0; i < a->nmech; i++)
			dup |= a->mech[i] == m;
		if (!dup && a->nmech < MAXMECH)
			a->mech[a->nmech++] = m;
	}
	free(copy);
	if (!a->nmech)
		sb_usage_error("pollbench", "-m: no mechanism given");
}

static void parse_args(int argc, char **argv, struct args *a)
{
	const char *list = NULL;
	int opt;
	a->maxn = 10000;
	a->reps = 100;
	a->pos = POS_LAST;
	while ((opt = sb_getopt("pollbench", argc, argv, "m:n:r:p:h")) != -1) {
		switch (opt) {
		case 'm': list = optarg; break;
		case 'n': a->maxn = sb_number("pollbench", 'n', optarg, 1, 10000000); break;
		case 'r': a->reps = sb_number("pollbench", 'r', optarg, 1, 1000000); break;
		case 'p':
			for (a->pos = 0; a->pos < NPOS && strcmp(optarg, pos_name[a->pos]) != 0; a->pos++)
				;
			if (a->pos == NPOS)
				sb_usage_error("pollbench", "-p: '%s' is not first, middle or last", optarg);
			break;
		case 'h': fputs(usage, stdout); exit(SB_EXIT_OK);
		}
	}
	sb_operand("pollbench", argc, argv, NULL);
	if (list) {
		parse_mechs(list, a);
	} else {
		a->nmech = 0;
		for (int i = 0; sb_ev_mech_at(i); i++)
			if (sb_ev_mech_at(i)->available)
				a->mech[a->nmech++] = sb_ev_mech_at(i);
	}
	/* io_uring may be compiled in but refused at run time (seccomp,
	 * kernel.io_uring_disabled, an old kernel): asked for, that is an
	 * error; by default it is left out, and the header says why. */
	const struct sb_ev_mech *uring = sb_ev_mech("io_uring");
	int uring_ok = sb_ev_probe(uring, a->uring_note, sizeof a->uring_note) == 0;
	for (int i = 0; i < a->nmech; i++) {
		if (a->mech[i] != uring || uring_ok)
			continue;
		if (list)
			sb_usage_error("pollbench", "-m: io_uring is refused here (%s)", a->uring_note);
		memmove(&a->mech[i], &a->mech[i + 1], (size_t)(a->nmech - i - 1) * sizeof a->mech[0]);
		a->nmech--;
		break;
	}
}

/* ---- set up ---- */

/* Makes the socketpair and up to maxn-1 idle sockets; a descriptor limit
 * stops the run (sb_stop) with the N that fit still measured. Returns the
 * largest N there are descriptors for. */
static long long make_pool(struct sb *r, long long maxn, struct pool *p)
{
	memset(p, 0, sizeof *p);
	p->peer = -1;
	p->fd = sb_alloc(r, (size_t)maxn, sizeof *p->fd, "descriptors");
	if (!p->fd)
		return 0;       /* the run has stopped: nothing is measured */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		sb_stop(r, "socketpair()", 0, errno, NULL);
		return 0;
	}
	p->fd[p->made++] = sv[0];
	p->peer = sv[1];
	while (p->made < maxn && !sb_interrupted()) {
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (fd < 0) {
			/* a limit: measure up to what exists, leaving room for the
			 * mechanisms' own descriptors and the swap */
			sb_stop(r, "socket()", (uint64_t)p->made, errno, NULL);
			for (int k = 0; k < SPARE && p->made > 1; k++)
				close(p->fd[--p->made]);
			break;
		}
		p->fd[p->made++] = fd;
	}
	for (int i = 0; i < p->made; i++)
		if (p->fd[i] >= p->fdcap)
			p->fdcap = p->fd[i] + 1;
	return p->made;
}

/* Moves the active socket to rank want among fd[]: the files of the two
 * descriptor numbers are swapped (one spare descriptor for a moment). */
static int place_active(struct pool *p, int want)
{
	if (want == p->act)
		return 0;
	int a = p->fd[p->act], b = p->fd[want], tmp = dup(a);
	if (tmp < 0 || dup2(b, a) < 0 || dup2(tmp, b) < 0) {
		int e = errno;
		if (tmp >= 0)
			close(tmp);
		errno = e;
		return -1;
	}
	close(tmp);
	p->act = want;
	return 0;
}

static void free_pool(struct pool *p)
{
	for (int i = 0; i < p->made; i++)
		close(p->fd[i]);
	if (p->peer >= 0)
		close(p->peer);
	free(p->fd);
}

/* The grid: 10 points per decade, rounded, each once; 0 after top. */
static long long grid_next(long long prev, long long top)
{
	static const double decade[10] = {1, 1.2589, 1.5849, 1.9953, 2.5119, 3.1623, 3.9811, 5.0119,
					  6.3096, 7.9433};
	for (int step = 0; prev < top; step++) {
		double g = 1;
		for (int k = 0; k < step / 10; k++)
			g *= 10;
		long long n = (long long)(g * decade[step % 10] + 0.5);
		if (n > prev)
			return n < top ? n : top;
	}
	return 0;
}

/* ---- measure ---- */

/* One mechanism at one N: registers fd[0..n-1], checks nothing is ready,
 * then one untimed and reps timed events into rows first.. column col.
 * 0, or -1 after sb_stop/sb_fail. */
static int measure(struct sb *r, const struct sb_ev_mech *m, int col, struct pool *p, int n, long long reps,
		   size_t first)
{
	struct sb_ev *e = sb_ev_new(m, p->fdcap);
	if (!e) {
		sb_stop(r, sb_ev_failed(NULL), (uint64_t)n, errno, NULL);
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		if (sb_ev_watch(e, p->fd[i], SB_EV_READ) != 0) {
			sb_stop(r, sb_ev_failed(e), (uint64_t)n, errno, NULL);
			rc = -1;
		}
	if (!rc) {      /* nothing is ready before an event */
		sb_ev_prepare(e, 0);
		int k = sb_ev_wait(e);
		if (k != 0) {
			if (k < 0)
				sb_stop(r, sb_ev_failed(e), (uint64_t)n, errno, NULL);
			else
				sb_fail(r, (uint64_t)n, "%s reported %d ready descriptors before any was written",
					m->name, k);
			rc = -1;
		}
	}
	int act = p->fd[p->act];
	for (long long i = -1; i < reps && !rc && !sb_interrupted(); i++) {
		char c = 'x';
		sb_ev_prepare(e, TIMEOUT_S * 1000);
		if (write(p->peer, &c, 1) != 1) {
			sb_stop(r, "write()", (uint64_t)n, errno, NULL);
			rc = -1;
			break;
		}
		sb_tick t0 = sb_ticks();
		int k = sb_ev_wait(e);                  /* the timed window: this call alone */
		sb_tick t1 = sb_ticks();
		int fd = -1, mask, got = 0, more;
		while (k > 0 && (more = sb_ev_next(e, &fd, &mask)) != 0) {
			if (more < 0) {
				k = -1;
				break;
			}
			got++;
			if (fd != act)
				break;
		}
		rc = -1;
		if (k < 0)
			sb_stop(r, sb_ev_failed(e), (uint64_t)n, errno, NULL);
		else if (got == 0)
			sb_fail(r, (uint64_t)n, "%s reported no event within %d s", m->name, TIMEOUT_S);
		else if (fd != act)
			sb_fail(r, (uint64_t)n, "%s reported descriptor %d, the one made readable was %d", m->name, fd,
				act);
		else if ((errno = 0, read(act, &c, 1)) != 1)
			sb_stop(r, "read()", (uint64_t)n, errno ? errno : EIO, NULL);
		else
			rc = 0;
		if (!rc && i >= 0)
			sb_put_ticks(r, first + (size_t)i, col, t0, t1);
	}
	sb_ev_free(e);
	return rc;
}

/* ---- main: arguments, set up, measure, print ---- */
int main(int argc, char **argv)
{
	struct args a;
	parse_args(argc, argv, &a);

	char cols[128] = "n";
	for (int i = 0; i < a.nmech; i++)
		snprintf(cols + strlen(cols), sizeof cols - strlen(cols), " %s_ns", a.mech[i]->name);
	struct sb *r = sb_init("pollbench", cols, argc, argv);
	sb_meta(r, "count", "%lld", a.maxn);
	sb_meta(r, "mechanisms", "%s", sb_ev_available());
	sb_meta(r, "io_uring", "%s", a.uring_note);
	sb_meta(r, "reps", "%lld", a.reps);
	sb_meta(r, "window", "the wait call alone (select, poll, epoll_wait, kevent, io_uring_enter) with one "
		"descriptor already readable; the write that makes it ready and the read that drains it are outside");
	sb_meta(r, "position", "%s (the ready descriptor's rank among the N, by number and registration order)",
		pos_name[a.pos]);
	sb_meta(r, "watched", "one active AF_UNIX stream socketpair end, the rest idle unbound AF_UNIX datagram "
		"sockets; all for reading, level-triggered");
	sb_meta(r, "select_limit", "descriptors below FD_SETSIZE=%d", sb_ev_mech("select")->fd_limit);
	sb_raise_nofile(r, a.maxn + SPARE + 4);

	struct pool p;
	long long top = make_pool(r, a.maxn, &p);
	sb_meta(r, "max_watched", "%lld", top);
	if (sb_reserve(r, (size_t)(10 * 8 + 2) * (size_t)a.reps) != 0)
		top = 0;        /* no room for the samples: nothing is measured */

	/* For each N: the active descriptor to its place, then every
	 * mechanism in turn on the same descriptors, rows shared. */
	int halt = 0;
	for (long long n = grid_next(0, top); n > 0 && !halt && !sb_interrupted(); n = grid_next(n, top)) {
		int want = a.pos == POS_FIRST ? 0 : a.pos == POS_MIDDLE ? (int)((n - 1) / 2) : (int)(n - 1);
		if (place_active(&p, want) != 0) {
			sb_stop(r, "dup2()", (uint64_t)n, errno, NULL);
			break;
		}
		size_t first = sb_rows(r);
		for (long long i = 0; i < a.reps; i++)
			sb_row(r, (uint64_t)n);
		for (int mi = 0; mi < a.nmech && !halt && !sb_interrupted(); mi++) {
			if (p.fd[n - 1] >= a.mech[mi]->fd_limit)
				continue;       /* "-": select cannot watch this many */
			halt = measure(r, a.mech[mi], mi + 1, &p, (int)n, a.reps, first) != 0;
		}
	}

	free_pool(&p);
	return sb_finish(r);
}
