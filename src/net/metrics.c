/*
 * Prometheus text exposition. Counters are per route pattern (bounded cardinality: the
 * router's table, never the raw path) and per status.
 */
#include <string.h>

#include "regulars/commit.h"
#include "regulars/hub.h"
#include "regulars/metrics.h"
#include "regulars/server.h"
#include "regulars/ws.h"

static const int statuses[METRICS_NSTATUS - 1] = {101, 200, 201, 204, 304, 400, 401, 403, 404, 405,
                                                  408, 409, 413, 422, 429, 431, 500, 503, 100};
static const double lat_bounds[METRICS_NLAT] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};

static const char *method_name(enum http_method m)
{
    switch (m) {
    case HTTP_GET: return "GET";
    case HTTP_HEAD: return "HEAD";
    case HTTP_POST: return "POST";
    case HTTP_PUT: return "PUT";
    case HTTP_PATCH: return "PATCH";
    case HTTP_DELETE: return "DELETE";
    case HTTP_OPTIONS: return "OPTIONS";
    default: return "OTHER";
    }
}

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void metrics_request(struct metrics *m, unsigned route, int status, uint64_t ns)
{
    unsigned si = METRICS_NSTATUS - 1;
    for (unsigned i = 0; i < METRICS_NSTATUS - 1; i++)
        if (statuses[i] == status) {
            si = i;
            break;
        }
    if (route > METRICS_UNROUTED)
        route = METRICS_UNROUTED;
    m->requests[route][si]++;
    double s = (double)ns / 1e9;
    unsigned b = 0;
    while (b < METRICS_NLAT && s > lat_bounds[b])
        b++;
    m->latency[b]++;
    m->latency_sum += s;
    m->latency_count++;
}

int metrics_render(struct server *s, struct buf *out)
{
    struct metrics *m = &s->metrics;
    buf_puts(out, "# HELP regulars_http_requests_total HTTP requests answered, by route and status.\n"
                  "# TYPE regulars_http_requests_total counter\n");
    for (unsigned r = 0; r <= METRICS_UNROUTED; r++) {
        if (r < METRICS_UNROUTED && r >= s->router.n)
            continue;
        for (unsigned i = 0; i < METRICS_NSTATUS; i++) {
            if (!m->requests[r][i])
                continue;
            const char *method = "", *pattern = "unmatched";
            if (r < s->router.n) {
                method = method_name(s->router.routes[r].method);
                pattern = s->router.routes[r].pattern;
            }
            if (i < METRICS_NSTATUS - 1)
                buf_printf(out,
                           "regulars_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} "
                           "%llu\n",
                           method, pattern, statuses[i], (unsigned long long)m->requests[r][i]);
            else
                buf_printf(out,
                           "regulars_http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"} "
                           "%llu\n",
                           method, pattern, (unsigned long long)m->requests[r][i]);
        }
    }
    buf_puts(out, "# HELP regulars_http_request_duration_seconds Time from a complete request to its "
                  "answer.\n# TYPE regulars_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (unsigned b = 0; b < METRICS_NLAT; b++) {
        cum += m->latency[b];
        buf_printf(out, "regulars_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                   lat_bounds[b], (unsigned long long)cum);
    }
    cum += m->latency[METRICS_NLAT];
    buf_printf(out,
               "regulars_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
               "regulars_http_request_duration_seconds_sum %.6f\n"
               "regulars_http_request_duration_seconds_count %llu\n",
               (unsigned long long)cum, m->latency_sum, (unsigned long long)m->latency_count);

    buf_printf(out,
               "# HELP regulars_connections_open Open HTTP connections.\n"
               "# TYPE regulars_connections_open gauge\nregulars_connections_open %u\n"
               "# HELP regulars_connections_accepted_total Accepted TCP connections.\n"
               "# TYPE regulars_connections_accepted_total counter\n"
               "regulars_connections_accepted_total %llu\n"
               "# HELP regulars_connections_rejected_total Connections refused over --max-conns.\n"
               "# TYPE regulars_connections_rejected_total counter\n"
               "regulars_connections_rejected_total %llu\n"
               "# HELP regulars_ws_connections_open Open WebSockets.\n"
               "# TYPE regulars_ws_connections_open gauge\nregulars_ws_connections_open %zu\n"
               "# HELP regulars_ws_upgrades_total WebSocket upgrades handed to libwebsockets.\n"
               "# TYPE regulars_ws_upgrades_total counter\nregulars_ws_upgrades_total %llu\n",
               s->nconns, (unsigned long long)m->conns_accepted,
               (unsigned long long)m->conns_rejected, s->ws ? ws_server_count(s->ws) : (size_t)0,
               (unsigned long long)m->ws_upgrades);

    struct commit_stats cs;
    commit_get_stats(s->commit, &cs);
    static const char *bs[8] = {"1", "2", "4", "8", "16", "32", "64", "+Inf"};
    static const char *cl[8] = {"0.0001", "0.00025", "0.0005", "0.001",
                                "0.0025", "0.005",   "0.01",   "+Inf"};
    buf_puts(out, "# HELP regulars_commit_batch_size Commands per durable commit.\n"
                  "# TYPE regulars_commit_batch_size histogram\n");
    cum = 0;
    for (int i = 0; i < 8; i++) {
        cum += cs.batch_size_buckets[i];
        buf_printf(out, "regulars_commit_batch_size_bucket{le=\"%s\"} %llu\n", bs[i],
                   (unsigned long long)cum);
    }
    buf_printf(out, "regulars_commit_batch_size_sum %llu\nregulars_commit_batch_size_count %llu\n",
               (unsigned long long)cs.commands, (unsigned long long)cs.batches);
    buf_puts(out, "# HELP regulars_commit_duration_seconds Time of one write txn and its commit.\n"
                  "# TYPE regulars_commit_duration_seconds histogram\n");
    cum = 0;
    for (int i = 0; i < 8; i++) {
        cum += cs.commit_us_buckets[i];
        buf_printf(out, "regulars_commit_duration_seconds_bucket{le=\"%s\"} %llu\n", cl[i],
                   (unsigned long long)cum);
    }
    buf_printf(out,
               "regulars_commit_duration_seconds_sum %.6f\n"
               "regulars_commit_duration_seconds_count %llu\n"
               "# HELP regulars_commit_failed_batches_total Batches whose commit failed.\n"
               "# TYPE regulars_commit_failed_batches_total counter\n"
               "regulars_commit_failed_batches_total %llu\n"
               "# HELP regulars_commit_queue_depth Commands waiting for the writer.\n"
               "# TYPE regulars_commit_queue_depth gauge\nregulars_commit_queue_depth %zu\n"
               "# HELP regulars_lmdb_map_size_bytes Size of the LMDB map.\n"
               "# TYPE regulars_lmdb_map_size_bytes gauge\nregulars_lmdb_map_size_bytes %zu\n"
               "# HELP regulars_lmdb_map_used_bytes Bytes of the LMDB map in use.\n"
               "# TYPE regulars_lmdb_map_used_bytes gauge\nregulars_lmdb_map_used_bytes %zu\n"
               "# HELP regulars_lmdb_map_grows_total Times the map was doubled.\n"
               "# TYPE regulars_lmdb_map_grows_total counter\nregulars_lmdb_map_grows_total %llu\n",
               cs.commit_us_sum / 1e6, (unsigned long long)cs.batches,
               (unsigned long long)cs.failed_batches, cs.depth, s->store.map_size,
               store_used_bytes(&s->store), (unsigned long long)cs.map_grows);
    return 0;
}
