/*
 * HTTP connections (see conn.h). The read path feeds bytes to the parser straight from the
 * server's read buffer and keeps only what a pause left over; answers are appended to one
 * output buffer per connection and written with one uv_try_write / uv_write per read event,
 * so a pipelined burst costs one system call each way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "regulars/conn.h"
#include "regulars/error.h"
#include "regulars/http.h"
#include "regulars/log.h"
#include "regulars/request.h"
#include "regulars/server.h"
#include "regulars/utf8.h"

struct conn {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
    struct server *srv;
    struct conn *prev, *next;
    struct http_parser *parser;
    struct buf in;  /* bytes read and not yet fed (left by a pause) */
    struct buf out; /* answers not yet handed to the kernel */
    struct req req;
    uint64_t active_ms;    /* last read or write */
    uint64_t req_start_ms; /* first byte of the request being read; 0 when between requests */
    unsigned writes;       /* uv_write requests in flight */
    unsigned busy : 1;     /* a request waits for its answer */
    unsigned dispatching : 1;
    unsigned closing : 1;     /* uv_close called */
    unsigned closed : 1;      /* close callback ran */
    unsigned close_after : 1; /* close once everything is written */
    unsigned reading : 1;
    unsigned lingering : 1;   /* last answer out, half-closed, draining until the peer closes */
    uv_shutdown_t shutdown;
    unsigned detached : 1; /* test/fuzz hook: no socket; writes go to sink */
    struct buf *sink;      /* detached: where conn_flush "writes" */
    char addr[48];
};

struct write_req {
    uv_write_t w;
    struct conn *c;
    char *data;
};

#define WS_SNDBUF (64 * 1024)
#define LINGER_MS 2000

/* One read buffer for the whole loop: reads are processed before the next one happens. */
static char read_buf[65536];

static void conn_process(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_close(struct conn *c);
static void conn_start_read(struct conn *c);
static void conn_linger(struct conn *c);

static uint64_t now_ms(struct conn *c)
{
    return uv_now(c->srv->loop);
}

/* ---- answering ---------------------------------------------------------------------- */

/* Appends a JSON string literal for s (our own messages: escape quotes, backslashes and
 * control characters). */
static void json_quote(struct buf *b, const char *s)
{
    buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf_append(b, "\\", 1);
            buf_append(b, s, 1);
        } else if (ch < 0x20) {
            buf_printf(b, "\\u%04x", ch);
        } else if (ch >= 0x80) {
            /* A message may quote the client's bytes (a path): keep the JSON valid UTF-8. */
            uint32_t cp;
            int n = utf8_decode(s, strnlen(s, 4), &cp);
            if (n < 0) {
                buf_puts(b, "\\ufffd");
            } else {
                buf_append(b, s, (size_t)n);
                s += n - 1;
            }
        } else {
            buf_append(b, s, 1);
        }
    }
    buf_append(b, "\"", 1);
}

static void finish_request(struct conn *c, int status, size_t bytes)
{
    struct req *r = &c->req;
    uint64_t ns = uv_hrtime() - r->start_ns;
    metrics_request(&c->srv->metrics, r->route ? r->route->index : METRICS_UNROUTED, status, ns);
    if (log_enabled(LOG_INFO))
        log_info("%s %s %d %zu %lluus", r->http->method_name, r->http->path, status, bytes,
                 (unsigned long long)(ns / 1000));
}

void req_send(struct req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra)
{
    struct conn *c = r->conn;
    if (r->answered)
        return;
    r->answered = 1;
    finish_request(c, status, len);
    if (!c->closing) {
        int keep = r->http->keep_alive && !c->close_after && !c->srv->stopping;
        http_write_head(&c->out, status, ctype, len, keep, extra);
        if (r->http->method != HTTP_HEAD && len)
            buf_append(&c->out, body, len);
        if (!keep)
            c->close_after = 1;
    }
    if (c->dispatching)
        return; /* conn_process continues with the next request */

    /* An answer that arrived later (from the commit pipeline). */
    c->busy = 0;
    http_parser_next(c->parser);
    if (c->closed) {
        free(c);
        return;
    }
    if (c->closing)
        return;
    conn_process(c);
}

void req_send_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"error\":{\"code\":");
    json_quote(&b, code);
    buf_puts(&b, ",\"message\":");
    json_quote(&b, msg);
    buf_puts(&b, "}}");
    req_send(r, status, "application/json", b.data, b.len, NULL);
    buf_fini(&b);
}

void req_send_rate_limited(struct req *r, unsigned retry_after)
{
    static const char body[] =
        "{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many requests\"}}";
    char extra[48];
    snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", retry_after);
    req_send(r, 429, "application/json", body, sizeof(body) - 1, extra);
}

const char *req_param(const struct req *r, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < r->params.n; i++) {
        const char *pn = r->params.p[i].name;
        if (strncmp(pn, name, nlen) == 0 && pn[nlen] == '}') {
            *len = r->params.p[i].len;
            return r->params.p[i].value;
        }
    }
    return NULL;
}

/* An answer that is not a request's (a parse error, a timeout, a refusal): written, then the
 * connection closes. */
static void send_and_close(struct conn *c, int status, const char *code, const char *msg)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"error\":{\"code\":");
    json_quote(&b, code);
    buf_puts(&b, ",\"message\":");
    json_quote(&b, msg);
    buf_puts(&b, "}}");
    http_write_head(&c->out, status, "application/json", b.len, 0, NULL);
    buf_append(&c->out, b.data, b.len);
    buf_fini(&b);
    metrics_request(&c->srv->metrics, METRICS_UNROUTED, status, 0);
    if (log_enabled(LOG_INFO))
        log_info("- - %d %s (%s)", status, code, c->addr);
    c->close_after = 1;
    conn_flush(c);
}

/* ---- dispatch ----------------------------------------------------------------------- */

static void dispatch(struct conn *c)
{
    struct server *s = c->srv;
    struct req *r = &c->req;
    const struct http_request *h = http_parser_request(c->parser);
    memset(r, 0, sizeof(*r));
    r->srv = s;
    r->conn = c;
    r->http = h;
    r->start_ns = uv_hrtime();
    r->client_addr = c->addr;
    c->req_start_ms = 0;

    char allow[128];
    int rc = router_match(&s->router, h->method, h->path, h->path_len, &r->route, &r->params,
                          allow, sizeof(allow));
    c->dispatching = 1;
    unsigned wait = ratelimit_take(&s->rl_addr, c->addr, strlen(c->addr), uv_now(s->loop));
    if (wait) {
        r->route = NULL;
        req_send_rate_limited(r, wait);
    } else if (rc == RG_EMETHOD) {
        char extra[160];
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
        r->route = NULL;
        const char *body = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not "
                           "allowed on this path\"}}";
        req_send(r, 405, "application/json", body, strlen(body), extra);
    } else if (rc) {
        r->route = NULL;
        req_send_error(r, 404, "not_found", "no such path: %s", h->path);
    } else {
        r->route->handler(r);
    }
    c->dispatching = 0;
    if (!r->answered)
        c->busy = 1;
}

static void conn_process(struct conn *c)
{
    while (!c->busy && !c->closing && !c->close_after && c->in.len) {
        size_t used = 0;
        int rc = http_parser_feed(c->parser, c->in.data, c->in.len, &used);
        if (rc < 0) {
            int status;
            const char *code, *msg;
            http_parser_error(c->parser, &status, &code, &msg);
            buf_reset(&c->in);
            send_and_close(c, status, code, msg);
            return;
        }
        if (rc == HTTP_NEED_MORE) {
            buf_reset(&c->in);
            if (!c->req_start_ms && http_parser_in_request(c->parser))
                c->req_start_ms = now_ms(c);
            if (http_parser_take_continue(c->parser))
                buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            break;
        }
        if (rc == HTTP_UPGRADE) {
            /* Bytes after the head belong to the new protocol: keep them for the handoff. */
            buf_consume(&c->in, used);
            dispatch(c);
            if (!c->closing && c->req.answered)
                c->close_after = 1; /* refused upgrade: the stream cannot be parsed further */
            break;
        }
        buf_consume(&c->in, used);
        dispatch(c);
        if (c->req.answered)
            http_parser_next(c->parser);
        /* Stop reading pipelined requests while the client does not read our answers. */
        if (c->out.len > 1 << 20 || c->tcp.write_queue_size > 1 << 20)
            break;
    }
    conn_flush(c);
    if (c->closing)
        return;
    int want_read = !c->busy && !c->close_after && c->tcp.write_queue_size <= 1 << 20;
    if (want_read && !c->reading) {
        conn_start_read(c);
    } else if (!want_read && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* ---- I/O ---------------------------------------------------------------------------- */

static void on_close(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    struct server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    http_parser_free(c->parser);
    buf_fini(&c->in);
    buf_fini(&c->out);
    c->closed = 1;
    c->parser = NULL;
    if (!c->busy)
        free(c); /* else freed when its answer arrives (req_send) */
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->detached)
        return; /* conn_feed_detached calls on_close itself */
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!c->reading)
        conn_start_read(c);
}

/* The last answer is out. Closing now, with request bytes still unread in the kernel, would
 * send a RST that can destroy that very answer in the client's receive buffer (a 408 or 413
 * the client never sees). So half-close, read and discard until the client closes or
 * LINGER_MS passes (the sweep enforces it), as nginx's lingering close does. */
static void conn_linger(struct conn *c)
{
    if (c->lingering || c->closing)
        return;
    c->lingering = 1;
    c->active_ms = now_ms(c);
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c);
}

static void on_write(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct conn *c = wr->c;
    free(wr->data);
    free(wr);
    c->writes--;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->active_ms = now_ms(c);
    if (c->close_after && c->writes == 0 && c->out.len == 0) {
        conn_linger(c);
        return;
    }
    if (!c->reading && !c->busy && !c->close_after)
        conn_process(c);
}

static void conn_flush(struct conn *c)
{
    if (c->closing)
        return;
    if (c->detached) {
        /* Test/fuzz hook: the sink takes every byte at once. */
        if (c->out.len && buf_append(c->sink, c->out.data, c->out.len))
            c->close_after = 1;
        buf_reset(&c->out);
        if (c->close_after)
            conn_close(c);
        return;
    }
    if (c->out.len) {
        size_t off = 0;
        if (c->writes == 0) {
            uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
            int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
            if (n > 0)
                off = (size_t)n;
            else if (n < 0 && n != UV_EAGAIN) {
                conn_close(c);
                return;
            }
        }
        if (off < c->out.len) {
            struct write_req *wr = malloc(sizeof(*wr));
            if (!wr) {
                conn_close(c);
                return;
            }
            buf_consume(&c->out, off);
            size_t len;
            wr->data = buf_steal(&c->out, &len);
            wr->c = c;
            uv_buf_t b = uv_buf_init(wr->data, (unsigned)len);
            if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
                free(wr->data);
                free(wr);
                conn_close(c);
                return;
            }
            c->writes++;
        } else {
            buf_reset(&c->out);
        }
        c->active_ms = now_ms(c);
    }
    if (c->close_after && c->writes == 0 && c->out.len == 0)
        conn_linger(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    *b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = (struct conn *)stream;
    if (n < 0) {
        /* EOF or error: answers still being computed are dropped with the connection. */
        conn_close(c);
        return;
    }
    if (n == 0 || c->lingering)
        return; /* a lingering connection only waits for the peer's close */
    c->active_ms = now_ms(c);
    if (buf_append(&c->in, b->base, (size_t)n)) {
        conn_close(c);
        return;
    }
    conn_process(c);
}

static void conn_start_read(struct conn *c)
{
    if (c->detached)
        return; /* its bytes are all in c->in already */
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    else
        conn_close(c);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

void conn_accept(struct server *s)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    struct http_limits lim = {s->cfg.max_header_bytes, s->cfg.max_body_bytes};
    c->parser = http_parser_new(&lim);
    if (!c->parser) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage sa;
    int salen = sizeof(sa);
    snprintf(c->addr, sizeof(c->addr), "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        if (sa.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&sa, c->addr, sizeof(c->addr));
        else if (sa.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&sa, c->addr, sizeof(c->addr));
    }
    c->active_ms = now_ms(c);
    s->metrics.conns_accepted++;
    if (s->nconns > s->cfg.max_conns) {
        s->metrics.conns_rejected++;
        send_and_close(c, 503, "unavailable", "too many connections");
        return;
    }
    conn_start_read(c);
}

void conn_sweep(struct server *s, uint64_t now)
{
    struct conn *c = s->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->lingering && !c->closing && now - c->active_ms >= LINGER_MS) {
            conn_close(c);
            continue;
        }
        if (c->closing || c->busy || c->lingering)
            continue;
        if (c->req_start_ms && now - c->req_start_ms >= s->cfg.header_timeout_ms &&
            !c->close_after) {
            if (c->reading) {
                uv_read_stop((uv_stream_t *)&c->tcp);
                c->reading = 0;
            }
            send_and_close(c, 408, "request_timeout", "request not received in time");
        } else if (!c->req_start_ms && c->writes == 0 && c->out.len == 0 &&
                   now - c->active_ms >= s->cfg.idle_timeout_ms) {
            conn_close(c);
        } else if (c->close_after && c->writes && now - c->active_ms >= s->cfg.idle_timeout_ms) {
            conn_close(c); /* a client that never reads its last answer */
        }
    }
}

void conn_close_all(struct server *s)
{
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->closing)
            continue;
        if (c->busy || c->writes || c->out.len) {
            c->close_after = 1;
            continue;
        }
        conn_close(c);
    }
}

void conn_abort_all(struct server *s)
{
    for (struct conn *c = s->conns; c; c = c->next)
        conn_close(c);
}

int req_upgrade(struct req *r, uint64_t recipient, int64_t since)
{
    struct conn *c = r->conn;
    struct server *s = c->srv;
    uv_os_fd_t fd;
    if (!r->http->upgrade || !s->ws)
        return RG_EINVAL;
    if (c->detached)
        return RG_EBUSY; /* no socket to hand over: 503 */
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0)
        return RG_EIO;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    /* Bound what the kernel buffers for a WebSocket: pushes are small, and a client that
     * stops reading should meet our own queue limit (close 1008) after tens of kilobytes,
     * not after megabytes of autotuned socket buffer. */
    int sndbuf = WS_SNDBUF;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    int rc = ws_server_adopt(s->ws, fd, r->http, c->in.data, c->in.len, recipient, since);
    if (rc == RG_EIO) {
        /* lws took the socket and already gave up on it: there is no one to answer. */
        r->answered = 1;
        finish_request(c, 500, 0);
        conn_close(c);
        return rc;
    }
    if (rc)
        return rc;
    /* lws now owns a duplicate of the socket; closing our handle closes only our fd. */
    r->answered = 1;
    s->metrics.ws_upgrades++;
    finish_request(c, 101, 0);
    buf_reset(&c->in);
    conn_close(c);
    return 0;
}

/* ---- test and fuzz hook ------------------------------------------------------------- */

int conn_feed_detached(struct server *s, const char *data, size_t len, struct buf *out)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return RG_ENOMEM;
    struct http_limits lim = {s->cfg.max_header_bytes, s->cfg.max_body_bytes};
    if (!(c->parser = http_parser_new(&lim)) || (len && buf_append(&c->in, data, len))) {
        http_parser_free(c->parser);
        buf_fini(&c->in);
        free(c);
        return RG_ENOMEM;
    }
    c->srv = s;
    c->detached = 1;
    c->sink = out;
    snprintf(c->addr, sizeof(c->addr), "detached");
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    c->active_ms = now_ms(c);

    /* A write's answer arrives through the loop (the commit pipeline's uv_async) and goes on
     * with the pipelined requests after it; conn_process also stops after 1 MiB of answers
     * as it would for a client that does not read. */
    conn_process(c);
    while (!c->closing && (c->busy || (c->in.len && !c->close_after))) {
        if (c->busy)
            uv_run(s->loop, UV_RUN_ONCE);
        else
            conn_process(c);
    }
    int closed = c->closing;
    c->closing = 1;
    on_close((uv_handle_t *)&c->tcp);
    return closed;
}
