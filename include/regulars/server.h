/*
 * The server: one libuv loop with the listener, connections, the lws context, the commit
 * pipeline's completions, timers and signals. server_run blocks until SIGINT/SIGTERM (or
 * server_stop), then stops accepting, lets the batch in flight commit, closes WebSockets
 * with 1001 and returns.
 */
#ifndef REGULARS_SERVER_H
#define REGULARS_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "regulars/commit.h"
#include "regulars/config.h"
#include "regulars/hub.h"
#include "regulars/metrics.h"
#include "regulars/ratelimit.h"
#include "regulars/router.h"
#include "regulars/store.h"
#include "regulars/ws.h"

struct conn;

struct server {
    uv_loop_t *loop;
    struct config cfg;
    struct store store;
    struct commit *commit;
    struct hub *hub;
    struct ws_server *ws;
    struct router router;
    struct metrics metrics;
    struct ratelimit rl_addr;   /* --rate-limit per client address */
    struct ratelimit rl_secret; /* --rate-limit per secret */
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    uv_timer_t sweep;        /* header/idle timeouts, once a second-ish */
    uv_prepare_t idle;       /* before the loop blocks: release the shared read txn */
    struct conn *conns;      /* doubly linked list of open HTTP connections */
    unsigned nconns;
    int stopping;
    char bound[80];          /* "127.0.0.1:8080" after listen */
    void *demo;              /* demo simulation state (api/demo.c), NULL when off */
};

/** Opens the store, starts the pipeline, binds, registers routes. Returns 0 or rg_err. */
int server_init(struct server *s, const struct config *cfg);
/** Test/fuzz only: server_init without the listener, signals and timers (their handles
 *  are initialised, never started, so server_fini works as usual). Feed it requests with
 *  conn_feed_detached. Returns 0 or rg_err. */
int server_init_detached(struct server *s, const struct config *cfg);
/** Runs the loop until stopped. Returns 0 after a clean shutdown. */
int server_run(struct server *s);
/** Asks the loop to stop (from the loop thread). */
void server_stop(struct server *s);
/** Frees everything server_init made. */
void server_fini(struct server *s);

/** Registers every API route (api/routes.c). */
void api_register_routes(struct server *s);

#endif
