/*
 * httpbench - connect() latency and HTTP request latency against any
 * HTTP/1.x server while n other connections to it are open and idle.
 * Method: docs/bench/httpbench.md. Output: docs/format.md.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char usage[] =
	"usage: httpbench [-c count] [-i interval] [-s samples] [-k] [-h] URL\n"
	"  -c count     idle connections to open and keep open (default 10000)\n"
	"  -i interval  take a sample every interval connections (default 10)\n"
	"  -s samples   requests per sample (default 5)\n"
	"  -k           keep-alive: a sample's requests share one connection\n"
	"               (default: each request on a fresh connection, Connection: close)\n"
	"  URL          http://host[:port][/path], host a name, IPv4 or [IPv6] address\n"
	"Rows: n connect_ns - - for each idle connection, n - sample_connect_ns request_ns\n"
	"for each sample request (sample_connect_ns '-' when the connection was reused);\n"
	"n = connections open and idle before the operation.\n";

enum { TIMEOUT_MS = 10000, STALL_NS = 200000000, HEAD_MAX = 65536 };

static const char *bench = "httpbench";
static struct addrinfo *target;
static unsigned nsrc = 1, next_src;     /* source addresses 127.0.0.1 .. 127.0.0.nsrc */
static char why[512];                   /* why a request failed */

/* Opens a TCP connection to the target, timing connect() until the
 * connection is established (*t0, *t1: the stamps). Returns the descriptor (blocking, SO_LINGER 0
 * so that close() leaves no TIME_WAIT behind), or -1 with errno and *call
 * naming the call that failed. */
static int open_conn(sb_tick *t0, sb_tick *t1, const char **call)
{
	int fd = socket(target->ai_family, SOCK_STREAM, 0), fl = -1, rc;
	*call = "socket()";
	if (fd < 0)
		return -1;
	*call = "fcntl()";
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		goto fail;
	*call = "bind()";
	if (nsrc > 1 && sb_bind_loopback_source(fd, next_src++ % nsrc) != 0)
		goto fail;
	*call = "connect()";
	*t0 = sb_ticks();
	rc = connect(fd, target->ai_addr, target->ai_addrlen);
	if (rc != 0 && errno == EINPROGRESS) {
		struct pollfd p = { fd, POLLOUT, 0 };
		while ((rc = poll(&p, 1, TIMEOUT_MS)) < 0 && errno == EINTR && !sb_interrupted())
			;
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc > 0) {
			int err = 0;
			socklen_t len = sizeof err;
			rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (rc == 0 && err) {
				errno = err;
				rc = -1;
			}
		} else {
			rc = -1;
		}
	}
	*t1 = sb_ticks();
	if (rc != 0)
		goto fail;
	struct linger lg = { 1, 0 };
	struct timeval tv = { TIMEOUT_MS / 1000, 0 };
	*call = "setsockopt()";
	if (fcntl(fd, F_SETFL, fl) != 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Ends the run at a failed connect(). A refused connection after others
 * succeeded is a failure, not a limit: a full listen backlog drops SYNs
 * (ETIMEDOUT) unless the kernel is told to refuse them instead (Linux
 * net.ipv4.tcp_abort_on_overflow=1); otherwise the listener went away. */
static void connect_failed(struct sb *r, const char *call, uint64_t n, int err, const char *addr, const char *port)
{
	char v[16];
	int refuses_on_overflow = sb_sysctl("net.ipv4.tcp_abort_on_overflow", v, sizeof v) == 0 && atoi(v) != 0;
	if (err == ETIMEDOUT)
		sb_stop_limit(r, call, n, err, "no connection within 10 s: the server's listen backlog is full "
			      "or it stopped accepting");
	else if (err == ECONNREFUSED && n == 0)
		sb_fail(r, n, "%s to %s port %s: ECONNREFUSED (nothing listens there)", call, addr, port);
	else if (err == ECONNREFUSED && !refuses_on_overflow)
		sb_fail(r, n, "%s to %s port %s: ECONNREFUSED (the server stopped listening after %llu "
			"connections had succeeded)", call, addr, port, (unsigned long long)n);
	else
		sb_stop(r, call, n, err, NULL);
}

/* One request's deadline: SIGALRM TIMEOUT_MS after it starts (armed before
 * the timed window, disarmed after it, so no call is added inside), which
 * interrupts a blocked send() or read() however slowly the server drips its
 * answer; SO_RCVTIMEO alone bounds each read, not the request. */
static volatile sig_atomic_t request_late;

static void on_alarm(int sig)
{
	(void)sig;
	request_late = 1;
}

static void request_deadline(int on)
{
	struct itimerval it;
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = on ? TIMEOUT_MS / 1000 : 0;
	request_late = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Finds header name in the head [h, end): its value, or NULL. */
static const char *header(const char *h, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(h, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			*vlen = strcspn(v, "\r");
			return v;
		}
	}
	return NULL;
}

/* Sends the request and reads one whole response: status 200, the head,
 * then exactly Content-Length body bytes. Returns 0; 1 when the server
 * closes the connection after it; -1 with why[] set (errno ETIMEDOUT when
 * nothing came in time, EINTR when interrupted, 0 when the reply was wrong). */
static int request(int fd, const char *req, size_t reqlen, char *buf, char *server, size_t slen)
{
	size_t off = 0, have = 0;
	while (off < reqlen) {
		ssize_t w = send(fd, req + off, reqlen - off, SB_MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR && !request_late && !sb_interrupted())
			continue;
		if (w < 0) {
			int e = request_late ? EAGAIN : errno;
			snprintf(why, sizeof why, "send(): %s", strerror(e));
			errno = e == EAGAIN || e == EWOULDBLOCK ? ETIMEDOUT : e;
			return -1;
		}
		off += (size_t)w;
	}
	long long body = -1, got = 0;
	int closes = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, HEAD_MAX - 1 - have);
		if (n < 0 && errno == EINTR && !request_late && !sb_interrupted())
			continue;
		if (n < 0) {
			int e = request_late ? EAGAIN : errno;
			if (e == EAGAIN || e == EWOULDBLOCK)
				snprintf(why, sizeof why, "no complete response within %d s (%zu bytes came)",
					 TIMEOUT_MS / 1000, have + (size_t)(got > 0 ? got : 0));
			else
				snprintf(why, sizeof why, "read(): %s", strerror(e));
			errno = e == EAGAIN || e == EWOULDBLOCK ? ETIMEDOUT : e;
			return -1;
		}
		if (n == 0) {
			if (body < 0)
				snprintf(why, sizeof why, "the server closed the connection after %zu bytes, "
					 "before the end of the response head", have);
			else
				snprintf(why, sizeof why, "short body: the server closed the connection after %lld "
					 "of %lld body bytes", got, body);
			errno = 0;
			return -1;
		}
		if (body >= 0) {   /* in the body: count and discard */
			got += n;
		} else {
			have += (size_t)n;
			buf[have] = 0;
			char *end = strstr(buf, "\r\n\r\n");   /* stops at a NUL: */
			if (!end && memchr(buf, 0, have)) {
				snprintf(why, sizeof why, "a NUL byte in the response head");
				errno = 0;
				return -1;
			}
			if (!end) {
				if (have == HEAD_MAX - 1) {
					snprintf(why, sizeof why, "response head longer than %d bytes", HEAD_MAX - 1);
					errno = 0;
					return -1;
				}
				continue;
			}
			end[2] = 0;
			int code = 0;
			if (strncmp(buf, "HTTP/1.", 7) != 0 || !(buf[7] == '0' || buf[7] == '1') ||
			    sscanf(buf + 8, " %3d", &code) != 1 || code != 200) {
				snprintf(why, sizeof why, "status line '%.60s' is not HTTP/1.x 200",
					 strtok(buf, "\r"));
				errno = 0;
				return -1;
			}
			size_t vl;
			const char *v = header(buf, "Content-Length", &vl);
			char *e;
			if (!v || vl == 0 || strspn(v, "0123456789") != vl ||
			    (body = strtoll(v, &e, 10)) < 0 || e != v + vl) {
				snprintf(why, sizeof why, "response without a valid Content-Length (chunked or "
					 "close-delimited bodies are not supported)");
				errno = 0;
				return -1;
			}
			v = header(buf, "Connection", &vl);
			closes = (v && vl == 5 && strncasecmp(v, "close", 5) == 0) || buf[7] == '0';
			if (server && !server[0] && (v = header(buf, "Server", &vl)))
				snprintf(server, slen, "%.*s", (int)(vl < 100 ? vl : 100), v);
			got = (long long)(have - (size_t)(end + 4 - buf));
			have = 0;
		}
		if (got > body) {
			snprintf(why, sizeof why, "%lld bytes after a body of Content-Length %lld", got - body, body);
			errno = 0;
			return -1;
		}
		if (got == body)
			return closes;
	}
}

/* ---- arguments: the URL ---- */
struct url {
	char host[256], port[16];
	const char *path;       /* "/..." */
	const char *auth;       /* host[:port] as given, for the Host: header */
	size_t alen;
};

/* http://host[:port][/path], or a one-line usage error. */
static void parse_url(const char *url, struct url *u)
{
	if (strncmp(url, "http://", 7) != 0)
		sb_usage_error(bench, "'%s' is not an http:// URL", url);
	const char *auth = url + 7, *slash = strchr(auth, '/');
	size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
	const char *hend;
	u->auth = auth;
	u->alen = alen;
	u->path = slash ? slash : "/";
	snprintf(u->port, sizeof u->port, "80");
	if (auth[0] == '[') {
		hend = memchr(auth, ']', alen);
		if (!hend || hend == auth + 1 || (size_t)(hend - auth - 1) >= sizeof u->host)
			sb_usage_error(bench, "'%s': bad [IPv6] address", url);
		memcpy(u->host, auth + 1, (size_t)(hend - auth - 1));
		u->host[hend - auth - 1] = 0;
		hend++;
	} else {
		hend = memchr(auth, ':', alen);
		if (!hend)
			hend = auth + alen;
		if (hend == auth || (size_t)(hend - auth) >= sizeof u->host)
			sb_usage_error(bench, "'%s': no host", url);
		memcpy(u->host, auth, (size_t)(hend - auth));
		u->host[hend - auth] = 0;
	}
	if (hend < auth + alen) {
		size_t plen = (size_t)(auth + alen - hend - 1);
		if (*hend != ':' || plen == 0 || plen > 5 || strspn(hend + 1, "0123456789") < plen ||
		    atoi(hend + 1) > 65535)
			sb_usage_error(bench, "'%s': bad port", url);
		memcpy(u->port, hend + 1, plen);
		u->port[plen] = 0;
	}
	for (const char *p = u->path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			sb_usage_error(bench, "'%s': the path has spaces or control characters", url);
}

/* ---- setup: the server's address ---- */
/* Resolves host and port; a name may have several addresses (localhost:
 * ::1 and 127.0.0.1): target is the first that takes a connection (else the
 * first). Returns the list to free, or NULL after printing the error. */
static struct addrinfo *resolve(const struct url *u, char *addr, size_t alen)
{
	struct addrinfo hints, *all;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int gai = getaddrinfo(u->host, u->port, &hints, &all);
	if (gai != 0) {
		fprintf(stderr, "%s: %s: %s\n", bench, u->host, gai_strerror(gai));
		return NULL;
	}
	struct addrinfo *ai = all;
	for (; ai; ai = ai->ai_next) {
		const char *call;
		sb_tick t0, t1;
		target = ai;
		int fd = open_conn(&t0, &t1, &call);
		if (fd >= 0) {
			close(fd);
			break;
		}
	}
	if (!ai)
		target = all;
	snprintf(addr, alen, "?");
	getnameinfo(target->ai_addr, target->ai_addrlen, addr, (socklen_t)alen, NULL, 0, NI_NUMERICHOST);
	return all;
}

/* ---- what the measuring phase works with ---- */
struct load {
	struct sb *r;
	const struct sb_clock *ck;
	const char *addr, *port;
	char *req, *buf;        /* the request; a buffer for a response head */
	size_t reqlen;
	long long samples;
	int keep;
	int *fds;               /* idle connections held here ... */
	long long held, local_max;
	struct sb_keeper *kp;   /* ... and those beyond local_max, in keepers */
	long long slow_connect, slow_request;
	char server[128];
};

/* ---- measure: one sample, one idle connection ---- */
/* samples requests while n connections are idle: each on a fresh
 * connection (its connect() timed too), or with -k on one kept alive. */
static void take_sample(struct load *l, uint64_t n)
{
	int sfd = -1;
	for (long long s = 0; s < l->samples && !sb_ended(l->r); s++) {
		const char *call;
		sb_tick c0 = 0, c1 = 0;
		int fresh = sfd < 0;
		if (fresh && (sfd = open_conn(&c0, &c1, &call)) < 0) {
			connect_failed(l->r, strcmp(call, "connect()") ? call : "sample connect()", n, errno, l->addr,
				       l->port);
			break;
		}
		request_deadline(1);
		sb_tick t0 = sb_ticks();
		int rc = request(sfd, l->req, l->reqlen, l->buf, l->server, sizeof l->server);
		sb_tick t1 = sb_ticks();
		int e = errno;
		request_deadline(0);
		errno = e;
		if (rc < 0) {
			if (errno == ETIMEDOUT)
				sb_stop_limit(l->r, "request", n, errno, "no response within 10 s for the whole "
					      "request: the server is not serving more connections (its descriptor "
					      "limit?) or stalled");
			else if (errno)
				sb_stop(l->r, "request", n, errno, why);
			else
				sb_fail(l->r, n, "request: %s", why);
			break;
		}
		size_t row = sb_row(l->r, n);
		if (fresh)
			sb_put_ticks(l->r, row, 2, c0, c1);
		sb_put_ticks(l->r, row, 3, t0, t1);
		l->slow_connect += fresh && c1 > c0 && sb_ticks_to_ns(l->ck, (double)(c1 - c0)) > STALL_NS;
		l->slow_request += t1 > t0 && sb_ticks_to_ns(l->ck, (double)(t1 - t0)) > STALL_NS;
		if (!l->keep || rc == 1 || s == l->samples - 1) {
			close(sfd);
			sfd = -1;
		}
	}
	if (sfd >= 0)
		close(sfd);
}

/* One more idle connection, its connect() timed, then held here or handed
 * to a keeper process. Returns 0, or -1 when the run ended. */
static int open_idle(struct load *l, uint64_t n)
{
	const char *call;
	sb_tick t0, t1;
	int fd = open_conn(&t0, &t1, &call);
	if (fd < 0) {
		connect_failed(l->r, call, n, errno, l->addr, l->port);
		return -1;
	}
	sb_put_ticks(l->r, sb_row(l->r, n), 1, t0, t1);
	l->slow_connect += t1 > t0 && sb_ticks_to_ns(l->ck, (double)(t1 - t0)) > STALL_NS;
	if (l->held < l->local_max) {
		l->fds[l->held++] = fd;
		return 0;
	}
	int rc = sb_keep(l->kp, fd), e = errno;
	close(fd);
	if (rc != 0) {
		sb_stop(l->r, sb_keep_call(l->kp), n, e, NULL);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* ---- arguments ---- */
	long long count = 10000, interval = 10, samples = 5;
	int keep = 0, opt;
	while ((opt = sb_getopt(bench, argc, argv, "c:i:s:kh")) != -1) {
		switch (opt) {
		case 'c': count = sb_number(bench, 'c', optarg, 1, 10000000); break;
		case 'i': interval = sb_number(bench, 'i', optarg, 1, 10000000); break;
		case 's': samples = sb_number(bench, 's', optarg, 1, 10000); break;
		case 'k': keep = 1; break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	const char *url = sb_operand(bench, argc, argv, "URL");
	struct url u;
	parse_url(url, &u);

	/* ---- setup: the target, the header, sources, limits, buffers ---- */
	char addr[INET6_ADDRSTRLEN];
	struct addrinfo *all = resolve(&u, addr, sizeof addr);
	if (!all)
		return SB_EXIT_FAIL;
	struct sb *r = sb_init(bench, "n connect_ns sample_connect_ns request_ns", argc, argv);
	long long points = (count + interval - 1) / interval;
	sb_meta(r, "count", "%lld", count);
	sb_meta(r, "url", "%s", url);
	sb_meta(r, "target", "%s port %s", addr, u.port);
	sb_meta(r, "sampling", "every %lld connections, %lld requests per sample, %s", interval, samples,
		keep ? "keep-alive (one connection per sample)" : "one fresh connection per request (Connection: close)");
	/* Beyond one ephemeral port range: spread over loopback sources. */
	int loop4 = target->ai_family == AF_INET &&
		    (ntohl(((struct sockaddr_in *)target->ai_addr)->sin_addr.s_addr) >> 24) == 127;
	if (loop4)
		nsrc = sb_loopback_sources(r, count);
	else
		sb_meta(r, "sources", "one address, chosen by the kernel, as is the port");
	long long soft = sb_raise_nofile(r, count + 64);

	/* Connections held here: all but 64 descriptors (stdio, the sample
	 * connection, one socket per keeper process), none below 64; the rest
	 * go to keeper processes. */
	long long local_max = soft < 0 ? count : soft > 64 ? soft - 64 : 0;
	struct load l = {
		.r = r, .ck = sb_clock(r), .addr = addr, .port = u.port, .samples = samples, .keep = keep,
		.local_max = local_max < count ? local_max : count, .kp = sb_keeper_new(r),
	};
	l.req = l.kp ? sb_alloc(r, strlen(u.path) + strlen(u.host) + 200, 1, "the request") : NULL;
	l.buf = l.req ? sb_alloc(r, HEAD_MAX, 1, "the response") : NULL;
	l.fds = l.buf ? sb_alloc(r, (size_t)l.local_max, sizeof *l.fds, "descriptors") : NULL;
	if (l.fds && sb_reserve(r, (size_t)(count + points * samples)) == 0)
		l.reqlen = (size_t)sprintf(l.req, "GET %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: "
					   "scalebench-httpbench\r\n%s\r\n", u.path, (int)u.alen, u.auth,
					   keep ? "" : "Connection: close\r\n");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;       /* no SA_RESTART: the blocked call returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	/* ---- measure: every interval connections a sample, then one more idle
	 * connection, until count are open ---- */
	for (long long open_n = 0; open_n < count && !sb_ended(r); open_n++) {
		if (open_n % interval == 0)
			take_sample(&l, (uint64_t)open_n);
		if (sb_ended(r) || open_idle(&l, (uint64_t)open_n) != 0)
			break;
	}

	/* ---- print ---- */
	sb_meta(r, "connections_held", "%lld in this process, %lld in %d keeper process%s", l.held,
		sb_kept(l.kp), sb_keepers(l.kp), sb_keepers(l.kp) == 1 ? "" : "es");
	/* Were the idle connections still open at the end? A server with an
	 * idle timeout closes them (readable: end of file), and then n was not
	 * what it says. Those held here are looked at (after measuring). */
	long long gone = 0;
	for (long long i = 0; i < l.held; i++) {
		struct pollfd p = { l.fds[i], POLLIN, 0 };
		gone += poll(&p, 1, 0) > 0;
	}
	if (gone)
		sb_fail(r, (uint64_t)count, "the server closed %lld of the %lld idle connections held here "
			"(an idle timeout? tools/httpd keeps them with -t 0)", gone, l.held);
	sb_meta(r, "server", "%s", l.server[0] ? l.server : "(no Server header)");
	sb_meta(r, "slow_over_200ms", "connect %lld, request %lld (kept as measured: probable SYN or data "
		"retransmits)", l.slow_connect, l.slow_request);
	for (long long i = 0; i < l.held; i++)
		close(l.fds[i]);
	sb_keeper_end(l.kp);
	free(l.fds);
	free(l.req);
	free(l.buf);
	freeaddrinfo(all);
	return sb_finish(r);
}
