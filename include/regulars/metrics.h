/*
 * Counters for /metrics (Prometheus text format). Loop thread only: plain integers, no
 * atomics. The commit pipeline's own counters are read through commit_get_stats.
 */
#ifndef REGULARS_METRICS_H
#define REGULARS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/buf.h"
#include "regulars/router.h"

#define METRICS_NSTATUS 20 /* see metrics.c: the statuses we count by name, then "other" */
#define METRICS_NLAT 14    /* latency buckets */
#define METRICS_UNROUTED ROUTER_MAX_ROUTES

struct metrics {
    uint64_t requests[ROUTER_MAX_ROUTES + 1][METRICS_NSTATUS]; /* [route or unrouted][status] */
    uint64_t latency[METRICS_NLAT + 1]; /* cumulative-able counts per bucket, last = +Inf */
    double latency_sum;                 /* seconds */
    uint64_t latency_count;
    uint64_t conns_accepted;
    uint64_t conns_rejected; /* over --max-conns */
    uint64_t ws_upgrades;
    uint64_t ws_rejected;
};

struct server;

/** Zeroes m. */
void metrics_init(struct metrics *m);
/** Counts one answered request: route index (METRICS_UNROUTED when none), status, latency. */
void metrics_request(struct metrics *m, unsigned route, int status, uint64_t ns);
/** Appends the Prometheus text of every metric of s to out. */
int metrics_render(struct server *s, struct buf *out);

#endif
