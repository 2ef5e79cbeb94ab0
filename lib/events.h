/*
 * events.h - the one event-mechanism module: select, poll, epoll, kqueue and
 * io_uring behind one table of operations per mechanism. Each mechanism is
 * compiled only where the OS has it (HAVE_EPOLL, HAVE_KQUEUE, HAVE_IO_URING
 * from platform.h); select and poll exist everywhere. Users: bench/pollbench
 * (times the wait call alone), tools/httpd (its event loop), bench/herdbench
 * (waiters blocked in a mechanism's wait).
 *
 *     const struct sb_ev_mech *m = sb_ev_mech("epoll");   // NULL: unknown name
 *     struct sb_ev *e = sb_ev_new(m, fdcap);              // NULL: errno, sb_ev_failed()
 *     sb_ev_watch(e, fd, SB_EV_READ);                     // interest: READ|WRITE, 0 = none
 *     for (;;) {
 *         sb_ev_prepare(e, timeout_ms);                   // untimed: select copies its sets
 *         int k = sb_ev_wait(e);                          // THE wait system call, nothing else
 *         while (sb_ev_next(e, &fd, &mask)) ...           // what it reported
 *     }
 *     sb_ev_forget(e, fd); close(fd);                     // before closing a watched fd
 *     sb_ev_free(e);
 *
 * Every call returns -1 with errno set on failure; sb_ev_failed(e) then
 * names the system call ("epoll_ctl(EPOLL_CTL_ADD)"). Level-triggered
 * everywhere. No OS test outside this module and platform.{h,c}.
 */
#ifndef SB_EVENTS_H
#define SB_EVENTS_H

#include "platform.h"

#include <stddef.h>

enum {
	SB_EV_READ = 1,        /* readable (also: hangup, error) */
	SB_EV_WRITE = 2,       /* writable */
	SB_EV_EXCLUSIVE = 4,   /* epoll: EPOLLEXCLUSIVE (wake one waiter); where
				* supports_exclusive is 0, sb_ev_watch fails EINVAL */
};

struct sb_ev;   /* one watched set of one mechanism */

/* One row of the table: a mechanism and its operations. Callers use the
 * sb_ev_* functions below; the table is public so that a benchmark can see
 * what a mechanism is (name, the wait call it makes, its limits). */
struct sb_ev_mech {
	const char *name;        /* "select", "poll", "epoll", "kqueue", "io_uring" */
	int available;           /* compiled in on this OS (run-time refusal: sb_ev_probe) */
	const char *wait_call;   /* the system call sb_ev_wait makes */
	int fd_limit;            /* descriptors must be below this (select: FD_SETSIZE) */
	int supports_exclusive;  /* SB_EV_EXCLUSIVE works */
	int survives_fork;       /* a child may wait on its parent's set (epoll) */
	int (*open)(struct sb_ev *e);
	int (*watch)(struct sb_ev *e, int fd, int old, int mask);
	int (*forget)(struct sb_ev *e, int fd, int old);
	void (*prepare)(struct sb_ev *e, int timeout_ms);
	int (*wait)(struct sb_ev *e);
	int (*next)(struct sb_ev *e, int *fd, int *mask);
	void (*close)(struct sb_ev *e);
};

/* The mechanism called name (available or not), or NULL for an unknown
 * name. sb_ev_mech_at(i), i = 0, 1, ...: every mechanism in a fixed order
 * (select, poll, epoll, kqueue, io_uring), NULL past the last. */
const struct sb_ev_mech *sb_ev_mech(const char *name);
const struct sb_ev_mech *sb_ev_mech_at(int i);
/* The names of the mechanisms compiled in here, space-separated. */
const char *sb_ev_available(void);
/* The mechanism a server should use by default: epoll or kqueue where the
 * OS has one, else poll. */
const struct sb_ev_mech *sb_ev_default(void);
/* 0 if m works at run time here; else -1, and why in buf (io_uring can be
 * compiled in and refused: seccomp, kernel.io_uring_disabled, old kernel). */
int sb_ev_probe(const struct sb_ev_mech *m, char *buf, size_t len);

/* A new watched set for descriptors 0 .. fdcap-1: NULL with errno set (the
 * failed call: sb_ev_failed(NULL)). */
struct sb_ev *sb_ev_new(const struct sb_ev_mech *m, int fdcap);
void sb_ev_free(struct sb_ev *e);
const struct sb_ev_mech *sb_ev_which(const struct sb_ev *e);

/* What to wait for on fd: SB_EV_READ|SB_EV_WRITE (|SB_EV_EXCLUSIVE on the
 * first watch), 0 = nothing. Unchanged interest makes no system call. */
int sb_ev_watch(struct sb_ev *e, int fd, int mask);
/* fd is about to be closed: drop it from the set (epoll and kqueue: close()
 * does it, no system call; io_uring holds the file until its poll is
 * cancelled, so it must be). */
int sb_ev_forget(struct sb_ev *e, int fd);
/* The interest registered for fd. */
int sb_ev_watching(const struct sb_ev *e, int fd);

/* Before every wait: timeout_ms < 0 waits without limit. Untimed
 * bookkeeping (select copies its interest sets, the timeouts are built). */
void sb_ev_prepare(struct sb_ev *e, int timeout_ms);
/* The wait system call alone: the number of ready descriptors (io_uring:
 * completions), 0 on timeout, -1 with errno (EINTR included). */
int sb_ev_wait(struct sb_ev *e);
/* The next descriptor the last wait reported: 1 with *fd and *mask set, 0
 * when none is left, -1 with errno (an io_uring poll that failed or could
 * not be re-armed). Calls of sb_ev_watch/forget in between are allowed. */
int sb_ev_next(struct sb_ev *e, int *fd, int *mask);

/* The system call that failed last ("kevent(EV_ADD)"); e may be NULL for
 * sb_ev_new's failure. */
const char *sb_ev_failed(const struct sb_ev *e);

/* ---- for a server's event loop: a file's bytes to a non-blocking socket ----
 * Up to len bytes of file from *off: Linux sendfile(), elsewhere pread() +
 * send() through a 16 KiB buffer. Returns the bytes sent (*off advanced), 0
 * when the file has no bytes at *off, -1 with errno (EAGAIN: socket full). */
ssize_t sb_send_file(int sock, int file, off_t *off, size_t len);

#endif
