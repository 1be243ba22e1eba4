/*
 * HTTP connections: one per accepted socket, owned by the server (a list in struct server).
 * A connection reads, parses with http.h, dispatches to the router, and writes answers in
 * request order. It reads nothing further while a request waits for its answer (a write in
 * the commit pipeline), which keeps pipelined answers in order and bounds its buffers.
 * A connection is freed only in its close callback, and never while a request of it is still
 * waiting for an answer (the answer is then dropped and the connection freed after).
 */
#ifndef REGULARS_CONN_H
#define REGULARS_CONN_H

#include <stdint.h>

struct server;
struct req;

/** Accepts one pending connection on the server's listener. */
void conn_accept(struct server *s);
/** Applies header-read and idle timeouts to every connection (called by a timer). */
void conn_sweep(struct server *s, uint64_t now_ms);
/** Shutdown: closes idle connections now and the others once their answer is written. */
void conn_close_all(struct server *s);
/** Closes every connection now, whatever it is doing (server teardown). */
void conn_abort_all(struct server *s);
/** Hands the request's connection to the WebSocket server (req answered with 101 by lws).
 *  Returns 0, or a negative rg_err (the caller then answers with an error). */
int req_upgrade(struct req *r, uint64_t recipient, int64_t since);

/* ---- test and fuzz hook ---------------------------------------------------------------- */

struct buf;
/** Test/fuzz only (tests/fuzz): runs data through one connection that has no socket, as if
 *  it had been read in one piece: parse -> route -> handler, running s's loop until the
 *  answers of writes arrive. Everything the connection would have written is appended to
 *  out; the connection is then freed (an upgrade is refused: there is no socket to hand
 *  over). Use a server from server_init_detached. Returns 1 when the server closed the
 *  connection (an error, Connection: close), 0 when it would have stayed open, or
 *  RG_ENOMEM. */
int conn_feed_detached(struct server *s, const char *data, size_t len, struct buf *out);

#endif
