/*
 * files.c - opt-in library part: files and the page cache (see files.h).
 */
#include "files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- files and the page cache ---- */
long long sb_read_all(int fd)
{
	char buf[65536];
	long long total = 0;
	for (;;) {
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR && !sb_interrupted())
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			return total;
		total += got;
	}
}

int sb_resident(int fd, size_t len, size_t *resident, size_t *pages)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	*resident = 0;
	*pages = (len + ps - 1) / ps;
	if (len == 0)
		return 0;
	if (!HAVE_MINCORE) {
		errno = ENOSYS;
		return -1;
	}
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	sb_mincore_vec *vec = malloc(*pages);
	int rc = -1, err = ENOMEM;
	if (vec) {
		rc = sb_mincore(p, len, vec);
		err = errno;
		for (size_t i = 0; rc == 0 && i < *pages; i++)
			*resident += (size_t)(vec[i] & 1);
		free(vec);
	}
	munmap(p, len);
	errno = err;
	return rc == 0 ? 0 : -1;
}

/* ---- the small-file tree ---- */
void sb_tree_path(char *buf, size_t len, long long i)
{
	snprintf(buf, len, "%04lld/%02lld", i / SB_TREE_PER_DIR, i % SB_TREE_PER_DIR);
}

long long sb_tree_files(const char *dir)
{
	char path[4096], text[128], check[128];
	if (snprintf(path, sizeof path, "%s/%s", dir, SB_TREE_MARKER) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t got = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[got] = 0;
	long long n = -1;
	if (sscanf(text, SB_TREE_MARKER_FMT, &n) != 1 || n < 1 || n > SB_TREE_MAX) {
		errno = EINVAL;
		return -1;
	}
	snprintf(check, sizeof check, SB_TREE_MARKER_FMT, n);
	if (strcmp(check, text) != 0) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

