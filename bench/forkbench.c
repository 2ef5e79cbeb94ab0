/*
 * forkbench - latency of fork() while n children stay alive, then of killing
 * and reaping them one by one. Built twice from this file: bench/forkbench
 * (dynamically linked) and bench/forkbench-static (-static, FORKBENCH_STATIC).
 * Method: docs/bench/forkbench.md. Output: docs/format.md.
 */
#include "sb.h"         /* first: platform.h shows vfork(), which left POSIX in 2008 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The Makefile builds bench/forkbench-static from this file with
 * -DFORKBENCH_STATIC=1 and -static. */
#ifndef FORKBENCH_STATIC
#define FORKBENCH_STATIC 0
#endif
static const char *const BENCH = FORKBENCH_STATIC ? "forkbench-static" : "forkbench";
static const char *const LINKAGE = FORKBENCH_STATIC ? "static" : "dynamic";

extern char **environ;

static const char usage[] =
	"usage: %s [-c count] [-m fork|vfork|spawn] [-h]\n"
	"  -c count  children to create and keep alive (default 10000)\n"
	"  -m fork   fork(); the child reports a time stamp and blocks (default)\n"
	"  -m vfork  vfork() + exec of this program as the child\n"
	"  -m spawn  posix_spawn() of this program as the child\n"
	"Rows: n fork_ns cleanup_ns. fork_ns: from before fork() to the child's first\n"
	"action, a time stamp it takes itself, with n children alive; cleanup_ns: kill()\n"
	"until waitpid() returns the dead child, with n others alive.\n"
	"(-C is internal: the exec'd child of -m vfork/spawn. FORKBENCH_EXEC=PATH in\n"
	"the environment makes those children exec PATH instead of this program: tests.)\n";

/* What a child writes into its report pipe, in one write(): 'x', then the
 * time stamp it took as its first action and the CPU it took it on (-1: not
 * known); a child of -m vfork whose exec failed writes 'E' and the errno. */
enum { REPORT_OK = 'x', REPORT_EXEC_FAILED = 'E' };
enum { REPORT_LEN = 1 + sizeof(sb_tick) + sizeof(int) };

/* The child's first action: its stamp, then the report. */
static void report_stamp(int fd)
{
	sb_tick t = sb_ticks();
	int cpu = sb_last_cpu();
	char msg[REPORT_LEN];
	msg[0] = REPORT_OK;
	memcpy(msg + 1, &t, sizeof t);
	memcpy(msg + 1 + sizeof t, &cpu, sizeof cpu);
	if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg)
		_exit(1);
}

/* Every child ends here once it has written its byte: fd 0 is the read end
 * of the lifeline pipe, whose write end only the parent holds, and nothing
 * else is open. It blocks until killed, or until the parent is gone (Linux
 * and FreeBSD: the parent-death signal; everywhere: EOF on the lifeline). */
static void child_wait(pid_t parent)
{
	char c;
	sb_die_with_parent(SIGKILL);
	if (getppid() != parent)
		_exit(0);       /* the parent died before it could be asked */
	for (;;) {
		ssize_t k = read(0, &c, 1);
		if (k == 0 || (k < 0 && errno != EINTR))
			_exit(0);
	}
}

/* A forked child. Its first action, which ends fork_ns, is its time stamp;
 * then it reports it; only then does it set up: default signals, the
 * lifeline as fd 0 and every other descriptor it inherited closed at once
 * (close_range/closefrom through the platform layer), so that it holds no
 * pipe, terminal or socket of the caller; and it waits. */
static void child_forked(pid_t parent, int report_w, int life_r)
{
	report_stamp(report_w);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (dup2(life_r, 0) != 0)
		_exit(1);
	sb_close_from(1);
	child_wait(parent);
}

/* The exec'd child of -m vfork/spawn, the first thing main() does: fd 1 is
 * the report pipe, fd 0 the lifeline. arg is "UKPPID": U 1 when the parent
 * reads the cycle counter (the child must read the same clock), K 1 when it
 * knows its stamps' CPU. */
static void child_execd(const char *arg)
{
	sb_use_counter = arg[0] == '1';
	if (arg[1] == '1' && sb_cpu_source())
		sb_cpu_known = 1;
	report_stamp(1);
	close(1);
	child_wait((pid_t)strtol(arg + 2, NULL, 10));
}

/* -m vfork: the child sets up its descriptors like the spawned one, execs.
 * If the exec fails, it reports the errno through the report pipe (its fd
 * 1) and exits: the parent names the error, never waits for a byte. */
static pid_t start_vfork(const char *self, char **cargv, int life_r, int rep_w)
{
	pid_t pid = vfork();
	if (pid == 0) {
		if (dup2(life_r, 0) != 0 || dup2(rep_w, 1) != 1)
			_exit(127);
		sb_close_from(2);
		execv(self, cargv);
		char msg[1 + sizeof(int)];
		int e = errno;
		msg[0] = REPORT_EXEC_FAILED;
		memcpy(msg + 1, &e, sizeof e);
		if (write(1, msg, sizeof msg) < 0)
			_exit(126);
		_exit(127);
	}
	return pid;
}

/* A report pipe for one child, both ends close-on-exec (the child gets the
 * write end by dup2(), which clears the flag on the copy). */
static int report_pipe(int rep[2])
{
	if (pipe(rep) != 0)
		return -1;
	if (fcntl(rep[0], F_SETFD, FD_CLOEXEC) == 0 && fcntl(rep[1], F_SETFD, FD_CLOEXEC) == 0)
		return 0;
	int e = errno;
	close(rep[0]);
	close(rep[1]);
	errno = e;
	return -1;
}

/* -m spawn: the file actions for one child: the lifeline as fd 0, the
 * report pipe's write end as fd 1, every other open descriptor closed. */
static int spawn_actions(posix_spawn_file_actions_t *fa, int life_r, int rep_w, int maxfd)
{
	int err = posix_spawn_file_actions_init(fa);
	if (err)
		return err;
	err = posix_spawn_file_actions_adddup2(fa, life_r, 0);
	if (!err)
		err = posix_spawn_file_actions_adddup2(fa, rep_w, 1);
	for (int fd = 2; fd <= maxfd && !err; fd++)
		if (fd != life_r && fd != rep_w && fcntl(fd, F_GETFD) != -1 && !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			err = posix_spawn_file_actions_addclose(fa, fd);
	if (err)
		posix_spawn_file_actions_destroy(fa);
	return err;
}

/* A child that ended before it wrote its byte (the report pipe said EOF):
 * reap it and say how it ended. */
static void child_died_early(struct sb *r, pid_t pid, long long n, const char *how)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		sb_fail(r, (uint64_t)n, "the child of %s exited with status %d before it wrote its byte%s", how,
			WEXITSTATUS(st), WEXITSTATUS(st) == 127 ? " (its exec failed)" : "");
	else
		sb_fail(r, (uint64_t)n, "the child of %s died (status 0x%x) before it wrote its byte", how, st);
}

/* The highest descriptor open now, and how many are open above 2. */
static int highest_fd(int *above2)
{
	struct rlimit rl;
	long top = 1L << 16;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < top)
		top = (long)rl.rlim_cur;
	int hi = 2;
	*above2 = 0;
	for (int fd = 3; fd < top; fd++)
		if (fcntl(fd, F_GETFD) != -1) {
			hi = fd;
			++*above2;
		}
	return hi;
}

int main(int argc, char **argv)
{
	long long count = 10000;
	const char *mode = "fork";
	int opt;
	if (argc == 3 && strcmp(argv[1], "-C") == 0 && strlen(argv[2]) > 2)
		child_execd(argv[2]);   /* before anything else: this is timed */
	while ((opt = sb_getopt(BENCH, argc, argv, "c:m:h")) != -1) {
		switch (opt) {
		case 'c': count = sb_number(BENCH, 'c', optarg, 1, 100000000); break;
		case 'm': mode = optarg; break;
		case 'h': printf(usage, BENCH); return SB_EXIT_OK;
		}
	}
	sb_operand(BENCH, argc, argv, NULL);
	int m = strcmp(mode, "fork") == 0 ? 0 : strcmp(mode, "vfork") == 0 ? 1 : strcmp(mode, "spawn") == 0 ? 2 : -1;
	if (m < 0)
		sb_usage_error(BENCH, "-m: '%s' is not fork, vfork or spawn", mode);
	/* the exec'd child is this program, found by a path that stays valid */
	const char *self = getenv("FORKBENCH_EXEC");
	if (!self || !*self)
		self = sb_self_path(argv[0]);
	if (m > 0 && !self)
		sb_usage_error(BENCH, "-m %s needs the program started by a path, e.g. ./%s", mode, BENCH);
	const char *call = m == 0 ? "fork()" : m == 1 ? "vfork()" : "posix_spawn()";

	struct sb *r = sb_init(BENCH, "n fork_ns cleanup_ns", argc, argv);
	sb_meta(r, "count", "%lld", count);
	sb_meta(r, "linkage", "%s", LINKAGE);
	sb_meta(r, "mode", "%s",
		m == 0 ? "fork(); the child's first action is a time stamp, which it reports; then it sets up and blocks"
		: m == 1 ? "vfork() + execv() of this program; the first action of its main() is a time stamp, which it reports; then it blocks"
			 : "posix_spawn() of this program; the first action of its main() is a time stamp, which it reports; then it blocks");
	sb_raise_nproc(r, count);
	char lim[512];
	sb_limit_text("fork()", EAGAIN, lim, sizeof lim);
	sb_meta(r, "process_limits", "%s", lim);

	/* The caller's descriptors above 2 are not the benchmark's: fork()
	 * would copy them and exec close them inside every window, so fork_ns
	 * would depend on the caller. They are closed now, untimed. */
	int inherited;
	highest_fd(&inherited);
	sb_close_from(3);
	sb_meta(r, "caller_fds", "%d descriptors above 2 inherited from the caller, closed at start", inherited);

	pid_t *kids = sb_alloc(r, (size_t)count, sizeof *kids, "pids");
	int rep[2], life[2];
	if (!kids || sb_reserve(r, (size_t)count) != 0) {
		free(kids);
		return sb_finish(r);
	}
	if (pipe(life) != 0 || fcntl(life[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(life[1], F_SETFD, FD_CLOEXEC) != 0) {
		sb_stop(r, "pipe()", 0, errno, NULL);
		free(kids);
		return sb_finish(r);
	}
	/* -m spawn's file actions close every descriptor up to this one: those
	 * open now, and a report pipe's two (the lowest free numbers each time) */
	int maxfd = highest_fd(&inherited) + 2;
	/* -m vfork/spawn: the child is this program with -C UKPPID, fd 0 the
	 * lifeline, fd 1 its report pipe, every other descriptor closed */
	pid_t me = getpid();
	char ppid[32];
	snprintf(ppid, sizeof ppid, "%d%d%ld", sb_use_counter ? 1 : 0, sb_cpu_known ? 1 : 0, (long)me);
	char *cargv[] = {(char *)BENCH, (char *)"-C", ppid, NULL};

	/* Phase 1: start a child, time from before the start until the child's
	 * own first stamp, which it reports; n = children alive before it. The
	 * children stay alive. Each child gets a report
	 * pipe of its own, made before the first time stamp; right after
	 * starting the child the parent closes the write end, so that a child
	 * that dies before writing (an exec that failed) shows as end of file,
	 * never as a read() that waits forever. */
	long long made = 0;
	while (made < count && !sb_interrupted()) {
		posix_spawn_file_actions_t fa;
		int err;
		if (report_pipe(rep) != 0) {
			sb_stop(r, "pipe()", (uint64_t)made, errno, NULL);
			break;
		}
		if (m == 2 && (err = spawn_actions(&fa, life[0], rep[1], maxfd)) != 0) {
			sb_stop(r, "posix_spawn_file_actions()", (uint64_t)made, err, NULL);
			close(rep[0]);
			close(rep[1]);
			break;
		}
		pid_t pid;
		sb_tick t0 = sb_ticks();
		int cpu0 = sb_last_cpu();
		if (m == 0) {
			pid = fork();
			if (pid == 0)
				child_forked(me, rep[1], life[0]);
		} else if (m == 1) {
			pid = start_vfork(self, cargv, life[0], rep[1]);
		} else {
			err = posix_spawn(&pid, self, &fa, NULL, cargv, environ);
			if (err) {
				pid = -1;
				errno = err;
			}
		}
		int start_err = errno;
		close(rep[1]);
		char msg[REPORT_LEN];
		ssize_t k = pid < 0 ? -1 : read(rep[0], msg, sizeof msg);
		int read_err = errno;
		char c = k > 0 ? msg[0] : 0;
		if (m == 2)
			posix_spawn_file_actions_destroy(&fa);
		if (pid < 0) {
			close(rep[0]);
			sb_stop(r, call, (uint64_t)made, start_err, NULL);
			break;
		}
		if (k > 0 && c == REPORT_EXEC_FAILED) {
			int e = 0;
			if (k == 1 + (ssize_t)sizeof e)
				memcpy(&e, msg + 1, sizeof e);
			else if (k != 1 || read(rep[0], &e, sizeof e) != (ssize_t)sizeof e)
				e = 0;
			close(rep[0]);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			if (e)
				sb_stop(r, "execv() in the vfork() child", (uint64_t)made, e, NULL);
			else
				sb_fail(r, (uint64_t)made, "execv() in the vfork() child failed");
			break;
		}
		close(rep[0]);
		if (k == 0) {
			child_died_early(r, pid, made, call);
			break;
		}
		kids[made++] = pid;
		if (k < 0) {
			sb_stop(r, "read()", (uint64_t)made - 1, read_err, NULL);
			break;
		}
		if (k != REPORT_LEN || c != REPORT_OK) {
			sb_fail(r, (uint64_t)made - 1, "the child's report was %zd bytes, not %d", k, (int)REPORT_LEN);
			break;
		}
		sb_tick t1;
		int cpu1;
		memcpy(&t1, msg + 1, sizeof t1);
		memcpy(&cpu1, msg + 1 + sizeof t1, sizeof cpu1);
		sb_put_ticks_cpu(r, sb_row(r, (uint64_t)made - 1), 1, t0, cpu0, t1, cpu1);
	}

	/* Phase 2: in creation order, kill() + waitpid() each child, timed while
	 * the run was not interrupted; n = the other children still alive, so
	 * the value goes to the row of the fork made with as many alive. */
	int timing = 1;
	for (long long i = 0; i < made; i++) {
		long long others = made - 1 - i;
		int st, rc;
		timing = timing && !sb_interrupted();
		sb_tick t0 = sb_ticks();
		if (kill(kids[i], SIGKILL) != 0) {
			sb_stop(r, "kill()", (uint64_t)others, errno, NULL);
			timing = 0;
			continue;       /* it dies with us: the lifeline */
		}
		while ((rc = waitpid(kids[i], &st, 0)) < 0 && errno == EINTR)
			timing = 0;
		sb_tick t1 = sb_ticks();
		if (rc != kids[i]) {
			sb_stop(r, "waitpid()", (uint64_t)others, errno, NULL);
			timing = 0;
		} else if (timing && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
			sb_fail(r, (uint64_t)others, "child %ld ended by itself (status 0x%x)", (long)kids[i], st);
			timing = 0;
		} else if (timing && (size_t)others < sb_rows(r)) {
			sb_put_ticks(r, (size_t)others, 2, t0, t1);
		}
	}
	free(kids);
	close(life[0]);
	close(life[1]);
	return sb_finish(r);
}
