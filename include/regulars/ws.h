/*
 * WebSockets on the server's own port: libwebsockets (which only ws.c includes) runs on the
 * same libuv loop, with no listener of its own. The HTTP side authenticates an upgrade, then
 * hands the socket over with ws_server_adopt(). Each connection has a bounded send queue:
 * past max_queue_bytes of unsent frames it is closed with 1008 (policy violation), so a client
 * that stops reading cannot make the server buffer without end.
 *
 * Ownership: the ws_server owns its connections; a struct ws_conn pointer is valid from
 * on_open until on_close returns. The callbacks run on the loop thread.
 */
#ifndef REGULARS_WS_H
#define REGULARS_WS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "regulars/http.h"

struct ws_server;
struct ws_conn;

struct ws_callbacks {
    /* A connection is established (the 101 was sent). recipient and since are what
     * ws_server_adopt was given (since < 0: not given). Return 0, or non-zero to close
     * (with 1011; on_close is then not called for c). */
    int (*on_open)(void *ctx, struct ws_conn *c, uint64_t recipient, int64_t since);
    /* A text message from the client (valid UTF-8, complete: fragments reassembled). A
     * binary message closes with 1003, one over max_message_bytes with 1009, invalid
     * UTF-8 with 1007. */
    void (*on_message)(void *ctx, struct ws_conn *c, const char *data, size_t len);
    /* c's send queue has just emptied (may be NULL: then never called). The owner may
     * queue more: a long replay goes out in slices instead of overflowing the queue. */
    void (*on_drain)(void *ctx, struct ws_conn *c);
    /* The connection is gone; c must not be used after this returns. */
    void (*on_close)(void *ctx, struct ws_conn *c);
    void *ctx;
};

struct ws_config {
    size_t max_queue_bytes;  /* unsent bytes per connection before closing with 1008 */
    int ping_interval_s;     /* server pings idle clients this often; 0 = never (a client
                                that sends no pong within as long again is dropped) */
    size_t max_message_bytes; /* largest client message accepted */
};

/** Creates the lws context on loop. NULL on failure (logged). */
struct ws_server *ws_server_new(uv_loop_t *loop, const struct ws_config *cfg,
                                const struct ws_callbacks *cb);
/** Takes over fd (the server stops using it; ws dups or owns it as documented in ws.c) for
 *  the upgrade request req, whose head has been fully read; extra/extra_len are bytes read
 *  after the head (already the client's first frames). recipient/since are passed to
 *  on_open. Returns 0, or a negative rg_err (fd then closed by the caller).
 *  The caller must have stopped reading fd, and closes its own handle in every case (ws
 *  works on a dup()). Errors: RG_EPROTO when the handshake is refused before the handover
 *  (Sec-WebSocket-Key not 24 base64 chars, Sec-WebSocket-Version not 13, a
 *  Sec-WebSocket-Protocol list without "regulars", an over-long value): nothing was
 *  written, answer 400. RG_ENOMEM / RG_EBUSY (no fd for the dup): nothing was written,
 *  answer 503. RG_EIO: libwebsockets failed the connection and already closed its side;
 *  do not answer. */
int ws_server_adopt(struct ws_server *ws, int fd, const struct http_request *req,
                    const char *extra, size_t extra_len, uint64_t recipient, int64_t since);
/** Queues one text frame. Returns 0, or RG_ETOOBIG when the queue limit is passed (the
 *  connection is then being closed with 1008), or RG_ENOMEM. RG_EBUSY when c is already
 *  closing (the frame is dropped). */
int ws_conn_send(struct ws_conn *c, const char *data, size_t len);
/** Starts closing c with code and reason (reason at most 123 bytes). Frames still queued
 *  are dropped; the close frame goes out on a later loop turn. */
void ws_conn_close(struct ws_conn *c, int code, const char *reason);
/** Per-connection opaque slot for the hub. */
void ws_conn_set_data(struct ws_conn *c, void *data);
void *ws_conn_get_data(const struct ws_conn *c);
/** The queue limit of c (cfg.max_queue_bytes). */
size_t ws_conn_limit(const struct ws_conn *c);
/** Bytes queued and not yet written on c. */
size_t ws_conn_queued(const struct ws_conn *c);
/** Open connections. */
size_t ws_server_count(const struct ws_server *ws);
/** Closes every connection with 1001 (going away); used at shutdown. The close frames
 *  are written as the loop runs, at the latest inside ws_server_free. */
void ws_server_close_all(struct ws_server *ws);
/** Destroys the context (runs the loop as lws needs). Call after close_all. It first runs
 *  the loop (at most about 1 s) until closing connections are gone, so that their close
 *  frames reach the wire; on_close is called for every connection still open. */
void ws_server_free(struct ws_server *ws);

#endif
