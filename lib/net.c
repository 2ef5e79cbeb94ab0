/*
 * net.c - opt-in library part: loopback sources and descriptor keepers
 * (see net.h).
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- loopback sources ---- */
unsigned sb_loopback_sources(struct sb *r, long long count)
{
	long long n = (count + SB_PER_SOURCE - 1) / SB_PER_SOURCE;
	unsigned nsrc = n < 1 ? 1 : n > 253 ? 253 : (unsigned)n;
	if (nsrc > 1)
		sb_meta(r, "sources", "%u addresses 127.0.0.1-127.0.0.%u, round robin, port chosen by connect()",
			nsrc, nsrc);
	else
		sb_meta(r, "sources", "one address, chosen by the kernel, as is the port");
	return nsrc;
}

int sb_bind_loopback_source(int fd, unsigned i)
{
	struct sockaddr_in a;
	if (i >= 254) {
		errno = EINVAL;
		return -1;
	}
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + i);
	if (sb_bind_no_port(fd) < 0)
		return -1;
	return bind(fd, (struct sockaddr *)&a, sizeof a);
}

/* ---- keepers ---- */
struct sb_keeper {
	int *sock;        /* per keeper process: our end of its socket */
	pid_t *pid;
	int n;            /* keepers started; the last one is filled */
	long long kept;
	const char *failed;   /* the call that failed last (sb_keep_call) */
};

struct sb_keeper *sb_keeper_new(struct sb *r)
{
	struct sb_keeper *k = sb_alloc(r, 1, sizeof *k, "the keeper set");
	if (k)
		memset(k, 0, sizeof *k);
	return k;
}

int sb_keepers(const struct sb_keeper *k)
{
	return k ? k->n : 0;
}

long long sb_kept(const struct sb_keeper *k)
{
	return k ? k->kept : 0;
}

/* A one-byte message with room for one descriptor (SCM_RIGHTS): what sb_keep()
 * sends and a keeper receives. */
union sb_fdbuf { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; };

static void fd_msg(struct msghdr *m, struct iovec *iov, char *byte, union sb_fdbuf *cm)
{
	memset(cm, 0, sizeof *cm);
	memset(m, 0, sizeof *m);
	iov->iov_base = byte;
	iov->iov_len = 1;
	m->msg_iov = iov;
	m->msg_iovlen = 1;
	m->msg_control = cm->buf;
	m->msg_controllen = sizeof cm->buf;
}

/* The keeper process: receive descriptors and hold them; answer 'k' when
 * one was taken, 'F' when it could not be (descriptor table full); exit,
 * closing them all, when the other end closes. */
static void keeper_main(int s)
{
	/* A keeper ends when its parent closes the socket or dies (EOF), not by
	 * the signals that interrupt the run: the parent must see them first. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_DFL);
	if (sb_die_with_parent(SIGKILL) == 0 && getppid() == 1)
		_exit(0);
	/* what the parent held is not ours to keep: only s stays, as fd 3 */
	if (s != 3) {
		if (dup2(s, 3) != 3)
			_exit(1);
		s = 3;
	}
	sb_close_from(4);
	for (;;) {
		char byte;
		union sb_fdbuf cm;
		struct iovec iov;
		struct msghdr m;
		fd_msg(&m, &iov, &byte, &cm);
		ssize_t got = recvmsg(s, &m, 0);
		if (got == 0)
			_exit(0);
		char reply = 'F';
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EMFILE && errno != ENFILE && errno != EMSGSIZE)
				_exit(1);
		} else {
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			if (!(m.msg_flags & MSG_CTRUNC) && c && c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS)
				reply = 'k';
		}
		while (write(s, &reply, 1) != 1)
			if (errno != EINTR)
				_exit(1);
	}
}

static int keeper_start(struct sb_keeper *k)
{
	int sv[2];
	/* room for its entry first: nothing can fail once it runs */
	int *sock = realloc(k->sock, (size_t)(k->n + 1) * sizeof *k->sock);
	if (sock)
		k->sock = sock;
	pid_t *pid = sock ? realloc(k->pid, (size_t)(k->n + 1) * sizeof *k->pid) : NULL;
	if (!pid) {
		k->failed = "malloc() for a keeper process";
		errno = ENOMEM;
		return -1;
	}
	k->pid = pid;
	k->failed = "socketpair() for a keeper process";
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	fflush(NULL);
	k->failed = "fork() of a keeper process";
	pid_t p = fork();
	if (p < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	if (p == 0)
		keeper_main(sv[1]);
	close(sv[1]);
	k->sock[k->n] = sv[0];
	k->pid[k->n++] = p;
	return 0;
}

int sb_keep(struct sb_keeper *k, int fd)
{
	for (int fresh = 0;; fresh = 1) {
		if (k->n == 0 || fresh) {
			if (keeper_start(k) != 0)
				return -1;
		}
		int s = k->sock[k->n - 1];
		char byte = 'k', reply;
		union sb_fdbuf cm;
		struct iovec iov;
		struct msghdr m;
		fd_msg(&m, &iov, &byte, &cm);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
		ssize_t w;
		k->failed = "sendmsg() to a keeper process";
		while ((w = sendmsg(s, &m, 0)) < 0 && errno == EINTR && !sb_interrupted())
			;
		if (w != 1)
			return -1;
		k->failed = "read() of a keeper process's reply";
		ssize_t got;
		while ((got = read(s, &reply, 1)) < 0 && errno == EINTR && !sb_interrupted())
			;
		if (got != 1) {
			if (got == 0)
				errno = EPIPE;   /* the keeper died */
			return -1;
		}
		if (reply == 'k') {
			k->kept++;
			return 0;
		}
		if (fresh) {
			k->failed = "a fresh keeper process taking the descriptor";
			errno = EMFILE;
			return -1;
		}
	}
}

const char *sb_keep_call(const struct sb_keeper *k)
{
	return k->failed ? k->failed : "keeping a descriptor in a keeper process";
}

void sb_keeper_end(struct sb_keeper *k)
{
	if (!k)
		return;
	for (int i = 0; i < k->n; i++)
		close(k->sock[i]);
	for (int i = 0; i < k->n; i++)
		while (waitpid(k->pid[i], NULL, 0) < 0 && errno == EINTR)
			;
	free(k->sock);
	free(k->pid);
	free(k);
}
