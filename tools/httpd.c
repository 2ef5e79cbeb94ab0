/*
 * httpd - a small event-driven static-file HTTP/1.1 server: the target of
 * httpbench. It is a server, not a benchmark: it prints no result file.
 * Method and safety rules: docs/tools/httpd.md.
 *
 * One process (or -w N identical worker processes sharing the listening
 * socket, for more connections than one process's RLIMIT_NOFILE), non-blocking
 * sockets, one event loop per process over any mechanism of lib/events.h
 * (-e: epoll, kqueue, io_uring, poll, select). GET and HEAD of regular files
 * under the document root, keep-alive, pipelining, sendfile where the OS has it.
 */
#include "sb.h"
#include "events.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: httpd [-e mech] [-l addr] [-p port] [-r docroot] [-P pidfile] [-t idle] [-w workers] [-h]\n"
	"  -e mech     event mechanism: epoll, kqueue, io_uring, poll or select, where the OS\n"
	"              has it (default: epoll or kqueue where the OS has one, else poll)\n"
	"  -l addr     numeric address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
	"  -p port     port (default 0: the kernel picks a free one)\n"
	"  -r docroot  directory whose regular files are served (default .)\n"
	"  -P pidfile  write the process id there once listening; removed at exit\n"
	"  -t idle     close a connection idle (no request under way) for idle seconds\n"
	"              (default 60; 0: never, as httpbench's idle connections need)\n"
	"  -w workers  processes sharing the listening socket (default 1), for more\n"
	"              connections than one process's descriptor limit allows\n"
	"Once listening it prints 'listening ADDR PORT BACKEND'. SIGTERM ends it (exit 0).\n";

enum { REQ_MAX = 8192, TIMEOUT_S = 10, ACCEPT_BATCH = 64, SPARE_FDS = 32 };
enum { ST_READ, ST_SEND };
enum { EV_R = SB_EV_READ, EV_W = SB_EV_WRITE };

struct conn {
	int fd;                  /* -1: slot free */
	int file;                /* the file being sent, or -1 */
	int state;
	int close_after;         /* close once the response is sent */
	int drain;               /* and read what the client sent first (after an error) */
	int head;                /* the request is a HEAD: no body in the answer */
	struct queue *on;        /* the deadline queue it is on, or NULL */
	char *req;               /* request bytes (allocated while a request is under way) */
	size_t len;
	char hdr[512];           /* the response head (and a short error body) */
	size_t hlen, hpos;
	off_t off, end;          /* body bytes left to send: [off, end) of file */
	time_t deadline;
	struct conn *prev, *next;
};

static struct conn *conns;   /* indexed by descriptor */
static int nconns_max;       /* size of conns: the soft RLIMIT_NOFILE */
static int nconn, cap;       /* connections open; most this process takes */
static int lfd, rootfd, listening = 1;
static const struct sb_ev_mech *mech;   /* -e */
static struct sb_ev *ev;                /* this process's watched set */
static time_t paused_until;  /* accept() hit a system limit: retry then */
/* Deadline queues, oldest first: busy = a request under way (TIMEOUT_S from
 * its first byte until its response is sent), idle = between requests
 * (idle_s, -t; 0 = never). */
struct queue { struct conn *head, *tail; };
static struct queue busy, idle;
static int idle_s = 60;
static int sigpipe_fd[2];
static volatile sig_atomic_t got_sig;

static void on_signal(int sig)
{
	int saved = errno;
	if (sig != SIGCHLD)
		got_sig = sig;
	ssize_t w = write(sigpipe_fd[1], "x", 1);   /* wakes the event loop */
	(void)w;
	errno = saved;
}

static void die(const char *what)
{
	fprintf(stderr, "httpd: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ======================= the event loop's calls =======================
 * The mechanism is lib/events.h's; ev_set(fd, mask) says what to wait for
 * (EV_R, EV_W, 0 = nothing); ev_wait() waits and calls handle(fd, mask)
 * for every ready descriptor. */
static void handle(int fd, int mask);

static void ev_set(int fd, int mask)
{
	if (sb_ev_watch(ev, fd, mask) != 0)
		die(sb_ev_failed(ev));
}

/* timeout_ms < 0: no timeout. Returns after handling what was ready. */
static void ev_wait(int timeout_ms)
{
	int fd, mask, k;
	sb_ev_prepare(ev, timeout_ms);
	if (sb_ev_wait(ev) < 0 && errno != EINTR)
		die(sb_ev_failed(ev));
	while ((k = sb_ev_next(ev, &fd, &mask)) > 0)
		handle(fd, mask);
	if (k < 0)
		die(sb_ev_failed(ev));
}

/* ======================= deadlines =======================
 * A connection is on the busy queue from the first byte of a request until
 * its response is sent, on the idle queue between requests (when -t is not
 * 0). Every update sets now + the queue's time and moves it to the tail, so
 * a queue stays sorted and only its head is ever checked. */
static void queue_del(struct conn *c)
{
	struct queue *q = c->on;
	if (!q)
		return;
	if (c->prev) c->prev->next = c->next; else q->head = c->next;
	if (c->next) c->next->prev = c->prev; else q->tail = c->prev;
	c->prev = c->next = NULL;
	c->on = NULL;
}

static void queue_add(struct queue *q, struct conn *c, int secs)
{
	queue_del(c);
	c->deadline = time(NULL) + secs;
	c->prev = q->tail;
	if (q->tail) q->tail->next = c; else q->head = c;
	q->tail = c;
	c->on = q;
}

static void act_touch(struct conn *c)
{
	queue_add(&busy, c, TIMEOUT_S);
}

/* No request under way: the idle time runs (or none, with -t 0). */
static void idle_touch(struct conn *c)
{
	if (idle_s > 0)
		queue_add(&idle, c, idle_s);
	else
		queue_del(c);
}

/* ======================= connections ======================= */
static void listen_on(int on)
{
	if (listening != on) {
		listening = on;
		ev_set(lfd, on ? EV_R : 0);
	}
}

static void conn_close(struct conn *c)
{
	char sink[4096];
	queue_del(c);
	if (sb_ev_forget(ev, c->fd) != 0)
		die(sb_ev_failed(ev));
	/* Read what the client sent after a request we refused, so that
	 * close() does not turn the answer into a reset. */
	if (c->drain) {
		shutdown(c->fd, SHUT_WR);
		for (int i = 0; i < 16 && read(c->fd, sink, sizeof sink) > 0; i++)
			;
	}
	close(c->fd);
	if (c->file >= 0)
		close(c->file);
	free(c->req);
	c->req = NULL;
	c->fd = c->file = -1;
	nconn--;
	if (!listening && nconn < cap && time(NULL) >= paused_until)
		listen_on(1);
}

static void http_date(char *buf, size_t len)
{
	static time_t last;
	static char cached[40];
	time_t now = time(NULL);
	if (now != last) {
		struct tm tm;
		if (!gmtime_r(&now, &tm) || !strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm))
			strcpy(cached, "Thu, 01 Jan 1970 00:00:00 GMT");
		last = now;
	}
	snprintf(buf, len, "%s", cached);
}

/* An error answer with a one-line body. Errors that leave the request
 * stream in doubt (4xx parse errors, 5xx) close the connection. */
static void respond_error(struct conn *c, int code, int keep)
{
	const char *text = code == 400 ? "Bad Request" : code == 404 ? "Not Found" :
			   code == 405 ? "Method Not Allowed" : code == 408 ? "Request Timeout" :
			   code == 414 ? "URI Too Long" : code == 431 ? "Request Header Fields Too Large" :
			   code == 505 ? "HTTP Version Not Supported" : "Service Unavailable";
	char date[40], body[64];
	http_date(date, sizeof date);
	int blen = snprintf(body, sizeof body, "%d %s\n", code, text);
	int n = snprintf(c->hdr, sizeof c->hdr,
			 "HTTP/1.1 %d %s\r\nServer: scalebench-httpd\r\nDate: %s\r\n%s"
			 "Content-Type: text/plain\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s",
			 code, text, date, code == 405 ? "Allow: GET, HEAD\r\n" : "", blen,
			 keep ? "keep-alive" : "close", c->head ? "" : body);
	c->hlen = (size_t)n < sizeof c->hdr ? (size_t)n : sizeof c->hdr - 1;
	c->hpos = 0;
	c->off = c->end = 0;
	c->close_after = c->drain = !keep;
	c->state = ST_SEND;
}

static const char *content_type(const char *name)
{
	static const char *const t[][2] = {
		{ ".html", "text/html" }, { ".htm", "text/html" }, { ".txt", "text/plain" },
		{ ".css", "text/css" }, { ".js", "text/javascript" }, { ".json", "application/json" },
		{ ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".gif", "image/gif" },
		{ ".svg", "image/svg+xml" },
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof t / sizeof t[0]; i++)
		if (strcasecmp(dot, t[i][0]) == 0)
			return t[i][1];
	return "application/octet-stream";
}

/* Opens the regular file at the decoded path under the root, walking
 * it one component at a time with O_NOFOLLOW: no symbolic link is followed,
 * so nothing outside the root can be reached. Returns the descriptor, -1
 * (errno set) when there is none to serve. */
static int open_under_root(char *path, struct stat *st)
{
	int dir = rootfd;
	char *save = NULL, *seg = strtok_r(path, "/", &save);
	if (!seg) {
		errno = ENOENT;   /* the root itself: a directory */
		return -1;
	}
	for (;;) {
		char *next = strtok_r(NULL, "/", &save);
		int fd;
		if (next) {
			fd = openat(dir, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		} else {
			/* O_NONBLOCK: a FIFO opens at once instead of waiting for
			 * a writer; anything but a regular file is then refused */
			fd = openat(dir, seg, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
			if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))) {
				close(fd);
				errno = ENOENT;   /* directories, devices, FIFOs */
				fd = -1;
			}
		}
		int saved = errno;
		if (dir != rootfd)
			close(dir);
		errno = saved;
		if (fd < 0 || !next)
			return fd;
		dir = fd;
		seg = next;
	}
}

static int hexval(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
	       ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Decodes %XX in the path part of target into out. Refuses (returns -1)
 * control bytes, a '#', bad escapes and any "." or ".." segment, decoded or
 * not; the query (after '?') is ignored. */
static int decode_path(const char *t, size_t tlen, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < tlen && t[i] != '?'; i++) {
		int ch = (unsigned char)t[i];
		if (ch == '#')
			return -1;
		if (ch == '%') {
			int hi = i + 2 < tlen ? hexval(t[i + 1]) : -1, lo = i + 2 < tlen ? hexval(t[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -1;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f || o + 1 >= outlen)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = 0;
	for (char *s = out; *s;) {   /* every segment */
		size_t k = strcspn(s, "/");
		if ((k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
			return -1;
		s += k;
		while (*s == '/')
			s++;
	}
	return 0;
}

static int is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Does the comma-separated header value v contain token tok? */
static int has_token(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i < len;) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t j = i;
		while (j < len && v[j] != ',' && v[j] != ' ' && v[j] != '\t')
			j++;
		if (j - i == tl && strncasecmp(v + i, tok, tl) == 0)
			return 1;
		i = j;
	}
	return 0;
}

/* Looks at the request bytes: 0 = incomplete, 1 = a response is prepared
 * (state ST_SEND) and the request consumed. */
static int parse_request(struct conn *c)
{
	char *b = c->req;
	size_t end = 0;
	c->head = 0;
	/* Refuse NUL bytes and bare LF at once; find the blank line. */
	for (size_t i = 0; i < c->len; i++) {
		if (b[i] == 0 || (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))) {
			respond_error(c, 400, 0);
			c->len = 0;
			return 1;
		}
		if (i >= 3 && b[i] == '\n' && b[i - 2] == '\n') {
			end = i + 1;
			break;
		}
	}
	if (!end) {
		if (c->len < REQ_MAX)
			return 0;
		int line_done = 0;
		for (size_t i = 1; i < c->len; i++)
			line_done |= b[i] == '\n';
		respond_error(c, line_done ? 431 : 414, 0);
		c->len = 0;
		return 1;
	}
	b[end - 2] = 0;   /* the request as lines; the rest of the buffer is the next one */

	/* request line: METHOD SP TARGET SP HTTP/x.y */
	char *line = b, *eol = strstr(line, "\r\n");
	if (eol)
		*eol = 0;
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	int code = 0, keep = 1, head = 0, hosts = 0, v11 = 0;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line || sp2 == sp1 + 1)
		code = 400;
	for (char *p = line; !code && p < sp1; p++)
		if (!is_tchar((unsigned char)*p))
			code = 400;
	for (char *p = sp1 + 1; !code && p < sp2; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			code = 400;
	if (!code) {
		const char *v = sp2 + 1;
		if (strcmp(v, "HTTP/1.1") == 0)
			v11 = 1;
		else if (strcmp(v, "HTTP/1.0") == 0)
			keep = 0;
		else if (strncmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
			 v[7] >= '0' && v[7] <= '9' && !v[8])
			code = 505;
		else
			code = 400;
	}
	/* header fields */
	for (char *h = eol ? eol + 2 : NULL; !code && h && *h;) {
		char *e = strstr(h, "\r\n");
		if (e)
			*e = 0;
		char *colon = strchr(h, ':');
		if (!colon || colon == h)
			code = 400;
		for (char *p = h; !code && p < colon; p++)
			if (!is_tchar((unsigned char)*p))
				code = 400;   /* also obsolete line folding */
		if (code)
			break;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		for (char *p = v; *p; p++)
			if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
				code = 400;
		size_t nl = (size_t)(colon - h), vl = strlen(v);
		if (nl == 4 && strncasecmp(h, "host", 4) == 0)
			hosts++;
		else if (nl == 10 && strncasecmp(h, "connection", 10) == 0) {
			if (has_token(v, vl, "close"))
				keep = 0;
			else if (has_token(v, vl, "keep-alive"))
				keep = 1;
		} else if (nl == 17 && strncasecmp(h, "transfer-encoding", 17) == 0)
			code = 400;   /* no request bodies */
		else if (nl == 14 && strncasecmp(h, "content-length", 14) == 0 && strspn(v, "0 \t") != vl)
			code = 400;
		h = e ? e + 2 : NULL;
	}
	if (!code && v11 && hosts != 1)
		code = 400;
	size_t mlen = (size_t)(sp1 - line);
	if (!code) {
		if (mlen == 4 && memcmp(line, "HEAD", 4) == 0)
			head = c->head = 1;
		else if (!(mlen == 3 && memcmp(line, "GET", 3) == 0))
			code = 405;
	}
	char path[1024];
	if (!code && sp2 - sp1 - 1 >= (ptrdiff_t)sizeof path)
		code = 414;   /* a target longer than any path served */
	if (!code && (sp1[1] != '/' || decode_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), path, sizeof path) != 0))
		code = 400;
	struct stat st;
	int fd = -1;
	const char *ctype = code ? "" : content_type(path);
	if (!code && (fd = open_under_root(path, &st)) < 0)
		code = errno == EMFILE || errno == ENFILE || errno == ENOMEM ? 503 : 404;

	/* consume the request, keep what follows (pipelining) */
	memmove(b, b + end, c->len - end);
	c->len -= end;
	if (code) {
		respond_error(c, code, keep && (code == 404 || code == 405));
		return 1;
	}
	char date[40];
	http_date(date, sizeof date);
	int n = snprintf(c->hdr, sizeof c->hdr,
			 "HTTP/1.1 200 OK\r\nServer: scalebench-httpd\r\nDate: %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %lld\r\nConnection: %s\r\n\r\n",
			 date, ctype, (long long)st.st_size, keep ? "keep-alive" : "close");
	c->hlen = (size_t)n;
	c->hpos = 0;
	c->close_after = !keep;
	c->off = 0;
	c->end = head ? 0 : st.st_size;
	if (head)
		close(fd);
	else
		c->file = fd;
	c->state = ST_SEND;
	return 1;
}

/* Sends what it can: 1 = response complete, 0 = would block, -1 = error. */
static int send_some(struct conn *c)
{
	while (c->hpos < c->hlen) {
		/* where the OS has MSG_MORE: head and body in one segment */
		int more = c->off < c->end ? SB_MSG_MORE : 0;
		ssize_t w = send(c->fd, c->hdr + c->hpos, c->hlen - c->hpos, SB_MSG_NOSIGNAL | more);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno == EINTR ? 0 : -1;
		c->hpos += (size_t)w;
	}
	while (c->off < c->end) {
		size_t want = (size_t)(c->end - c->off) < (1u << 20) ? (size_t)(c->end - c->off) : (1u << 20);
		ssize_t w = sb_send_file(c->fd, c->file, &c->off, want);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		if (w == 0)
			return -1;   /* the file shrank: the length sent is wrong now */
	}
	if (c->file >= 0) {
		close(c->file);
		c->file = -1;
	}
	return 1;
}

/* Runs a connection until it has to wait for the network. */
static void serve(struct conn *c)
{
	for (;;) {
		if (c->state == ST_SEND) {
			int r = send_some(c);
			if (r < 0) {
				conn_close(c);
				return;
			}
			if (r == 0) {
				act_touch(c);
				ev_set(c->fd, EV_W);
				return;
			}
			if (c->close_after) {
				conn_close(c);
				return;
			}
			c->state = ST_READ;
			if (c->len) {
				act_touch(c);   /* a pipelined request follows */
			} else {
				idle_touch(c);
				free(c->req);
				c->req = NULL;
			}
			continue;
		}
		if (c->len && parse_request(c))
			continue;
		if (!c->req && !(c->req = malloc(REQ_MAX))) {
			respond_error(c, 503, 0);
			continue;
		}
		ssize_t n = read(c->fd, c->req + c->len, REQ_MAX - c->len);
		if (n > 0) {
			if (!c->len)
				act_touch(c);   /* a request has started: its time runs */
			c->len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			ev_set(c->fd, EV_R);
			return;
		}
		conn_close(c);   /* the client closed or vanished */
		return;
	}
}

static void accept_some(void)
{
	static int warned_select, warned_cap;
	for (int k = 0; k < ACCEPT_BATCH; k++) {
		if (nconn >= cap) {
			if (!warned_cap++)
				fprintf(stderr, "httpd[%ld]: %d connections: at its descriptor limit, not accepting "
					"until one closes\n", (long)getpid(), nconn);
			listen_on(0);
			return;
		}
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				fprintf(stderr, "httpd[%ld]: accept(): %s; pausing for a second\n", (long)getpid(),
					strerror(errno));
				paused_until = time(NULL) + 1;
				listen_on(0);
			}
			return;
		}
		if (fd >= nconns_max || fd >= mech->fd_limit) {
			if (!warned_select++)
				fprintf(stderr, "httpd: %s: descriptor %d is beyond FD_SETSIZE (%d); "
					"refusing connections past it (use -e poll or epoll)\n", mech->name, fd,
					mech->fd_limit);
			close(fd);
			continue;
		}
		int on = 1;   /* an accepted socket's status flags are O_RDWR alone */
		if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) {
			close(fd);
			continue;
		}
		struct conn *c = &conns[fd];
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->file = -1;
		c->state = ST_READ;
		nconn++;
		ev_set(fd, EV_R);
		idle_touch(c);
	}
}

static void handle(int fd, int mask)
{
	if (fd == sigpipe_fd[0]) {
		char buf[64];
		while (read(fd, buf, sizeof buf) > 0)
			;
		return;
	}
	if (fd == lfd) {
		if (listening)
			accept_some();
		return;
	}
	if (fd >= 0 && fd < nconns_max && conns[fd].fd == fd && mask)
		serve(&conns[fd]);
}

/* One process's event loop, until a signal ends it. */
static int run_loop(void)
{
	conns = calloc((size_t)nconns_max, sizeof *conns);
	if (!conns)
		die("calloc");
	for (int i = 0; i < nconns_max; i++)
		conns[i].fd = conns[i].file = -1;
	if (!(ev = sb_ev_new(mech, nconns_max)))
		die(sb_ev_failed(NULL));
	ev_set(sigpipe_fd[0], EV_R);
	ev_set(lfd, EV_R);
	while (!got_sig) {
		time_t now = time(NULL);
		while (idle.head && idle.head->deadline <= now)
			conn_close(idle.head);       /* idle too long (-t): close, nothing to say */
		while (busy.head && busy.head->deadline <= now) {
			struct conn *c = busy.head;   /* too slow: 408 if still reading, then close */
			if (c->state == ST_READ) {
				queue_del(c);
				respond_error(c, 408, 0);
				send_some(c);
			}
			c->close_after = c->drain = 1;
			conn_close(c);
		}
		if (!listening && nconn < cap && now >= paused_until)
			listen_on(1);
		int timeout = -1;
		struct conn *first = busy.head && (!idle.head || busy.head->deadline < idle.head->deadline)
			? busy.head : idle.head;
		if (first)
			timeout = (int)(first->deadline - now) * 1000 + 10;
		if (!listening && paused_until > now && (timeout < 0 || timeout > 1000))
			timeout = 1000;
		ev_wait(timeout);
	}
	for (int fd = 0; fd < nconns_max; fd++)
		if (conns[fd].fd >= 0)
			conn_close(&conns[fd]);
	return 0;
}

/* ======================= starting and stopping ======================= */
struct opts {
	const char *addr, *root, *pidfile;
	long long port, workers;
};

static void parse_args(int argc, char **argv, struct opts *o)
{
	int opt;
	o->addr = "127.0.0.1";
	o->root = ".";
	o->pidfile = NULL;
	o->port = 0;
	o->workers = 1;
	mech = sb_ev_default();
	while ((opt = sb_getopt("httpd", argc, argv, "e:l:p:r:P:t:w:h")) != -1) {
		switch (opt) {
		case 'e':
			if (!(mech = sb_ev_mech(optarg)))
				sb_usage_error("httpd", "-e: '%s' is not epoll, kqueue, io_uring, poll or select", optarg);
			if (!mech->available)
				sb_usage_error("httpd", "-e: %s is not available on this OS", optarg);
			break;
		case 'l': o->addr = optarg; break;
		case 'p': o->port = sb_number("httpd", 'p', optarg, 0, 65535); break;
		case 'r': o->root = optarg; break;
		case 'P': o->pidfile = optarg; break;
		case 't': idle_s = (int)sb_number("httpd", 't', optarg, 0, 86400); break;
		case 'w': o->workers = sb_number("httpd", 'w', optarg, 1, 64); break;
		case 'h': fputs(usage, stdout); exit(0);
		}
	}
	sb_operand("httpd", argc, argv, NULL);
}

/* As many descriptors as permitted: the soft limit up to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit()");
	rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
	while (want > rl.rlim_cur) {
		struct rlimit nl = { want, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0) {
			rl.rlim_cur = want;
			break;
		}
		want /= 2;   /* macOS: capped below an infinite hard limit */
	}
	nconns_max = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
	cap = nconns_max - SPARE_FDS;   /* room for the files being sent */
	if (cap < 1) {
		/* honest capacity: not "listening" with room for nothing */
		fprintf(stderr, "httpd: RLIMIT_NOFILE=%d leaves room for no connection (%d descriptors are kept "
			"for the files being sent): raise it (ulimit -n) to %d or more\n", nconns_max, SPARE_FDS,
			SPARE_FDS + 8);
		exit(1);
	}
}

/* The select backend watches only descriptors below FD_SETSIZE: its
 * connections are those numbers not in use now (counted one by one: a
 * descriptor inherited above the lowest free one takes a number too). Caps
 * cap to that and says so; 1 when that leaves none. A file opened for
 * sending can still take a number below FD_SETSIZE later, so an accepted
 * descriptor past it is refused where it is accepted (accept_some). */
static int cap_fd_limit(char *note, size_t len)
{
	note[0] = 0;
	if (mech->fd_limit >= nconns_max)
		return 0;
	int room = 0;
	for (int fd = 0; fd < mech->fd_limit; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			room++;
	if (room < 1) {
		fprintf(stderr, "httpd: %s watches descriptors below FD_SETSIZE=%d only: none is left\n", mech->name,
			mech->fd_limit);
		return 1;
	}
	if (room < cap)
		cap = room;
	snprintf(note, len, ", capped by FD_SETSIZE=%d of %s", mech->fd_limit, mech->name);
	return 0;
}

/* The non-blocking listening socket (lfd) on addr:port; its numeric
 * address and port into host and serv. 0, or 1 after a message. */
static int make_listener(const struct opts *o, char *host, size_t hostlen, char *serv, size_t servlen)
{
	struct addrinfo hints, *ai;
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%lld", o->port);
	if (getaddrinfo(o->addr, portstr, &hints, &ai) != 0)
		sb_usage_error("httpd", "-l: '%s' is not a numeric IPv4 or IPv6 address", o->addr);
	if ((lfd = socket(ai->ai_family, SOCK_STREAM, 0)) < 0)
		die("socket()");
	int on = 1;
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
		die("setsockopt(SO_REUSEADDR)");
	if (ai->ai_family == AF_INET6 && setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
		die("setsockopt(IPV6_V6ONLY)");
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) != 0) {
		fprintf(stderr, "httpd: bind() to %s port %lld: %s\n", o->addr, o->port, strerror(errno));
		freeaddrinfo(ai);
		return 1;
	}
	freeaddrinfo(ai);
	/* Every kernel clamps the backlog to its maximum (somaxconn): asking
	 * for INT_MAX gets the deepest queue the OS allows. */
	if (listen(lfd, INT_MAX) != 0)
		die("listen()");
	int fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0)
		die("fcntl(O_NONBLOCK)");
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, (socklen_t)hostlen, serv, (socklen_t)servlen,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		die("getsockname()");
	return 0;
}

/* SIGTERM, SIGINT, SIGHUP (and SIGCHLD for a supervisor) write to the
 * self-pipe that every event loop watches. */
static void catch_signals(struct sigaction *sa)
{
	if (pipe(sigpipe_fd) != 0)
		die("pipe()");
	for (int i = 0; i < 2; i++) {
		int f = fcntl(sigpipe_fd[i], F_GETFL);
		if (f < 0 || fcntl(sigpipe_fd[i], F_SETFL, f | O_NONBLOCK) != 0)
			die("fcntl(O_NONBLOCK)");
	}
	memset(sa, 0, sizeof *sa);
	sa->sa_handler = on_signal;
	sigemptyset(&sa->sa_mask);
	sigaction(SIGTERM, sa, NULL);
	sigaction(SIGINT, sa, NULL);
	sigaction(SIGHUP, sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pid_t parent = getppid();
	if (sb_die_with_parent(SIGTERM) == 0 && getppid() != parent)
		got_sig = SIGTERM;   /* whoever started us is already gone */
}

/* Forks the workers; each runs its event loop and exits. 0, or 1 (then
 * none is left). */
static int start_workers(long long workers, const struct sigaction *sa, pid_t *kids, int *nkids)
{
	sigaction(SIGCHLD, sa, NULL);
	for (*nkids = 0; *nkids < workers; (*nkids)++) {
		pid_t p = fork();
		if (p < 0) {
			int e = errno;
			char lim[512];
			sb_limit_text("fork()", e, lim, sizeof lim);
			fprintf(stderr, "httpd: fork() of worker %d: %s (%s)\n", *nkids + 1, strerror(e), lim);
			for (int i = 0; i < *nkids; i++)
				kill(kids[i], SIGTERM);
			while (wait(NULL) > 0)
				;
			return 1;
		}
		if (p == 0) {
			signal(SIGCHLD, SIG_DFL);
			if (sb_die_with_parent(SIGTERM) == 0 && getppid() == 1)
				got_sig = SIGTERM;
			exit(run_loop());
		}
		kids[*nkids] = p;
	}
	return 0;
}

/* Until a signal or a worker's death: then every worker is stopped and
 * reaped. 0, or 1 when a worker died. */
static int supervise(pid_t *kids, int nkids)
{
	int status = 0;
	while (!got_sig) {
		char buf[64];
		struct pollfd p = { sigpipe_fd[0], POLLIN, 0 };
		if (poll(&p, 1, -1) > 0)
			while (read(sigpipe_fd[0], buf, sizeof buf) > 0)
				;
		int st;
		pid_t dead = waitpid(-1, &st, WNOHANG);
		if (dead > 0) {
			fprintf(stderr, "httpd: worker %ld ended unexpectedly; stopping\n", (long)dead);
			for (int i = 0; i < nkids; i++)
				if (kids[i] == dead)
					kids[i] = -1;
			status = 1;
			break;
		}
	}
	for (int i = 0; i < nkids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return status;
}

static int write_pidfile(const char *pidfile)
{
	FILE *f = fopen(pidfile, "w");
	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
		fprintf(stderr, "httpd: -P %s: %s\n", pidfile, strerror(errno));
		return 1;
	}
	return 0;
}

/* arguments -> listening socket -> signals -> workers -> serve -> end */
int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);

	if ((rootfd = open(o.root, O_RDONLY | O_DIRECTORY)) < 0) {
		fprintf(stderr, "httpd: -r %s: %s\n", o.root, strerror(errno));
		return 1;
	}
	raise_nofile();
	char host[INET6_ADDRSTRLEN], serv[16];
	if (make_listener(&o, host, sizeof host, serv, sizeof serv) != 0)
		return 1;
	struct sigaction sa;
	catch_signals(&sa);
	char capnote[96];
	if (cap_fd_limit(capnote, sizeof capnote) != 0)
		return 1;

	char backlog[32] = "?";
	if (sb_sysctl("net.core.somaxconn", backlog, sizeof backlog) != 0 &&
	    sb_sysctl("kern.ipc.somaxconn", backlog, sizeof backlog) != 0 &&
	    sb_sysctl("kern.somaxconn", backlog, sizeof backlog) != 0)
		strcpy(backlog, "?");
	char idle_text[32] = "none";
	if (idle_s > 0)
		snprintf(idle_text, sizeof idle_text, "%d s", idle_s);
	fprintf(stderr, "httpd: serving %s on %s port %s with %s, %lld process%s, up to %d connections "
		"each (RLIMIT_NOFILE %d%s), listen backlog %s, idle timeout %s\n", o.root, host, serv,
		mech->name, o.workers, o.workers > 1 ? "es" : "", cap, nconns_max, capnote, backlog, idle_text);

	pid_t kids[64];
	int nkids = 0;
	if (o.workers > 1 && start_workers(o.workers, &sa, kids, &nkids) != 0)
		return 1;
	int status = 0;
	if (o.pidfile && write_pidfile(o.pidfile) != 0) {
		got_sig = SIGTERM;   /* stop the workers, if any, and end */
		status = 1;
		o.pidfile = NULL;
	}
	if (!got_sig) {
		printf("listening %s %s %s\n", host, serv, mech->name);
		fflush(stdout);
	}
	if (o.workers == 1) {
		if (!status)
			status = run_loop();
	} else {
		status |= supervise(kids, nkids);
	}
	if (o.pidfile)
		unlink(o.pidfile);
	return status;
}
