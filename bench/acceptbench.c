/*
 * acceptbench - time from connect() to accept() returning the connection,
 * as the number of connections already established and accepted grows.
 * Method: docs/bench/acceptbench.md. Output: docs/format.md.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
	"usage: acceptbench [-c count] [-h]\n"
	"  -c count  connections to make and accept, all kept open (default 10000)\n"
	"Rows: n accept_ns, n = connections established and accepted before this one;\n"
	"accept_ns runs from the client's connect() to the server's accept() returning it\n"
	"(both ends in this one process).\n";

enum { TIMEOUT_MS = 10000 };

static const char *bench = "acceptbench";

int main(int argc, char **argv)
{
	long long count = 10000;
	int opt;
	while ((opt = sb_getopt(bench, argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c': count = sb_number(bench, 'c', optarg, 1, 10000000); break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	sb_operand(bench, argc, argv, NULL);

	struct sb *r = sb_init(bench, "n accept_ns", argc, argv);
	sb_meta(r, "count", "%lld", count);
	unsigned nsrc = sb_loopback_sources(r, count);
	long long soft = sb_raise_nofile(r, 2 * count + 64);
	/* Server ends kept here: all but 64 descriptors (stdio, the listener,
	 * the connection under way, one socket per keeper process), none
	 * below 64; the rest go to keepers. */
	long long local_max = soft < 0 ? count : soft > 64 ? soft - 64 : 0;
	if (local_max > count)
		local_max = count;
	sb_meta(r, "method", "one process: non-blocking connect() to 127.0.0.1, poll() on the listening "
		"socket, accept(); client ends (and server ends past the descriptor limit) held by keeper processes");
	struct sb_keeper *kp = sb_keeper_new(r);
	long long held = 0, made = 0;
	int *fds = kp ? sb_alloc(r, (size_t)local_max, sizeof *fds, "descriptors") : NULL, lfd = -1;
	if (!fds || sb_reserve(r, (size_t)count) != 0)
		goto out;

	/* The listener: 127.0.0.1, a free port, the deepest backlog allowed
	 * (every kernel clamps INT_MAX to its maximum). */
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fl;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, INT_MAX) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0 || (fl = fcntl(lfd, F_GETFL)) < 0 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0) {
		sb_stop(r, "setting up the listening socket", 0, errno, NULL);
		goto out;
	}
	sb_meta(r, "listener", "127.0.0.1 port %u, listen(INT_MAX)", (unsigned)ntohs(sa.sin_port));

	struct linger lg = { 1, 0 };   /* close() without TIME_WAIT */
	while (made < count && !sb_interrupted()) {
		uint64_t n = (uint64_t)made;
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0) {
			sb_stop(r, "socket()", n, errno, NULL);
			break;
		}
		if ((fl = fcntl(c, F_GETFL)) < 0 || fcntl(c, F_SETFL, fl | O_NONBLOCK) != 0 ||
		    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) {
			sb_stop(r, "fcntl()/setsockopt()", n, errno, NULL);
			close(c);
			break;
		}
		if (nsrc > 1 && sb_bind_loopback_source(c, (unsigned)(made % nsrc)) != 0) {
			sb_stop(r, "bind()", n, errno, NULL);
			close(c);
			break;
		}
		sb_tick t0 = sb_ticks();
		int rc = connect(c, (struct sockaddr *)&sa, sizeof sa);
		if (rc != 0 && errno != EINPROGRESS) {
			sb_stop(r, "connect()", n, errno, NULL);
			close(c);
			break;
		}
		struct pollfd p = { lfd, POLLIN, 0 };
		while ((rc = poll(&p, 1, TIMEOUT_MS)) < 0 && errno == EINTR && !sb_interrupted())
			;
		int s = rc > 0 ? accept(lfd, NULL, NULL) : -1;
		sb_tick t1 = sb_ticks();
		if (rc <= 0 || s < 0) {
			if (rc == 0)
				sb_stop_limit(r, "accept()", n, ETIMEDOUT, "no connection arrived within 10 s: "
					      "the listen backlog is full or SYNs are dropped");
			else
				sb_stop(r, rc < 0 ? "poll()" : "accept()", n, errno, NULL);
			close(c);
			break;
		}
		sb_put_ticks(r, sb_row(r, n), 1, t0, t1);
		made++;
		/* Keep both ends open: the client end in a keeper, the server end
		 * here while it fits. */
		int e = 0;
		if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
			e = errno;
		else if (sb_keep(kp, c) != 0)
			e = errno;
		close(c);
		if (!e && held < local_max) {
			fds[held++] = s;
			continue;
		}
		if (!e && sb_keep(kp, s) != 0)
			e = errno;
		close(s);
		if (e) {
			sb_stop(r, sb_keep_call(kp), n + 1, e, NULL);
			break;
		}
	}
	sb_meta(r, "connections_held", "%lld server ends in this process, %lld descriptors in %d keeper process%s",
		held, sb_kept(kp), sb_keepers(kp), sb_keepers(kp) == 1 ? "" : "es");
out:
	for (long long i = 0; i < held; i++)
		close(fds[i]);
	if (lfd >= 0)
		close(lfd);
	sb_keeper_end(kp);
	free(fds);
	return sb_finish(r);
}
