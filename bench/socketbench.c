/*
 * socketbench - latency of socket() and of bind() to port 0 as the number of
 * sockets (and of bound ports) the process already holds grows.
 * Method: docs/bench/socketbench.md. Output: docs/format.md.
 */
#include "sb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
	"usage: socketbench [-c count] [-6] [-h]\n"
	"  -c count  sockets to create, then bind (default 10000)\n"
	"  -6        IPv6 (bound to ::1, IPV6_V6ONLY set) instead of IPv4 (127.0.0.1)\n"
	"Rows: n socket_ns bind_ns, n = sockets (bound sockets) that existed before the call.\n";

int main(int argc, char **argv)
{
	long long count = 10000;
	int v6 = 0, opt;
	while ((opt = sb_getopt("socketbench", argc, argv, "c:6h")) != -1) {
		switch (opt) {
		case 'c': count = sb_number("socketbench", 'c', optarg, 1, 100000000); break;
		case '6': v6 = 1; break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	sb_operand("socketbench", argc, argv, NULL);

	struct sb *r = sb_init("socketbench", "n socket_ns bind_ns", argc, argv);
	sb_meta(r, "count", "%lld", count);
	sb_meta(r, "family", "%s", v6 ? "inet6, IPV6_V6ONLY set, bound to ::1 port 0"
				     : "inet, bound to 127.0.0.1 port 0");
	sb_raise_nofile(r, count);
	int *fds = sb_alloc(r, (size_t)count, sizeof *fds, "descriptors");
	if (!fds || sb_reserve(r, (size_t)count) != 0) {
		free(fds);
		return sb_finish(r);
	}

	struct sockaddr_storage ss;
	socklen_t sslen;
	memset(&ss, 0, sizeof ss);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sslen = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sslen = sizeof *a;
	}

	/* Phase 1: socket(), n = sockets already open. */
	long long made = 0;
	while (made < count && !sb_interrupted()) {
		sb_tick t0 = sb_ticks();
		int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
		sb_tick t1 = sb_ticks();
		if (fd < 0) {
			sb_stop(r, "socket()", (uint64_t)made, errno, NULL);
			break;
		}
		sb_put_ticks(r, sb_row(r, (uint64_t)made), 1, t0, t1);
		fds[made++] = fd;
		int on = 1;
		if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
			sb_stop(r, "setsockopt(IPV6_V6ONLY)", (uint64_t)made, errno, NULL);
			break;
		}
	}

	/* Phase 2: bind() to port 0 on each socket made, n = sockets already
	 * bound. It runs even if phase 1 stopped at a limit, over what exists. */
	for (long long i = 0; i < made && !sb_interrupted(); i++) {
		sb_tick t0 = sb_ticks();
		int rc = bind(fds[i], (struct sockaddr *)&ss, sslen);
		sb_tick t1 = sb_ticks();
		if (rc != 0) {
			sb_stop(r, "bind()", (uint64_t)i, errno, NULL);
			break;
		}
		sb_put_ticks(r, (size_t)i, 2, t0, t1);
	}

	for (long long i = 0; i < made; i++)
		if (close(fds[i]) != 0)
			sb_stop(r, "close()", (uint64_t)i, errno, NULL);
	free(fds);
	return sb_finish(r);
}
