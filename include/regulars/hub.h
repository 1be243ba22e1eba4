/*
 * The push hub: maps a recipient (store_recipient(kind, id)) to its open WebSockets, sends
 * the hello frame and the outbox replay on open, and delivers live events after their commit
 * is durable. Each connection remembers the last seq it was sent, so an event that was both
 * replayed and then published live is sent once, in order.
 *
 * Frames are complete JSON texts ({"seq","type","at","data"}), built by the writer with the
 * outbox (outbox.h); the hub only moves bytes. Loop thread only.
 */
#ifndef REGULARS_HUB_H
#define REGULARS_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/store.h"
#include "regulars/ws.h"

struct hub;

/** Creates an empty hub reading replays from st. NULL on allocation failure. */
struct hub *hub_new(struct store *st);
/** Frees the hub. Call after ws_server_free (whose on_close calls reach the hub). */
void hub_free(struct hub *h);

/** ws_callbacks for ws_server_new, with ctx = the hub. on_open reads the outbox in the
 *  loop thread's read txn (store_read_begin, or the one already open); client messages
 *  are ignored (the stream is server to client; keepalive is WebSocket ping/pong). */
void hub_ws_callbacks(struct hub *h, struct ws_callbacks *cb);

/** Sends frame (event number seq of recipient) to every open connection of recipient
 *  that has not yet been sent seq. */
void hub_publish(struct hub *h, uint64_t recipient, uint64_t seq, const char *frame,
                 size_t len);
/** Open connections of recipient. */
size_t hub_count(const struct hub *h, uint64_t recipient);

#endif
