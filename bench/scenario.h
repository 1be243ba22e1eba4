/*
 * The scenarios of regulars-bench over the real API (see bench/README.md):
 *   read         GET /v1/me with random users' tokens (or any --path, for baselines)
 *   purchase     durable POST /v1/purchases, unique Idempotency-Keys, on a graph where
 *                friends hold live shares at the buyer's merchant
 *   mix          90 % read, 10 % purchase
 *   push         N users on /v1/stream; purchases at a fixed rate; latency from each
 *                purchase's send to each of its notifications
 *   connections  N idle WebSockets; the server's RSS per connection
 *   seed         only create the data set (POST /bench/seed) and save it
 * Each returns a result object (jansson) that main prints and saves.
 */
#ifndef BENCH_SCENARIO_H
#define BENCH_SCENARIO_H

#include <netinet/in.h>
#include <stdint.h>

#include <jansson.h>

struct bench_opts {
    const char *scenario;      /* which one */
    const char *url;           /* http://127.0.0.x:PORT */
    struct sockaddr_in target; /* parsed url */
    char host[64];             /* Host header */
    double duration_s;         /* measured seconds */
    double warmup_s;           /* seconds before measuring */
    unsigned conns;            /* HTTP connections (read/purchase/mix) or WebSockets */
    unsigned http_conns;       /* push: connections that send purchases */
    double rate;               /* requests/s (open loop) or purchases/s (push); 0 = closed */
    unsigned pipeline;         /* requests in flight per connection (closed loop) */
    unsigned users;            /* users to seed */
    unsigned merchants;        /* merchants to seed */
    unsigned friends;          /* friends per user (average) */
    uint64_t seed;             /* seed of the data set */
    const char *seed_file;     /* reuse (or save) the data set's principals */
    unsigned sharers;          /* users who share a purchase before a write scenario */
    unsigned group;            /* users per merchant group (neighbours on the ring) */
    unsigned read_pct;         /* mix: percentage of reads */
    const char *path;          /* read: the path to GET */
    int no_seed;               /* read: no data set (a baseline server), fixed token */
    const char *label;         /* what was measured, for the report ("regularsd") */
    const char *id;            /* result id, for the report ("read", "read-nginx") */
    const char *json_out;      /* write the result here */
    int server_pid;            /* the server's pid (else found from the port) */
    unsigned timeout_ms;       /* per request */
    unsigned src_addrs;        /* source addresses (0 = as many as needed) */
    unsigned ws_window;        /* WebSocket handshakes in flight at once */
    double grace_s;            /* push: time to wait for late notifications */
    double hold_s;             /* connections: how long to hold them */
    int quiet;                 /* no progress line */
};

/** Runs o->scenario. Returns the result object (caller owns it) or NULL on failure (a
 *  message was printed). */
json_t *scenario_run(const struct bench_opts *o);

#endif
