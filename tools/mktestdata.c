/*
 * mktestdata - makes the many-small-files tree that manymapbench maps: count
 * files (default 10000) of 150 bytes, 100 per subdirectory, like the 2003
 * study's mktestdata. Not a benchmark: it prints one summary line, no
 * result file. Layout: lib/sb.h; method: docs/bench/manymapbench.md.
 *
 * It is idempotent: a second run with the same count checks every file and
 * changes nothing. It refuses a DIR holding anything it does not make.
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: mktestdata [-c count] [-h] DIR\n"
	"  -c count  files to make (default 10000), 150 bytes each, 100 per directory:\n"
	"            DIR/0000/00 ... DIR/0099/99, and DIR/.mktestdata when complete\n"
	"DIR is created if missing; it may hold nothing but what mktestdata makes.\n"
	"Running it again leaves the same tree: only missing or changed files are\n"
	"written, files beyond count removed.\n";

static const char *me = "mktestdata";
static const char *top;   /* DIR as given, for messages */

enum { FILE_BYTES = 150 };

static void fail(const char *what, const char *name)
{
	fprintf(stderr, "%s: %s %s/%s: %s\n", me, what, top, name, strerror(errno));
	exit(SB_EXIT_FAIL);
}

/* Creates (or truncates) name under dfd and writes len bytes into it. */
static void put_file(int dfd, const char *name, const char *buf, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail("creating", name);
	ssize_t put = write(fd, buf, len);
	if (put != (ssize_t)len) {
		if (put >= 0)
			errno = EIO;   /* a short write */
		fail("writing", name);
	}
	if (close(fd) != 0)
		fail("closing", name);
}

/* File i's 150 bytes, the same on every run. */
static void content(char *buf, long long i)
{
	int k = snprintf(buf, FILE_BYTES, "scalebench small file %07lld, made by mktestdata\n", i);
	for (int j = k; j < FILE_BYTES; j++)
		buf[j] = j == FILE_BYTES - 1 ? '\n' : (char)('a' + (i + j) % 26);
}

static int digits(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Fills have[] (files) and dirs[] (directories) with what DIR holds, and
 * exits with SB_EXIT_USAGE at the first entry mktestdata would not make. */
static void scan(int dfd, char *have, char *dirs, int *marker)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		fail("reading", ".");
	struct dirent *e;
	struct stat st;
	while ((errno = 0, e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			fail("stat of", name);
		if (strcmp(name, SB_TREE_MARKER) == 0 && S_ISREG(st.st_mode)) {
			*marker = 1;
			continue;
		}
		if (!digits(name, 4) || !S_ISDIR(st.st_mode))
			sb_usage_error(me, "%s holds %s, which mktestdata does not make: refusing to use it "
				       "(give a new or empty directory)", top, name);
		long long dn = atoll(name);
		dirs[dn] = 1;
		int sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY);
		DIR *sd = sfd >= 0 ? fdopendir(sfd) : NULL;
		if (!sd)
			fail("reading", name);
		struct dirent *f;
		while ((errno = 0, f = readdir(sd)) != NULL) {
			if (strcmp(f->d_name, ".") == 0 || strcmp(f->d_name, "..") == 0)
				continue;
			if (fstatat(sfd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				fail("stat of a file in", name);
			if (!digits(f->d_name, 2) || !S_ISREG(st.st_mode))
				sb_usage_error(me, "%s holds %s/%s, which mktestdata does not make: refusing "
					       "to use it (give a new or empty directory)", top, name, f->d_name);
			have[dn * SB_TREE_PER_DIR + atoll(f->d_name)] = 1;
		}
		if (errno != 0)
			fail("reading", name);
		if (closedir(sd) != 0)
			fail("closing", name);
	}
	if (errno != 0)
		fail("reading", ".");
	if (closedir(d) != 0)
		fail("closing", ".");
}

/* Is file i there with the right content? */
static int intact(int dfd, long long i, const char *want)
{
	char path[32], got[FILE_BYTES + 1];
	sb_tree_path(path, sizeof path, i);
	int fd = openat(dfd, path, O_RDONLY);
	if (fd < 0)
		fail("opening", path);
	ssize_t n = read(fd, got, sizeof got);
	if (n < 0)
		fail("reading", path);
	if (close(fd) != 0)
		fail("closing", path);
	return n == FILE_BYTES && memcmp(got, want, FILE_BYTES) == 0;
}

int main(int argc, char **argv)
{
	long long count = 10000;
	int opt;
	while ((opt = sb_getopt(me, argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c': count = sb_number(me, 'c', optarg, 1, SB_TREE_MAX); break;
		case 'h': fputs(usage, stdout); return SB_EXIT_OK;
		}
	}
	top = sb_operand(me, argc, argv, "DIR");
	sb_die_with_parent(SIGTERM);   /* where the OS can: no orphan goes on writing */

	if (mkdir(top, 0755) != 0 && errno != EEXIST)
		sb_usage_error(me, "cannot create %s: %s", top, strerror(errno));
	int dfd = open(top, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		sb_usage_error(me, "%s: %s", top, strerror(errno));

	long long ndirs = SB_TREE_MAX / SB_TREE_PER_DIR;
	char *have = calloc(SB_TREE_MAX, 1), *dirs = calloc((size_t)ndirs, 1);
	char *bad = calloc((size_t)count, 1);
	if (!have || !dirs || !bad) {
		fprintf(stderr, "%s: out of memory\n", me);
		return SB_EXIT_FAIL;
	}
	int marker = 0;
	scan(dfd, have, dirs, &marker);

	/* What has to change: files missing or not as mktestdata writes them,
	 * files beyond count, and the marker. */
	char buf[FILE_BYTES], path[32], line[128];
	long long kept = 0, written = 0, removed = 0;
	for (long long i = 0; i < count; i++) {
		content(buf, i);
		bad[i] = !have[i] || !intact(dfd, i, buf);
		kept += !bad[i];
	}
	long long extra = 0;
	for (long long i = count; i < SB_TREE_MAX; i++)
		extra += have[i];
	long long want_dirs = (count + SB_TREE_PER_DIR - 1) / SB_TREE_PER_DIR;
	for (long long dn = want_dirs; dn < ndirs; dn++)
		extra += dirs[dn];
	snprintf(line, sizeof line, SB_TREE_MARKER_FMT, count);

	if (kept < count || extra > 0 || !marker || sb_tree_files(top) != count) {
		/* Without the marker the tree counts as unfinished until the end. */
		if (marker && unlinkat(dfd, SB_TREE_MARKER, 0) != 0)
			fail("removing", SB_TREE_MARKER);
		for (long long i = 0; i < count; i++) {
			long long dn = i / SB_TREE_PER_DIR;
			if (!dirs[dn]) {
				snprintf(path, sizeof path, "%04lld", dn);
				if (mkdirat(dfd, path, 0755) != 0)
					fail("creating", path);
				dirs[dn] = 1;
			}
			if (!bad[i])
				continue;
			content(buf, i);
			sb_tree_path(path, sizeof path, i);
			put_file(dfd, path, buf, FILE_BYTES);
			written++;
		}
		for (long long i = count; i < SB_TREE_MAX; i++) {
			if (!have[i])
				continue;
			sb_tree_path(path, sizeof path, i);
			if (unlinkat(dfd, path, 0) != 0)
				fail("removing", path);
			removed++;
		}
		for (long long dn = want_dirs; dn < ndirs; dn++) {
			snprintf(path, sizeof path, "%04lld", dn);
			if (dirs[dn] && unlinkat(dfd, path, AT_REMOVEDIR) != 0)
				fail("removing", path);
		}
		put_file(dfd, SB_TREE_MARKER, line, strlen(line));
	}
	printf("%s: %s: %lld files of %d bytes in %lld directories: %lld kept, %lld written, %lld removed\n",
	       me, top, count, FILE_BYTES, want_dirs, kept, written, removed);
	free(have);
	free(dirs);
	free(bad);
	if (close(dfd) != 0)
		fail("closing", ".");
	return fflush(stdout) == 0 ? SB_EXIT_OK : SB_EXIT_FAIL;
}
