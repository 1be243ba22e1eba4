/*
 * The load engine: connections, request scheduling, measurement. See engine.h.
 *
 * Everything runs on one libuv loop. Every connection reads into one shared buffer (the
 * parsers consume bytes synchronously inside the read callback, so nothing needs to stay in
 * it), which keeps a crowd of 100,000 idle WebSockets at a few hundred bytes each.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define WS_STALL_NS (UINT64_C(20) * 1000000000u) /* no upgrade settled for this long: stop */

enum conn_state {
    CS_CLOSED,     /* no socket (never opened, or closed) */
    CS_CONNECTING, /* TCP connect in progress */
    CS_HANDSHAKE,  /* WebSocket: upgrade request sent, waiting for 101 */
    CS_OPEN,       /* ready: HTTP requests or WebSocket frames */
    CS_CLOSING,    /* uv_close called, waiting for its callback */
};

/* A request in flight on a connection. */
struct inflight {
    uint64_t sent;  /* written (ns) */
    uint64_t sched; /* due (ns); == sent outside open mode */
    int tag;        /* the workload's kind */
};

/* HTTP side of a connection; WebSockets have one only during the upgrade. */
struct conn_http {
    struct resp rp;                     /* response parser */
    struct inflight q[ENGINE_PIPE_MAX]; /* requests in flight, oldest at qhead */
    unsigned qhead;                     /* index of the oldest */
    unsigned qlen;                      /* number in flight */
    char ws_key[WS_KEY_LEN + 1];        /* the upgrade's Sec-WebSocket-Key */
    uint8_t was_open;                   /* the connection was open once (for reconnects) */
};

/* A write that did not go out at once: the bytes travel with the request. */
struct wreq {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
};

static void conn_start(struct bconn *c);
static void conn_close(struct bconn *c, int graceful);
static void on_tick(uv_timer_t *t);
static void phase_end(struct engine *e, uint64_t now);
static int setup_http(struct engine *e);
static void on_handle_closed(uv_handle_t *h);

uint64_t engine_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------------
 * Limits: file descriptors and source addresses
 * ---------------------------------------------------------------------------------------- */

uint64_t engine_raise_nofile(uint64_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur >= want)
        return rl.rlim_cur;
    uint64_t before = rl.rlim_cur;
    if (rl.rlim_max < want) {
        /* Root may raise the hard limit, up to fs.nr_open. */
        struct rlimit hard = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &hard) == 0) {
            fprintf(stderr, "regulars-bench: raised the fd limit from %llu to %llu\n",
                    (unsigned long long)before, (unsigned long long)want);
            return want;
        }
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        fprintf(stderr,
                "regulars-bench: cannot raise the fd limit to %llu (hard limit %llu: %s); "
                "connections past %llu will fail. Run as root or raise `ulimit -Hn`.\n",
                (unsigned long long)want, (unsigned long long)rl.rlim_max, strerror(errno),
                (unsigned long long)rl.rlim_max);
        return rl.rlim_max;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
        fprintf(stderr, "regulars-bench: raised the fd limit from %llu to %llu\n",
                (unsigned long long)before, (unsigned long long)want);
        return want;
    }
    return before;
}

unsigned engine_addrs_needed(uint64_t n)
{
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2)
            lo = 32768, hi = 60999;
        fclose(f);
    }
    /* Keep a margin for other programs and for sockets still in TIME_WAIT. */
    uint64_t per = hi > lo + 2000 ? (uint64_t)(hi - lo + 1 - 1000) : 1000;
    uint64_t k = (n + per - 1) / per;
    return k < 1 ? 1 : k > 250 ? 250 : (unsigned)k;
}

/* ------------------------------------------------------------------------------------------
 * Set-up and tear-down
 * ---------------------------------------------------------------------------------------- */

int engine_init(struct engine *e, uv_loop_t *loop, const struct engine_opts *o)
{
    memset(e, 0, sizeof(*e) - sizeof(e->rbuf));
    e->loop = loop;
    e->o = *o;
    if (e->o.pipeline < 1)
        e->o.pipeline = 1;
    if (e->o.pipeline > ENGINE_PIPE_MAX)
        e->o.pipeline = ENGINE_PIPE_MAX;
    if (e->o.ws_window < 1)
        e->o.ws_window = 256;
    if (e->o.timeout_ms < 1)
        e->o.timeout_ms = 5000;
    uint32_t a = ntohl(o->target.sin_addr.s_addr);
    if ((a >> 24) != 127) {
        fprintf(stderr, "regulars-bench: refusing target %s: load goes to 127.0.0.0/8 only\n",
                inet_ntoa(o->target.sin_addr));
        return -1;
    }
    hist_init(&e->st.ws_handshake);
    hist_init(&e->iv);
    bbuf_init(&e->wbuf);
    e->timerfd = -1;
    e->tty = isatty(2);
    uv_timer_init(loop, &e->tick);
    e->tick.data = e;
    if (setup_http(e)) {
        fprintf(stderr, "regulars-bench: out of memory\n");
        e->handles_closing++;
        uv_close((uv_handle_t *)&e->tick, on_handle_closed);
        while (e->handles_closing)
            uv_run(loop, UV_RUN_ONCE);
        return -1;
    }
    return 0;
}

/* Chooses source addresses once the number of connections is known. */
static void pick_sources(struct engine *e, uint64_t total)
{
    unsigned k = e->o.src_addrs ? e->o.src_addrs : engine_addrs_needed(total);
    if (k <= 1 || e->src)
        return;
    e->src = calloc(k, sizeof(*e->src));
    if (!e->src)
        return;
    e->nsrc = k;
    for (unsigned i = 0; i < k; i++) {
        e->src[i].sin_family = AF_INET;
        e->src[i].sin_addr.s_addr = htonl((127u << 24) | (i + 1));
        e->src[i].sin_port = 0;
    }
    fprintf(stderr,
            "regulars-bench: %llu connections: binding to %u source addresses "
            "127.0.0.1-127.0.0.%u\n",
            (unsigned long long)total, k, k);
}

static void free_conn_state(struct bconn *c)
{
    if (c->h) {
        resp_fini(&c->h->rp);
        free(c->h);
        c->h = NULL;
    }
    if (c->rx) {
        wsrx_fini(c->rx);
        free(c->rx);
        c->rx = NULL;
    }
    if (c->msg) {
        bbuf_fini(c->msg);
        free(c->msg);
        c->msg = NULL;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct engine *e = h->data;
    e->handles_closing--;
}

static int closed_all(const struct engine *e)
{
    if (e->handles_closing)
        return 0;
    for (unsigned i = 0; i < e->nhttp; i++)
        if (e->http[i].state == CS_CLOSING)
            return 0;
    for (unsigned i = 0; i < e->nws; i++)
        if (e->ws[i].state == CS_CLOSING)
            return 0;
    return 1;
}

void engine_fini(struct engine *e)
{
    e->closing_all = 1;
    e->active = 0;
    e->ws_phase = 0;
    uv_timer_stop(&e->tick);
    e->tick.data = e;
    e->handles_closing++;
    uv_close((uv_handle_t *)&e->tick, on_handle_closed);
    if (e->timerfd >= 0) {
        uv_poll_stop(&e->tpoll);
        e->handles_closing++;
        uv_close((uv_handle_t *)&e->tpoll, on_handle_closed);
    }
    for (unsigned i = 0; i < e->nhttp; i++)
        conn_close(&e->http[i], 1);
    for (unsigned i = 0; i < e->nws; i++)
        conn_close(&e->ws[i], 1);
    /* Run only until our own handles are closed: the loop may hold other things. */
    while (!closed_all(e))
        uv_run(e->loop, UV_RUN_ONCE);
    if (e->timerfd >= 0)
        close(e->timerfd);
    for (unsigned i = 0; i < e->nhttp; i++)
        free_conn_state(&e->http[i]);
    for (unsigned i = 0; i < e->nws; i++)
        free_conn_state(&e->ws[i]);
    free(e->http);
    free(e->ws);
    free(e->idle);
    free(e->src);
    bbuf_fini(&e->wbuf);
}

/* ------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct bconn *c = req->handle->data;
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        conn_close(c, 0);
}

/* Writes now when the socket takes it (the usual case), else queues a copy. */
static int conn_write(struct bconn *c, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)n)
        return 0;
    if (r < 0 && r != UV_EAGAIN)
        return r;
    size_t done = r > 0 ? (size_t)r : 0;
    struct wreq *w = malloc(sizeof(*w) + n - done);
    if (!w)
        return UV_ENOMEM;
    memcpy(w->data, p + done, n - done);
    w->buf = uv_buf_init(w->data, (unsigned)(n - done));
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_written);
    if (rc)
        free(w);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * HTTP: sending
 * ---------------------------------------------------------------------------------------- */

static unsigned inflight_total(const struct engine *e)
{
    unsigned n = 0;
    for (unsigned i = 0; i < e->nhttp; i++)
        if (e->http[i].h)
            n += e->http[i].h->qlen;
    return n;
}

static void push_inflight(struct conn_http *h, uint64_t sched, int tag)
{
    unsigned at = (h->qhead + h->qlen) % ENGINE_PIPE_MAX;
    h->q[at].sent = 0;
    h->q[at].sched = sched;
    h->q[at].tag = tag;
    h->qlen++;
}

/* Stamps the send time on the last n requests queued and writes the buffer. */
static void send_built(struct bconn *c, unsigned n, uint64_t sched)
{
    struct engine *e = c->e;
    struct conn_http *h = c->h;
    uint64_t now = engine_now();
    for (unsigned i = 0; i < n; i++) {
        struct inflight *f = &h->q[(h->qhead + h->qlen - n + i) % ENGINE_PIPE_MAX];
        f->sent = now;
        f->sched = sched ? sched : now;
    }
    e->st.sent += n;
    if (conn_write(c, e->wbuf.data, e->wbuf.len))
        conn_close(c, 0);
}

/* Closed and jobs modes: fills the connection's pipeline. Returns requests sent. */
static unsigned http_pump(struct bconn *c)
{
    struct engine *e = c->e;
    struct conn_http *h = c->h;
    if (c->state != CS_OPEN || !e->active || e->stopping || c->idx >= e->o.conns)
        return 0;
    bbuf_reset(&e->wbuf);
    unsigned added = 0;
    while (h->qlen < e->o.pipeline) {
        int tag = e->wl->next(e->wl->ctx, c, &e->wbuf);
        if (tag < 0)
            break;
        push_inflight(h, 0, tag < ENGINE_TAGS ? tag : 0);
        added++;
    }
    if (added)
        send_built(c, added, 0);
    return added;
}

static void idle_push(struct bconn *c)
{
    struct engine *e = c->e;
    if (c->idle_listed || c->state != CS_OPEN || c->h->qlen || c->idx >= e->o.conns)
        return;
    c->idle_listed = 1;
    e->idle[e->nidle++] = c->idx;
}

static uint64_t sched_of(const struct engine *e, uint64_t k)
{
    return e->t0 + (uint64_t)((double)k * e->interval_ns);
}

static void arm_timer(struct engine *e, uint64_t at)
{
    struct itimerspec its = {{0, 0}, {(time_t)(at / 1000000000u), (long)(at % 1000000000u)}};
    if (at == 0)
        its.it_value.tv_nsec = 0; /* disarm */
    timerfd_settime(e->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Open mode: sends every request that is due on idle connections; a request that finds no
 * idle connection waits (and is charged the wait, since latency counts from its due time). */
static void open_dispatch(struct engine *e)
{
    if (!e->active || e->mode != ENGINE_OPEN || e->stopping)
        return;
    uint64_t now = engine_now();
    while (e->nidle) {
        uint64_t sched = sched_of(e, e->next_k);
        if (sched > now || sched >= e->t_end)
            break;
        struct bconn *c = &e->http[e->idle[--e->nidle]];
        c->idle_listed = 0;
        if (c->state != CS_OPEN || c->h->qlen)
            continue;
        bbuf_reset(&e->wbuf);
        int tag = e->wl->next(e->wl->ctx, c, &e->wbuf);
        e->next_k++;
        if (tag < 0) {
            idle_push(c);
            continue;
        }
        push_inflight(c->h, sched, tag < ENGINE_TAGS ? tag : 0);
        send_built(c, 1, sched);
    }
    uint64_t next = sched_of(e, e->next_k);
    arm_timer(e, e->nidle && next < e->t_end ? (next > now ? next : now + 1000) : 0);
}

static void on_timerfd(uv_poll_t *p, int status, int events)
{
    struct engine *e = p->data;
    uint64_t expirations;
    if (read(e->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    open_dispatch(e);
}

/* ------------------------------------------------------------------------------------------
 * HTTP: receiving
 * ---------------------------------------------------------------------------------------- */

/* One complete response: pairs it with its request, measures, tells the workload. */
static int http_response(struct bconn *c, uint64_t now)
{
    struct engine *e = c->e;
    struct conn_http *h = c->h;
    struct resp *rp = &h->rp;
    if (h->qlen == 0) {
        e->st.parse_err++; /* an answer to nothing */
        return -1;
    }
    struct inflight f = h->q[h->qhead];
    h->qhead = (h->qhead + 1) % ENGINE_PIPE_MAX;
    h->qlen--;
    int measured;
    if (e->mode == ENGINE_OPEN)
        measured = f.sched >= e->t_measure && f.sched < e->t_end;
    else if (e->mode == ENGINE_CLOSED)
        measured = now >= e->t_measure && now <= e->t_end;
    else
        measured = 1;
    uint64_t lat = now - (e->mode == ENGINE_OPEN ? f.sched : f.sent);
    int cls = rp->status / 100;
    if (measured) {
        if (cls >= 1 && cls <= 5)
            e->st.status[cls]++;
        if (cls == 2) {
            hist_record(&e->st.lat[f.tag], lat);
            hist_record(&e->st.all, lat);
            e->st.ok[f.tag]++;
        } else {
            e->st.non2xx++;
        }
    }
    hist_record(&e->iv, lat);
    e->iv_done++;
    if (e->wl && e->wl->done)
        e->wl->done(e->wl->ctx, c, f.tag, rp->status, &rp->body, f.sent, f.sched, now, measured);
    return 0;
}

/* Jobs mode: offers work to every idle connection; ends the phase when none is left. */
static void jobs_pump(struct engine *e)
{
    unsigned open = 0;
    for (unsigned i = 0; i < e->o.conns && i < e->nhttp; i++) {
        struct bconn *c = &e->http[i];
        if (c->state != CS_OPEN)
            continue;
        open++;
        http_pump(c);
    }
    if (open && inflight_total(e) == 0 && e->active)
        phase_end(e, engine_now());
}

static void after_http_read(struct bconn *c)
{
    struct engine *e = c->e;
    if (c->state != CS_OPEN)
        return;
    switch (e->mode) {
    case ENGINE_CLOSED:
        http_pump(c);
        break;
    case ENGINE_OPEN:
        if (c->h->qlen == 0) {
            idle_push(c);
            open_dispatch(e);
        }
        break;
    case ENGINE_JOBS:
        jobs_pump(e);
        break;
    }
}

/* ------------------------------------------------------------------------------------------
 * WebSocket: upgrade and frames
 * ---------------------------------------------------------------------------------------- */

static void ws_pump(struct engine *e)
{
    while (e->ws_phase && e->ws_inflight < e->o.ws_window && e->ws_next < e->ws_target) {
        struct bconn *c = &e->ws[e->ws_next++];
        e->ws_inflight++;
        conn_start(c);
    }
}

static void ws_send(struct bconn *c, int opcode, const void *p, size_t n)
{
    struct bbuf out;
    bbuf_init(&out);
    wsproto_frame(&out, opcode, p, n, (uint32_t)rand());
    if (conn_write(c, out.data, out.len))
        conn_close(c, 0);
    bbuf_fini(&out);
}

static void ws_deliver(struct bconn *c, const char *p, size_t n, uint64_t now)
{
    struct engine *e = c->e;
    e->st.ws_messages++;
    if (e->wwl && e->wwl->message)
        e->wwl->message(e->wwl->ctx, c, p, n, now);
}

/* One complete frame. Returns -1 when the connection is being closed. */
static int ws_frame(struct bconn *c, uint64_t now)
{
    struct wsrx *rx = c->rx;
    switch (rx->opcode) {
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (rx->fin) {
            ws_deliver(c, rx->payload.data ? rx->payload.data : "", rx->payload.len, now);
            return 0;
        }
        if (!c->msg && !(c->msg = calloc(1, sizeof(*c->msg))))
            return -1;
        bbuf_reset(c->msg);
        bbuf_add(c->msg, rx->payload.data, rx->payload.len);
        return 0;
    case WS_OP_CONT:
        if (!c->msg)
            return -1;
        bbuf_add(c->msg, rx->payload.data, rx->payload.len);
        if (rx->fin) {
            ws_deliver(c, c->msg->data, c->msg->len, now);
            bbuf_fini(c->msg);
            free(c->msg);
            c->msg = NULL;
        }
        return 0;
    case WS_OP_PING:
        ws_send(c, WS_OP_PONG, rx->payload.data, rx->payload.len);
        return 0;
    case WS_OP_PONG:
        return 0;
    case WS_OP_CLOSE:
        ws_send(c, WS_OP_CLOSE, rx->payload.data, rx->payload.len < 2 ? rx->payload.len : 2);
        conn_close(c, 1);
        return -1;
    default:
        return -1;
    }
}

static int ws_feed(struct bconn *c, const char *p, size_t n, uint64_t now)
{
    size_t off = 0;
    while (off < n) {
        ssize_t k = wsrx_feed(c->rx, p + off, n - off);
        if (k < 0)
            return -1;
        off += (size_t)k;
        if (c->rx->state == WSRX_DONE) {
            if (ws_frame(c, now))
                return 1;
            wsrx_next(c->rx);
        }
    }
    return 0;
}

/* The upgrade answer is complete: checks it and switches the connection to frames. */
static int ws_upgraded(struct bconn *c, uint64_t now)
{
    struct engine *e = c->e;
    struct resp *rp = &c->h->rp;
    char want[WS_ACCEPT_LEN + 1];
    wsproto_accept(c->h->ws_key, want);
    if (!rp->upgraded || rp->status != 101 || strcmp(rp->header_value, want) != 0)
        return -1;
    if (!(c->rx = malloc(sizeof(*c->rx))))
        return -1;
    wsrx_init(c->rx);
    resp_fini(&c->h->rp);
    free(c->h);
    c->h = NULL;
    c->state = CS_OPEN;
    c->graceful = 0;
    e->ws_inflight--;
    e->st.ws_open++;
    hist_record(&e->st.ws_handshake, now - c->t_connect);
    if (e->wwl && e->wwl->open)
        e->wwl->open(e->wwl->ctx, c, now);
    ws_pump(e);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Connections
 * ---------------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct bconn *c = handle->data;
    buf->base = c->e->rbuf;
    buf->len = sizeof(c->e->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct bconn *c = s->data;
    struct engine *e = c->e;
    if (nread == 0)
        return;
    uint64_t now = engine_now();
    if (nread < 0) {
        /* A body delimited by the close completes here. */
        if (c->h && c->state == CS_OPEN && resp_eof(&c->h->rp) == 0)
            http_response(c, now);
        conn_close(c, nread == UV_EOF && (!c->h || c->h->qlen == 0));
        return;
    }
    e->st.bytes_in += (uint64_t)nread;
    const char *p = buf->base;
    size_t n = (size_t)nread, off = 0;
    if (c->rx) {
        if (ws_feed(c, p, n, now) < 0)
            conn_close(c, 0);
        return;
    }
    while (off < n && c->h) {
        ssize_t k = resp_feed(&c->h->rp, p + off, n - off);
        if (k < 0) {
            e->st.parse_err++;
            conn_close(c, 0);
            return;
        }
        off += (size_t)k;
        if (c->h->rp.state != RESP_ST_DONE)
            continue;
        if (c->is_ws) {
            if (ws_upgraded(c, now)) {
                conn_close(c, 0);
                return;
            }
            if (off < n && ws_feed(c, p + off, n - off, now) < 0)
                conn_close(c, 0);
            return;
        }
        int keep = c->h->rp.keep_alive;
        if (http_response(c, now)) {
            conn_close(c, 0);
            return;
        }
        resp_reset(&c->h->rp);
        if (!keep) {
            conn_close(c, 1);
            return;
        }
    }
    after_http_read(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct bconn *c = req->handle->data;
    struct engine *e = c->e;
    free(req);
    if (c->state != CS_CONNECTING)
        return;
    if (status < 0) {
        e->st.connect_err++;
        conn_close(c, 0);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
        conn_close(c, 0);
        return;
    }
    if (c->is_ws) {
        struct bbuf path;
        bbuf_init(&path);
        e->wwl->path(e->wwl->ctx, c->idx, &path);
        wsproto_key(c->h->ws_key);
        bbuf_reset(&e->wbuf);
        wsproto_request(&e->wbuf, e->o.host, path.data ? path.data : "/", c->h->ws_key);
        bbuf_fini(&path);
        c->state = CS_HANDSHAKE;
        if (conn_write(c, e->wbuf.data, e->wbuf.len))
            conn_close(c, 0);
        return;
    }
    c->state = CS_OPEN;
    c->h->was_open = 1;
    if (e->mode == ENGINE_OPEN) {
        idle_push(c);
        open_dispatch(e);
    } else if (e->mode == ENGINE_JOBS) {
        jobs_pump(e);
    } else {
        http_pump(c);
    }
}

static void conn_start(struct bconn *c)
{
    struct engine *e = c->e;
    uv_connect_t *req = malloc(sizeof(*req));
    if (!req)
        goto fail;
    if (!c->h && (!c->is_ws || !c->rx)) {
        if (!(c->h = calloc(1, sizeof(*c->h))))
            goto fail;
        resp_init(&c->h->rp);
        if (c->is_ws)
            c->h->rp.want_header = "sec-websocket-accept";
        else
            c->h->rp.keep_body = e->wl ? e->wl->keep_body : 0;
    }
    uv_tcp_init(e->loop, &c->tcp);
    c->tcp.data = c;
    c->graceful = 0;
    c->state = CS_CONNECTING;
    c->t_connect = engine_now();
    if (e->nsrc > 1) {
        unsigned k = (c->is_ws ? e->nhttp + c->idx : c->idx) % e->nsrc;
        if (uv_tcp_bind(&c->tcp, (const struct sockaddr *)&e->src[k], 0)) {
            free(req);
            e->st.connect_err++;
            conn_close(c, 0);
            return;
        }
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)&e->o.target, on_connect)) {
        free(req);
        e->st.connect_err++;
        conn_close(c, 0);
    }
    return;
fail:
    free(req);
    e->st.connect_err++;
    if (c->is_ws) {
        e->ws_inflight--;
        e->st.ws_failed++;
    }
}

static void on_closed(uv_handle_t *handle)
{
    struct bconn *c = handle->data;
    struct engine *e = c->e;
    c->state = CS_CLOSED;
    if (c->is_ws) {
        free_conn_state(c);
        return;
    }
    c->h->qlen = 0;
    c->h->qhead = 0;
    resp_reset(&c->h->rp);
    c->h->rp.keep_body = e->wl ? e->wl->keep_body : 0;
    /* A server that closes a keep-alive connection on purpose gets a new one at once; after
     * an error the tick reconnects, so a dead server is not hammered in a tight loop. */
    if (c->graceful && e->active && !e->stopping && !e->closing_all && c->idx < e->o.conns) {
        e->st.reconnects++;
        conn_start(c);
    }
}

static void conn_close(struct bconn *c, int graceful)
{
    struct engine *e = c->e;
    if (c->state == CS_CLOSED || c->state == CS_CLOSING)
        return;
    if (c->is_ws) {
        if (c->state == CS_OPEN) {
            e->st.ws_closed++;
        } else {
            e->ws_inflight--;
            e->st.ws_failed++;
        }
    } else if (c->h && c->h->qlen && !e->closing_all) {
        e->st.io_err += c->h->qlen;
        c->h->qlen = 0;
    }
    c->graceful = (uint8_t)graceful;
    c->state = CS_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (c->is_ws && !e->closing_all)
        ws_pump(e);
}

/* ------------------------------------------------------------------------------------------
 * Phases
 * ---------------------------------------------------------------------------------------- */

static void fmt_ms(char *out, size_t n, uint64_t ns)
{
    double ms = (double)ns / 1e6;
    if (ms < 10)
        snprintf(out, n, "%.2fms", ms);
    else if (ms < 1000)
        snprintf(out, n, "%.1fms", ms);
    else
        snprintf(out, n, "%.2fs", ms / 1000);
}

static void progress(struct engine *e, uint64_t now, void (*line_fn)(void *, struct bbuf *),
                     void *ctx, int final)
{
    double dt = (double)(now - e->last_progress) / 1e9;
    if (!final && dt < 1.0)
        return;
    if (e->o.quiet) {
        e->last_progress = now;
        return;
    }
    struct bbuf line;
    bbuf_init(&line);
    bbuf_printf(&line, "[%s] %5.1fs", e->o.name ? e->o.name : "bench", (double)(now - e->t0) / 1e9);
    if (e->active && dt > 0) {
        char p50[16], p99[16];
        fmt_ms(p50, sizeof(p50), hist_quantile(&e->iv, 0.5));
        fmt_ms(p99, sizeof(p99), hist_quantile(&e->iv, 0.99));
        uint64_t err =
            e->st.non2xx + e->st.io_err + e->st.timeouts + e->st.parse_err + e->st.connect_err;
        bbuf_printf(&line, "  %9.0f req/s  p50 %s  p99 %s  errors %llu", (double)e->iv_done / dt,
                    p50, p99, (unsigned long long)err);
        if (now < e->t_measure)
            bbuf_adds(&line, "  (warm-up)");
    }
    if (e->ws_phase)
        bbuf_printf(&line, "  websockets %llu/%u open, %llu failed",
                    (unsigned long long)engine_ws_open_count(e), e->ws_target,
                    (unsigned long long)e->st.ws_failed);
    if (line_fn)
        line_fn(ctx, &line);
    else if (e->active && e->wl && e->wl->progress)
        e->wl->progress(e->wl->ctx, &line);
    if (e->tty)
        fprintf(stderr, "\r\033[K%s%s", line.data, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line.data);
    bbuf_fini(&line);
    hist_init(&e->iv);
    e->iv_done = 0;
    e->last_progress = now;
}

static void phase_end(struct engine *e, uint64_t now)
{
    /* Requests still unanswered (already counted as timeouts) must not be paired with the
     * next phase's answers: their connections start afresh. */
    for (unsigned i = 0; i < e->nhttp; i++) {
        struct bconn *c = &e->http[i];
        if (c->h && c->h->qlen && (c->state == CS_OPEN || c->state == CS_CONNECTING)) {
            c->h->qlen = 0;
            conn_close(c, 0);
        }
    }
    progress(e, now, NULL, NULL, 1);
    e->active = 0;
    e->ws_phase = 0;
    e->stopping = 0;
    if (e->timerfd >= 0)
        arm_timer(e, 0);
    uv_timer_stop(&e->tick);
    uv_stop(e->loop);
}

/* The window is over: no more sends; open mode counts what was due and never went out. */
static void window_over(struct engine *e)
{
    e->stopping = 1;
    if (e->mode != ENGINE_OPEN)
        return;
    arm_timer(e, 0);
    uint64_t k_meas = (uint64_t)ceil((double)(e->t_measure - e->t0) / e->interval_ns);
    uint64_t k_end = (uint64_t)ceil((double)(e->t_end - e->t0) / e->interval_ns);
    uint64_t from = e->next_k > k_meas ? e->next_k : k_meas;
    e->st.unsent = k_end > from ? k_end - from : 0;
}

static void http_tick(struct engine *e, uint64_t now)
{
    uint64_t timeout = (uint64_t)e->o.timeout_ms * 1000000u;
    for (unsigned i = 0; i < e->nhttp; i++) {
        struct bconn *c = &e->http[i];
        if (c->state == CS_OPEN && c->h->qlen && now - c->h->q[c->h->qhead].sent > timeout) {
            e->st.timeouts += c->h->qlen;
            c->h->qlen = 0;
            conn_close(c, 0);
        } else if (c->state == CS_CLOSED && !e->stopping && i < e->o.conns) {
            if (c->h && c->h->was_open)
                e->st.reconnects++;
            conn_start(c);
        }
    }
    if (e->mode != ENGINE_JOBS && !e->stopping && now >= e->t_end)
        window_over(e);
    if (e->mode == ENGINE_JOBS && e->active)
        jobs_pump(e);
    if (e->active && e->stopping && (inflight_total(e) == 0 || now >= e->t_deadline)) {
        e->st.timeouts += inflight_total(e);
        phase_end(e, now);
        return;
    }
    if (e->active && now >= e->t_deadline) {
        fprintf(stderr, "\nregulars-bench: phase %s did not finish in time\n", e->o.name);
        e->st.timeouts += inflight_total(e);
        phase_end(e, now);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct engine *e = t->data;
    uint64_t now = engine_now();
    if (e->active) {
        http_tick(e, now);
        if (!e->active)
            return;
    } else if (e->ws_phase) {
        uint64_t settled = e->st.ws_open + e->st.ws_failed;
        if (settled != e->ws_settled) {
            e->ws_settled = settled;
            e->ws_moved = now;
        }
        if (e->ws_next >= e->ws_target && e->ws_inflight == 0) {
            phase_end(e, now);
            return;
        }
        /* A server that stops answering upgrades must not hold the run hostage. */
        if (now >= e->t_deadline || now - e->ws_moved > WS_STALL_NS) {
            fprintf(stderr,
                    "\nregulars-bench: %u WebSocket upgrades unanswered %s; going on "
                    "with %u open\n",
                    e->ws_inflight,
                    now >= e->t_deadline ? "at the deadline" : "for 20 s (the server stalled)",
                    engine_ws_open_count(e));
            phase_end(e, now);
            return;
        }
    }
    progress(e, now, NULL, NULL, 0);
}

static int setup_http(struct engine *e)
{
    e->nhttp = e->o.conns;
    e->http = calloc(e->nhttp ? e->nhttp : 1, sizeof(*e->http));
    e->idle = calloc(e->nhttp ? e->nhttp : 1, sizeof(*e->idle));
    if (!e->http || !e->idle)
        return -1;
    for (unsigned i = 0; i < e->nhttp; i++) {
        e->http[i].e = e;
        e->http[i].idx = i;
    }
    pick_sources(e, (uint64_t)e->nhttp + e->nws);
    return 0;
}

static void reset_phase_stats(struct engine *e)
{
    struct engine_stats *s = &e->st;
    for (int i = 0; i < ENGINE_TAGS; i++) {
        hist_init(&s->lat[i]);
        s->ok[i] = 0;
    }
    hist_init(&s->all);
    memset(s->status, 0, sizeof(s->status));
    s->non2xx = s->sent = s->connect_err = s->io_err = s->parse_err = s->timeouts = 0;
    s->reconnects = s->unsent = s->bytes_in = 0;
    s->measured_s = 0;
    hist_init(&e->iv);
    e->iv_done = 0;
}

int engine_load(struct engine *e, const struct workload *wl, enum engine_mode mode)
{
    if (e->o.conns > e->nhttp) {
        fprintf(stderr, "regulars-bench: a phase cannot use more connections than engine_init\n");
        return -1;
    }
    reset_phase_stats(e);
    e->wl = wl;
    e->mode = mode;
    e->active = 1;
    e->stopping = 0;
    e->nidle = 0;
    e->next_k = 0;
    uint64_t now = engine_now();
    e->t0 = e->last_progress = now;
    if (mode == ENGINE_JOBS) {
        e->t_measure = now;
        e->t_end = UINT64_MAX;
        e->t_deadline = now + (uint64_t)(e->o.duration_s * 1e9);
    } else {
        e->t_measure = now + (uint64_t)(e->o.warmup_s * 1e9);
        e->t_end = e->t_measure + (uint64_t)(e->o.duration_s * 1e9);
        e->t_deadline = e->t_end + (uint64_t)e->o.timeout_ms * 1000000u;
    }
    if (mode == ENGINE_OPEN) {
        if (e->o.rate <= 0) {
            fprintf(stderr, "regulars-bench: open loop needs --rate > 0\n");
            e->active = 0;
            return -1;
        }
        e->interval_ns = 1e9 / e->o.rate;
        if (e->timerfd < 0) {
            e->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
            if (e->timerfd < 0 || uv_poll_init(e->loop, &e->tpoll, e->timerfd)) {
                perror("regulars-bench: timerfd");
                e->active = 0;
                return -1;
            }
            e->tpoll.data = e;
        }
        uv_poll_start(&e->tpoll, UV_READABLE, on_timerfd);
    }
    /* Connections kept from an earlier phase start working now; the others connect. */
    for (unsigned i = 0; i < e->o.conns; i++) {
        struct bconn *c = &e->http[i];
        c->idle_listed = 0;
        if (c->state == CS_CLOSED) {
            conn_start(c);
        } else if (c->state == CS_OPEN) {
            c->h->rp.keep_body = wl->keep_body;
            if (mode == ENGINE_OPEN)
                idle_push(c);
        }
    }
    if (mode == ENGINE_OPEN)
        open_dispatch(e);
    else if (mode == ENGINE_JOBS)
        jobs_pump(e);
    else
        for (unsigned i = 0; i < e->o.conns; i++)
            http_pump(&e->http[i]);
    if (e->active) {
        uv_timer_start(&e->tick, on_tick, 50, 50);
        uv_run(e->loop, UV_RUN_DEFAULT);
    }
    if (e->timerfd >= 0)
        uv_poll_stop(&e->tpoll);
    now = engine_now();
    if (mode == ENGINE_JOBS)
        e->st.measured_s = (double)(now - e->t0) / 1e9;
    else
        e->st.measured_s = (double)(e->t_end - e->t_measure) / 1e9;
    e->wl = NULL;
    unsigned open = 0;
    for (unsigned i = 0; i < e->o.conns; i++)
        open += e->http[i].state == CS_OPEN;
    return open || e->st.sent ? 0 : -1;
}

unsigned engine_ws_connect(struct engine *e, unsigned n, const struct ws_workload *wwl,
                           double timeout_s)
{
    if (e->ws) {
        fprintf(stderr, "regulars-bench: one WebSocket crowd per run\n");
        return 0;
    }
    e->ws = calloc(n ? n : 1, sizeof(*e->ws));
    if (!e->ws)
        return 0;
    e->nws = n;
    for (unsigned i = 0; i < n; i++) {
        e->ws[i].e = e;
        e->ws[i].idx = i;
        e->ws[i].is_ws = 1;
    }
    pick_sources(e, (uint64_t)e->nhttp + n + (e->nhttp ? 0 : e->o.conns));
    e->wwl = wwl;
    e->ws_target = n;
    e->ws_next = 0;
    e->ws_phase = 1;
    uint64_t now = engine_now();
    e->t0 = e->last_progress = e->ws_moved = now;
    e->ws_settled = 0;
    e->t_deadline = now + (uint64_t)(timeout_s * 1e9);
    ws_pump(e);
    uv_timer_start(&e->tick, on_tick, 50, 50);
    uv_run(e->loop, UV_RUN_DEFAULT);
    return engine_ws_open_count(e);
}

unsigned engine_ws_open_count(const struct engine *e)
{
    unsigned n = 0;
    for (unsigned i = 0; i < e->nws; i++)
        n += e->ws[i].state == CS_OPEN;
    return n;
}

struct idle_ctx {
    void (*fn)(void *, struct bbuf *);
    void *ctx;
    struct engine *e;
};

static void on_idle_tick(uv_timer_t *t)
{
    struct idle_ctx *ic = t->data;
    struct engine *e = ic->e;
    uint64_t now = engine_now();
    if (now >= e->t_end) {
        progress(e, now, ic->fn, ic->ctx, 1);
        uv_timer_stop(t);
        uv_stop(e->loop);
        return;
    }
    progress(e, now, ic->fn, ic->ctx, 0);
}

void engine_idle(struct engine *e, double s, void (*line_fn)(void *ctx, struct bbuf *line),
                 void *ctx)
{
    struct idle_ctx ic = {line_fn, ctx, e};
    uint64_t now = engine_now();
    e->t0 = e->last_progress = now;
    e->t_end = now + (uint64_t)(s * 1e9);
    e->tick.data = &ic;
    uv_timer_start(&e->tick, on_idle_tick, 50, 50);
    uv_run(e->loop, UV_RUN_DEFAULT);
    e->tick.data = e;
}
