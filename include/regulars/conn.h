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
/** Hands the request's connection to the WebSocket server (req answered with 101 by lws).
 *  Returns 0, or a negative rg_err (the caller then answers with an error). */
int req_upgrade(struct req *r, uint64_t recipient, int64_t since);

#endif
