/*
 * files.h - opt-in library part: files and the page cache.
 *
 * The small-file tree that tools/mktestdata makes and manymapbench maps,
 * and reading a file into the page cache / asking how much of it is there
 * (mmapbench, manymapbench). Implemented in files.c.
 */
#ifndef SB_FILES_H
#define SB_FILES_H

#include "sb.h"

/* ---- files and the page cache ---- */
/* Reads the file open on fd from its offset to its end (into a scratch
 * buffer), so that its pages are in the page cache, the way `cat FILE
 * >/dev/null` does. Returns the bytes read, or -1 with errno (EINTR when a
 * signal ended the run: test sb_interrupted()). */
long long sb_read_all(int fd);

/* How many of the pages that hold the first len bytes of the file open on fd
 * are resident in memory: maps them (PROT_READ, MAP_SHARED), asks mincore(),
 * unmaps them. Sets *pages to the pages of len bytes and *resident to those
 * resident. Returns 0, or -1 with errno: ENOSYS where the OS has no
 * mincore() (OpenBSD), else the error of mmap() or mincore(). */
int sb_resident(int fd, size_t len, size_t *resident, size_t *pages);

/* ---- the many-small-files tree: tools/mktestdata makes it, manymapbench maps it ----
 * File i (0, 1, ...) of the tree at DIR is DIR/DDDD/FF, DDDD = i / 100 and
 * FF = i % 100, four and two decimal digits: 100 files per directory, as in
 * the 2003 study. DIR/.mktestdata, written when the tree is complete, holds
 * one line, SB_TREE_MARKER_FMT with the number of files. */
#define SB_TREE_PER_DIR 100
#define SB_TREE_MAX 1000000
#define SB_TREE_MARKER ".mktestdata"
#define SB_TREE_MARKER_FMT "scalebench small-file tree: %lld files\n"

/* Writes file i's path relative to DIR ("0042/17" for 4217) into buf (7
 * characters and the NUL for i < SB_TREE_MAX). */
void sb_tree_path(char *buf, size_t len, long long i);

/* How many files the complete tree at dir holds, read from its marker; -1
 * with errno when there is none: ENOENT (no tree, or mktestdata did not
 * finish), EINVAL (the marker is not mktestdata's), or open()'s error. */
long long sb_tree_files(const char *dir);

#endif
