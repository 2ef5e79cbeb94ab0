/*
 * herdbench - the "thundering herd": W processes wait for connections on one
 * listening socket; for each single connection, how many of them wake up, and
 * how long from connect() until one has accepted it (CITI TR 99-4, "Accept
 * scalability").
 * Method: docs/bench/herdbench.md. Output: docs/format.md.
 */
#include "sb.h"
#include "events.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The modes: accept, reuseport, or any event mechanism of lib/events.h
 * (epoll-exclusive: epoll with EPOLLEXCLUSIVE). */
enum { M_ACCEPT, M_REUSEPORT, M_EVENT };

static const char usage[] =
	"usage: herdbench [-m mode] [-w maxw] [-r rounds] [-s] [-h]\n"
	"  -m mode    accept: every waiter blocks in accept() (default)\n"
	"             reuseport: every waiter blocks in accept() on its own socket\n"
	"                    bound to the same port (SO_REUSEPORT_LB on FreeBSD,\n"
	"                    else SO_REUSEPORT)\n"
	"             epoll, kqueue, poll, select, io_uring: every waiter blocks in\n"
	"                    that mechanism's wait on its own set watching the\n"
	"                    listening socket (where the OS has it)\n"
	"             epoll-exclusive: epoll with EPOLLEXCLUSIVE (Linux 4.5+)\n"
	"  -w maxw    largest number of waiter processes (default 1000); W runs over\n"
	"             1, 2, 5, 10, 20, 50, ... up to maxw\n"
	"  -r rounds  connections per W (default 20)\n"
	"  -s         epoll modes: one epoll instance shared by all waiters (made\n"
	"             before they are forked) instead of one per waiter\n"
	"Rows: n wakeups latency_ns, n = W waiters, one row per connection.\n";

/* What the waiters report, in memory shared with them. */
struct shared {
	atomic_uint ready;        /* waiters set up, about to block */
	atomic_uint wakeups;      /* returns from the blocking call for the socket */
	atomic_uint accepted;     /* connections accepted */
	atomic_ullong t_accept;   /* sb_ticks() right after the last accept */
	atomic_int cpu_accept;    /* the CPU that stamp was taken on (-1: not known) */
	atomic_int error;         /* errno of a waiter's failed call, 0 if none */
	_Atomic(const char *) error_call;   /* which call (a literal: same address in every waiter) */
};

/* How the waiters wait: the run's mode, set up before they are forked. */
struct herd {
	int mode, shared_set, events;       /* events: SB_EV_READ, | SB_EV_EXCLUSIVE */
	const char *mode_name;
	const struct sb_ev_mech *mech;      /* M_EVENT */
	struct sb_ev *set;                  /* -s: the one set every waiter shares */
	int lfd;
	struct sockaddr_in addr;
	struct shared *sh;
};

enum { QUIET_MS = 20, TIMEOUT_S = 10 };

static pid_t parent_pid;

static void on_alarm(int sig)
{
	(void)sig;      /* only interrupts the blocking call */
}

static _Noreturn void waiter_fail(struct shared *sh, const char *call)
{
	int zero = 0;
	if (atomic_compare_exchange_strong(&sh->error, &zero, errno ? errno : EIO))
		atomic_store(&sh->error_call, call);
	_exit(1);
}

/* Nonzero if the blocking call was interrupted and the waiter goes on. */
static int interrupted_call(void)
{
	if (errno != EINTR)
		return 0;
	if (getppid() != parent_pid)
		_exit(0);       /* the benchmark is gone: so is its waiter */
	return 1;
}

static void count_accept(struct shared *sh, int c)
{
	sb_tick t = sb_ticks();
	int cpu = sb_last_cpu();
	atomic_fetch_add(&sh->wakeups, 1);
	if (c >= 0) {
		atomic_store(&sh->cpu_accept, cpu);
		atomic_store(&sh->t_accept, t);
		atomic_fetch_add(&sh->accepted, 1);
		close(c);
	}
}

/* reuseport: the waiter's own listening socket on the shared port. */
static int own_listener(const struct herd *h)
{
	const char *opt;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		waiter_fail(h->sh, "socket()");
	if (sb_reuseport(fd, &opt) != 0)
		waiter_fail(h->sh, "setsockopt(SO_REUSEPORT)");
	if (bind(fd, (const struct sockaddr *)&h->addr, sizeof h->addr) != 0)
		waiter_fail(h->sh, "bind()");
	if (listen(fd, SOMAXCONN) != 0)
		waiter_fail(h->sh, "listen()");
	return fd;
}

/* Blocks in the mechanism's wait, then accepts from the non-blocking
 * socket (another waiter may have been quicker: EAGAIN). */
static _Noreturn void wait_events(const struct herd *h, int lfd)
{
	struct sb_ev *e = h->set;
	if (!e) {
		if (!(e = sb_ev_new(h->mech, lfd + 1)))
			waiter_fail(h->sh, sb_ev_failed(NULL));
		if (sb_ev_watch(e, lfd, h->events) != 0)
			waiter_fail(h->sh, sb_ev_failed(e));
	}
	atomic_fetch_add(&h->sh->ready, 1);
	for (;;) {
		int fd, mask, k;
		sb_ev_prepare(e, -1);
		if (sb_ev_wait(e) < 0) {
			if (interrupted_call())
				continue;
			waiter_fail(h->sh, sb_ev_failed(e));
		}
		while ((k = sb_ev_next(e, &fd, &mask)) > 0)
			;
		if (k < 0)
			waiter_fail(h->sh, sb_ev_failed(e));
		int c = accept(lfd, NULL, NULL);
		if (c < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
			waiter_fail(h->sh, "accept()");
		count_accept(h->sh, c);
	}
}

/* A waiter: blocks for connections until it is killed. Never returns. */
static _Noreturn void waiter(const struct herd *h)
{
	int lfd = h->mode == M_REUSEPORT ? own_listener(h) : h->lfd;
	if (h->mode == M_EVENT)
		wait_events(h, lfd);
	atomic_fetch_add(&h->sh->ready, 1);
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0 && interrupted_call())
			continue;
		if (c < 0 && errno != ECONNABORTED)
			waiter_fail(h->sh, "accept()");
		count_accept(h->sh, c);
	}
}

/* Kills and reaps every waiter: on every way out of the program. */
static void reap_all(pid_t *pids, long long *npids)
{
	for (long long i = 0; i < *npids; i++)
		kill(pids[i], SIGKILL);
	for (long long i = 0; i < *npids; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	*npids = 0;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
	nanosleep(&ts, NULL);   /* a signal cuts it short: callers test sb_interrupted() */
}

/* How often process p has gone to sleep by itself (voluntary context
 * switches) and whether it is asleep now: a waiter the kernel woke and that
 * found nothing to do counts, even if it never returned to user space.
 * -1 where the OS does not tell (no Linux-style /proc/PID/status). */
static long long sleeps(pid_t p, int *asleep)
{
	char path[64], line[128];
	long long v = -1;
	snprintf(path, sizeof path, "/proc/%ld/status", (long)p);
	*asleep = 1;
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	*asleep = 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "State:", 6) == 0)
			*asleep = strstr(line, "(sleeping)") != NULL;
		else if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1)
			break;
	}
	fclose(f);
	return v;
}

/* The sum of sleeps() over every waiter; -1 if unknown. *all_asleep tells
 * whether every waiter is asleep. */
static long long all_sleeps(const pid_t *pids, long long n, int *all_asleep)
{
	long long sum = 0;
	*all_asleep = 1;
	for (long long i = 0; i < n; i++) {
		int asleep = 0;
		long long v = sleeps(pids[i], &asleep);
		if (v < 0)
			return -1;
		sum += v;
		*all_asleep &= asleep;
	}
	return sum;
}

/* Nonzero, after sb_stop/sb_fail, when a waiter reported an error or died. */
static int waiter_trouble(struct sb *r, struct shared *sh, uint64_t n)
{
	int e = atomic_load(&sh->error);
	if (e) {
		const char *call = atomic_load(&sh->error_call);
		errno = e;
		sb_stop(r, call ? call : "?", n, e, NULL);
		return 1;
	}
	int st;
	pid_t p = waitpid(-1, &st, WNOHANG);
	if (p > 0) {
		sb_fail(r, n, "waiter %ld ended (%s %d)", (long)p, WIFSIGNALED(st) ? "signal" : "status",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return 1;
	}
	return 0;
}

/* ---- the phases of main ---- */

static void parse_args(int argc, char **argv, struct herd *h, long long *maxw, long long *rounds)
{
	int opt;
	h->mode = M_ACCEPT;
	h->mode_name = "accept";
	h->events = SB_EV_READ;
	while ((opt = sb_getopt("herdbench", argc, argv, "m:w:r:sh")) != -1) {
		switch (opt) {
		case 'm':
			h->mode_name = optarg;
			h->mech = NULL;
			h->events = SB_EV_READ;
			if (strcmp(optarg, "accept") == 0) {
				h->mode = M_ACCEPT;
			} else if (strcmp(optarg, "reuseport") == 0) {
				h->mode = M_REUSEPORT;
				if (!HAVE_SO_REUSEPORT && !HAVE_SO_REUSEPORT_LB)
					sb_usage_error("herdbench", "-m: reuseport is not available on this OS");
			} else {
				h->mode = M_EVENT;
				int excl = strcmp(optarg, "epoll-exclusive") == 0;
				h->mech = sb_ev_mech(excl ? "epoll" : optarg);
				if (!h->mech)
					sb_usage_error("herdbench", "-m: unknown mode '%s' (accept, reuseport, epoll, "
						       "epoll-exclusive, kqueue, poll, select, io_uring)", optarg);
				if (!h->mech->available || (excl && !h->mech->supports_exclusive))
					sb_usage_error("herdbench", "-m: %s is not available on this OS", optarg);
				if (excl)
					h->events |= SB_EV_EXCLUSIVE;
			}
			break;
		case 'w': *maxw = sb_number("herdbench", 'w', optarg, 1, 1000000); break;
		case 'r': *rounds = sb_number("herdbench", 'r', optarg, 1, 1000000); break;
		case 's': h->shared_set = 1; break;
		case 'h': fputs(usage, stdout); exit(SB_EXIT_OK);
		}
	}
	sb_operand("herdbench", argc, argv, NULL);
	if (h->shared_set && !(h->mode == M_EVENT && h->mech->survives_fork))
		sb_usage_error("herdbench", "-s: only with -m epoll or -m epoll-exclusive");
}

/* The listening socket on 127.0.0.1, a free port. For reuseport the
 * parent's socket only holds the port (bound, not listening: the kernel
 * spreads connections over the waiters' listening sockets). The event
 * modes' socket is non-blocking. 0, or -1 after sb_stop. */
static int make_listener(struct sb *r, struct herd *h)
{
	const char *opt = "";
	memset(&h->addr, 0, sizeof h->addr);
	h->addr.sin_family = AF_INET;
	h->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof h->addr;
	h->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (h->lfd < 0)
		sb_stop(r, "socket()", 0, errno, NULL);
	else if (h->mode == M_REUSEPORT && sb_reuseport(h->lfd, &opt) != 0)
		sb_stop(r, "setsockopt(SO_REUSEPORT)", 0, errno, NULL);
	else if (bind(h->lfd, (struct sockaddr *)&h->addr, sizeof h->addr) != 0)
		sb_stop(r, "bind()", 0, errno, NULL);
	else if (getsockname(h->lfd, (struct sockaddr *)&h->addr, &alen) != 0)
		sb_stop(r, "getsockname()", 0, errno, NULL);
	else if (h->mode != M_REUSEPORT && listen(h->lfd, SOMAXCONN) != 0)
		sb_stop(r, "listen()", 0, errno, NULL);
	else if (h->mode == M_EVENT && fcntl(h->lfd, F_SETFL, O_NONBLOCK) != 0)
		sb_stop(r, "fcntl(O_NONBLOCK)", 0, errno, NULL);
	else if (h->shared_set && !(h->set = sb_ev_new(h->mech, h->lfd + 1)))
		sb_stop(r, sb_ev_failed(NULL), 0, errno, NULL);
	else if (h->shared_set && sb_ev_watch(h->set, h->lfd, h->events) != 0)
		sb_stop(r, sb_ev_failed(h->set), 0, errno, NULL);
	if (sb_ended(r))
		return -1;
	sb_meta(r, "listen", "127.0.0.1 port %d", ntohs(h->addr.sin_port));
	if (h->mode == M_REUSEPORT)
		sb_meta(r, "reuseport_option", "%s", opt);
	return 0;
}

/* Forks waiters until there are w, then waits until all are blocked.
 * 0, or -1 after sb_stop/sb_fail. */
static int add_waiters(struct sb *r, const struct herd *h, pid_t *pids, long long *npids, long long w)
{
	while (*npids < w && !sb_interrupted()) {
		pid_t p = fork();
		if (p < 0) {
			sb_stop(r, "fork()", (uint64_t)*npids, errno, NULL);
			return -1;
		}
		if (p == 0) {
			/* The signals that interrupt the run are the benchmark's:
			 * Ctrl-C reaches the whole process group, and a waiter
			 * dying of it first would look like a waiter failing.
			 * Waiters end when the benchmark kills them (reap_all),
			 * or when it dies (parent-death signal, else the check
			 * every second). */
			signal(SIGINT, SIG_IGN);
			signal(SIGTERM, SIG_IGN);
			signal(SIGHUP, SIG_IGN);
			if (sb_die_with_parent(SIGKILL) != 0) {
				/* no such call here: look every second */
				struct sigaction sa;
				memset(&sa, 0, sizeof sa);
				sa.sa_handler = on_alarm;
				sigemptyset(&sa.sa_mask);
				sigaction(SIGALRM, &sa, NULL);
				struct itimerval it = {{1, 0}, {1, 0}};
				setitimer(ITIMER_REAL, &it, NULL);
			}
			if (getppid() != parent_pid)
				_exit(0);
			waiter(h);
		}
		pids[(*npids)++] = p;
	}
	sb_tick start = sb_mono_ns();
	while (atomic_load(&h->sh->ready) < (unsigned)w && !sb_interrupted()) {
		if (waiter_trouble(r, h->sh, (uint64_t)w))
			return -1;
		if (sb_mono_ns() - start > TIMEOUT_S * 1000000000ull) {
			sb_fail(r, (uint64_t)w, "only %u of %lld waiters started within %d s", atomic_load(&h->sh->ready),
				w, TIMEOUT_S);
			return -1;
		}
		sleep_us(1000);
	}
	sleep_us(QUIET_MS * 1000L);     /* the last ones reach their blocking call */
	return 0;
}

/* One connection with w waiters: its row (wakeups, latency_ns). 0, or -1
 * after sb_stop/sb_fail. */
static int one_round(struct sb *r, const struct herd *h, const pid_t *pids, long long w)
{
	struct shared *sh = h->sh;
	int asleep;
	long long s0 = all_sleeps(pids, w, &asleep);
	unsigned w0 = atomic_load(&sh->wakeups), a0 = atomic_load(&sh->accepted);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0) {
		sb_stop(r, "socket()", (uint64_t)w, errno, NULL);
		return -1;
	}
	sb_tick t0 = sb_ticks();
	int cpu0 = sb_last_cpu();
	if (connect(c, (const struct sockaddr *)&h->addr, sizeof h->addr) != 0) {
		sb_stop(r, "connect()", (uint64_t)w, errno, NULL);
		close(c);
		return -1;
	}
	/* until one waiter has accepted it */
	sb_tick start = sb_mono_ns();
	while (atomic_load(&sh->accepted) == a0 && !sb_interrupted() && !waiter_trouble(r, sh, (uint64_t)w)) {
		if (sb_mono_ns() - start > TIMEOUT_S * 1000000000ull) {
			sb_fail(r, (uint64_t)w, "no waiter accepted the connection within %d s", TIMEOUT_S);
			break;
		}
		sleep_us(100);
	}
	sb_tick t1 = atomic_load(&sh->t_accept);
	int cpu1 = atomic_load(&sh->cpu_accept);
	/* then until every waiter woken is asleep again: every waiter asleep
	 * and their sleeps unchanged over QUIET_MS; where the OS does not
	 * tell, until no waiter has returned from its call for QUIET_MS */
	long long wakes = 0, prev = -1, now = 0;
	unsigned seen = atomic_load(&sh->wakeups);
	for (int quiet = 0; !sb_ended(r) && quiet < QUIET_MS;) {
		if (s0 >= 0) {
			sleep_us(QUIET_MS * 1000L);
			now = all_sleeps(pids, w, &asleep);
			quiet = now >= 0 && asleep && now == prev ? QUIET_MS : 0;
			prev = now;
			wakes = now - s0;
		} else {
			sleep_us(1000);
			unsigned u = atomic_load(&sh->wakeups);
			quiet = u == seen ? quiet + 1 : 0;
			seen = u;
			wakes = seen - w0;
		}
		if (waiter_trouble(r, sh, (uint64_t)w))
			break;
	}
	close(c);
	if (sb_ended(r))
		return -1;
	size_t row = sb_row(r, (uint64_t)w);
	sb_put(r, row, 1, (double)wakes);
	sb_put_ticks_cpu(r, row, 2, t0, cpu0, t1, cpu1);   /* two processes' stamps, each with its CPU */
	return 0;
}

/* arguments -> listening socket -> for each W: waiters, rounds -> print */
int main(int argc, char **argv)
{
	struct herd h;
	long long maxw = 1000, rounds = 20;
	memset(&h, 0, sizeof h);
	parse_args(argc, argv, &h, &maxw, &rounds);

	struct sb *r = sb_init("herdbench", "n wakeups latency_ns", argc, argv);
	parent_pid = getpid();
	sb_meta(r, "count", "%lld", maxw);
	sb_meta(r, "mode", "%s", h.mode_name);
	sb_meta(r, "rounds", "%lld", rounds);
	sb_meta(r, "waiters", "processes");
	if (h.mode == M_EVENT)
		sb_meta(r, "wait_call", "%s on %s", h.mech->wait_call,
			h.shared_set ? "one set, shared by every waiter" : "one set per waiter");
	if (h.mode == M_EVENT && h.mech->survives_fork)
		sb_meta(r, "epoll_instance", "%s", h.shared_set ? "one, shared by every waiter" : "one per waiter");
	int asleep_now;
	sb_meta(r, "wakeups_counted", "%s", sleeps(getpid(), &asleep_now) >= 0
		? "voluntary context switches of the waiters (/proc/PID/status): wakeups in the kernel too"
		: "returns of the waiters from their blocking call (the OS does not count sleeps)");
	sb_meta(r, "quiet_ms", "%d (a round ends when no waiter woke for this long)", QUIET_MS);
	sb_raise_nproc(r, maxw);

	h.sh = sb_shared(sizeof *h.sh);
	if (!h.sh)
		sb_stop(r, "mmap() of the shared counters", 0, errno, NULL);
	pid_t *pids = h.sh ? sb_alloc(r, (size_t)maxw, sizeof *pids, "pids") : NULL;
	long long npids = 0;
	if (!pids || sb_reserve(r, (size_t)(rounds * 40)) != 0) {
		free(pids);
		if (h.sh)
			munmap(h.sh, sizeof *h.sh);
		return sb_finish(r);
	}
	make_listener(r, &h);

	/* W over 1, 2, 5, 10, 20, 50, ... and maxw. */
	long long w = 0;
	for (long long step = 0; w < maxw && !sb_ended(r); step++) {
		long long dec = 1;
		for (long long k = 0; k < step / 3; k++)
			dec *= 10;
		w = dec * (step % 3 == 0 ? 1 : step % 3 == 1 ? 2 : 5);
		if (w > maxw)
			w = maxw;
		if (add_waiters(r, &h, pids, &npids, w) != 0)
			break;
		for (long long round = 0; round < rounds && !sb_ended(r); round++)
			if (one_round(r, &h, pids, npids) != 0)
				break;
	}

	reap_all(pids, &npids);
	if (h.lfd >= 0)
		close(h.lfd);
	sb_ev_free(h.set);
	munmap(h.sh, sizeof *h.sh);
	free(pids);
	return sb_finish(r);
}
