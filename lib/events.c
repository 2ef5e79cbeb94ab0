/*
 * events.c - select, poll, epoll, kqueue and io_uring: one table of
 * operations per mechanism (interface and use: events.h). This file and
 * platform.{h,c} are the only places that test what the OS has.
 */
#include "events.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#if HAVE_EPOLL
#include <sys/epoll.h>
#endif
#if defined(__linux__)
#include <sys/sendfile.h>
#define SB_SENDFILE_LINUX 1
#endif
#if HAVE_KQUEUE
#include <sys/types.h>
#include <sys/event.h>
#endif
#if HAVE_IO_URING
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
/* multishot poll (Linux 5.13) and timed waits (5.11) are what is used */
#if defined(SYS_io_uring_setup) && defined(IORING_POLL_ADD_MULTI) && defined(IORING_FEAT_EXT_ARG)
#define SB_URING 1
#endif
#endif
#if !defined(SB_URING)
#define SB_URING 0
#endif

enum { BATCH = 256 };   /* events one wait can return (epoll, kqueue) */

#if SB_URING
struct uring {
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, sq_entries;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *ring;
	size_t ring_len, sqes_len;
	unsigned pending;                    /* queued, not yet submitted */
	uint32_t *gen;                       /* per fd: generation of its poll */
	struct __kernel_timespec ts;
	struct io_uring_getevents_arg arg;
	int timed;
	int flush_err;                       /* prepare could not submit: errno */
};
#endif

struct sb_ev {
	const struct sb_ev_mech *m;
	int fdcap;
	unsigned char *want;        /* per fd: the interest registered */
	int q;                      /* epoll, kqueue or io_uring descriptor */
	int timeout_ms;
	int nready, cursor;         /* the last wait's results, how far handed out */
	const char *call;
	/* poll */
	struct pollfd *pfd;
	int npfd, *slot;            /* per fd its index in pfd, or -1 */
	/* select */
	fd_set set_r, set_w, res_r, res_w;
	int maxfd, scan_top;
	struct timeval tv;
#if HAVE_EPOLL
	struct epoll_event eev[BATCH];
#endif
#if HAVE_KQUEUE
	struct kevent kev[BATCH];
	struct timespec ts;
#endif
#if SB_URING
	struct uring u;
#endif
};

static const char *new_failed = "";

static int fail(struct sb_ev *e, const char *call)
{
	e->call = call;
	return -1;
}

/* ============================ select ============================ */
static int sel_open(struct sb_ev *e)
{
	FD_ZERO(&e->set_r);
	FD_ZERO(&e->set_w);
	e->maxfd = -1;
	return 0;
}

static int sel_watch(struct sb_ev *e, int fd, int old, int mask)
{
	(void)old;
	if (mask & SB_EV_READ) FD_SET(fd, &e->set_r); else FD_CLR(fd, &e->set_r);
	if (mask & SB_EV_WRITE) FD_SET(fd, &e->set_w); else FD_CLR(fd, &e->set_w);
	e->want[fd] = (unsigned char)mask;
	if (mask && fd > e->maxfd)
		e->maxfd = fd;
	while (e->maxfd >= 0 && !e->want[e->maxfd])
		e->maxfd--;
	return 0;
}

static int sel_forget(struct sb_ev *e, int fd, int old)
{
	return sel_watch(e, fd, old, 0);
}

static void sel_prepare(struct sb_ev *e, int timeout_ms)
{
	e->res_r = e->set_r;
	e->res_w = e->set_w;
	e->scan_top = e->maxfd;
	e->timeout_ms = timeout_ms;
	e->tv.tv_sec = timeout_ms / 1000;
	e->tv.tv_usec = (timeout_ms % 1000) * 1000;
	e->cursor = 0;
}

static int sel_wait(struct sb_ev *e)
{
	int k = select(e->scan_top + 1, &e->res_r, &e->res_w, NULL, e->timeout_ms < 0 ? NULL : &e->tv);
	e->nready = k > 0 ? k : 0;
	return k < 0 ? fail(e, "select()") : k;
}

static int sel_next(struct sb_ev *e, int *fd, int *mask)
{
	for (; e->nready > 0 && e->cursor <= e->scan_top; e->cursor++) {
		int f = e->cursor;
		int m = (FD_ISSET(f, &e->res_r) ? SB_EV_READ : 0) | (FD_ISSET(f, &e->res_w) ? SB_EV_WRITE : 0);
		if (!m)
			continue;
		e->nready--;
		e->cursor++;
		*fd = f;
		*mask = m & e->want[f];
		return 1;
	}
	return 0;
}

/* ============================= poll ============================= */
static int poll_open(struct sb_ev *e)
{
	e->pfd = malloc((size_t)e->fdcap * sizeof *e->pfd);
	e->slot = malloc((size_t)e->fdcap * sizeof *e->slot);
	if (!e->pfd || !e->slot)
		return fail(e, "malloc()");
	for (int i = 0; i < e->fdcap; i++)
		e->slot[i] = -1;
	e->npfd = 0;
	return 0;
}

static int poll_watch(struct sb_ev *e, int fd, int old, int mask)
{
	short ev = (short)((mask & SB_EV_READ ? POLLIN : 0) | (mask & SB_EV_WRITE ? POLLOUT : 0));
	if (!old) {             /* new entries go to the end: the order watched */
		e->slot[fd] = e->npfd;
		e->pfd[e->npfd].fd = fd;
		e->pfd[e->npfd].events = ev;
		e->pfd[e->npfd++].revents = 0;
	} else if (mask) {
		e->pfd[e->slot[fd]].events = ev;
	} else {                /* the last entry moves into the hole */
		int i = e->slot[fd];
		e->pfd[i] = e->pfd[--e->npfd];
		e->slot[e->pfd[i].fd] = i;
		e->slot[fd] = -1;
	}
	return 0;
}

static int poll_forget(struct sb_ev *e, int fd, int old)
{
	return poll_watch(e, fd, old, 0);
}

static void poll_prepare(struct sb_ev *e, int timeout_ms)
{
	e->timeout_ms = timeout_ms;
	e->cursor = e->npfd - 1;
}

static int poll_wait(struct sb_ev *e)
{
	int k = poll(e->pfd, (nfds_t)e->npfd, e->timeout_ms);
	e->nready = k > 0 ? k : 0;
	return k < 0 ? fail(e, "poll()") : k;
}

/* Downwards: a caller that forgets the entry just handed out moves an
 * already handled one into the hole, and new entries go to the end, past
 * the cursor. Each revents is cleared as it is handed out. */
static int poll_next(struct sb_ev *e, int *fd, int *mask)
{
	for (; e->nready > 0 && e->cursor >= 0; e->cursor--) {
		int i = e->cursor;
		if (i >= e->npfd || !e->pfd[i].revents)
			continue;
		short re = e->pfd[i].revents;
		e->pfd[i].revents = 0;
		e->nready--;
		e->cursor--;
		*fd = e->pfd[i].fd;
		*mask = (re & (POLLIN | POLLHUP | POLLERR) ? SB_EV_READ : 0) | (re & POLLOUT ? SB_EV_WRITE : 0);
		return 1;
	}
	return 0;
}

/* ============================= epoll ============================ */
#if HAVE_EPOLL
static int ep_open(struct sb_ev *e)
{
	if ((e->q = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return fail(e, "epoll_create1()");
	return 0;
}

static int ep_watch(struct sb_ev *e, int fd, int old, int mask)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof ev);
	ev.events = (mask & SB_EV_READ ? EPOLLIN : 0u) | (mask & SB_EV_WRITE ? EPOLLOUT : 0u);
#if HAVE_EPOLLEXCLUSIVE
	if (mask & SB_EV_EXCLUSIVE)
		ev.events |= EPOLLEXCLUSIVE;
#endif
	ev.data.fd = fd;
	if (!old && epoll_ctl(e->q, EPOLL_CTL_ADD, fd, &ev) != 0)
		return fail(e, "epoll_ctl(EPOLL_CTL_ADD)");
	if (old && !mask && epoll_ctl(e->q, EPOLL_CTL_DEL, fd, &ev) != 0)
		return fail(e, "epoll_ctl(EPOLL_CTL_DEL)");
	if (old && mask && epoll_ctl(e->q, EPOLL_CTL_MOD, fd, &ev) != 0)
		return fail(e, "epoll_ctl(EPOLL_CTL_MOD)");
	return 0;
}

static int ep_wait(struct sb_ev *e)
{
	int k = epoll_wait(e->q, e->eev, BATCH, e->timeout_ms);
	e->nready = k > 0 ? k : 0;
	return k < 0 ? fail(e, "epoll_wait()") : k;
}

static int ep_next(struct sb_ev *e, int *fd, int *mask)
{
	if (e->cursor >= e->nready)
		return 0;
	const struct epoll_event *ev = &e->eev[e->cursor++];
	*fd = ev->data.fd;
	*mask = (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR) ? SB_EV_READ : 0) |
		(ev->events & EPOLLOUT ? SB_EV_WRITE : 0);
	return 1;
}
#endif

#if HAVE_EPOLL || HAVE_KQUEUE
/* epoll and kqueue: close() takes the descriptor out of the kernel's set
 * (the caller holds no other descriptor of the same open file). */
static int kernel_forget(struct sb_ev *e, int fd, int old)
{
	(void)e, (void)fd, (void)old;
	return 0;
}

static void kernel_prepare(struct sb_ev *e, int timeout_ms)
{
	e->timeout_ms = timeout_ms;
	e->cursor = 0;
#if HAVE_KQUEUE
	e->ts.tv_sec = timeout_ms / 1000;
	e->ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
#endif
}

static void kernel_close(struct sb_ev *e)
{
	if (e->q >= 0)
		close(e->q);
	e->q = -1;
}
#endif

/* ============================ kqueue ============================ */
#if HAVE_KQUEUE
static int kq_open(struct sb_ev *e)
{
	if ((e->q = kqueue()) < 0)
		return fail(e, "kqueue()");
	return 0;
}

static int kq_watch(struct sb_ev *e, int fd, int old, int mask)
{
	struct kevent ch[2];
	int n = 0;
	if ((old ^ mask) & SB_EV_READ)
		EV_SET(&ch[n++], (uintptr_t)fd, EVFILT_READ, mask & SB_EV_READ ? EV_ADD : EV_DELETE, 0, 0, 0);
	if ((old ^ mask) & SB_EV_WRITE)
		EV_SET(&ch[n++], (uintptr_t)fd, EVFILT_WRITE, mask & SB_EV_WRITE ? EV_ADD : EV_DELETE, 0, 0, 0);
	if (n && kevent(e->q, ch, n, NULL, 0, NULL) != 0)
		return fail(e, mask & ~old ? "kevent(EV_ADD)" : "kevent(EV_DELETE)");
	return 0;
}

static int kq_wait(struct sb_ev *e)
{
	int k = kevent(e->q, NULL, 0, e->kev, BATCH, e->timeout_ms < 0 ? NULL : &e->ts);
	e->nready = k > 0 ? k : 0;
	return k < 0 ? fail(e, "kevent()") : k;
}

static int kq_next(struct sb_ev *e, int *fd, int *mask)
{
	if (e->cursor >= e->nready)
		return 0;
	const struct kevent *ev = &e->kev[e->cursor++];
	*fd = (int)ev->ident;
	*mask = ev->filter == EVFILT_WRITE ? SB_EV_WRITE : SB_EV_READ;
	return 1;
}
#endif

/* =========================== io_uring ===========================
 * By raw system calls (no liburing: the suite needs only libc). Each
 * watched descriptor has one multishot IORING_OP_POLL_ADD, tagged with the
 * descriptor and a generation; a change of interest removes it and adds a
 * new one, so completions of an older generation are stale and skipped. */
#if SB_URING
static const uint64_t REMOVE_TAG = UINT64_MAX;

static int ur_setup(struct uring *u, unsigned entries)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int fd = (int)syscall(SYS_io_uring_setup, entries, &p);
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
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED) {
		int err = errno;
		munmap(u->ring, u->ring_len);
		close(fd);
		errno = err;
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
	u->pending = 0;
	return fd;
}

static void ur_unmap(struct uring *u)
{
	munmap(u->sqes, u->sqes_len);
	munmap(u->ring, u->ring_len);
}

static int ur_enter(int fd, unsigned submit, unsigned wait, struct io_uring_getevents_arg *arg)
{
	unsigned flags = wait ? IORING_ENTER_GETEVENTS : 0;
	if (arg)
		flags |= IORING_ENTER_EXT_ARG;
	return (int)syscall(SYS_io_uring_enter, fd, submit, wait, flags, arg, arg ? sizeof *arg : 0);
}

/* Submits what is queued. */
static int ur_flush(struct sb_ev *e)
{
	struct uring *u = &e->u;
	while (u->pending) {
		int k = ur_enter(e->q, u->pending, 0, NULL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EAGAIN;
			return fail(e, "io_uring_enter(submit)");
		}
		u->pending -= (unsigned)k;
	}
	return 0;
}

/* The next free submission entry, submitting the queue when it is full. */
static struct io_uring_sqe *ur_sqe(struct sb_ev *e)
{
	struct uring *u = &e->u;
	if (u->pending == u->sq_entries && ur_flush(e) != 0)
		return NULL;
	unsigned tail = *u->sq_tail, i = tail & *u->sq_mask;
	struct io_uring_sqe *s = &u->sqes[i];
	memset(s, 0, sizeof *s);
	u->sq_array[i] = i;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	u->pending++;
	return s;
}

static uint64_t ur_tag(const struct sb_ev *e, int fd)
{
	return (uint64_t)(unsigned)fd | (uint64_t)e->u.gen[fd] << 32;
}

static int ur_poll_add(struct sb_ev *e, int fd, int mask)
{
	struct io_uring_sqe *s = ur_sqe(e);
	if (!s)
		return -1;
	s->opcode = IORING_OP_POLL_ADD;
	s->fd = fd;
	s->poll32_events = (mask & SB_EV_READ ? POLLIN : 0) | (mask & SB_EV_WRITE ? POLLOUT : 0);
	s->len = IORING_POLL_ADD_MULTI;
	s->user_data = ur_tag(e, fd);
	return 0;
}

static int ur_open(struct sb_ev *e)
{
	e->u.gen = calloc((size_t)e->fdcap, sizeof *e->u.gen);
	if (!e->u.gen)
		return fail(e, "calloc()");
	if ((e->q = ur_setup(&e->u, 256)) < 0)
		return fail(e, "io_uring_setup()");
	return 0;
}

static int ur_watch(struct sb_ev *e, int fd, int old, int mask)
{
	if (old) {              /* cancel the poll of the old interest */
		struct io_uring_sqe *s = ur_sqe(e);
		if (!s)
			return -1;
		s->opcode = IORING_OP_POLL_REMOVE;
		s->fd = -1;
		s->addr = ur_tag(e, fd);
		s->user_data = REMOVE_TAG;
		e->u.gen[fd]++;
	}
	return mask ? ur_poll_add(e, fd, mask) : 0;
}

static int ur_forget(struct sb_ev *e, int fd, int old)
{
	if (ur_watch(e, fd, old, 0) != 0)
		return -1;
	return ur_flush(e);     /* before close(): the poll holds the file */
}

static void ur_prepare(struct sb_ev *e, int timeout_ms)
{
	struct uring *u = &e->u;
	if (ur_flush(e) != 0)
		u->flush_err = errno;   /* the wait reports it */
	memset(&u->arg, 0, sizeof u->arg);
	u->ts.tv_sec = timeout_ms / 1000;
	u->ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000LL;
	u->arg.ts = (uint64_t)(uintptr_t)&u->ts;
	u->timed = timeout_ms >= 0;
}

/* Always the system call, even when completions are already there (as
 * epoll_wait is made when its ready list is not empty). */
static int ur_wait(struct sb_ev *e)
{
	struct uring *u = &e->u;
	if (u->flush_err) {
		errno = u->flush_err;
		u->flush_err = 0;
		return -1;
	}
	int k = ur_enter(e->q, 0, 1, u->timed ? &u->arg : NULL);
	if (k < 0 && errno != ETIME)
		return fail(e, "io_uring_enter(GETEVENTS)");
	return (int)(__atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE) - *u->cq_head);
}

static int ur_next(struct sb_ev *e, int *fd, int *mask)
{
	struct uring *u = &e->u;
	for (;;) {
		unsigned head = *u->cq_head;
		if (__atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE) == head)
			return 0;
		const struct io_uring_cqe *c = &u->cqes[head & *u->cq_mask];
		uint64_t tag = c->user_data;
		int res = c->res;
		unsigned more = c->flags & IORING_CQE_F_MORE;
		__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
		int f = (int)(uint32_t)tag;
		if (tag == REMOVE_TAG || f < 0 || f >= e->fdcap || (uint32_t)(tag >> 32) != u->gen[f] || !e->want[f])
			continue;       /* a cancellation, or a poll replaced since */
		if (res < 0) {
			errno = -res;
			return fail(e, "IORING_OP_POLL_ADD");
		}
		if (!more && ur_poll_add(e, f, e->want[f]) != 0)   /* the kernel ended it: re-arm */
			return -1;
		*fd = f;
		*mask = (res & (POLLIN | POLLHUP | POLLERR) ? SB_EV_READ : 0) | (res & POLLOUT ? SB_EV_WRITE : 0);
		return 1;
	}
}

static void ur_close(struct sb_ev *e)
{
	if (e->q >= 0) {
		ur_unmap(&e->u);
		close(e->q);
	}
	e->q = -1;
	free(e->u.gen);
	e->u.gen = NULL;
}
#endif

/* ============================ the table ========================== */
static const struct sb_ev_mech mechs[] = {
	{ "select", 1, "select()", FD_SETSIZE, 0, 0,
	  sel_open, sel_watch, sel_forget, sel_prepare, sel_wait, sel_next, NULL },
	{ "poll", 1, "poll()", INT_MAX, 0, 0,
	  poll_open, poll_watch, poll_forget, poll_prepare, poll_wait, poll_next, NULL },
#if HAVE_EPOLL
	{ "epoll", 1, "epoll_wait()", INT_MAX, HAVE_EPOLLEXCLUSIVE, 1,
	  ep_open, ep_watch, kernel_forget, kernel_prepare, ep_wait, ep_next, kernel_close },
#else
	{ "epoll", 0, "epoll_wait()", 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
#endif
#if HAVE_KQUEUE
	{ "kqueue", 1, "kevent()", INT_MAX, 0, 0,
	  kq_open, kq_watch, kernel_forget, kernel_prepare, kq_wait, kq_next, kernel_close },
#else
	{ "kqueue", 0, "kevent()", 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
#endif
#if SB_URING
	{ "io_uring", 1, "io_uring_enter()", INT_MAX, 0, 0,
	  ur_open, ur_watch, ur_forget, ur_prepare, ur_wait, ur_next, ur_close },
#else
	{ "io_uring", 0, "io_uring_enter()", 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
#endif
};
enum { NMECH = sizeof mechs / sizeof mechs[0] };

const struct sb_ev_mech *sb_ev_mech_at(int i)
{
	return i >= 0 && i < NMECH ? &mechs[i] : NULL;
}

const struct sb_ev_mech *sb_ev_mech(const char *name)
{
	for (int i = 0; i < NMECH; i++)
		if (strcmp(name, mechs[i].name) == 0)
			return &mechs[i];
	return NULL;
}

const char *sb_ev_available(void)
{
	static char buf[64];
	if (!buf[0])
		for (int i = 0; i < NMECH; i++)
			if (mechs[i].available) {
				if (buf[0])
					strcat(buf, " ");
				strcat(buf, mechs[i].name);
			}
	return buf;
}

const struct sb_ev_mech *sb_ev_default(void)
{
	const struct sb_ev_mech *m = sb_ev_mech(HAVE_EPOLL ? "epoll" : HAVE_KQUEUE ? "kqueue" : "poll");
	return m;
}

int sb_ev_probe(const struct sb_ev_mech *m, char *buf, size_t len)
{
	if (!m->available) {
#if defined(__linux__)
		if (strcmp(m->name, "io_uring") == 0) {
			snprintf(buf, len, "not compiled in (no <linux/io_uring.h> with multishot poll at build time)");
			return -1;
		}
#endif
		snprintf(buf, len, "not on this OS");
		return -1;
	}
#if SB_URING
	if (m->open == ur_open) {
		struct uring u;
		int fd = ur_setup(&u, 4);
		if (fd < 0) {
			snprintf(buf, len, "unavailable: io_uring_setup(): %s", strerror(errno));
			return -1;
		}
		ur_unmap(&u);
		close(fd);
		snprintf(buf, len, "multishot IORING_OP_POLL_ADD, raw system calls (no liburing)");
		return 0;
	}
#endif
	snprintf(buf, len, "available");
	return 0;
}

struct sb_ev *sb_ev_new(const struct sb_ev_mech *m, int fdcap)
{
	if (!m->available) {
		new_failed = m->name;
		errno = ENOSYS;
		return NULL;
	}
	struct sb_ev *e = calloc(1, sizeof *e);
	if (!e) {
		new_failed = "calloc()";
		return NULL;
	}
	e->m = m;
	e->q = -1;
	e->fdcap = fdcap;
	e->call = "";
	e->want = calloc((size_t)(fdcap > 0 ? fdcap : 1), 1);
	if (!e->want || m->open(e) != 0) {
		int err = errno;
		new_failed = e->want ? e->call : "calloc()";
		sb_ev_free(e);
		errno = err;
		return NULL;
	}
	return e;
}

void sb_ev_free(struct sb_ev *e)
{
	if (!e)
		return;
	if (e->m->close)
		e->m->close(e);
	free(e->pfd);
	free(e->slot);
	free(e->want);
	free(e);
}

const struct sb_ev_mech *sb_ev_which(const struct sb_ev *e)
{
	return e->m;
}

int sb_ev_watch(struct sb_ev *e, int fd, int mask)
{
	if (fd < 0 || fd >= e->fdcap || fd >= e->m->fd_limit ||
	    ((mask & SB_EV_EXCLUSIVE) && !e->m->supports_exclusive)) {
		errno = EINVAL;
		return fail(e, "watch");
	}
	int old = e->want[fd];
	if (old == mask)
		return 0;
	if (e->m->watch(e, fd, old, mask) != 0)
		return -1;
	e->want[fd] = (unsigned char)mask;
	return 0;
}

int sb_ev_forget(struct sb_ev *e, int fd)
{
	if (fd < 0 || fd >= e->fdcap || !e->want[fd])
		return 0;
	int old = e->want[fd];
	e->want[fd] = 0;
	return e->m->forget(e, fd, old);
}

int sb_ev_watching(const struct sb_ev *e, int fd)
{
	return fd >= 0 && fd < e->fdcap ? e->want[fd] : 0;
}

void sb_ev_prepare(struct sb_ev *e, int timeout_ms)
{
	e->nready = 0;
	e->m->prepare(e, timeout_ms);
}

int sb_ev_wait(struct sb_ev *e)
{
	return e->m->wait(e);
}

int sb_ev_next(struct sb_ev *e, int *fd, int *mask)
{
	return e->m->next(e, fd, mask);
}

const char *sb_ev_failed(const struct sb_ev *e)
{
	return e ? e->call : new_failed;
}

ssize_t sb_send_file(int sock, int file, off_t *off, size_t len)
{
#if defined(SB_SENDFILE_LINUX)
	return sendfile(sock, file, off, len);
#else
	char buf[16384];
	ssize_t rd = pread(file, buf, len < sizeof buf ? len : sizeof buf, *off);
	if (rd <= 0)
		return rd;
	ssize_t w = send(sock, buf, (size_t)rd, SB_MSG_NOSIGNAL);
	if (w > 0)
		*off += w;
	return w;
#endif
}
