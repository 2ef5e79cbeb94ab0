/*
 * pollbench - the cost of delivering one event through select, poll, epoll,
 * kqueue and io_uring as the number of watched descriptors N grows (the
 * C10K problem: select and poll scan every descriptor, epoll and kqueue do not).
 * Method: docs/bench/pollbench.md. Output: docs/format.md.
 */
#define _GNU_SOURCE 1           /* Linux: syscall() for io_uring */
#if defined(__APPLE__)
#define _DARWIN_C_SOURCE 1
#endif
#include "sb.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- which mechanisms this OS has (select and poll: all of them) ---- */
#if defined(__linux__)
#include <sys/epoll.h>
#define HAVE_EPOLL 1
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#if defined(__NR_io_uring_setup) && defined(IORING_POLL_ADD_MULTI) && defined(IORING_FEAT_EXT_ARG)
#define HAVE_IO_URING 1
#endif
#endif
#if defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || defined(__APPLE__) || \
	defined(__DragonFly__)
#include <sys/event.h>
#define HAVE_KQUEUE 1
#endif

enum { M_SELECT, M_POLL, M_EPOLL, M_KQUEUE, M_IO_URING, NMECH };
static const char *const mech_name[NMECH] = {"select", "poll", "epoll", "kqueue", "io_uring"};
static const int mech_have[NMECH] = {
	1, 1,
#if defined(HAVE_EPOLL)
	1,
#else
	0,
#endif
#if HAVE_KQUEUE
	1,
#else
	0,
#endif
#if defined(HAVE_IO_URING)
	1,
#else
	0,
#endif
};

enum { MAXACTIVE = 4, TIMEOUT_S = 10 };

static const char usage[] =
	"usage: pollbench [-m list] [-n maxn] [-r reps] [-h]\n"
	"  -m list  comma-separated mechanisms of select,poll,epoll,kqueue,io_uring\n"
	"           (default: every one this OS has)\n"
	"  -n maxn  largest number of watched descriptors (default 10000); N runs over\n"
	"           a geometric grid from 1 to maxn, 10 points per decade\n"
	"  -r reps  events timed per N and mechanism (default 100)\n"
	"Rows: n <mech>_ns..., n = descriptors watched; one row per repetition.\n";

/* The watched set for one N: N descriptors, up to MAXACTIVE of them active
 * (one end of a socketpair whose other end we write to), the rest idle. */
struct watch {
	int n;
	int *fd;            /* [n] the watched descriptors, in registration order */
	int active[MAXACTIVE], peer[MAXACTIVE], pos[MAXACTIVE], nactive;
	int maxfd;
	struct pollfd *pfd; /* poll */
	fd_set master;      /* select */
	int q;              /* epoll, kqueue or io_uring descriptor */
	const char *call;   /* the call that failed */
	int wrong;          /* index reported instead of the expected one */
#if defined(HAVE_IO_URING)
	struct uring {
		unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, sq_entries;
		unsigned *cq_head, *cq_tail, *cq_mask;
		struct io_uring_sqe *sqes;
		struct io_uring_cqe *cqes;
		void *ring;
		size_t ring_len, sqes_len;
	} u;
#endif
};

#if defined(HAVE_IO_URING)
/* io_uring by raw system calls (no liburing: the suite needs only libc). */
static int uring_setup(struct uring *u, unsigned entries)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (fd < 0)
		return -1;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_EXT_ARG)) {
		close(fd);
		errno = ENOSYS;
		return -1;
	}
	size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	u->ring_len = sq_len > cq_len ? sq_len : cq_len;
	u->ring = mmap(NULL, u->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		       IORING_OFF_SQ_RING);
	if (u->ring == MAP_FAILED) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		       IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED) {
		int e = errno;
		munmap(u->ring, u->ring_len);
		close(fd);
		errno = e;
		return -1;
	}
	char *b = u->ring;
	u->sq_head = (unsigned *)(b + p.sq_off.head);
	u->sq_tail = (unsigned *)(b + p.sq_off.tail);
	u->sq_mask = (unsigned *)(b + p.sq_off.ring_mask);
	u->sq_array = (unsigned *)(b + p.sq_off.array);
	u->sq_entries = p.sq_entries;
	u->cq_head = (unsigned *)(b + p.cq_off.head);
	u->cq_tail = (unsigned *)(b + p.cq_off.tail);
	u->cq_mask = (unsigned *)(b + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(b + p.cq_off.cqes);
	return fd;
}

static void uring_close(struct uring *u, int fd)
{
	munmap(u->sqes, u->sqes_len);
	munmap(u->ring, u->ring_len);
	close(fd);
}

static int uring_enter(int fd, unsigned submit, unsigned wait)
{
	struct __kernel_timespec ts = {.tv_sec = TIMEOUT_S, .tv_nsec = 0};
	struct io_uring_getevents_arg arg;
	memset(&arg, 0, sizeof arg);
	arg.ts = (uint64_t)(uintptr_t)&ts;
	unsigned flags = wait ? IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG : 0;
	return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, wait ? &arg : NULL,
			    wait ? sizeof arg : 0);
}

/* Queues a multishot POLL_ADD (POLLIN) for fd, tagged with its index. */
static void uring_poll_add(struct uring *u, int fd, unsigned tag)
{
	unsigned tail = *u->sq_tail, i = tail & *u->sq_mask;
	struct io_uring_sqe *s = &u->sqes[i];
	memset(s, 0, sizeof *s);
	s->opcode = IORING_OP_POLL_ADD;
	s->fd = fd;
	s->poll32_events = POLLIN;
	s->len = IORING_POLL_ADD_MULTI;
	s->user_data = tag;
	u->sq_array[i] = i;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
}
#endif

/* Registers the watched set with mechanism m (not timed). 0, or -1 with
 * w->call and errno set. */
static int setup(int m, struct watch *w)
{
	w->q = -1;
	switch (m) {
	case M_SELECT:
		FD_ZERO(&w->master);
		for (int i = 0; i < w->n; i++)
			FD_SET(w->fd[i], &w->master);
		return 0;
	case M_POLL:
		for (int i = 0; i < w->n; i++) {
			w->pfd[i].fd = w->fd[i];
			w->pfd[i].events = POLLIN;
			w->pfd[i].revents = 0;
		}
		return 0;
#if defined(HAVE_EPOLL)
	case M_EPOLL:
		w->call = "epoll_create1()";
		if ((w->q = epoll_create1(EPOLL_CLOEXEC)) < 0)
			return -1;
		w->call = "epoll_ctl(EPOLL_CTL_ADD)";
		for (int i = 0; i < w->n; i++) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
			if (epoll_ctl(w->q, EPOLL_CTL_ADD, w->fd[i], &ev) != 0)
				return -1;
		}
		return 0;
#endif
#if HAVE_KQUEUE
	case M_KQUEUE:
		w->call = "kqueue()";
		if ((w->q = kqueue()) < 0)
			return -1;
		w->call = "kevent(EV_ADD)";
		for (int i = 0; i < w->n; i++) {
			struct kevent ev;
			EV_SET(&ev, (uintptr_t)w->fd[i], EVFILT_READ, EV_ADD, 0, 0, (void *)(intptr_t)i);
			if (kevent(w->q, &ev, 1, NULL, 0, NULL) != 0)
				return -1;
		}
		return 0;
#endif
#if defined(HAVE_IO_URING)
	case M_IO_URING:
		w->call = "io_uring_setup()";
		if ((w->q = uring_setup(&w->u, 256)) < 0)
			return -1;
		w->call = "io_uring_enter(POLL_ADD)";
		for (int i = 0; i < w->n;) {
			unsigned batch = 0;
			while (i < w->n && batch < w->u.sq_entries) {
				uring_poll_add(&w->u, w->fd[i], (unsigned)i);
				i++;
				batch++;
			}
			int k = uring_enter(w->q, batch, 0);
			if (k < 0)
				return -1;
			if ((unsigned)k != batch) {
				errno = EAGAIN;
				return -1;
			}
		}
		return 0;
#endif
	}
	errno = ENOSYS;
	return -1;
}

static void teardown(int m, struct watch *w)
{
#if defined(HAVE_IO_URING)
	if (m == M_IO_URING && w->q >= 0) {
		uring_close(&w->u, w->q);
		w->q = -1;
	}
#endif
	(void)m;
	if (w->q >= 0)
		close(w->q);
	w->q = -1;
}

/* Waits for the one ready descriptor and returns its index in w->fd, -1
 * with w->call and errno set on an error, or -2 when nothing was reported
 * in TIMEOUT_S seconds. For select and poll the scan of the result, which
 * every caller of these interfaces must do, is part of it. */
static int wait_one(int m, struct watch *w)
{
	switch (m) {
	case M_SELECT: {
		fd_set rd;
		memcpy(&rd, &w->master, sizeof rd);
		struct timeval tv = {.tv_sec = TIMEOUT_S, .tv_usec = 0};
		int k = select(w->maxfd + 1, &rd, NULL, NULL, &tv);
		w->call = "select()";
		if (k <= 0)
			return k < 0 ? -1 : -2;
		for (int i = 0; i < w->n; i++)
			if (FD_ISSET(w->fd[i], &rd))
				return i;
		return -2;
	}
	case M_POLL: {
		int k = poll(w->pfd, (nfds_t)w->n, TIMEOUT_S * 1000);
		w->call = "poll()";
		if (k <= 0)
			return k < 0 ? -1 : -2;
		for (int i = 0; i < w->n; i++)
			if (w->pfd[i].revents)
				return i;
		return -2;
	}
#if defined(HAVE_EPOLL)
	case M_EPOLL: {
		struct epoll_event ev[8];
		int k = epoll_wait(w->q, ev, 8, TIMEOUT_S * 1000);
		w->call = "epoll_wait()";
		if (k <= 0)
			return k < 0 ? -1 : -2;
		return (int)ev[0].data.u32;
	}
#endif
#if HAVE_KQUEUE
	case M_KQUEUE: {
		struct kevent ev[8];
		struct timespec ts = {.tv_sec = TIMEOUT_S, .tv_nsec = 0};
		int k = kevent(w->q, NULL, 0, ev, 8, &ts);
		w->call = "kevent()";
		if (k <= 0)
			return k < 0 ? -1 : -2;
		return (int)(intptr_t)ev[0].udata;
	}
#endif
#if defined(HAVE_IO_URING)
	case M_IO_URING: {
		struct uring *u = &w->u;
		unsigned head = *u->cq_head;
		w->call = "io_uring_enter(GETEVENTS)";
		if (__atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE) == head && uring_enter(w->q, 0, 1) < 0)
			return errno == ETIME ? -2 : -1;
		if (__atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE) == head)
			return -2;
		struct io_uring_cqe *c = &u->cqes[head & *u->cq_mask];
		int tag = (int)c->user_data, res = c->res;
		unsigned more = c->flags & IORING_CQE_F_MORE;
		__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
		w->call = "IORING_OP_POLL_ADD";
		if (res < 0) {
			errno = -res;
			return -1;
		}
		if (!more) {        /* the kernel ended the multishot poll: arm it again */
			uring_poll_add(u, w->fd[tag], (unsigned)tag);
			if (uring_enter(w->q, 1, 0) != 1)
				return -1;
		}
		return tag;
	}
#endif
	}
	errno = ENOSYS;
	return -1;
}

/* Makes active descriptor a readable, waits for it, consumes it: one event.
 * Returns 0 and the ticks it took, or -1 (w->call, errno) / -2 (nothing
 * reported) / -3 (another descriptor reported: w->wrong). */
static int one_event(int m, struct watch *w, int a, sb_tick *dt)
{
	char c = 'x';
	sb_tick t0 = sb_ticks();
	ssize_t k = write(w->peer[a], &c, 1);
	if (k != 1) {
		w->call = "write()";
		return -1;
	}
	int got = wait_one(m, w);
	if (got < 0)
		return got;
	if (got != w->pos[a]) {
		w->wrong = got;
		return -3;
	}
	k = read(w->active[a], &c, 1);
	sb_tick t1 = sb_ticks();
	if (k != 1) {
		w->call = "read()";
		if (k == 0)
			errno = EIO;
		return -1;
	}
	*dt = t1 - t0;
	return 0;
}

/* Nothing is ready before an event: a zero-timeout wait must report none. */
static int check_quiet(int m, struct watch *w)
{
	switch (m) {
	case M_SELECT: {
		fd_set rd;
		memcpy(&rd, &w->master, sizeof rd);
		struct timeval tv = {0, 0};
		return select(w->maxfd + 1, &rd, NULL, NULL, &tv);
	}
	case M_POLL:
		return poll(w->pfd, (nfds_t)w->n, 0);
#if defined(HAVE_EPOLL)
	case M_EPOLL: {
		struct epoll_event ev[8];
		return epoll_wait(w->q, ev, 8, 0);
	}
#endif
#if HAVE_KQUEUE
	case M_KQUEUE: {
		struct kevent ev[8];
		struct timespec ts = {0, 0};
		return kevent(w->q, NULL, 0, ev, 8, &ts);
	}
#endif
#if defined(HAVE_IO_URING)
	case M_IO_URING:
		return __atomic_load_n(w->u.cq_tail, __ATOMIC_ACQUIRE) != *w->u.cq_head;
#endif
	}
	return 0;
}

/* Parses "poll,epoll" into want[]; exits with a usage error on a bad name. */
static void parse_list(char *s, int *want)
{
	memset(want, 0, NMECH * sizeof *want);
	char *save = NULL;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int m = 0;
		while (m < NMECH && strcmp(t, mech_name[m]) != 0)
			m++;
		if (m == NMECH)
			sb_usage_error("pollbench", "-m: unknown mechanism '%s' (select,poll,epoll,kqueue,io_uring)", t);
		if (!mech_have[m])
			sb_usage_error("pollbench", "-m: %s is not available on this OS", t);
		want[m] = 1;
	}
	int any = 0;
	for (int m = 0; m < NMECH; m++)
		any |= want[m];
	if (!any)
		sb_usage_error("pollbench", "-m: no mechanism given");
}

int main(int argc, char **argv)
{
	long long maxn = 10000, reps = 100;
	int want[NMECH], opt, asked[NMECH] = {0};
	memcpy(want, mech_have, sizeof want);
	while ((opt = sb_getopt("pollbench", argc, argv, "m:n:r:h")) != -1) {
		switch (opt) {
		case 'm': parse_list(optarg, want); memcpy(asked, want, sizeof asked); break;
		case 'n': maxn = sb_number("pollbench", 'n', optarg, 1, 10000000); break;
		case 'r': reps = sb_number("pollbench", 'r', optarg, 1, 1000000); break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	sb_operand("pollbench", argc, argv, NULL);

	/* io_uring may be compiled in but refused at run time (seccomp,
	 * kernel.io_uring_disabled, an old kernel): probe it first. */
	char uring_note[160] = "not on this OS";
#if defined(HAVE_IO_URING)
	if (want[M_IO_URING]) {
		struct uring u;
		int fd = uring_setup(&u, 4);
		if (fd >= 0) {
			uring_close(&u, fd);
			snprintf(uring_note, sizeof uring_note,
				 "multishot IORING_OP_POLL_ADD, raw system calls (no liburing)");
		} else {
			snprintf(uring_note, sizeof uring_note, "unavailable: io_uring_setup(): %s", strerror(errno));
			if (asked[M_IO_URING])
				sb_usage_error("pollbench", "-m: io_uring is refused here (io_uring_setup: %s)",
					       strerror(errno));
			want[M_IO_URING] = 0;
		}
	}
#endif

	char cols[128] = "n", have[128] = "";
	int mechs[NMECH], nm = 0;
	for (int m = 0; m < NMECH; m++) {
		if (mech_have[m]) {
			strcat(have, *have ? " " : "");
			strcat(have, mech_name[m]);
		}
		if (want[m]) {
			strcat(cols, " ");
			strcat(cols, mech_name[m]);
			strcat(cols, "_ns");
			mechs[nm++] = m;
		}
	}
	struct sb *r = sb_init("pollbench", cols, argc, argv);
	sb_meta(r, "count", "%lld", maxn);
	sb_meta(r, "mechanisms", "%s", have);
	sb_meta(r, "io_uring", "%s", uring_note);
	sb_meta(r, "reps", "%lld", reps);
	sb_meta(r, "watched", "up to %d active AF_UNIX stream socketpair ends, the rest idle unbound "
		"AF_UNIX datagram sockets; all for POLLIN, level-triggered", MAXACTIVE);
	sb_meta(r, "select_limit", "descriptors below FD_SETSIZE=%d", FD_SETSIZE);
	sb_raise_nofile(r, maxn + 2 * MAXACTIVE + 4);

	/* The descriptors: actives first (lowest numbers, so that select can
	 * watch as many as possible), then every idle one the largest N needs. */
	struct watch w;
	memset(&w, 0, sizeof w);
	int nact = maxn < MAXACTIVE ? (int)maxn : MAXACTIVE;
	int made_active = 0;
	for (; made_active < nact; made_active++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
			sb_stop(r, "socketpair()", (uint64_t)made_active, errno, NULL);
			break;
		}
		w.active[made_active] = sv[0];
		w.peer[made_active] = sv[1];
	}
	long long nidle = maxn - nact, idle_made = 0;
	int *idle = malloc((size_t)(nidle > 0 ? nidle : 1) * sizeof *idle);
	w.fd = malloc((size_t)maxn * sizeof *w.fd);
	w.pfd = malloc((size_t)maxn * sizeof *w.pfd);
	if (!idle || !w.fd || !w.pfd) {
		sb_fail(r, 0, "malloc() for %lld descriptors", maxn);
		nidle = 0;
	}
	if (made_active < nact)
		nidle = 0;
	while (idle_made < nidle && !sb_interrupted()) {
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (fd < 0) {
			/* a limit: measure up to what exists, leaving room for
			 * the mechanisms' own descriptors */
			sb_stop(r, "socket()", (uint64_t)(idle_made + nact), errno, NULL);
			for (int k = 0; k < 4 && idle_made > 0; k++)
				close(idle[--idle_made]);
			break;
		}
		idle[idle_made++] = fd;
	}
	long long limit_n = made_active == nact ? idle_made + nact : 0;
	sb_meta(r, "max_watched", "%lld", limit_n);

	/* The grid: 10 points per decade, rounded, each once, ending at maxn
	 * (or at the largest N the descriptors that exist allow). */
	long long top = maxn < limit_n ? maxn : limit_n;
	static const double decade[10] = {1, 1.2589, 1.5849, 1.9953, 2.5119, 3.1623, 3.9811, 5.0119,
					  6.3096, 7.9433};
	sb_reserve(r, (size_t)(10 * 8 + 2) * (size_t)reps);
	int halt = 0;
	long long prev = 0;
	for (int step = 0; prev < top && !halt && !sb_interrupted(); step++) {
		double g = 1;
		for (int k = 0; k < step / 10; k++)
			g *= 10;
		long long n = (long long)(g * decade[step % 10] + 0.5);
		if (n <= prev)
			continue;
		if (n > top)
			n = top;
		prev = n;

		/* Lay out the set: active j at the end of the j-th of nactive
		 * equal parts, the idle ones in between. */
		w.n = (int)n;
		w.nactive = n < nact ? (int)n : nact;
		for (int j = 0; j < w.nactive; j++)
			w.pos[j] = (int)((long long)(j + 1) * n / w.nactive - 1);
		w.maxfd = 0;
		for (int i = 0, j = 0, k = 0; i < w.n; i++) {
			w.fd[i] = j < w.nactive && w.pos[j] == i ? w.active[j++] : idle[k++];
			if (w.fd[i] > w.maxfd)
				w.maxfd = w.fd[i];
		}
		size_t first = sb_rows(r);
		for (long long i = 0; i < reps; i++)
			sb_row(r, (uint64_t)n);

		for (int mi = 0; mi < nm && !sb_interrupted(); mi++) {
			int m = mechs[mi];
			if (m == M_SELECT && w.maxfd >= FD_SETSIZE)
				continue;   /* "-": select cannot watch this many */
			if (setup(m, &w) != 0) {
				sb_stop(r, w.call, (uint64_t)n, errno, NULL);
				teardown(m, &w);
				halt = 1;
				break;
			}
			int q = check_quiet(m, &w);
			if (q != 0) {
				sb_fail(r, (uint64_t)n, "%s reported %d ready descriptors before any was written",
					mech_name[m], q);
				teardown(m, &w);
				halt = 1;
				break;
			}
			/* one untimed event first, then reps timed ones, rotating
			 * over the active descriptors */
			for (long long i = -1; i < reps && !sb_interrupted(); i++) {
				sb_tick dt = 0;
				int a = (int)((i + 1) % w.nactive);
				int rc = one_event(m, &w, a, &dt);
				if (rc == -1)
					sb_stop(r, w.call, (uint64_t)n, errno, NULL);
				else if (rc == -2)
					sb_fail(r, (uint64_t)n, "%s reported no event within %d s", mech_name[m], TIMEOUT_S);
				else if (rc == -3)
					sb_fail(r, (uint64_t)n, "%s reported descriptor #%d, the one made readable was #%d",
						mech_name[m], w.wrong, w.pos[a]);
				if (rc != 0) {
					halt = 1;
					break;
				}
				if (i >= 0)
					sb_put(r, first + (size_t)i, mi + 1, (double)dt);
			}
			teardown(m, &w);
			if (halt)
				break;
		}
	}

	for (long long i = 0; i < idle_made; i++)
		close(idle[i]);
	for (int j = 0; j < made_active; j++) {
		close(w.active[j]);
		close(w.peer[j]);
	}
	free(idle);
	free(w.fd);
	free(w.pfd);
	return sb_finish(r);
}
