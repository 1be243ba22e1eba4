/*
 * The scenarios of regulars-bench: see scenario.h. Each one is a few phases on one engine:
 * obtain the data set, prepare it (shares), connect WebSockets, load, and describe what was
 * measured as a JSON object.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "procinfo.h"
#include "scenario.h"
#include "seedset.h"

#define TAG_READ    0
#define TAG_WRITE   1
#define SETUP_CONNS 32

struct run {
    const struct bench_opts *o;    /* options */
    uv_loop_t loop;                /* the loop */
    struct engine e;               /* the engine */
    struct seedset ss;             /* the data set */
    uint64_t rng;                  /* splitmix64 state */
    char runid[32];                /* prefix of this run's idempotency keys */
    uint64_t counter;              /* idempotency key counter */
    uint32_t pool;                 /* users 0 .. pool-1 act (buyers, readers) */
    pid_t pids[PROCINFO_MAX_PIDS]; /* the server's processes */
    int npids;                     /* number of them */
    uint64_t referred;             /* measured purchases that were attributed to a share */
    uint64_t purchases;            /* measured purchases answered 201 */
    uint64_t writes_all;           /* purchases answered 2xx in the whole phase, warm-up too */
    char first_error[512];         /* the first unexpected answer, for the message */
    json_t *setup;                 /* what the set-up did, for the result */
};

static uint64_t rnd(struct run *r)
{
    uint64_t z = (r->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void note_error(struct run *r, const char *what, int status, const struct bbuf *body)
{
    if (r->first_error[0])
        return;
    snprintf(r->first_error, sizeof(r->first_error), "%s: HTTP %d %.300s", what, status,
             body && body->data ? body->data : "");
}

/* ------------------------------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------------------------- */

static void req_get(struct bbuf *out, const char *host, const char *path, const char *token)
{
    bbuf_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", path, host,
                token);
}

static void req_post(struct bbuf *out, const char *host, const char *path, const char *token,
                     const char *idem, const char *body)
{
    bbuf_printf(out, "POST %s HTTP/1.1\r\nHost: %s\r\n", path, host);
    if (token)
        bbuf_printf(out, "Authorization: Bearer %s\r\n", token);
    if (idem)
        bbuf_printf(out, "Idempotency-Key: %s\r\n", idem);
    bbuf_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                strlen(body), body);
}

/* The merchant of user u's group: neighbours on the friend ring buy at the same place, so
 * a friend's share there is a candidate for attribution. */
static uint32_t merchant_of(const struct run *r, uint32_t u)
{
    return (u / r->o->group) % r->ss.nmerchants;
}

static void req_purchase(struct run *r, struct bbuf *out, uint32_t u, uint32_t amount,
                         const char *idem_prefix)
{
    char idem[64], body[160];
    snprintf(idem, sizeof(idem), "%s-%llu", idem_prefix, (unsigned long long)r->counter++);
    snprintf(body, sizeof(body), "{\"user_id\":\"%s\",\"amount\":%u}", r->ss.users[u].id, amount);
    req_post(out, r->o->host, "/v1/purchases", r->ss.merchants[merchant_of(r, u)].secret, idem,
             body);
}

/* ------------------------------------------------------------------------------------------
 * Phase: the data set
 * ---------------------------------------------------------------------------------------- */

struct single {
    struct run *r;    /* the run */
    struct bbuf req;  /* the request to send once */
    int sent;         /* it was sent */
    int status;       /* its answer's status, 0 when none */
    struct bbuf body; /* its answer's body */
};

static int single_next(void *ctx, struct bconn *c, struct bbuf *out)
{
    struct single *s = ctx;
    if (s->sent)
        return -1;
    s->sent = 1;
    bbuf_add(out, s->req.data, s->req.len);
    return 0;
}

static void single_done(void *ctx, struct bconn *c, int tag, int status, const struct bbuf *body,
                        uint64_t sent, uint64_t sched, uint64_t now, int measured)
{
    struct single *s = ctx;
    s->status = status;
    bbuf_reset(&s->body);
    bbuf_add(&s->body, body->data, body->len);
}

/* Sends one request on one connection and waits for its answer (up to timeout_s). */
static int single_request(struct run *r, const char *name, struct single *s, double timeout_s)
{
    struct workload wl = {s, single_next, single_done, NULL, 1, {"request"}};
    unsigned conns = r->e.o.conns;
    double dur = r->e.o.duration_s;
    const char *oname = r->e.o.name;
    r->e.o.conns = 1;
    r->e.o.duration_s = timeout_s;
    r->e.o.name = name;
    int rc = engine_load(&r->e, &wl, ENGINE_JOBS);
    r->e.o.conns = conns;
    r->e.o.duration_s = dur;
    r->e.o.name = oname;
    return rc || s->status == 0 ? -1 : 0;
}

static int file_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0;
}

/* Loads the data set from --seed-file, or creates it on the server (and saves it there). */
static int obtain_seed(struct run *r, uint32_t min_users)
{
    const struct bench_opts *o = r->o;
    if (file_exists(o->seed_file)) {
        if (seedset_load(&r->ss, o->seed_file) < 0) {
            fprintf(stderr, "regulars-bench: cannot read %s\n", o->seed_file);
            return -1;
        }
        if (r->ss.nusers >= min_users && r->ss.nmerchants > 0) {
            fprintf(stderr, "regulars-bench: data set from %s: %u users, %u merchants\n",
                    o->seed_file, r->ss.nusers, r->ss.nmerchants);
            return 0;
        }
        fprintf(stderr, "regulars-bench: %s has %u users, %u wanted: seeding anew\n", o->seed_file,
                r->ss.nusers, min_users);
        seedset_fini(&r->ss);
        seedset_init(&r->ss);
    }
    struct single s = {.r = r};
    bbuf_init(&s.req);
    bbuf_init(&s.body);
    char body[200];
    snprintf(body, sizeof(body),
             "{\"users\":%u,\"merchants\":%u,\"friends_per_user\":%u,\"seed\":%llu}", o->users,
             o->merchants, o->friends, (unsigned long long)o->seed);
    req_post(&s.req, o->host, "/bench/seed", NULL, NULL, body);
    fprintf(stderr, "regulars-bench: seeding %u users, %u merchants, %u friends each\n", o->users,
            o->merchants, o->friends);
    uint64_t t = engine_now();
    int rc = single_request(r, "seed", &s, 900);
    if (rc || s.status != 200) {
        fprintf(stderr,
                "regulars-bench: POST /bench/seed failed (HTTP %d): %.300s\n"
                "  (is the server running with --bench?)\n",
                s.status, s.body.data ? s.body.data : "no answer");
        rc = -1;
        goto out;
    }
    if (seedset_parse(&r->ss, s.body.data ? s.body.data : "", s.body.len) < 0 ||
        r->ss.nusers == 0 || r->ss.nmerchants == 0) {
        fprintf(stderr, "regulars-bench: the seed answer lists no users or no merchants\n");
        rc = -1;
        goto out;
    }
    fprintf(stderr, "regulars-bench: seeded %u users and %u merchants in %.1f s\n", r->ss.nusers,
            r->ss.nmerchants, (double)(engine_now() - t) / 1e9);
    if (o->seed_file && seedset_save(o->seed_file, s.body.data, s.body.len))
        fprintf(stderr, "regulars-bench: cannot save %s: %s\n", o->seed_file, strerror(errno));
out:
    bbuf_fini(&s.req);
    bbuf_fini(&s.body);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Phase: friends share purchases (so that later purchases get attributed)
 * ---------------------------------------------------------------------------------------- */

struct shares {
    struct run *r;         /* the run */
    uint32_t *sharers;     /* user index per slot */
    uint32_t n;            /* slots */
    uint32_t next;         /* next slot whose purchase to send */
    char (*pid)[32];       /* purchase id per slot, once known */
    uint32_t *ready;       /* FIFO of slots whose share can be sent */
    uint32_t rhead, rtail; /* FIFO bounds */
    uint32_t *job;         /* slot in flight per connection */
    uint64_t purchases;    /* set-up purchases recorded */
    uint64_t shared;       /* shares made */
    uint64_t failed;       /* set-up requests that failed */
};

static int shares_next(void *ctx, struct bconn *c, struct bbuf *out)
{
    struct shares *sh = ctx;
    struct run *r = sh->r;
    if (sh->rhead != sh->rtail) {
        uint32_t slot = sh->ready[sh->rhead++];
        char body[128];
        snprintf(body, sizeof(body), "{\"purchase_id\":\"%s\",\"channel\":\"post\"}",
                 sh->pid[slot]);
        req_post(out, r->o->host, "/v1/shares", r->ss.users[sh->sharers[slot]].secret, NULL, body);
        sh->job[c->idx] = slot;
        return TAG_WRITE;
    }
    if (sh->next < sh->n) {
        uint32_t slot = sh->next++;
        req_purchase(r, out, sh->sharers[slot], 10000, r->runid);
        sh->job[c->idx] = slot;
        return TAG_READ; /* tag 0 = the purchase step */
    }
    return -1;
}

static void shares_done(void *ctx, struct bconn *c, int tag, int status, const struct bbuf *body,
                        uint64_t sent, uint64_t sched, uint64_t now, int measured)
{
    struct shares *sh = ctx;
    uint32_t slot = sh->job[c->idx];
    if (tag == TAG_WRITE) {
        if (status == 201)
            sh->shared++;
        else
            sh->failed++, note_error(sh->r, "POST /v1/shares", status, body);
        return;
    }
    json_t *o = status == 201 ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(json_object_get(o, "purchase"), "id"));
    if (id && strlen(id) < sizeof(sh->pid[0])) {
        sh->purchases++;
        snprintf(sh->pid[slot], sizeof(sh->pid[slot]), "%s", id);
        sh->ready[sh->rtail++] = slot;
    } else {
        sh->failed++;
        note_error(sh->r, "POST /v1/purchases (set-up)", status, body);
    }
    json_decref(o);
}

static void shares_progress(void *ctx, struct bbuf *line)
{
    struct shares *sh = ctx;
    bbuf_printf(line, "  shares %llu/%u", (unsigned long long)sh->shared, sh->n);
}

/* Users spread evenly over 0 .. pool-1 each make a purchase at their group's merchant and
 * share it; their friends' purchases there are then attributed. */
static int make_shares(struct run *r)
{
    /* By default a quarter of the acting users share (two per merchant group of 8). */
    uint32_t want = r->o->sharers != UINT32_MAX ? r->o->sharers
                    : r->pool / 4 < 2500        ? r->pool / 4
                                                : 2500;
    if (want > r->pool)
        want = r->pool;
    if (want == 0)
        return 0;
    struct shares sh = {.r = r};
    sh.n = want;
    sh.sharers = calloc(want, sizeof(*sh.sharers));
    sh.pid = calloc(want, sizeof(*sh.pid));
    sh.ready = calloc(want, sizeof(*sh.ready));
    sh.job = calloc(r->e.nhttp, sizeof(*sh.job));
    int rc = -1;
    if (!sh.sharers || !sh.pid || !sh.ready || !sh.job)
        goto out;
    double stride = (double)r->pool / want;
    for (uint32_t i = 0; i < want; i++)
        sh.sharers[i] = (uint32_t)(i * stride);
    struct workload wl = {&sh, shares_next, shares_done, shares_progress, 1, {"purchase", "share"}};
    unsigned conns = r->e.o.conns, pipe = r->e.o.pipeline;
    double dur = r->e.o.duration_s;
    r->e.o.conns = SETUP_CONNS < r->e.nhttp ? SETUP_CONNS : r->e.nhttp;
    r->e.o.pipeline = 1; /* the job table is per connection */
    r->e.o.duration_s = 600;
    r->e.o.name = "shares";
    uint64_t t = engine_now();
    engine_load(&r->e, &wl, ENGINE_JOBS);
    r->e.o.conns = conns;
    r->e.o.pipeline = pipe;
    r->e.o.duration_s = dur;
    r->e.o.name = r->o->scenario;
    double secs = (double)(engine_now() - t) / 1e9;
    r->setup = json_pack("{s:I,s:I,s:I,s:f}", "sharers", (json_int_t)want, "shares",
                         (json_int_t)sh.shared, "failed", (json_int_t)sh.failed, "seconds", secs);
    if (sh.failed)
        fprintf(stderr, "regulars-bench: %llu set-up requests failed; first: %s\n",
                (unsigned long long)sh.failed, r->first_error);
    rc = sh.shared ? 0 : -1;
    if (rc)
        fprintf(stderr, "regulars-bench: no share could be made\n");
out:
    free(sh.sharers);
    free(sh.pid);
    free(sh.ready);
    free(sh.job);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Read, purchase, mix
 * ---------------------------------------------------------------------------------------- */

static int next_read(struct run *r, struct bbuf *out)
{
    const char *token = "bench";
    if (r->ss.nusers)
        token = r->ss.users[rnd(r) % r->pool].secret;
    req_get(out, r->o->host, r->o->path, token);
    return TAG_READ;
}

static int next_purchase(struct run *r, struct bbuf *out)
{
    uint32_t u = (uint32_t)(rnd(r) % r->pool);
    req_purchase(r, out, u, 1000 + (uint32_t)(rnd(r) % 49000), r->runid);
    return TAG_WRITE;
}

static int load_next(void *ctx, struct bconn *c, struct bbuf *out)
{
    struct run *r = ctx;
    const char *s = r->o->scenario;
    if (strcmp(s, "read") == 0)
        return next_read(r, out);
    if (strcmp(s, "purchase") == 0)
        return next_purchase(r, out);
    return rnd(r) % 100 < r->o->read_pct ? next_read(r, out) : next_purchase(r, out);
}

static void load_done(void *ctx, struct bconn *c, int tag, int status, const struct bbuf *body,
                      uint64_t sent, uint64_t sched, uint64_t now, int measured)
{
    struct run *r = ctx;
    if (status / 100 != 2) {
        note_error(r, tag == TAG_READ ? r->o->path : "POST /v1/purchases", status, body);
        return;
    }
    if (tag != TAG_WRITE)
        return;
    r->writes_all++;
    if (!measured)
        return;
    r->purchases++;
    if (body->data && memmem(body->data, body->len, "\"referral\":{", 12))
        r->referred++;
}

/* ------------------------------------------------------------------------------------------
 * Results
 * ---------------------------------------------------------------------------------------- */

static json_t *lat_json(const struct hist *h)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "count", (json_int_t)h->count, "p50",
                     hist_quantile(h, 0.50) / 1e3, "p90", hist_quantile(h, 0.90) / 1e3, "p99",
                     hist_quantile(h, 0.99) / 1e3, "p999", hist_quantile(h, 0.999) / 1e3, "max",
                     (double)h->max / 1e3, "mean", hist_mean(h) / 1e3);
}

static const char *mode_name(enum engine_mode m)
{
    return m == ENGINE_OPEN ? "open" : m == ENGINE_CLOSED ? "closed" : "jobs";
}

struct cpu_mark {
    uint64_t wall;        /* ns */
    double server;        /* server CPU seconds */
    double self;          /* generator CPU seconds */
    uint64_t server_cpus; /* CPUs the server may run on (mask) */
    uint64_t self_cpus;   /* CPUs the generator may run on (mask) */
    double server_busy;   /* busy seconds of the server's CPUs, all processes */
    double self_busy;     /* busy seconds of the generator's CPUs, all processes */
    long long commit_wchar; /* bytes the server's commit thread has written, -1 unknown */
};

static void cpu_mark(struct run *r, struct cpu_mark *m)
{
    m->wall = engine_now();
    m->server = 0;
    m->server_cpus = 0;
    for (int i = 0; i < r->npids; i++) {
        double s = procinfo_cpu_s(r->pids[i]);
        m->server += s > 0 ? s : 0;
        m->server_cpus |= procinfo_cpus_allowed(r->pids[i]);
    }
    m->self = procinfo_self_cpu_s();
    m->self_cpus = procinfo_cpus_allowed(0);
    m->server_busy = procinfo_cpus_busy_s(m->server_cpus);
    m->self_busy = procinfo_cpus_busy_s(m->self_cpus);
    m->commit_wchar = -1;
    for (int i = 0; i < r->npids; i++) {
        long long w = procinfo_thread_wchar(r->pids[i], "rg-commit");
        if (w >= 0)
            m->commit_wchar = (m->commit_wchar < 0 ? 0 : m->commit_wchar) + w;
    }
}

/* CPU used by other processes on a set of CPUs, in cores: the set's busy time minus what the
 * server and the generator used there. It tells whether a figure was measured on a quiet
 * machine. */
static double other_load(double busy, double server, double self, int server_there, int self_there,
                         double wall)
{
    double other = busy - (server_there ? server : 0) - (self_there ? self : 0);
    return wall > 0 && other > 0 ? other / wall : 0;
}

/* {"server": {pids, cpu_cores, cpus, other_load}, "generator": {...}} between a and b. */
static json_t *cpu_json(const struct run *r, const struct cpu_mark *a, const struct cpu_mark *b)
{
    double wall = (double)(b->wall - a->wall) / 1e9;
    double srv = b->server - a->server, self = b->self - a->self;
    int overlap = (a->server_cpus & a->self_cpus) != 0;
    char scpus[64], gcpus[64];
    procinfo_cpus_format(a->server_cpus, scpus, sizeof(scpus));
    procinfo_cpus_format(a->self_cpus, gcpus, sizeof(gcpus));
    json_t *pids = json_array();
    for (int i = 0; i < r->npids; i++)
        json_array_append_new(pids, json_integer(r->pids[i]));
    double sother =
        r->npids ? other_load(b->server_busy - a->server_busy, srv, self, 1, overlap, wall) : 0;
    double gother = other_load(b->self_busy - a->self_busy, srv, self, overlap, 1, wall);
    return json_pack("{s:{s:o,s:f,s:s,s:f},s:{s:f,s:s,s:f}}", "server", "pids", pids, "cpu_cores",
                     r->npids && wall > 0 ? srv / wall : 0.0, "cpus", scpus, "other_load", sother,
                     "generator", "cpu_cores", wall > 0 ? self / wall : 0.0, "cpus", gcpus,
                     "other_load", gother);
}

/* The fields every result has. */
static json_t *result_base(struct run *r, enum engine_mode mode, const struct cpu_mark *a,
                           const struct cpu_mark *b, const struct workload *wl)
{
    const struct bench_opts *o = r->o;
    const struct engine_stats *st = &r->e.st;
    double secs = st->measured_s > 0 ? st->measured_s : 1;
    uint64_t ok = 0;
    for (int i = 0; i < ENGINE_TAGS; i++)
        ok += st->ok[i];
    json_t *kinds = json_object();
    for (int i = 0; wl && i < ENGINE_TAGS; i++) {
        if (!wl->tag_names[i] || st->ok[i] == 0)
            continue;
        json_object_set_new(kinds, wl->tag_names[i],
                            json_pack("{s:I,s:f,s:o}", "requests", (json_int_t)st->ok[i],
                                      "throughput", (double)st->ok[i] / secs, "latency_us",
                                      lat_json(&st->lat[i])));
    }
    uint64_t errors =
        st->non2xx + st->connect_err + st->io_err + st->parse_err + st->timeouts + st->unsent;
    json_t *err =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "status_4xx", (json_int_t)st->status[4],
                  "status_5xx", (json_int_t)st->status[5], "other_status",
                  (json_int_t)(st->non2xx - st->status[4] - st->status[5]), "connect",
                  (json_int_t)st->connect_err, "io", (json_int_t)st->io_err, "parse",
                  (json_int_t)st->parse_err, "timeout", (json_int_t)st->timeouts, "unsent",
                  (json_int_t)st->unsent);
    time_t now = time(NULL);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *res =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:f,s:f,s:I,s:f,s:o,s:o,s:o,s:I,s:s}", "id",
                  o->id ? o->id : o->scenario, "label", o->label ? o->label : "regularsd",
                  "scenario", o->scenario, "target", o->url, "mode", mode_name(mode), "connections",
                  (int)r->e.o.conns, "pipeline", (int)r->e.o.pipeline, "duration_s", st->measured_s,
                  "warmup_s", o->warmup_s, "requests", (json_int_t)ok, "throughput",
                  (double)ok / secs, "latency_us", lat_json(&st->all), "kinds", kinds, "errors",
                  err, "errors_total", (json_int_t)errors, "started_at", when);
    if (mode == ENGINE_OPEN)
        json_object_set_new(res, "rate", json_real(r->e.o.rate));
    if (r->first_error[0])
        json_object_set_new(res, "first_error", json_string(r->first_error));
    json_t *cpu = cpu_json(r, a, b);
    json_object_update(res, cpu);
    json_decref(cpu);
    if (r->ss.nusers)
        json_object_set_new(res, "data_set",
                            json_pack("{s:i,s:i,s:i}", "users", (int)r->ss.nusers, "merchants",
                                      (int)r->ss.nmerchants, "friends_per_user", (int)o->friends));
    if (r->setup)
        json_object_set_new(res, "setup", json_incref(r->setup));
    return res;
}

static json_t *run_http(struct run *r)
{
    const struct bench_opts *o = r->o;
    int writes = strcmp(o->scenario, "read") != 0;
    if (!o->no_seed) {
        if (obtain_seed(r, 1))
            return NULL;
        r->pool = o->users && o->users < r->ss.nusers ? o->users : r->ss.nusers;
        if (writes && make_shares(r))
            return NULL;
    } else if (writes) {
        fprintf(stderr, "regulars-bench: --no-seed works with the read scenario only\n");
        return NULL;
    }
    struct workload wl = {r, load_next, load_done, NULL, writes, {"read", "purchase"}};
    enum engine_mode mode = o->rate > 0 ? ENGINE_OPEN : ENGINE_CLOSED;
    r->e.o.conns = o->conns; /* the engine has at least this many (set-up may use more) */
    struct cpu_mark a, b;
    cpu_mark(r, &a);
    int rc = engine_load(&r->e, &wl, mode);
    cpu_mark(r, &b);
    if (rc) {
        fprintf(stderr, "regulars-bench: no connection to %s could be made\n", o->url);
        return NULL;
    }
    json_t *res = result_base(r, mode, &a, &b, &wl);
    if (writes)
        json_object_set_new(res, "attribution",
                            json_pack("{s:I,s:I,s:f}", "purchases", (json_int_t)r->purchases,
                                      "referred", (json_int_t)r->referred, "referred_share",
                                      r->purchases ? (double)r->referred / r->purchases : 0.0));
    /* What each durable write cost the disk: the commit thread writes nothing but the data
     * file's pages (4 KiB each) and meta pages, so its bytes over the phase divided by the
     * purchases of the phase are the pages a purchase dirties, to be synced. */
    if (writes && a.commit_wchar >= 0 && b.commit_wchar >= a.commit_wchar && r->writes_all)
        json_object_set_new(
            res, "commit_io",
            json_pack("{s:I,s:I,s:f}", "bytes", (json_int_t)(b.commit_wchar - a.commit_wchar),
                      "purchases", (json_int_t)r->writes_all, "pages_per_purchase",
                      (double)(b.commit_wchar - a.commit_wchar) / 4096.0 / (double)r->writes_all));
    return res;
}

/* ------------------------------------------------------------------------------------------
 * Push: notifications from purchase to WebSocket
 * ---------------------------------------------------------------------------------------- */

#define EARLY_MAX 4

/* One purchase of the push scenario, found by its id. */
struct prec {
    uint64_t sent;             /* when its request was written (ns), 0 until answered */
    uint64_t early[EARLY_MAX]; /* notifications that beat the HTTP answer (receive times) */
    uint8_t nearly;            /* entries in early */
    uint8_t known;             /* the HTTP answer arrived */
    uint8_t measured;          /* scheduled inside the measured window */
    uint8_t expected;          /* notifications due to connected users */
    uint8_t received;          /* notifications received */
};

struct push {
    struct run *r;         /* the run */
    uint32_t nws;          /* WebSockets wanted */
    uint8_t *user_open;    /* per user: WebSockets open */
    struct idmap ids;      /* purchase id -> index in recs */
    struct prec *recs;     /* purchases */
    uint32_t nrecs, cap;   /* used, allocated */
    struct hist notify;    /* measured notification latency (ns) */
    struct hist iv;        /* notification latency since the last progress line */
    uint64_t events;       /* points.earned received */
    uint64_t hellos;       /* hello frames received */
    uint64_t bad_messages; /* messages that were not JSON */
    uint64_t referred;     /* measured purchases with a referral */
    uint64_t purchases;    /* measured purchases answered 201 */
    uint64_t unmatched;    /* answered purchases whose id could not be read */
};

static uint32_t prec_get(struct push *p, const char *id, size_t len)
{
    uint32_t i;
    if (idmap_get(&p->ids, id, len, &i))
        return i;
    if (p->nrecs == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 4096;
        struct prec *n = realloc(p->recs, (size_t)cap * sizeof(*n));
        if (!n)
            return UINT32_MAX;
        p->recs = n;
        p->cap = cap;
    }
    i = p->nrecs++;
    memset(&p->recs[i], 0, sizeof(p->recs[i]));
    if (idmap_put(&p->ids, id, len, i)) {
        p->nrecs--;
        return UINT32_MAX;
    }
    return i;
}

static void push_record(struct push *p, struct prec *rec, uint64_t at)
{
    uint64_t lat = at > rec->sent ? at - rec->sent : 0;
    if (rec->measured)
        hist_record(&p->notify, lat);
    hist_record(&p->iv, lat);
}

static int push_next(void *ctx, struct bconn *c, struct bbuf *out)
{
    struct push *p = ctx;
    struct run *r = p->r;
    /* A buyer who is online, so that at least the buyer's own points.earned is due. */
    uint32_t u = 0;
    for (int tries = 0; tries < 16; tries++) {
        u = (uint32_t)(rnd(r) % r->pool);
        if (p->user_open[u])
            break;
    }
    req_purchase(r, out, u, 1000 + (uint32_t)(rnd(r) % 49000), r->runid);
    return TAG_WRITE;
}

static void push_done(void *ctx, struct bconn *c, int tag, int status, const struct bbuf *body,
                      uint64_t sent, uint64_t sched, uint64_t now, int measured)
{
    struct push *p = ctx;
    if (status != 201) {
        note_error(p->r, "POST /v1/purchases", status, body);
        return;
    }
    json_t *o = json_loadb(body->data, body->len, 0, NULL);
    json_t *pu = json_object_get(o, "purchase");
    const char *id = json_string_value(json_object_get(pu, "id"));
    uint32_t i = id ? prec_get(p, id, strlen(id)) : UINT32_MAX;
    if (i == UINT32_MAX) {
        p->unmatched++;
        json_decref(o);
        return;
    }
    struct prec *rec = &p->recs[i];
    rec->sent = sent;
    rec->known = 1;
    rec->measured = (uint8_t)measured;
    /* Every award of more than 0 points to a user who is online is a notification due. */
    size_t k;
    json_t *aw;
    json_array_foreach(json_object_get(o, "awards"), k, aw)
    {
        const char *uid = json_string_value(json_object_get(aw, "user_id"));
        uint32_t u;
        if (uid && json_integer_value(json_object_get(aw, "points")) != 0 &&
            idmap_get(&p->r->ss.user_index, uid, strlen(uid), &u) && p->user_open[u])
            rec->expected++;
    }
    if (measured) {
        p->purchases++;
        if (json_is_object(json_object_get(pu, "referral")))
            p->referred++;
    }
    for (uint8_t j = 0; j < rec->nearly; j++)
        push_record(p, rec, rec->early[j]);
    rec->nearly = 0;
    json_decref(o);
}

static void push_message(void *ctx, struct bconn *c, const char *msg, size_t n, uint64_t now)
{
    struct push *p = ctx;
    json_t *o = json_loadb(msg, n, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) {
        p->bad_messages++;
    } else if (strcmp(type, "hello") == 0) {
        p->hellos++;
    } else if (strcmp(type, "points.earned") == 0) {
        p->events++;
        const char *id =
            json_string_value(json_object_get(json_object_get(o, "data"), "purchase_id"));
        uint32_t i = id ? prec_get(p, id, strlen(id)) : UINT32_MAX;
        if (i != UINT32_MAX) {
            struct prec *rec = &p->recs[i];
            rec->received++;
            if (rec->known)
                push_record(p, rec, now);
            else if (rec->nearly < EARLY_MAX)
                rec->early[rec->nearly++] = now;
        }
    }
    json_decref(o);
}

static void push_path(void *ctx, uint32_t i, struct bbuf *out)
{
    struct push *p = ctx;
    bbuf_printf(out, "/v1/stream?token=%s", p->r->ss.users[i % p->r->ss.nusers].secret);
}

static void push_open(void *ctx, struct bconn *c, uint64_t now)
{
    struct push *p = ctx;
    uint32_t u = c->idx % p->r->ss.nusers;
    if (p->user_open[u] < 255)
        p->user_open[u]++;
}

static void push_progress(void *ctx, struct bbuf *line)
{
    struct push *p = ctx;
    char buf[96];
    snprintf(buf, sizeof(buf), "  notify p50 %.2fms p99 %.2fms  events %llu",
             hist_quantile(&p->iv, 0.5) / 1e6, hist_quantile(&p->iv, 0.99) / 1e6,
             (unsigned long long)p->events);
    bbuf_adds(line, buf);
    hist_init(&p->iv);
}

static json_t *run_push(struct run *r)
{
    const struct bench_opts *o = r->o;
    struct push *p = calloc(1, sizeof(*p));
    json_t *res = NULL;
    if (!p)
        return NULL;
    p->r = r;
    idmap_init(&p->ids);
    hist_init(&p->notify);
    hist_init(&p->iv);
    if (obtain_seed(r, o->conns < o->users ? o->conns : o->users))
        goto out;
    p->nws = o->conns;
    /* Buyers and sharers are the users who are online. */
    r->pool = p->nws < r->ss.nusers ? p->nws : r->ss.nusers;
    if (!(p->user_open = calloc(r->ss.nusers, 1)))
        goto out;
    if (make_shares(r))
        goto out;
    struct ws_workload wwl = {p, push_path, push_open, push_message};
    r->e.o.name = "connect";
    unsigned open = engine_ws_connect(&r->e, p->nws, &wwl, 120);
    r->e.o.name = o->scenario;
    if (open == 0) {
        fprintf(stderr, "regulars-bench: no WebSocket could be opened on /v1/stream\n");
        goto out;
    }
    if (open < p->nws)
        fprintf(stderr, "regulars-bench: %u of %u WebSockets open\n", open, p->nws);
    struct workload wl = {p, push_next, push_done, push_progress, 1, {NULL, "purchase"}};
    unsigned conns = r->e.o.conns;
    r->e.o.conns = o->http_conns < r->e.nhttp ? o->http_conns : r->e.nhttp;
    struct cpu_mark a, b;
    cpu_mark(r, &a);
    int rc = engine_load(&r->e, &wl, ENGINE_OPEN);
    cpu_mark(r, &b);
    if (rc)
        goto out;
    res = result_base(r, ENGINE_OPEN, &a, &b, &wl);
    r->e.o.conns = conns;
    /* Notifications still on their way are waited for (they belong to measured purchases). */
    r->e.o.name = "drain";
    engine_idle(&r->e, o->grace_s, push_progress, p);
    uint64_t expected = 0, received = 0, late = 0;
    for (uint32_t i = 0; i < p->nrecs; i++) {
        struct prec *rec = &p->recs[i];
        if (!rec->known || !rec->measured)
            continue;
        expected += rec->expected;
        received += rec->received < rec->expected ? rec->received : rec->expected;
    }
    for (uint32_t i = 0; i < p->nrecs; i++)
        late += !p->recs[i].known; /* notifications for purchases never answered */
    json_object_set_new(
        res, "push",
        json_pack("{s:i,s:i,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "websockets", (int)p->nws,
                  "websockets_open", (int)engine_ws_open_count(&r->e), "purchase_rate", o->rate,
                  "purchases", (json_int_t)p->purchases, "referred", (json_int_t)p->referred,
                  "notifications_expected", (json_int_t)expected, "notifications_received",
                  (json_int_t)received, "missing", (json_int_t)(expected - received), "orphans",
                  (json_int_t)late, "hellos", (json_int_t)p->hellos, "websockets_closed",
                  (json_int_t)r->e.st.ws_closed, "notify_latency_us", lat_json(&p->notify)));
out:
    free(p->user_open);
    free(p->recs);
    idmap_fini(&p->ids);
    free(p);
    return res;
}

/* ------------------------------------------------------------------------------------------
 * Connections: many idle WebSockets, the server's memory for them
 * ---------------------------------------------------------------------------------------- */

struct crowd {
    struct run *r;   /* the run */
    uint64_t hellos; /* hello frames received */
};

static void crowd_path(void *ctx, uint32_t i, struct bbuf *out)
{
    struct crowd *cw = ctx;
    bbuf_printf(out, "/v1/stream?token=%s", cw->r->ss.users[i % cw->r->ss.nusers].secret);
}

static void crowd_message(void *ctx, struct bconn *c, const char *msg, size_t n, uint64_t now)
{
    struct crowd *cw = ctx;
    if (n > 20 && memmem(msg, n, "\"hello\"", 7))
        cw->hellos++;
}

static long server_rss(struct run *r)
{
    long sum = 0;
    for (int i = 0; i < r->npids; i++) {
        long k = procinfo_rss_kib(r->pids[i]);
        if (k > 0)
            sum += k;
    }
    return r->npids ? sum : -1;
}

static void crowd_line(void *ctx, struct bbuf *line)
{
    struct crowd *cw = ctx;
    long rss = server_rss(cw->r);
    bbuf_printf(line, "  websockets open %u  server RSS %.1f MiB", engine_ws_open_count(&cw->r->e),
                rss > 0 ? rss / 1024.0 : 0.0);
}

static json_t *run_connections(struct run *r)
{
    const struct bench_opts *o = r->o;
    struct crowd cw = {.r = r};
    if (obtain_seed(r, 1))
        return NULL;
    if (r->npids == 0)
        fprintf(stderr, "regulars-bench: the server's process was not found: no RSS figures "
                        "(give --server-pid)\n");
    /* Let the seed's garbage settle before the baseline is taken. */
    engine_idle(&r->e, 1.0, NULL, NULL);
    long before = server_rss(r);
    struct ws_workload wwl = {&cw, crowd_path, NULL, crowd_message};
    struct cpu_mark a, b;
    cpu_mark(r, &a);
    uint64_t t = engine_now();
    r->e.o.name = "connect";
    unsigned open = engine_ws_connect(&r->e, o->conns, &wwl, 600);
    double connect_s = (double)(engine_now() - t) / 1e9;
    cpu_mark(r, &b);
    r->e.o.name = "settle";
    engine_idle(&r->e, 2.0, crowd_line, &cw);
    long after = server_rss(r);
    r->e.o.name = "hold";
    engine_idle(&r->e, o->hold_s, crowd_line, &cw);
    long end = server_rss(r);
    unsigned held = engine_ws_open_count(&r->e);
    if (open == 0) {
        fprintf(stderr, "regulars-bench: no WebSocket could be opened on /v1/stream\n");
        return NULL;
    }
    double per = before > 0 && open ? (double)(after - before) * 1024.0 / open : 0;
    double wall = (double)(b.wall - a.wall) / 1e9;
    time_t now = time(NULL);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *res = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:f,s:s}", "id", o->id ? o->id : o->scenario,
                            "label", o->label ? o->label : "regularsd", "scenario", o->scenario,
                            "target", o->url, "mode", "hold", "connections", (int)o->conns,
                            "duration_s", o->hold_s, "started_at", when);
    json_object_set_new(res, "connections",
                        json_pack("{s:i,s:i,s:i,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:f,s:f,s:o}",
                                  "wanted", (int)o->conns, "opened", (int)open, "held", (int)held,
                                  "failed", (json_int_t)r->e.st.ws_failed, "closed_by_server",
                                  (json_int_t)r->e.st.ws_closed, "hellos", (json_int_t)cw.hellos,
                                  "connect_s", connect_s, "connect_rate",
                                  connect_s > 0 ? open / connect_s : 0.0, "server_rss_before_kib",
                                  (json_int_t)before, "server_rss_after_kib", (json_int_t)after,
                                  "server_rss_end_kib", (json_int_t)end,
                                  "server_bytes_per_connection", per, "server_cpu_cores_connecting",
                                  r->npids && wall > 0 ? (b.server - a.server) / wall : 0.0,
                                  "handshake_latency_us", lat_json(&r->e.st.ws_handshake)));
    json_object_set_new(res, "latency_us", lat_json(&r->e.st.ws_handshake));
    json_t *cpu = cpu_json(r, &a, &b);
    json_object_update(res, cpu);
    json_decref(cpu);
    json_object_set_new(res, "data_set", json_pack("{s:i}", "users", (int)r->ss.nusers));
    json_object_set_new(res, "errors_total",
                        json_integer((json_int_t)(r->e.st.ws_failed + (open - held))));
    return res;
}

/* ------------------------------------------------------------------------------------------
 * Entry
 * ---------------------------------------------------------------------------------------- */

static json_t *run_seed(struct run *r)
{
    if (obtain_seed(r, r->o->users))
        return NULL;
    return json_pack("{s:s,s:s,s:i,s:i}", "id", "seed", "scenario", "seed", "users",
                     (int)r->ss.nusers, "merchants", (int)r->ss.nmerchants);
}

/* GET --path as the first user and print the body (to make a baseline answer the same). */
static json_t *run_fetch(struct run *r)
{
    if (obtain_seed(r, 1))
        return NULL;
    struct single s = {.r = r};
    bbuf_init(&s.req);
    bbuf_init(&s.body);
    req_get(&s.req, r->o->host, r->o->path, r->ss.users[0].secret);
    json_t *res = NULL;
    if (single_request(r, "fetch", &s, 10) == 0 && s.status == 200) {
        fwrite(s.body.data, 1, s.body.len, stdout);
        res = json_pack("{s:s,s:s,s:i}", "id", "fetch", "scenario", "fetch", "status", s.status);
    } else {
        fprintf(stderr, "regulars-bench: GET %s: HTTP %d\n", r->o->path, s.status);
    }
    bbuf_fini(&s.req);
    bbuf_fini(&s.body);
    return res;
}

json_t *scenario_run(const struct bench_opts *o)
{
    struct run *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->o = o;
    r->rng = o->seed ^ engine_now();
    snprintf(r->runid, sizeof(r->runid), "b%llx",
             (unsigned long long)(engine_now() ^ ((uint64_t)getpid() << 40)));
    seedset_init(&r->ss);
    uv_loop_init(&r->loop);

    int ws = strcmp(o->scenario, "push") == 0 || strcmp(o->scenario, "connections") == 0;
    int http_load = !ws && strcmp(o->scenario, "seed") != 0 && strcmp(o->scenario, "fetch");
    struct engine_opts eo = {0};
    eo.target = o->target;
    snprintf(eo.host, sizeof(eo.host), "%s", o->host);
    eo.name = o->scenario;
    eo.conns = SETUP_CONNS;
    if (http_load && o->conns > eo.conns)
        eo.conns = o->conns;
    if (strcmp(o->scenario, "push") == 0 && o->http_conns > eo.conns)
        eo.conns = o->http_conns;
    eo.pipeline = o->pipeline;
    eo.rate = o->rate;
    eo.warmup_s = o->warmup_s;
    eo.duration_s = o->duration_s;
    eo.timeout_ms = o->timeout_ms;
    eo.src_addrs = o->src_addrs;
    eo.ws_window = o->ws_window;
    eo.quiet = o->quiet;

    uint64_t fds = (uint64_t)eo.conns + (ws ? o->conns : 0) + 64;
    engine_raise_nofile(fds);

    json_t *res = NULL;
    if (engine_init(&r->e, &r->loop, &eo))
        goto out;
    r->npids = o->server_pid > 0 ? 1 : 0;
    if (o->server_pid > 0)
        r->pids[0] = o->server_pid;
    else
        r->npids = procinfo_listeners(ntohs(o->target.sin_port), r->pids, PROCINFO_MAX_PIDS);

    if (strcmp(o->scenario, "seed") == 0)
        res = run_seed(r);
    else if (strcmp(o->scenario, "fetch") == 0)
        res = run_fetch(r);
    else if (strcmp(o->scenario, "push") == 0)
        res = run_push(r);
    else if (strcmp(o->scenario, "connections") == 0)
        res = run_connections(r);
    else
        res = run_http(r);
    engine_fini(&r->e);
out:
    uv_loop_close(&r->loop);
    seedset_fini(&r->ss);
    json_decref(r->setup);
    free(r);
    return res;
}
