/*
 * Runtime configuration: defaults, then REGULARS_* environment variables, then flags.
 * Every limit of the server is here, with a safe default.
 */
#ifndef REGULARS_CONFIG_H
#define REGULARS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/store.h"

struct config {
    char host[64];               /* --listen host part, default 127.0.0.1 */
    int port;                    /* --listen port, default 8080; 0 picks a free port */
    char data[1024];             /* --data, default ./regulars-data */
    size_t map_size;             /* --map-size bytes, initial LMDB map (grows), 64 MiB */
    enum store_sync sync;        /* --sync full|nometa|none */
    size_t max_header_bytes;     /* --max-header-bytes, 8192 -> 431 */
    size_t max_body_bytes;       /* --max-body-bytes, 65536 -> 413 */
    unsigned header_timeout_ms;  /* --header-timeout-ms, 10000 -> 408 then close */
    unsigned idle_timeout_ms;    /* --idle-timeout-ms, 60000 keep-alive idle close */
    unsigned max_conns;          /* --max-conns, 10000 -> 503 then close */
    unsigned max_ws;             /* --max-ws, 200000 WebSockets */
    size_t queue_depth;          /* --queue-depth, 4096 commit commands -> 503 */
    size_t ws_queue_bytes;       /* --ws-queue-bytes, 1 MiB per WebSocket -> close 1008 */
    unsigned rate_limit;         /* --rate-limit requests/s per secret and per address, 0 off */
    int log_level;               /* --log-level error|warn|info|debug */
    int bench;                   /* --bench: the bench endpoints */
    int demo;                    /* --demo: seed a small city and simulate traffic */
    char allowed_origin[256];    /* --allowed-origin for WebSocket upgrades, "" = any */
};

/** Fills c with the defaults. */
void config_defaults(struct config *c);
/** Applies REGULARS_* environment variables, then argv. Returns 0, 1 when --help or
 *  --version was printed (exit 0), or RG_EINVAL after printing the error (exit 2). */
int config_parse(struct config *c, int argc, char **argv);
/** Prints usage to f. */
void config_usage(void *f);

#endif
