/*
 * manymapbench - latency of open(), of mmap() of the whole file and of the
 * first touch of its page, for many small files in turn, as the number of
 * open files and mappings the process already holds grows.
 * Method: docs/bench/manymapbench.md. Output: docs/format.md.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: manymapbench [-c count] [-h] DIR\n"
	"  -c count  files to open and map (default: every file of the tree)\n"
	"  DIR       a tree made by mktestdata (tools/mktestdata -c count DIR)\n"
	"Every file is read once (into the page cache) before anything is measured.\n"
	"Rows: n open_ns mmap_ns touch_ns, n = files opened (mapped, touched) before;\n"
	"all files stay open and mapped until the end.\n";

int main(int argc, char **argv)
{
	const char *me = "manymapbench";
	long long count = 0;
	int opt;
	while ((opt = sb_getopt(me, argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c': count = sb_number(me, 'c', optarg, 1, SB_TREE_MAX); break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	const char *dir = sb_operand(me, argc, argv, "DIR");
	long long files = sb_tree_files(dir);
	if (files < 0 && errno == ENOENT)
		sb_usage_error(me, "%s: no complete tree (no %s/%s): make it with mktestdata %s", dir, dir,
			       SB_TREE_MARKER, dir);
	if (files < 0)
		sb_usage_error(me, "%s/%s: %s", dir, SB_TREE_MARKER,
			       errno == EINVAL ? "not a marker mktestdata wrote" : strerror(errno));
	if (count == 0)
		count = files;
	if (count > files)
		sb_usage_error(me, "%s holds %lld files, -c %lld asks for more (mktestdata -c %lld %s makes them)",
			       dir, files, count, count, dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		sb_usage_error(me, "%s: %s", dir, strerror(errno));

	struct sb *r = sb_init(me, "n open_ns mmap_ns touch_ns", argc, argv);
	sb_meta(r, "count", "%lld", count);
	sb_meta(r, "tree", "%s, %lld files, %d per directory (mktestdata)", dir, files, SB_TREE_PER_DIR);
	sb_meta(r, "calls", "openat(DIR, \"DDDD/FF\", O_RDONLY); mmap(whole file, PROT_READ, MAP_SHARED); "
		"read of its first byte");
	char ml[256];
	sb_os_limit(SB_LIMIT_MAPS, ml, sizeof ml);    /* Linux: vm.max_map_count=N */
	if (ml[0])
		sb_meta(r, "map_limit", "%s", ml);
	sb_raise_nofile(r, count);

	char (*path)[32] = sb_alloc(r, (size_t)count, sizeof *path, "file names");
	size_t *len = path ? sb_alloc(r, (size_t)count, sizeof *len, "file lengths") : NULL;
	int *fds = len ? sb_alloc(r, (size_t)count, sizeof *fds, "descriptors") : NULL;
	void **maps = fds ? sb_alloc(r, (size_t)count, sizeof *maps, "mapping addresses") : NULL;
	if (maps)
		sb_reserve(r, (size_t)count);   /* on failure the run has ended: nothing below runs */

	/* Set up: read every file once, so that all are in the page cache,
	 * and count how many of their pages are resident. */
	size_t resident = 0, pages = 0;
	int known = 1;
	long long total = 0;
	for (long long i = 0; i < count && !sb_ended(r); i++) {
		sb_tree_path(path[i], sizeof path[i], i);
		int fd = openat(dfd, path[i], O_RDONLY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0) {
			sb_stop(r, fd < 0 ? "openat() while reading the tree" : "fstat()", (uint64_t)i, errno,
				NULL);
			break;
		}
		long long got = sb_read_all(fd);
		if (got < 0)
			sb_stop(r, "read() while reading the tree", (uint64_t)i, errno, NULL);
		else if (got == 0 || got != (long long)st.st_size)
			sb_fail(r, (uint64_t)i, "%s/%s has %lld bytes (read %lld): re-run mktestdata %s", dir,
				path[i], (long long)st.st_size, got, dir);
		len[i] = (size_t)st.st_size;
		total += got;
		size_t res, pg;
		if (!sb_ended(r) && known && sb_resident(fd, len[i], &res, &pg) == 0) {
			resident += res;
			pages += pg;
		} else if (!sb_ended(r) && known) {
			known = 0;
			sb_meta(r, "resident", "unknown (%s)",
				errno == ENOSYS ? "no mincore() on this OS" : strerror(errno));
		}
		if (close(fd) != 0)
			sb_stop(r, "close()", (uint64_t)i, errno, NULL);
	}
	if (!sb_ended(r)) {
		sb_meta(r, "file_bytes", "%lld in all, %.1f per file", total, (double)total / (double)count);
		if (known)
			sb_meta(r, "resident", "%.1f%% (%zu of %zu pages, mincore() after reading the files)",
				100.0 * (double)resident / (double)pages, resident, pages);
	}

	/* The measurement: for each file in order, openat(), mmap() of the
	 * whole file, then a read of its first byte (the page fault). n = files
	 * opened, mapped and touched before. Nothing is closed or unmapped. */
	long long opened = 0, mapped = 0;
	while (mapped < count && !sb_ended(r)) {
		long long i = mapped;
		sb_tick t0 = sb_ticks();
		int fd = openat(dfd, path[i], O_RDONLY);
		sb_tick t1 = sb_ticks();
		if (fd < 0) {
			sb_stop(r, "openat()", (uint64_t)i, errno, NULL);
			break;
		}
		fds[opened++] = fd;
		size_t row = sb_row(r, (uint64_t)i);
		sb_put_ticks(r, row, 1, t0, t1);

		t0 = sb_ticks();
		void *p = mmap(NULL, len[i], PROT_READ, MAP_SHARED, fd, 0);
		t1 = sb_ticks();
		if (p == MAP_FAILED) {
			sb_stop(r, "mmap()", (uint64_t)i, errno, NULL);
			break;
		}
		maps[mapped++] = p;
		sb_put_ticks(r, row, 2, t0, t1);

		const volatile unsigned char *b = p;
		t0 = sb_ticks();
		(void)*b;                /* a volatile read: it is done, here */
		t1 = sb_ticks();
		sb_put_ticks(r, row, 3, t0, t1);
	}

	for (long long i = 0; i < mapped; i++)
		if (munmap(maps[i], len[i]) != 0)
			sb_stop(r, "munmap()", (uint64_t)i, errno, NULL);
	for (long long i = 0; i < opened; i++)
		if (close(fds[i]) != 0)
			sb_stop(r, "close()", (uint64_t)i, errno, NULL);
	if (close(dfd) != 0)
		sb_stop(r, "close() of DIR", 0, errno, NULL);
	free(path);
	free(len);
	free(fds);
	free(maps);
	return sb_finish(r);
}
