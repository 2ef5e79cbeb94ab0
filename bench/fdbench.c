/*
 * fdbench - the cost of finding the lowest free descriptor: open() when the
 * only hole in a table of many descriptors is at position n, and open() when
 * there is no hole (the table grows at its end). The micro-benchmark of the
 * Linux Scalability Project (CITI TR 99-4, two-level descriptor bitmap).
 * Method: docs/bench/fdbench.md. Output: docs/format.md.
 */
#include "sb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: fdbench [-c count] [-h]\n"
	"  -c count  descriptors to open (default 100000)\n"
	"Rows: n reopen_ns append_ns. append_ns: open() with n descriptors open and no\n"
	"hole; reopen_ns: open() that must find the hole left by closing the n-th one,\n"
	"after the first one's hole (the kernel's hint) was used up.\n";

static const char path[] = "/dev/null";

int main(int argc, char **argv)
{
	long long count = 100000;
	int opt;
	while ((opt = sb_getopt("fdbench", argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c': count = sb_number("fdbench", 'c', optarg, 2, 100000000); break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	sb_operand("fdbench", argc, argv, NULL);

	struct sb *r = sb_init("fdbench", "n reopen_ns append_ns", argc, argv);
	sb_meta(r, "count", "%lld", count);
	sb_meta(r, "file", "open(\"%s\", O_RDONLY) for every descriptor", path);
	sb_raise_nofile(r, count);
	int *fds = sb_alloc(r, (size_t)count, sizeof *fds, "descriptors");
	if (!fds || sb_reserve(r, (size_t)count) != 0) {
		free(fds);
		return sb_finish(r);
	}

	/* Phase 1 (append): open() count times; there is never a hole, so
	 * each new descriptor is the one after the highest (or after one the
	 * program inherited). n = descriptors this program has opened before. */
	long long made = 0;
	int hole = 0;
	while (made < count && !sb_interrupted()) {
		sb_tick t0 = sb_ticks();
		int fd = open(path, O_RDONLY);
		sb_tick t1 = sb_ticks();
		if (fd < 0) {
			sb_stop(r, "open()", (uint64_t)made, errno, NULL);
			break;
		}
		if (made > 0 && fd < fds[made - 1]) {
			sb_fail(r, (uint64_t)made, "open() returned %d, below %d: the table has a hole", fd,
				fds[made - 1]);
			close(fd);
			hole = 1;
			break;
		}
		sb_put_ticks(r, sb_row(r, (uint64_t)made), 2, t0, t1);
		fds[made++] = fd;
	}
	sb_meta(r, "opened", "%lld", made);

	/* Phase 2 (reopen), over the descriptors that exist: close the first
	 * and the n-th; the first open() takes the first hole (the kernel
	 * remembers the lowest closed one), the second, timed, must search
	 * from there to the hole at n. */
	for (long long n = 1; n < made && !hole && !sb_interrupted(); n++) {
		if (close(fds[0]) != 0 || close(fds[n]) != 0) {
			sb_stop(r, "close()", (uint64_t)n, errno, NULL);
			break;
		}
		int a = open(path, O_RDONLY);
		if (a < 0) {
			sb_stop(r, "open()", (uint64_t)n, errno, NULL);
			break;
		}
		sb_tick t0 = sb_ticks();
		int b = open(path, O_RDONLY);
		sb_tick t1 = sb_ticks();
		if (b < 0) {
			fds[0] = a;
			sb_stop(r, "open()", (uint64_t)n, errno, NULL);
			break;
		}
		if (a != fds[0] || b != fds[n]) {
			sb_fail(r, (uint64_t)n, "open() returned %d and %d, not the holes %d and %d", a, b, fds[0],
				fds[n]);
			fds[0] = a;
			fds[n] = b;
			break;
		}
		sb_put_ticks(r, (size_t)n, 1, t0, t1);
	}

	for (long long i = 0; i < made; i++)
		if (close(fds[i]) != 0)
			sb_stop(r, "close()", (uint64_t)i, errno, NULL);
	free(fds);
	return sb_finish(r);
}
