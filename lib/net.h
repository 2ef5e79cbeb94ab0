/*
 * net.h - opt-in library part: loopback sources and descriptor keepers.
 *
 * For benchmarks that hold many connections to one address:port
 * (acceptbench, httpbench): spreading them over loopback source addresses,
 * and keeper processes that hold more sockets than one process may.
 * Implemented in net.c.
 */
#ifndef SB_NET_H
#define SB_NET_H

#include "sb.h"

/* ---- sockets and descriptors ---- */
/* Binds IPv4 socket fd to the loopback source address 127.0.0.(1 + i),
 * i < 254, leaving the port to connect() (Linux: IP_BIND_ADDRESS_NO_PORT, so
 * the port only has to be unique for the 4-tuple; elsewhere bind() picks it
 * at once). Spreading connections over several source addresses gets more
 * of them to one address:port than one ephemeral port range holds.
 * Returns 0, or -1 with errno. */
int sb_bind_loopback_source(int fd, unsigned i);

/* How many loopback source addresses count connections to one address:port
 * need at SB_PER_SOURCE each (1 to 253; 10,000 per source keep Linux's
 * connect() port search short), recorded in the header as "sources".
 * Connection i then binds source i % result (sb_bind_loopback_source). */
#define SB_PER_SOURCE 10000
unsigned sb_loopback_sources(struct sb *r, long long count);

/* ---- keeping more descriptors than one process may hold ----
 * A keeper is a child process that holds descriptors handed to it over a
 * UNIX socket (SCM_RIGHTS), so that a run can keep more sockets open than
 * its own RLIMIT_NOFILE allows: the objects stay in the kernel, counted in
 * n, while the measuring process's descriptor table stays small. */
struct sb_keeper;

/* An empty set of keepers; the first sb_keep() starts the first process.
 * NULL when there is no memory for it: the run is then stopped at ENOMEM
 * (sb_alloc). sb_keepers(), sb_kept() and sb_keeper_end() take NULL. */
struct sb_keeper *sb_keeper_new(struct sb *r);

/* Hands a copy of fd to a keeper (the caller still closes its own copy),
 * starting another keeper process when the current one is full. Returns 0,
 * or -1 with errno (EMFILE: a fresh keeper could not take it either). */
int sb_keep(struct sb_keeper *k, int fd);

/* What the last failing sb_keep() failed in, to name it in sb_stop(): e.g.
 * "fork() of a keeper process" (EAGAIN there is RLIMIT_NPROC),
 * "socketpair() for a keeper process" (EMFILE: this process's own limit). */
const char *sb_keep_call(const struct sb_keeper *k);

/* How many keeper processes there are and how many descriptors they hold. */
int sb_keepers(const struct sb_keeper *k);
long long sb_kept(const struct sb_keeper *k);

/* Every keeper closes what it holds and exits; waits for them; frees k. */
void sb_keeper_end(struct sb_keeper *k);

#endif
