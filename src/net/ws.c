/*
 * WebSockets over libwebsockets 4.1 on the server's own libuv loop (see ws.h).
 *
 * lws runs with LWS_SERVER_OPTION_LIBUV on our loop (foreign_loops) and no listener of its
 * own (CONTEXT_PORT_NO_LISTEN_SERVER): the HTTP side accepts, parses and authenticates an
 * upgrade, then gives us the socket with ws_server_adopt(). This is the only file that
 * includes libwebsockets.h (its HTTP_STATUS_* names clash with llhttp's).
 *
 * Socket ownership across the handoff. The HTTP connection keeps its own fd and uv handle
 * and closes them itself (uv_close) whatever ws_server_adopt returns; before calling it, it
 * must have stopped reading. ws_server_adopt dup()s the fd and hands the duplicate to lws,
 * which owns it from then on: lws closes it when adoption fails and when the WebSocket
 * ends. Closing the caller's fd does not end the connection, since the socket stays open
 * while lws's duplicate does; uv_close() also removes the caller's fd from epoll, so the
 * two never both receive events for it.
 *
 * What lws is given. Not the raw request bytes: lws keeps request headers in a fixed
 * header table and refuses a long request ("Ran out of header data space"). We rebuild a
 * minimal upgrade request (request line with the path only, so the token in the query
 * never reaches lws; Host, Upgrade, Connection, the Sec-WebSocket-* headers and Origin)
 * followed by any bytes the client sent after its request head.
 *
 * Passing recipient/since to the new connection. lws_adopt_socket_readbuf() runs the
 * handshake before it returns (libuv would not wake lws for bytes it already has), so
 * LWS_CALLBACK_ESTABLISHED usually fires inside the call, before we could tag the returned
 * wsi. We therefore register a pending entry keyed by the duplicated fd before adopting, and
 * ESTABLISHED finds it with lws_get_socket_fd(). If no header table was free, lws defers
 * the handshake: the entry then also remembers the wsi and is dropped at WSI_DESTROY should
 * the handshake never complete.
 *
 * Sending. lws_write() outside LWS_CALLBACK_SERVER_WRITEABLE to a client that does not read
 * makes lws buffer without bound, so every frame goes through a per-connection queue and is
 * written from WRITEABLE callbacks, as many per callback as the socket takes whole; when the
 * queue empties, on_drain lets the owner queue more (a paced replay). Past
 * cfg.max_queue_bytes of unsent bytes the queue is
 * dropped and the connection closed with 1008; if its socket is so full that even the
 * close frame cannot be written, lws drops the connection after its own 5 s close timeout.
 *
 * Closing. ws_conn_close arms a per-connection lws timer; its LWS_CALLBACK_TIMER sets
 * lws_close_reason() and returns -1, and lws sends the close frame, waits for the peer's
 * and closes (see on_timer for why not from WRITEABLE). Frames still queued are dropped (a
 * client recovers them by reconnecting with since). Shutdown is close_all, then
 * ws_server_free, which runs the loop until the closing connections are gone (bounded),
 * then destroys the context twice with the loop run in between: with a foreign libuv loop,
 * lws can only finish closing its handles from the loop, and a single destroy leaks.
 *
 * Keepalive. cfg.ping_interval_s becomes the vhost's retry/idle policy: lws pings a
 * connection silent for that long and hangs up when no pong came within as long again.
 *
 * Logging. lws logs through lws_log_emit at warning level and above only (the filter is
 * process-wide, as lws's log level is).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "regulars/buf.h"
#include "regulars/error.h"
#include "regulars/log.h"
#include "regulars/ws.h"

#define WS_PROTOCOL_NAME "regulars"
/* ws_server_free waits at most this long for close frames and close replies. */
#define WS_DRAIN_MS 1000
/* Longest header value (and path) forwarded to lws; the rebuilt request stays ~4 KiB. */
#define WS_VALUE_MAX 512
/* lws's header table: room for the rebuilt request. */
#define WS_HEADER_DATA 8192
/* RFC 6455 limits a close reason to 123 bytes. */
#define WS_REASON_MAX 123

/* One queued text frame: LWS_PRE bytes of headroom that lws_write needs, then the bytes. */
struct ws_frame {
    struct ws_frame *next;
    size_t len;
    unsigned char bytes[];
};

struct ws_conn {
    struct ws_server *ws;
    struct lws *wsi;
    struct ws_frame *head, *tail; /* unsent frames, oldest first */
    size_t queued;                /* payload bytes in the queue */
    void *data;                   /* the hub's slot */
    int opened;                   /* on_open returned 0: on_close is owed */
    int close_code;               /* non-zero once closing */
    unsigned char close_reason[WS_REASON_MAX];
    size_t close_reason_len;
    struct buf rx;               /* fragments of the message being received */
    struct ws_conn *prev, *next; /* the server's list */
};

/* lws's per-session data: a pointer only, so that our connection's lifetime is ours. */
struct ws_pss {
    struct ws_conn *c;
};

struct ws_pending {
    struct ws_pending *next;
    int fd;          /* the duplicate handed to lws */
    struct lws *wsi; /* set when adoption returned before the handshake completed */
    uint64_t recipient;
    int64_t since;
    int established; /* ESTABLISHED consumed this entry during the adopt call */
};

struct ws_server {
    struct lws_context *ctx;
    struct lws_context *ctx_alive; /* lws writes NULL here when destruction completes */
    uv_loop_t *loop;
    struct ws_config cfg;
    struct ws_callbacks cb;
    lws_retry_bo_t retry; /* ping / hangup policy; lws keeps a pointer to it */
    struct lws_protocols protocols[2];
    struct ws_conn *conns;
    size_t count;
    size_t nclosing; /* connections with a close under way */
    struct ws_pending *pending;
    uv_idle_t kick; /* makes lws look at its timers: see ws_conn_close */
    uv_timer_t drain_timer;
    int drain_expired, handles_closed;
};

/* ------------------------------------------------------------------------------------- */
/* Logging                                                                               */
/* ------------------------------------------------------------------------------------- */

/* lws logs one error-level line per readbuf adoption ("adopt_socket_readbuf: calling
 * service"), which is normal operation for us: drop it, forward the rest. */
static void lws_log_emit(int level, const char *line)
{
    if (strstr(line, "calling service") || strstr(line, "deferring handling ah"))
        return;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_error("lws: %.*s", (int)n, line);
    else
        log_warn("lws: %.*s", (int)n, line);
}

/* ------------------------------------------------------------------------------------- */
/* Connections                                                                           */
/* ------------------------------------------------------------------------------------- */

static void queue_free(struct ws_conn *c)
{
    struct ws_frame *f = c->head;
    while (f) {
        struct ws_frame *next = f->next;
        free(f);
        f = next;
    }
    c->head = c->tail = NULL;
    c->queued = 0;
}

/* The connection is gone: tell the owner (once), unlink and free. */
static void conn_finish(struct ws_conn *c)
{
    struct ws_server *ws = c->ws;
    if (c->prev)
        c->prev->next = c->next;
    else
        ws->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ws->count--;
    if (c->close_code)
        ws->nclosing--;
    if (c->opened) {
        c->opened = 0;
        ws->cb.on_close(ws->cb.ctx, c);
    }
    queue_free(c);
    buf_fini(&c->rx);
    free(c);
}

static struct ws_pending **pending_find_fd(struct ws_server *ws, int fd)
{
    struct ws_pending **pp = &ws->pending;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    return pp;
}

static void pending_remove(struct ws_server *ws, struct ws_pending *p)
{
    for (struct ws_pending **pp = &ws->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            free(p);
            return;
        }
    }
}

static int on_established(struct ws_server *ws, struct lws *wsi, struct ws_pss *pss)
{
    struct ws_pending **pp = pending_find_fd(ws, lws_get_socket_fd(wsi)), *p = *pp;
    if (!p || !pss) {
        /* Not adopted by us: cannot happen with no listener, but never serve it. */
        log_warn("ws: connection without a pending adoption, closing");
        return -1;
    }
    uint64_t recipient = p->recipient;
    int64_t since = p->since;
    if (p->wsi) {
        /* Deferred handshake: ws_server_adopt has returned, the entry is ours to free. */
        *pp = p->next;
        free(p);
    } else {
        p->established = 1;
    }

    struct ws_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->ws = ws;
    c->wsi = wsi;
    buf_init(&c->rx);
    c->next = ws->conns;
    if (ws->conns)
        ws->conns->prev = c;
    ws->conns = c;
    ws->count++;
    pss->c = c;

    c->opened = 1;
    if (ws->cb.on_open(ws->cb.ctx, c, recipient, since) != 0) {
        /* The owner refused it: on_close is not owed for a refused open. */
        c->opened = 0;
        ws_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal error");
    }
    return 0;
}

/* The close asked for by ws_conn_close. It runs from LWS_CALLBACK_TIMER because of how
 * lws 4.1 treats a non-zero return: from SERVER_WRITEABLE it means "the write failed", the
 * socket is marked unusable and no close frame is sent; from TIMER it is a polite close,
 * and lws sends the close frame carrying lws_close_reason() (then waits for the peer's
 * close, or drops the connection after its own 5 s timeout if the frame cannot go out). */
static int on_timer(struct ws_conn *c)
{
    if (!c->close_code)
        return 0;
    lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, c->close_reason,
                     c->close_reason_len);
    return -1;
}

static int on_writeable(struct ws_conn *c)
{
    if (c->close_code)
        return 0; /* the TIMER callback closes */
    /* Write queued frames while the socket takes them whole. A frame the socket takes only
     * in part stays buffered inside lws, which then reports the pipe choked and calls us
     * again once it has flushed it; so at most one frame is ever buffered inside lws, and a
     * burst of events (a whole commit batch) goes out in one callback, not one per loop turn. */
    while (c->head) {
        struct ws_frame *f = c->head;
        if (lws_write(c->wsi, f->bytes + LWS_PRE, f->len, LWS_WRITE_TEXT) < 0)
            return -1;
        c->head = f->next;
        if (!c->head)
            c->tail = NULL;
        c->queued -= f->len;
        free(f);
        if (lws_send_pipe_choked(c->wsi))
            break;
    }
    if (c->head)
        lws_callback_on_writable(c->wsi);
    else if (c->ws->cb.on_drain && c->opened)
        c->ws->cb.on_drain(c->ws->cb.ctx, c);
    return 0;
}

static int on_receive(struct ws_conn *c, const void *in, size_t len)
{
    struct ws_server *ws = c->ws;
    if (c->close_code)
        return 0; /* closing: the rest of what the client says does not matter */
    if (lws_frame_is_binary(c->wsi)) {
        ws_conn_close(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text frames only");
        return 0;
    }
    if (len > ws->cfg.max_message_bytes || c->rx.len > ws->cfg.max_message_bytes - len) {
        ws_conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
        return 0;
    }
    if (buf_append(&c->rx, in, len)) {
        ws_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return 0;
    }
    /* lws_is_final_fragment is true only for the last piece of the last frame: lws hands
     * a large frame over in several pieces, and a message may span several frames. */
    if (!lws_is_final_fragment(c->wsi))
        return 0;
    ws->cb.on_message(ws->cb.ctx, c, c->rx.data ? c->rx.data : "", c->rx.len);
    if (c->rx.cap > 4096)
        buf_fini(&c->rx);
    else
        buf_reset(&c->rx);
    return 0;
}

/* Called when lws frees a wsi: forget a pending adoption whose handshake never came, and
 * finish a connection lws closed without LWS_CALLBACK_CLOSED (it should not happen). */
static void on_wsi_destroy(struct ws_server *ws, const struct lws *wsi)
{
    for (struct ws_pending *p = ws->pending; p; p = p->next) {
        if (p->wsi == wsi) {
            pending_remove(ws, p);
            break;
        }
    }
    for (struct ws_conn *c = ws->conns; c; c = c->next) {
        if (c->wsi == wsi) {
            conn_finish(c);
            break;
        }
    }
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct ws_server *ws = lws_context_user(lws_get_context(wsi));
    struct ws_pss *pss = user;
    struct ws_conn *c = pss ? pss->c : NULL;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(ws, wsi, pss);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? on_writeable(c) : 0;
    case LWS_CALLBACK_RECEIVE:
        return c ? on_receive(c, in, len) : 0;
    case LWS_CALLBACK_TIMER:
        return c ? on_timer(c) : 0;
    case LWS_CALLBACK_CLOSED:
        if (c) {
            pss->c = NULL;
            conn_finish(c);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (ws)
            on_wsi_destroy(ws, wsi);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ------------------------------------------------------------------------------------- */
/* Public API                                                                            */
/* ------------------------------------------------------------------------------------- */

struct ws_server *ws_server_new(uv_loop_t *loop, const struct ws_config *cfg,
                                const struct ws_callbacks *cb)
{
    struct lws_context_creation_info info;
    struct ws_server *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return NULL;
    ws->loop = loop;
    ws->cfg = *cfg;
    ws->cb = *cb;

    /* lws pings a connection idle for ping_interval_s and hangs up when no pong came
     * within as long again. A hangup of 0 turns validity checking off. */
    if (cfg->ping_interval_s > 0) {
        int ping = cfg->ping_interval_s > 30000 ? 30000 : cfg->ping_interval_s;
        ws->retry.secs_since_valid_ping = (uint16_t)ping;
        ws->retry.secs_since_valid_hangup = (uint16_t)(2 * ping);
    }

    ws->protocols[0].name = WS_PROTOCOL_NAME;
    ws->protocols[0].callback = ws_callback;
    ws->protocols[0].per_session_data_size = sizeof(struct ws_pss);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

    void *loops[1] = {loop};
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = ws->protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    info.foreign_loops = loops;
    info.user = ws;
    info.pcontext = &ws->ctx_alive;
    info.retry_and_idle_policy = &ws->retry;
    info.max_http_header_data = WS_HEADER_DATA;
    info.timeout_secs = 10;
    info.gid = -1;
    info.uid = -1;
    info.server_string = "regularsd";

    ws->ctx = lws_create_context(&info);
    if (!ws->ctx) {
        log_error("ws: cannot create the libwebsockets context");
        free(ws);
        return NULL;
    }
    ws->ctx_alive = ws->ctx;
    uv_idle_init(loop, &ws->kick);
    ws->kick.data = ws;
    return ws;
}

/* Appends "name: value\r\n" when req has the header. Values are bounded so that the
 * rebuilt request always fits lws's header table. */
static int put_header(struct buf *b, const struct http_request *req, const char *name, int required)
{
    size_t len;
    const char *v = http_request_header(req, name, &len);
    if (!v)
        return required ? RG_EPROTO : 0;
    if (len > WS_VALUE_MAX || memchr(v, '\r', len) || memchr(v, '\n', len))
        return RG_EPROTO;
    return buf_printf(b, "%s: %.*s\r\n", name, (int)len, v);
}

/* Non-zero when the comma-separated list (a Sec-WebSocket-Protocol value) names ours. */
static int offers_protocol(const char *v, size_t len)
{
    const size_t n = strlen(WS_PROTOCOL_NAME);
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i - start == n && memcmp(v + start, WS_PROTOCOL_NAME, n) == 0)
            return 1;
    }
    return 0;
}

/* Checks what lws would let through or fail on its own (it accepts any key and versions
 * other than 13, and drops the connection without an answer when no subprotocol matches),
 * so that such requests get an HTTP answer from the caller instead. */
static int check_upgrade(const struct http_request *req)
{
    size_t len;
    const char *v = http_request_header(req, "Sec-WebSocket-Key", &len);
    /* base64 of a 16-byte nonce: 22 characters and "==". */
    if (!v || len != 24 || v[22] != '=' || v[23] != '=')
        return RG_EPROTO;
    v = http_request_header(req, "Sec-WebSocket-Version", &len);
    if (!v || len != 2 || memcmp(v, "13", 2) != 0)
        return RG_EPROTO;
    v = http_request_header(req, "Sec-WebSocket-Protocol", &len);
    if (v && !offers_protocol(v, len))
        return RG_EPROTO;
    return 0;
}

static int build_upgrade(struct buf *b, const struct http_request *req)
{
    int rc;
    if ((rc = check_upgrade(req)))
        return rc;
    const char *path = req->path && req->path_len ? req->path : "/";
    size_t path_len = req->path && req->path_len ? req->path_len : 1;
    if (path_len > WS_VALUE_MAX || memchr(path, ' ', path_len) || memchr(path, '\r', path_len) ||
        memchr(path, '\n', path_len))
        return RG_EPROTO;
    if ((rc = buf_printf(b, "GET %.*s HTTP/1.1\r\n", (int)path_len, path)))
        return rc;
    if ((rc = put_header(b, req, "Host", 0)))
        return rc;
    if ((rc = buf_puts(b, "Upgrade: websocket\r\nConnection: Upgrade\r\n")))
        return rc;
    if ((rc = put_header(b, req, "Sec-WebSocket-Key", 1)) ||
        (rc = put_header(b, req, "Sec-WebSocket-Version", 1)) ||
        (rc = put_header(b, req, "Sec-WebSocket-Extensions", 0)) ||
        (rc = put_header(b, req, "Origin", 0)))
        return rc;
    /* Only our name is forwarded: lws then selects it and echoes it in the 101. */
    if (http_request_header(req, "Sec-WebSocket-Protocol", &(size_t){0}) &&
        (rc = buf_puts(b, "Sec-WebSocket-Protocol: " WS_PROTOCOL_NAME "\r\n")))
        return rc;
    return buf_puts(b, "\r\n");
}

int ws_server_adopt(struct ws_server *ws, int fd, const struct http_request *req, const char *extra,
                    size_t extra_len, uint64_t recipient, int64_t since)
{
    int rc;
    struct buf head;
    buf_init(&head);
    if ((rc = build_upgrade(&head, req)))
        goto out;
    if (extra_len && (rc = buf_append(&head, extra, extra_len)))
        goto out;

    struct ws_pending *p = calloc(1, sizeof(*p));
    if (!p) {
        rc = RG_ENOMEM;
        goto out;
    }
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) {
        log_warn("ws: dup: %s", strerror(errno));
        free(p);
        rc = RG_EBUSY; /* out of fds, most likely: the caller can answer 503 */
        goto out;
    }
    p->fd = dfd;
    p->recipient = recipient;
    p->since = since;
    p->next = ws->pending;
    ws->pending = p;

    /* From here lws owns dfd, and closes it itself if the adoption fails. */
    struct lws *wsi = lws_adopt_socket_readbuf(ws->ctx, dfd, head.data, head.len);
    if (p->established) {
        /* on_open ran (the connection may already be closed again: on_close ran too). */
        pending_remove(ws, p);
        rc = 0;
    } else if (!wsi) {
        /* lws failed it and has closed (or shut down) the socket: nothing more to say. */
        pending_remove(ws, p);
        rc = RG_EIO;
    } else {
        /* lws had no free header table and will do the handshake later. */
        p->wsi = wsi;
        rc = 0;
    }
out:
    buf_fini(&head);
    return rc;
}

int ws_conn_send(struct ws_conn *c, const char *data, size_t len)
{
    size_t max = c->ws->cfg.max_queue_bytes;
    if (c->close_code)
        return RG_EBUSY;
    if (len > max || c->queued > max - len) {
        ws_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue full");
        return RG_ETOOBIG;
    }
    struct ws_frame *f = malloc(sizeof(*f) + LWS_PRE + len);
    if (!f)
        return RG_ENOMEM;
    f->next = NULL;
    f->len = len;
    if (len)
        memcpy(f->bytes + LWS_PRE, data, len);
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    c->queued += len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static void kick_cb(uv_idle_t *h)
{
    struct ws_server *ws = h->data;
    uv_idle_stop(h);
    lws_cancel_service(ws->ctx);
}

/* Starts closing c: the close runs from LWS_CALLBACK_TIMER (see on_timer) after usecs.
 * lws's libuv glue only looks at its timer list after it serviced an fd, and this may be
 * called from outside any lws callback with no fd event coming (a full socket, an idle
 * client): the kick makes lws service its timers on the next loop turn, once however many
 * connections are closing. */
static void conn_close_in(struct ws_conn *c, int code, const char *reason, lws_usec_t usecs)
{
    if (c->close_code)
        return;
    c->close_code = code;
    c->ws->nclosing++;
    size_t n = reason ? strlen(reason) : 0;
    if (n > WS_REASON_MAX)
        n = WS_REASON_MAX;
    if (n)
        memcpy(c->close_reason, reason, n);
    c->close_reason_len = n;
    queue_free(c);
    lws_set_timer_usecs(c->wsi, usecs);
    uv_idle_start(&c->ws->kick, kick_cb);
}

void ws_conn_close(struct ws_conn *c, int code, const char *reason)
{
    conn_close_in(c, code, reason, 1);
}

void ws_conn_set_data(struct ws_conn *c, void *data)
{
    c->data = data;
}

void *ws_conn_get_data(const struct ws_conn *c)
{
    return c->data;
}

size_t ws_conn_limit(const struct ws_conn *c)
{
    return c->ws->cfg.max_queue_bytes;
}

size_t ws_conn_queued(const struct ws_conn *c)
{
    return c->queued;
}

size_t ws_server_count(const struct ws_server *ws)
{
    return ws->count;
}

void ws_server_close_all(struct ws_server *ws)
{
    /* lws keeps its timers in one sorted list and inserts by walking it from the earliest.
     * Giving each later connection an earlier deadline (1 us apart) makes every insert land
     * at the head instead of walking past all the closes queued before it. */
    lws_usec_t usecs = (lws_usec_t)ws->count + 1;
    for (struct ws_conn *c = ws->conns; c; c = c->next)
        conn_close_in(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down",
                      usecs > 1 ? usecs-- : 1);
}

static void drain_timer_cb(uv_timer_t *t)
{
    struct ws_server *ws = t->data;
    ws->drain_expired = 1;
}

static void handle_closed(uv_handle_t *h)
{
    struct ws_server *ws = h->data;
    ws->handles_closed++;
}

/* Runs the loop until every closing connection is gone or WS_DRAIN_MS passed, so that
 * close frames queued by ws_server_close_all reach the wire before the context goes. */
static void drain(struct ws_server *ws)
{
    if (!ws->nclosing)
        return;
    uv_timer_init(ws->loop, &ws->drain_timer);
    ws->drain_timer.data = ws;
    uv_timer_start(&ws->drain_timer, drain_timer_cb, WS_DRAIN_MS, 0);
    while (ws->nclosing && !ws->drain_expired)
        uv_run(ws->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&ws->drain_timer, handle_closed);
    while (ws->handles_closed < 1)
        uv_run(ws->loop, UV_RUN_NOWAIT);
    ws->handles_closed = 0;
}

/* lws closes its uv handles asynchronously; give the loop a bounded number of turns. */
static void run_until_destroyed(struct ws_server *ws)
{
    for (int i = 0; i < 1000 && ws->ctx_alive; i++)
        uv_run(ws->loop, UV_RUN_NOWAIT);
}

void ws_server_free(struct ws_server *ws)
{
    if (!ws)
        return;
    drain(ws);
    uv_idle_stop(&ws->kick); /* no lws_cancel_service on a context being destroyed */
    lws_context_destroy(ws->ctx);
    run_until_destroyed(ws);
    if (ws->ctx_alive) {
        lws_context_destroy(ws->ctx);
        run_until_destroyed(ws);
    }
    if (ws->ctx_alive)
        log_warn("ws: the libwebsockets context did not finish closing");
    uv_close((uv_handle_t *)&ws->kick, handle_closed);
    while (ws->handles_closed < 1)
        uv_run(ws->loop, UV_RUN_NOWAIT);
    /* Connections still listed were not closed through lws callbacks (should not happen). */
    while (ws->conns)
        conn_finish(ws->conns);
    while (ws->pending)
        pending_remove(ws, ws->pending);
    free(ws);
}
