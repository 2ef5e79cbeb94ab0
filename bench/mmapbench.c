/*
 * mmapbench - latency of mmap() of one page of a file, and of the first touch
 * of that page (the page fault), as the number of mappings the process
 * already holds grows.
 * Method: docs/bench/mmapbench.md. Output: docs/format.md.
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: mmapbench [-c count] [-s size] [-h] FILE\n"
	"  -c count  pages to map: every other page of FILE, one mmap() each\n"
	"            (default: as many as FILE holds, 25600 for 200M and 4 KiB pages)\n"
	"  -s size   the size FILE is created with when it does not exist\n"
	"            (default 200M; K, M, G, T are powers of 1024: 200M = 209715200)\n"
	"FILE is read once (into the page cache) before anything is measured.\n"
	"Rows: n mmap_ns touch_ns, n = mappings (touched pages) that existed before.\n";

/* FILE is written under a name of its own, FILE.part.PID, and renamed to
 * FILE only when whole: so FILE is never half-written, and what a killed run
 * leaves is FILE.part.PID. Removes those whose process is gone. */
static void remove_dead_parts(const char *me, const char *path)
{
	char dir[4096], full[8192];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t blen = strlen(base);
	snprintf(dir, sizeof dir, "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1, slash ? path : ".");
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		const char *p = e->d_name;
		if (strncmp(p, base, blen) != 0 || strncmp(p + blen, ".part.", 6) != 0 || !p[blen + 6] ||
		    strspn(p + blen + 6, "0123456789") != strlen(p + blen + 6))
			continue;
		long pid = atol(p + blen + 6);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;   /* its run may still be writing it */
		snprintf(full, sizeof full, "%s/%s", dir, p);
		if (unlink(full) == 0)
			fprintf(stderr, "%s: removed %s, the unfinished file of a run that was killed\n", me, full);
	}
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	const char *me = "mmapbench";
	long long count = 0, size = 200LL << 20;
	const char *size_arg = NULL;
	int opt;
	while ((opt = sb_getopt(me, argc, argv, "c:s:h")) != -1) {
		switch (opt) {
		case 'c': count = sb_number(me, 'c', optarg, 1, 100000000); break;
		case 's': size = sb_size(me, 's', optarg, 1, 1LL << 40); size_arg = optarg; break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	const char *path = sb_operand(me, argc, argv, "FILE");
	long long ps = sysconf(_SC_PAGESIZE);

	/* FILE is used as it is when it exists, else created with size bytes.
	 * Either way it must hold count pages at offsets 0, 2, 4, ... pages. */
	int created = 0;
	long long bytes = size;
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) != 0)
			sb_usage_error(me, "%s: %s", path, strerror(errno));
		if (!S_ISREG(st.st_mode))
			sb_usage_error(me, "%s is not a regular file", path);
		bytes = (long long)st.st_size;
		if (size_arg && size != bytes)
			fprintf(stderr, "%s: %s exists with %lld bytes; it is used as it is (-s %s only applies "
				"when creating it)\n", me, path, bytes, size_arg);
	} else if (errno != ENOENT) {
		sb_usage_error(me, "%s: %s", path, strerror(errno));
	}
	long long room = (bytes + 2 * ps - 1) / (2 * ps);
	if (count == 0)
		count = room;
	if (count == 0 || count > room) {
		long long want = count ? count : 1;
		sb_usage_error(me, "%s: %lld bytes hold %lld mappings of every other %lld-byte page; "
			       "%lld need at least %lld bytes", path, bytes, room, ps, want, 2 * (want - 1) * ps + 1);
	}
	char part[4200];
	if (fd < 0) {
		remove_dead_parts(me, path);
		snprintf(part, sizeof part, "%s.part.%ld", path, (long)getpid());
		fd = open(part, O_RDWR | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			sb_usage_error(me, "cannot create %s: %s", part, strerror(errno));
		created = 1;
	}

	struct sb *r = sb_init(me, "n mmap_ns touch_ns", argc, argv);
	sb_meta(r, "count", "%lld", count);
	sb_meta(r, "file", "%s, %lld bytes (%s)", path, bytes, created ? "created by this run" : "existing");
	sb_meta(r, "page_size", "%lld", ps);
	sb_meta(r, "mapping", "page i at offset 2*i*%lld, length %lld, PROT_READ, MAP_SHARED", ps, ps);
	char ml[256];
	sb_os_limit(SB_LIMIT_MAPS, ml, sizeof ml);    /* Linux: vm.max_map_count=N */
	if (ml[0])
		sb_meta(r, "map_limit", "%s", ml);

	/* Set up: write FILE if this run created it (as FILE.part.PID, renamed
	 * to FILE when whole, removed should anything fail), flush it to disk so
	 * no writeback runs while measuring. */
	if (created) {
		enum { CHUNK = 1 << 20 };
		char *buf = sb_alloc(r, CHUNK, 1, "a write buffer");
		for (int i = 0; buf && i < CHUNK; i++)
			buf[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
		for (long long done = 0; buf && done < bytes && !sb_ended(r);) {
			size_t want = bytes - done < CHUNK ? (size_t)(bytes - done) : CHUNK;
			ssize_t put = write(fd, buf, want);
			if (put < 0 && errno == EINTR && !sb_interrupted())
				continue;
			if (put <= 0)
				sb_stop(r, "write() creating FILE", 0, put < 0 ? errno : EIO, NULL);
			else
				done += put;
		}
		free(buf);
		if (!sb_ended(r) && fsync(fd) != 0)
			sb_stop(r, "fsync() creating FILE", 0, errno, NULL);
		if (!sb_ended(r) && rename(part, path) != 0)
			sb_stop(r, "rename() of the whole FILE into place", 0, errno, NULL);
		if (sb_ended(r) && unlink(part) != 0)
			fprintf(stderr, "%s: removing the unfinished %s: %s\n", me, part, strerror(errno));
		if (!sb_ended(r) && lseek(fd, 0, SEEK_SET) != 0)
			sb_stop(r, "lseek()", 0, errno, NULL);
	}

	/* Read every page once so the file is in the page cache, then ask the
	 * kernel how much of it is resident. */
	if (!sb_ended(r)) {
		long long got = sb_read_all(fd);
		if (got < 0)
			sb_stop(r, "read() of FILE", 0, errno, NULL);
		else if (got != bytes)
			sb_fail(r, 0, "read %lld of the %lld bytes of %s (did it change?)", got, bytes, path);
	}
	if (!sb_ended(r)) {
		size_t res, pages;
		if (sb_resident(fd, (size_t)bytes, &res, &pages) == 0)
			sb_meta(r, "resident", "%.1f%% (%zu of %zu pages, mincore() after reading the file)",
				100.0 * (double)res / (double)pages, res, pages);
		else
			sb_meta(r, "resident", "unknown (%s)",
				errno == ENOSYS ? "no mincore() on this OS" : strerror(errno));
	}

	void **maps = sb_ended(r) ? NULL : sb_alloc(r, (size_t)count, sizeof *maps, "mapping addresses");
	if (maps)
		sb_reserve(r, (size_t)count);   /* on failure the run has ended: nothing below runs */

	/* Phase 1: mmap() page 2*i, n = mappings that already exist. */
	long long made = 0;
	while (maps && made < count && !sb_ended(r)) {
		off_t off = (off_t)(2 * made * ps);
		sb_tick t0 = sb_ticks();
		void *p = mmap(NULL, (size_t)ps, PROT_READ, MAP_SHARED, fd, off);
		sb_tick t1 = sb_ticks();
		if (p == MAP_FAILED) {
			sb_stop(r, "mmap()", (uint64_t)made, errno, NULL);
			break;
		}
		sb_put_ticks(r, sb_row(r, (uint64_t)made), 1, t0, t1);
		maps[made++] = p;
	}

	/* Phase 2: read the first byte of each mapping in order: the page
	 * fault that enters the page into the page table. n = pages touched
	 * before. It runs over the mappings made even if phase 1 stopped. */
	for (long long i = 0; i < made && !sb_interrupted(); i++) {
		const volatile unsigned char *p = maps[i];
		sb_tick t0 = sb_ticks();
		(void)*p;                /* a volatile read: it is done, here */
		sb_tick t1 = sb_ticks();
		sb_put_ticks(r, (size_t)i, 2, t0, t1);
	}

	for (long long i = 0; i < made; i++)
		if (munmap(maps[i], (size_t)ps) != 0)
			sb_stop(r, "munmap()", (uint64_t)i, errno, NULL);
	free(maps);
	if (close(fd) != 0)
		sb_stop(r, "close()", 0, errno, NULL);
	return sb_finish(r);
}
