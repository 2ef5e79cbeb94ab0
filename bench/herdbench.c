/*
 * herdbench - the "thundering herd": W processes wait for connections on one
 * listening socket; for each single connection, how many of them wake up, and
 * how long from connect() until one has accepted it (CITI TR 99-4, "Accept
 * scalability").
 * Method: docs/bench/herdbench.md. Output: docs/format.md.
 */
#define _GNU_SOURCE 1           /* Linux: SO_REUSEPORT, EPOLLEXCLUSIVE */
#include "sb.h"

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

#if defined(__linux__)
#include <sys/epoll.h>
#define HAVE_EPOLL 1
#endif

enum { M_ACCEPT, M_EPOLL, M_EPOLL_EXCL, M_REUSEPORT, NMODE };
static const char *const mode_name[NMODE] = {"accept", "epoll", "epoll-exclusive", "reuseport"};

static const char usage[] =
	"usage: herdbench [-m accept|epoll|epoll-exclusive|reuseport] [-w maxw] [-r rounds] [-s] [-h]\n"
	"  -m mode    accept: every waiter blocks in accept() (default)\n"
	"             epoll: every waiter blocks in epoll_wait() on its own epoll\n"
	"                    instance watching the listening socket (Linux)\n"
	"             epoll-exclusive: the same with EPOLLEXCLUSIVE (Linux 4.5+)\n"
	"             reuseport: every waiter blocks in accept() on its own\n"
	"                    SO_REUSEPORT socket bound to the same port\n"
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
	atomic_int error;         /* errno of a waiter's failed call, 0 if none */
	atomic_int error_call;    /* which call: index into call_name */
};
static const char *const call_name[] = {"?", "accept()", "epoll_create1()", "epoll_ctl()", "epoll_wait()",
					"socket()", "setsockopt(SO_REUSEPORT)", "bind()", "listen()"};

enum { QUIET_MS = 20, TIMEOUT_S = 10 };

static pid_t parent_pid;

static void on_alarm(int sig)
{
	(void)sig;      /* only interrupts the blocking call */
}

static _Noreturn void waiter_fail(struct shared *sh, int call)
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
	atomic_fetch_add(&sh->wakeups, 1);
	if (c >= 0) {
		atomic_store(&sh->t_accept, t);
		atomic_fetch_add(&sh->accepted, 1);
		close(c);
	}
}

/* The epoll registration of the listening socket, in a waiter's own
 * instance or in the one they share. -1 with errno set on failure. */
static int watch_listener(int ep, int mode, int lfd)
{
#if defined(HAVE_EPOLL)
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
#if defined(EPOLLEXCLUSIVE)
	if (mode == M_EPOLL_EXCL)
		ev.events |= EPOLLEXCLUSIVE;
#endif
	return epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
#else
	(void)ep, (void)mode, (void)lfd;
	errno = ENOSYS;
	return -1;
#endif
}

/* A waiter: blocks for connections until it is killed. Never returns.
 * ep: the shared epoll instance, or -1 for one of its own. */
static _Noreturn void waiter(int mode, int lfd, int ep, const struct sockaddr_in *addr, struct shared *sh)
{
#if defined(SO_REUSEPORT)
	if (mode == M_REUSEPORT) {
		int on = 1;
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		if (lfd < 0)
			waiter_fail(sh, 5);
		if (setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
			waiter_fail(sh, 6);
		if (bind(lfd, (const struct sockaddr *)addr, sizeof *addr) != 0)
			waiter_fail(sh, 7);
		if (listen(lfd, SOMAXCONN) != 0)
			waiter_fail(sh, 8);
	}
#else
	(void)addr;
#endif
#if defined(HAVE_EPOLL)
	if (mode == M_EPOLL || mode == M_EPOLL_EXCL) {
		if (ep < 0) {
			if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
				waiter_fail(sh, 2);
			if (watch_listener(ep, mode, lfd) != 0)
				waiter_fail(sh, 3);
		}
		struct epoll_event ev;
		atomic_fetch_add(&sh->ready, 1);
		for (;;) {
			int k = epoll_wait(ep, &ev, 1, -1);
			if (k < 0 && interrupted_call())
				continue;
			if (k < 0)
				waiter_fail(sh, 4);
			int c = accept(lfd, NULL, NULL);     /* lfd is non-blocking */
			if (c < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
				waiter_fail(sh, 1);
			count_accept(sh, c);
		}
	}
#else
	(void)ep;
#endif
	atomic_fetch_add(&sh->ready, 1);
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0 && interrupted_call())
			continue;
		if (c < 0 && errno != ECONNABORTED)
			waiter_fail(sh, 1);
		count_accept(sh, c);
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
 * -1 where the OS does not tell. */
static long long sleeps(pid_t p, int *asleep)
{
#if defined(__linux__)
	char path[64], line[128];
	long long v = -1;
	snprintf(path, sizeof path, "/proc/%ld/status", (long)p);
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
#else
	(void)p;
	*asleep = 1;
	return -1;
#endif
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

/* Nonzero, after sb_fail(), when a waiter reported an error or died. */
static int waiter_trouble(struct sb *r, struct shared *sh, uint64_t n)
{
	int e = atomic_load(&sh->error);
	if (e) {
		int c = atomic_load(&sh->error_call);
		errno = e;
		sb_stop(r, call_name[c > 0 && c < 9 ? c : 0], n, e, NULL);
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

int main(int argc, char **argv)
{
	int mode = M_ACCEPT, opt, shared_ep = 0;
	long long maxw = 1000, rounds = 20;
	while ((opt = sb_getopt("herdbench", argc, argv, "m:w:r:sh")) != -1) {
		switch (opt) {
		case 'm':
			for (mode = 0; mode < NMODE && strcmp(optarg, mode_name[mode]) != 0; mode++)
				;
			if (mode == NMODE)
				sb_usage_error("herdbench", "-m: unknown mode '%s' (accept, epoll, epoll-exclusive, reuseport)",
					       optarg);
			break;
		case 'w': maxw = sb_number("herdbench", 'w', optarg, 1, 1000000); break;
		case 'r': rounds = sb_number("herdbench", 'r', optarg, 1, 1000000); break;
		case 's': shared_ep = 1; break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	sb_operand("herdbench", argc, argv, NULL);
#if !defined(HAVE_EPOLL) || !defined(EPOLLEXCLUSIVE)
	if (mode == M_EPOLL_EXCL)
		sb_usage_error("herdbench", "-m: epoll-exclusive is not available on this OS");
#endif
#if !defined(HAVE_EPOLL)
	if (mode == M_EPOLL)
		sb_usage_error("herdbench", "-m: epoll is not available on this OS");
#endif
	if (shared_ep && mode != M_EPOLL && mode != M_EPOLL_EXCL)
		sb_usage_error("herdbench", "-s: only with -m epoll or -m epoll-exclusive");
#if !defined(SO_REUSEPORT)
	if (mode == M_REUSEPORT)
		sb_usage_error("herdbench", "-m: reuseport is not available on this OS");
#endif

	struct sb *r = sb_init("herdbench", "n wakeups latency_ns", argc, argv);
	parent_pid = getpid();
	sb_meta(r, "count", "%lld", maxw);
	sb_meta(r, "mode", "%s", mode_name[mode]);
	sb_meta(r, "rounds", "%lld", rounds);
	sb_meta(r, "waiters", "processes");
	if (mode == M_EPOLL || mode == M_EPOLL_EXCL)
		sb_meta(r, "epoll_instance", "%s", shared_ep ? "one, shared by every waiter" : "one per waiter");
	int asleep_now;
	sb_meta(r, "wakeups_counted", "%s", sleeps(getpid(), &asleep_now) >= 0
		? "voluntary context switches of the waiters (/proc/PID/status): wakeups in the kernel too"
		: "returns of the waiters from their blocking call (the OS does not count sleeps)");
	sb_meta(r, "quiet_ms", "%d (a round ends when no waiter woke for this long)", QUIET_MS);
	sb_raise_nproc(r, maxw);
	sb_reserve(r, (size_t)(rounds * 40));

	struct shared *sh = sb_shared(sizeof *sh);
	pid_t *pids = malloc((size_t)maxw * sizeof *pids);
	long long npids = 0;
	if (!sh || !pids) {
		sb_fail(r, 0, "%s of the shared counters", sh ? "malloc()" : "mmap()");
		free(pids);
		return sb_finish(r);
	}

	/* The listening socket on 127.0.0.1, a free port. For reuseport the
	 * parent's socket only holds the port (bound, not listening: the
	 * kernel spreads connections over the waiters' listening sockets). */
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof addr;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
	if (lfd < 0)
		sb_stop(r, "socket()", 0, errno, NULL);
#if defined(SO_REUSEPORT)
	else if (mode == M_REUSEPORT && setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
		sb_stop(r, "setsockopt(SO_REUSEPORT)", 0, errno, NULL);
#endif
	else if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0)
		sb_stop(r, "bind()", 0, errno, NULL);
	else if (getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0)
		sb_stop(r, "getsockname()", 0, errno, NULL);
	else if (mode != M_REUSEPORT && listen(lfd, SOMAXCONN) != 0)
		sb_stop(r, "listen()", 0, errno, NULL);
	else if ((mode == M_EPOLL || mode == M_EPOLL_EXCL) && fcntl(lfd, F_SETFL, O_NONBLOCK) != 0)
		sb_stop(r, "fcntl(O_NONBLOCK)", 0, errno, NULL);
#if defined(HAVE_EPOLL)
	int ep = -1;
	if (shared_ep && !sb_ended(r)) {
		if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
			sb_stop(r, "epoll_create1()", 0, errno, NULL);
		else if (watch_listener(ep, mode, lfd) != 0)
			sb_stop(r, "epoll_ctl()", 0, errno, NULL);
	}
#else
	int ep = -1;
#endif
	(void)on;
	sb_meta(r, "listen", "127.0.0.1 port %d", ntohs(addr.sin_port));

	/* W over 1, 2, 5, 10, 20, 50, ... and maxw. */
	long long w = 0;
	for (long long step = 0; w < maxw && !sb_ended(r); step++) {
		long long dec = 1;
		for (long long k = 0; k < step / 3; k++)
			dec *= 10;
		w = dec * (step % 3 == 0 ? 1 : step % 3 == 1 ? 2 : 5);
		if (w > maxw)
			w = maxw;

		/* More waiters, until there are w of them, all blocked. */
		while (npids < w && !sb_interrupted()) {
			pid_t p = fork();
			if (p < 0) {
				sb_stop(r, "fork()", (uint64_t)npids, errno, NULL);
				break;
			}
			if (p == 0) {
				signal(SIGINT, SIG_DFL);
				signal(SIGTERM, SIG_DFL);
				signal(SIGHUP, SIG_DFL);
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
				waiter(mode, lfd, ep, &addr, sh);
			}
			pids[npids++] = p;
		}
		if (sb_ended(r))
			break;
		sb_tick start = sb_mono_ns();
		while (atomic_load(&sh->ready) < (unsigned)w && !sb_interrupted() && !waiter_trouble(r, sh, (uint64_t)w)) {
			if (sb_mono_ns() - start > TIMEOUT_S * 1000000000ull) {
				sb_fail(r, (uint64_t)w, "only %u of %lld waiters started within %d s",
					atomic_load(&sh->ready), w, TIMEOUT_S);
				break;
			}
			sleep_us(1000);
		}
		sleep_us(QUIET_MS * 1000L);     /* the last ones reach their blocking call */

		for (long long round = 0; round < rounds && !sb_ended(r); round++) {
			int asleep;
			long long s0 = all_sleeps(pids, npids, &asleep);
			unsigned w0 = atomic_load(&sh->wakeups), a0 = atomic_load(&sh->accepted);
			int c = socket(AF_INET, SOCK_STREAM, 0);
			if (c < 0) {
				sb_stop(r, "socket()", (uint64_t)w, errno, NULL);
				break;
			}
			sb_tick t0 = sb_ticks();
			if (connect(c, (struct sockaddr *)&addr, sizeof addr) != 0) {
				sb_stop(r, "connect()", (uint64_t)w, errno, NULL);
				close(c);
				break;
			}
			/* until one waiter has accepted it */
			start = sb_mono_ns();
			while (atomic_load(&sh->accepted) == a0 && !sb_interrupted() &&
			       !waiter_trouble(r, sh, (uint64_t)w)) {
				if (sb_mono_ns() - start > TIMEOUT_S * 1000000000ull) {
					sb_fail(r, (uint64_t)w, "no waiter accepted the connection within %d s", TIMEOUT_S);
					break;
				}
				sleep_us(100);
			}
			sb_tick t1 = atomic_load(&sh->t_accept);
			/* then until every waiter woken is asleep again: every
			 * waiter asleep and their sleeps unchanged over QUIET_MS;
			 * where the OS does not tell, until no waiter has
			 * returned from its call for QUIET_MS */
			long long wakes = 0, prev = -1, now = 0;
			unsigned seen = atomic_load(&sh->wakeups);
			for (int quiet = 0; !sb_ended(r) && quiet < QUIET_MS;) {
				if (s0 >= 0) {
					sleep_us(QUIET_MS * 1000L);
					now = all_sleeps(pids, npids, &asleep);
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
				break;
			size_t row = sb_row(r, (uint64_t)w);
			sb_put(r, row, 1, (double)wakes);
			if (t1 >= t0)
				sb_put(r, row, 2, (double)(t1 - t0));
		}
	}

	reap_all(pids, &npids);
	if (lfd >= 0)
		close(lfd);
	if (ep >= 0)
		close(ep);
	munmap(sh, sizeof *sh);
	free(pids);
	return sb_finish(r);
}
