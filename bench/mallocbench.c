/*
 * mallocbench - malloc()/free() under T threads of one process, against T
 * separate processes doing the same: does the allocator of libc scale with
 * threads, or do they queue on its locks?
 * Method: docs/bench/mallocbench.md. Output: docs/format.md.
 */
#include "sb.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WINDOW = 64 };           /* blocks each worker keeps live */

static const char usage[] =
	"usage: mallocbench [-t maxt] [-n ops] [-s size] [-h]\n"
	"  -t maxt  largest number of threads (and of processes); T runs over\n"
	"           1, 2, 3, 4, 6, 8, 12, 16, ... and maxt (default 4 x the CPUs online)\n"
	"  -n ops   malloc()/free() pairs per worker (default 1000000)\n"
	"  -s size  bytes per block (default 64)\n"
	"Rows: n threads_ns processes_ns, n = T; one row per worker:\n"
	"its time for all its pairs divided by ops, in nanoseconds.\n";

/* What workers share with the benchmark: threads through the process,
 * processes through a shared mapping. */
struct shared {
	atomic_int ready;        /* workers waiting for the start */
	atomic_int go;           /* 1: start; 2: give up, do nothing */
	atomic_int error;        /* errno of a failed malloc(), 0 if none */
	sb_tick elapsed[];       /* per worker: ticks for its ops pairs */
};

static struct shared *sh;
static long long ops, size;

/* One worker: ops pairs, each the malloc() of a block and the free() of the
 * one allocated WINDOW pairs before. */
static void work(int k)
{
	void *slot[WINDOW] = {0};
	atomic_fetch_add(&sh->ready, 1);
	while (atomic_load(&sh->go) == 0)
		sched_yield();
	if (atomic_load(&sh->go) != 1)
		return;
	sb_tick t0 = sb_ticks();
	long long i;
	for (i = 0; i < ops; i++) {
		unsigned s = (unsigned)(i % WINDOW);
		free(slot[s]);
		slot[s] = malloc((size_t)size);
		if (!slot[s]) {
			int zero = 0;
			atomic_compare_exchange_strong(&sh->error, &zero, ENOMEM);
			break;
		}
		*(volatile char *)slot[s] = (char)i;
		if ((i & 4095) == 4095 && sb_interrupted())
			break;
	}
	sb_tick t1 = sb_ticks();
	if (i == ops)
		sh->elapsed[k] = t1 - t0;
	for (int s = 0; s < WINDOW; s++)
		free(slot[s]);
}

static void *thread_main(void *arg)
{
	work((int)(intptr_t)arg);
	return NULL;
}

/* Waits until n workers are ready, then starts them; returns the start. */
static sb_tick start_workers(int n)
{
	struct timespec ts = {0, 100000};
	while (atomic_load(&sh->ready) < n && !sb_interrupted())
		nanosleep(&ts, NULL);
	sb_tick t = sb_ticks();
	atomic_store(&sh->go, sb_interrupted() ? 2 : 1);
	return t;
}

/* The next T after t: 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (powers of two and
 * the midpoints 3 x 2^k between them: enough T for a growth verdict even
 * on a machine with few CPUs), never past maxt. */
static long long next_t(long long t, long long maxt)
{
	long long n = t < 2 ? 2 : (t & (t - 1)) == 0 ? t + t / 2 : t + t / 3;
	return n < maxt ? n : maxt;
}

/* Appends " T=ms" to a header value being built. */
static void add_wall(char *buf, size_t len, long long t, double ms)
{
	size_t used = strlen(buf);
	snprintf(buf + used, len - used, "%s%lld=%.1f", used ? " " : "", t, ms);
}

int main(int argc, char **argv)
{
	long cpus = sb_cpus();
	long long maxt = 4 * (long long)cpus;
	int opt;
	ops = 1000000;
	size = 64;
	while ((opt = sb_getopt("mallocbench", argc, argv, "t:n:s:h")) != -1) {
		switch (opt) {
		case 't': maxt = sb_number("mallocbench", 't', optarg, 1, 100000); break;
		case 'n': ops = sb_number("mallocbench", 'n', optarg, 1, 1000000000000LL); break;
		case 's': size = sb_number("mallocbench", 's', optarg, 1, 1 << 24); break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	sb_operand("mallocbench", argc, argv, NULL);

	struct sb *r = sb_init("mallocbench", "n threads_ns processes_ns", argc, argv);
	sb_meta(r, "count", "%lld", maxt);
	sb_meta(r, "ops", "%lld malloc()/free() pairs per worker, %d blocks live per worker", ops, WINDOW);
	sb_meta(r, "size", "%lld", size);
	sb_meta(r, "cpus", "%ld", cpus);
	sb_raise_nproc(r, maxt);
	size_t shlen = sizeof *sh + (size_t)maxt * sizeof sh->elapsed[0];
	sh = sb_shared(shlen);
	pthread_t *tids = malloc((size_t)maxt * sizeof *tids);
	pid_t *pids = malloc((size_t)maxt * sizeof *pids);
	if (!sh || !tids || !pids) {
		sb_fail(r, 0, "%s for %lld workers", sh ? "malloc()" : "mmap()", maxt);
		free(tids);
		free(pids);
		return sb_finish(r);
	}
	sb_reserve(r, (size_t)maxt * 8);
	char wall_t[2048] = "", wall_p[2048] = "";
	pid_t me = getpid();

	for (long long t = 1; !sb_ended(r); t = next_t(t, maxt)) {
		size_t first = sb_rows(r);
		for (long long k = 0; k < t; k++)
			sb_row(r, (uint64_t)t);

		/* T threads */
		memset(sh, 0, shlen);
		long long made = 0;
		while (made < t) {
			int e = pthread_create(&tids[made], NULL, thread_main, (void *)(intptr_t)made);
			if (e != 0) {
				sb_stop(r, "pthread_create()", (uint64_t)made, e, NULL);
				break;
			}
			made++;
		}
		sb_tick t0 = made == t ? start_workers((int)t) : 0;
		atomic_store(&sh->go, made == t && !sb_interrupted() ? 1 : 2);
		for (long long k = 0; k < made; k++)
			pthread_join(tids[k], NULL);
		sb_tick t1 = sb_ticks();
		if (sh->error)
			sb_stop(r, "malloc()", (uint64_t)t, sh->error, NULL);
		if (sb_ended(r))
			break;
		for (long long k = 0; k < t; k++)
			sb_put(r, first + (size_t)k, 1, (double)sh->elapsed[k] / (double)ops);
		add_wall(wall_t, sizeof wall_t, t, sb_ticks_to_ns(sb_clock(r), (double)(t1 - t0)) / 1e6);

		/* T processes */
		memset(sh, 0, shlen);
		made = 0;
		while (made < t) {
			pid_t p = fork();
			if (p < 0) {
				sb_stop(r, "fork()", (uint64_t)made, errno, NULL);
				break;
			}
			if (p == 0) {
				/* where the OS cannot kill it with the benchmark,
				 * the worker still ends after its ops pairs */
				sb_die_with_parent(SIGKILL);
				if (getppid() == me)
					work((int)made);
				_exit(0);
			}
			pids[made++] = p;
		}
		t0 = made == t ? start_workers((int)t) : 0;
		atomic_store(&sh->go, made == t && !sb_interrupted() ? 1 : 2);
		int bad = 0;
		for (long long k = 0; k < made; k++) {
			int st;
			pid_t w;
			while ((w = waitpid(pids[k], &st, 0)) < 0 && errno == EINTR)
				kill(pids[k], SIGKILL);     /* interrupted: stop waiting politely */
			if (w == pids[k] && !(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !sb_interrupted())
				bad = 1;
		}
		t1 = sb_ticks();
		if (sh->error)
			sb_stop(r, "malloc()", (uint64_t)t, sh->error, NULL);
		else if (bad)
			sb_fail(r, (uint64_t)t, "a worker process did not exit with status 0");
		if (sb_ended(r))
			break;
		for (long long k = 0; k < t; k++)
			sb_put(r, first + (size_t)k, 2, (double)sh->elapsed[k] / (double)ops);
		add_wall(wall_p, sizeof wall_p, t, sb_ticks_to_ns(sb_clock(r), (double)(t1 - t0)) / 1e6);
		if (t == maxt)
			break;
	}
	sb_meta(r, "wall_ms_threads", "%s", *wall_t ? wall_t : "-");
	sb_meta(r, "wall_ms_processes", "%s", *wall_p ? wall_p : "-");

	munmap(sh, shlen);
	free(tids);
	free(pids);
	return sb_finish(r);
}
