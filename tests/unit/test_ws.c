/*
 * End-to-end WebSocket tests, in one process and one thread: a uv loop with a plain TCP
 * listener that reads an upgrade request, parses it with the project's HTTP parser and hands
 * the socket to ws_server_adopt() (as conn.c does), and a raw-socket client that speaks the
 * protocol by hand (handshake, masked frames) and pumps the loop whenever it waits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "regulars/buf.h"
#include "regulars/error.h"
#include "regulars/http.h"
#include "regulars/hub.h"
#include "regulars/model.h"
#include "regulars/outbox.h"
#include "regulars/store.h"
#include "regulars/ws.h"
#include "test.h"

/* The RFC 6455 example key and its accept value. */
#define KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/* ------------------------------------------------------------------------------------- */
/* Server side: listener, HTTP parse, adoption, recording callbacks                      */
/* ------------------------------------------------------------------------------------- */

#define MAX_MSGS 16

struct fixture {
    uv_loop_t loop;
    uv_tcp_t listener;
    int port;
    struct ws_server *ws;
    struct hub *hub;
    struct store st;
    char *dir;
    int adopt_rc; /* last ws_server_adopt result */
    int adopts;   /* ws_server_adopt calls */
    int hold_txn; /* adopt inside a read txn, as a handler that forgot to end its own */
    /* what the recording callbacks saw */
    struct ws_conn *conn; /* the last opened connection */
    int opens, closes, refuse;
    uint64_t recipient;
    int64_t since;
    char *msgs[MAX_MSGS];
    size_t msg_len[MAX_MSGS];
    int nmsgs;
};

static struct fixture F;

struct acceptor {
    uv_tcp_t tcp;
    struct http_parser *parser;
};

static void acceptor_closed(uv_handle_t *h)
{
    struct acceptor *a = h->data;
    http_parser_free(a->parser);
    free(a);
}

static void acceptor_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(size);
    b->len = b->base ? size : 0;
}

static int64_t query_int(const struct http_request *req, const char *name, int64_t dflt)
{
    char v[32];
    if (http_query_param(req, name, v, sizeof(v)) <= 0)
        return dflt;
    return strtoll(v, NULL, 10);
}

/* Reads the upgrade request; on HTTP_UPGRADE, hands the socket over exactly as conn.c
 * does: stop reading, adopt with the bytes after the head, close our own handle. */
static void acceptor_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct acceptor *a = s->data;
    size_t consumed = 0;
    int rc = n > 0 ? http_parser_feed(a->parser, b->base, (size_t)n, &consumed) : -1;
    if (rc == HTTP_UPGRADE) {
        const struct http_request *req = http_parser_request(a->parser);
        uv_os_fd_t fd;
        uv_read_stop(s);
        uv_fileno((uv_handle_t *)s, &fd);
        struct store_tx tx;
        if (F.hold_txn && store_read_begin(&F.st, &tx))
            F.hold_txn = 0;
        F.adopt_rc = ws_server_adopt(F.ws, fd, req, b->base + consumed, (size_t)n - consumed,
                                     (uint64_t)query_int(req, "r", 1), query_int(req, "since", -1));
        F.adopts++;
        if (F.hold_txn)
            store_read_end(&tx);
        if (F.adopt_rc) {
            static const char bad[] =
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            if (send(fd, bad, sizeof(bad) - 1, MSG_NOSIGNAL) < 0)
                perror("send");
        }
        uv_close((uv_handle_t *)s, acceptor_closed);
    } else if (rc != HTTP_NEED_MORE && !uv_is_closing((uv_handle_t *)s)) {
        uv_close((uv_handle_t *)s, acceptor_closed);
    }
    free(b->base);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct acceptor *a = calloc(1, sizeof(*a));
    struct http_limits lim = {8192, 65536};
    a->parser = http_parser_new(&lim);
    uv_tcp_init(&F.loop, &a->tcp);
    a->tcp.data = a;
    if (uv_accept(server, (uv_stream_t *)&a->tcp) == 0)
        uv_read_start((uv_stream_t *)&a->tcp, acceptor_alloc, acceptor_read);
    else
        uv_close((uv_handle_t *)&a->tcp, acceptor_closed);
}

static int rec_open(void *ctx, struct ws_conn *c, uint64_t recipient, int64_t since)
{
    (void)ctx;
    F.opens++;
    F.conn = c;
    F.recipient = recipient;
    F.since = since;
    if (F.refuse)
        return RG_EINVAL;
    return ws_conn_send(c, "welcome", 7);
}

static void rec_message(void *ctx, struct ws_conn *c, const char *data, size_t len)
{
    (void)ctx;
    (void)c;
    if (F.nmsgs == MAX_MSGS)
        return;
    F.msgs[F.nmsgs] = malloc(len + 1);
    memcpy(F.msgs[F.nmsgs], data, len);
    F.msgs[F.nmsgs][len] = '\0';
    F.msg_len[F.nmsgs++] = len;
}

static void rec_close(void *ctx, struct ws_conn *c)
{
    (void)ctx;
    F.closes++;
    if (F.conn == c)
        F.conn = NULL;
}

/* Starts the loop, the listener and a ws_server with the recording callbacks, or with the
 * hub on a fresh store when with_hub. Returns 0 or -1. */
static int fixture_start(size_t max_queue, int ping_s, size_t max_message, int with_hub)
{
    struct ws_config cfg = {max_queue, ping_s, max_message};
    struct ws_callbacks cb = {.on_open = rec_open, .on_message = rec_message, .on_close = rec_close};
    struct sockaddr_in sa;
    int len = sizeof(sa);

    memset(&F, 0, sizeof(F));
    if (uv_loop_init(&F.loop))
        return -1;
    if (with_hub) {
        F.dir = test_tmpdir();
        if (store_open(&F.st, F.dir, 16u << 20, STORE_SYNC_NONE))
            return -1;
        if (!(F.hub = hub_new(&F.st)))
            return -1;
        hub_ws_callbacks(F.hub, &cb);
    }
    if (!(F.ws = ws_server_new(&F.loop, &cfg, &cb)))
        return -1;
    uv_tcp_init(&F.loop, &F.listener);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    if (uv_tcp_bind(&F.listener, (struct sockaddr *)&sa, 0) ||
        uv_listen((uv_stream_t *)&F.listener, 16, on_connection))
        return -1;
    uv_tcp_getsockname(&F.listener, (struct sockaddr *)&sa, &len);
    F.port = ntohs(sa.sin_port);
    return 0;
}

static void remove_store_dir(void)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", F.dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", F.dir);
    unlink(path);
    rmdir(F.dir);
    free(F.dir);
    F.dir = NULL;
}

/* Frees the ws_server (if the test did not), closes the loop; returns uv_loop_close's
 * result, so that a handle left open fails the test. */
static int fixture_stop(void)
{
    if (F.ws)
        ws_server_free(F.ws);
    F.ws = NULL;
    uv_close((uv_handle_t *)&F.listener, NULL);
    uv_run(&F.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&F.loop);
    if (F.hub)
        hub_free(F.hub);
    if (F.dir) {
        store_close(&F.st);
        remove_store_dir();
    }
    for (int i = 0; i < F.nmsgs; i++)
        free(F.msgs[i]);
    return rc;
}

/* ------------------------------------------------------------------------------------- */
/* Client side: a raw socket that pumps the server's loop while it waits                 */
/* ------------------------------------------------------------------------------------- */

static uint64_t deadline(int ms)
{
    return uv_hrtime() + (uint64_t)ms * 1000000u;
}

static int expired(uint64_t d)
{
    return uv_hrtime() > d;
}

/* One turn of the server's loop, then a short sleep. */
static void pump(void)
{
    uv_run(&F.loop, UV_RUN_NOWAIT);
    poll(NULL, 0, 1);
}

struct client {
    int fd;
    struct buf in; /* bytes received, not yet parsed */
};

static int client_open(struct client *c, int rcvbuf)
{
    struct sockaddr_in sa;
    buf_init(&c->in);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    if (rcvbuf)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)F.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The kernel completes a loopback connect from the backlog, before any accept. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
        return -1;
    return fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_fini(&c->in);
}

static int client_send(struct client *c, const void *p, size_t n)
{
    const char *s = p;
    uint64_t dl = deadline(5000);
    while (n) {
        ssize_t r = send(c->fd, s, n, MSG_NOSIGNAL);
        if (r > 0) {
            s += r;
            n -= (size_t)r;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (expired(dl))
                return -1;
            pump();
        } else {
            return -1;
        }
    }
    return 0;
}

/* Receives at least one byte into c->in, pumping the loop meanwhile. Returns 1, 0 at end
 * of stream (or reset), -1 on timeout. */
static int client_fill(struct client *c, uint64_t dl)
{
    char tmp[65536];
    for (;;) {
        ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
        if (r > 0) {
            buf_append(&c->in, tmp, (size_t)r);
            return 1;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return 0;
        if (expired(dl))
            return -1;
        pump();
    }
}

/* Sends an upgrade request for target (plus extra header lines and bytes after the head)
 * and reads the response head into head. Returns the status code, or -1. */
static int client_upgrade(struct client *c, const char *target, const char *headers,
                          const char *after, size_t after_len, struct buf *head)
{
    struct buf req;
    buf_init(&req);
    buf_printf(&req,
               "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\n%s\r\n",
               target,
               headers ? headers : "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n");
    if (after_len)
        buf_append(&req, after, after_len);
    int rc = client_send(c, req.data, req.len);
    buf_fini(&req);
    if (rc)
        return -1;
    uint64_t dl = deadline(3000);
    char *end;
    while (!c->in.data || !(end = strstr(c->in.data, "\r\n\r\n")))
        if (client_fill(c, dl) <= 0)
            return -1;
    size_t n = (size_t)(end + 4 - c->in.data);
    buf_reset(head);
    buf_append(head, c->in.data, n);
    buf_consume(&c->in, n);
    if (strncmp(head->data, "HTTP/1.1 ", 9) != 0)
        return -1;
    return atoi(head->data + 9);
}

/* Upgrades with the default key and checks 101 and the accept value. Returns 0 or -1. */
static int client_connect(struct client *c, const char *target)
{
    struct buf head;
    buf_init(&head);
    int ok = client_open(c, 0) == 0 && client_upgrade(c, target, NULL, NULL, 0, &head) == 101 &&
             strstr(head.data, "Sec-WebSocket-Accept: " ACCEPT "\r\n") != NULL;
    buf_fini(&head);
    return ok ? 0 : -1;
}

/* Reads one frame (servers do not mask). Returns its opcode with the payload in payload,
 * -1 on timeout, -2 at end of stream, -3 on a malformed frame. */
static int client_frame(struct client *c, struct buf *payload, int timeout_ms)
{
    uint64_t dl = deadline(timeout_ms);
    for (;;) {
        const unsigned char *p = (const unsigned char *)c->in.data;
        size_t have = c->in.len, hdr = 2, len;
        if (have >= 2) {
            if (p[1] & 0x80)
                return -3;
            len = p[1] & 0x7f;
            if (len == 126) {
                hdr = 4;
                len = have >= 4 ? ((size_t)p[2] << 8 | p[3]) : 0;
            } else if (len == 127) {
                hdr = 10;
                len = 0;
                for (int i = 0; i < 8 && have >= 10; i++)
                    len = len << 8 | p[2 + i];
            }
            if (have >= hdr && have - hdr >= len) {
                int op = p[0] & 0x0f;
                buf_reset(payload);
                buf_append(payload, p + hdr, len);
                buf_consume(&c->in, hdr + len);
                return op;
            }
        }
        int r = client_fill(c, dl);
        if (r < 0)
            return -1;
        if (r == 0)
            return -2;
    }
}

/* Reads frames until a text frame, skipping pings. Returns OP_TEXT or what client_frame
 * returned otherwise. */
static int client_text(struct client *c, struct buf *payload, int timeout_ms)
{
    int op;
    while ((op = client_frame(c, payload, timeout_ms)) == OP_PING)
        ;
    return op;
}

/* Sends one masked frame. */
static int client_send_frame(struct client *c, int fin, int opcode, const void *data, size_t n)
{
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    struct buf f;
    unsigned char h[14];
    size_t hl = 0;
    buf_init(&f);
    h[hl++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        h[hl++] = (unsigned char)(0x80 | n);
    } else if (n <= 0xffff) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    memcpy(h + hl, mask, 4);
    hl += 4;
    buf_append(&f, h, hl);
    buf_reserve(&f, n);
    for (size_t i = 0; i < n; i++)
        f.data[f.len + i] = (char)(((const unsigned char *)data)[i] ^ mask[i % 4]);
    f.len += n;
    int rc = client_send(c, f.data, f.len);
    buf_fini(&f);
    return rc;
}

static int close_code(const struct buf *payload)
{
    if (payload->len < 2)
        return -1;
    const unsigned char *p = (const unsigned char *)payload->data;
    return p[0] << 8 | p[1];
}

/* Reads frames until the close frame and returns its code (-1 on timeout, -2 at end of
 * stream without a close frame). */
static int client_expect_close(struct client *c, struct buf *payload, int timeout_ms)
{
    int op;
    while ((op = client_frame(c, payload, timeout_ms)) >= 0 && op != OP_CLOSE)
        ;
    return op == OP_CLOSE ? close_code(payload) : op;
}

/* Answers a close frame, as a polite client does. */
static int client_reply_close(struct client *c, int code)
{
    unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    return client_send_frame(c, 1, OP_CLOSE, p, 2);
}

static int wait_count(size_t n, int ms)
{
    uint64_t dl = deadline(ms);
    while (ws_server_count(F.ws) != n && !expired(dl))
        pump();
    return ws_server_count(F.ws) == n;
}

static int wait_msgs(int n, int ms)
{
    uint64_t dl = deadline(ms);
    while (F.nmsgs < n && !expired(dl))
        pump();
    return F.nmsgs >= n;
}

/* ------------------------------------------------------------------------------------- */
/* WebSocket server                                                                      */
/* ------------------------------------------------------------------------------------- */

TEST(upgrade_send_receive_close)
{
    struct client c;
    struct buf p;
    buf_init(&p);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    ASSERT_EQ(client_connect(&c, "/v1/stream?token=secret&r=77&since=5"), 0);
    ASSERT_EQ(F.opens, 1);
    ASSERT_EQ(F.recipient, 77);
    ASSERT_EQ(F.since, 5);
    ASSERT_EQ(ws_server_count(F.ws), 1);

    /* on_open's frame arrives first, then ours. */
    ASSERT_EQ(client_text(&c, &p, 2000), OP_TEXT);
    ASSERT_MEMEQ(p.data, p.len, "welcome", 7);
    ASSERT(F.conn != NULL);
    ASSERT_EQ(ws_conn_send(F.conn, "{\"x\":1}", 7), 0);
    ASSERT_EQ(client_text(&c, &p, 2000), OP_TEXT);
    ASSERT_MEMEQ(p.data, p.len, "{\"x\":1}", 7);
    ASSERT_EQ(ws_conn_queued(F.conn), 0);

    /* The data slot is the owner's. */
    int tag;
    ws_conn_set_data(F.conn, &tag);
    ASSERT(ws_conn_get_data(F.conn) == &tag);

    ASSERT_EQ(client_send_frame(&c, 1, OP_TEXT, "hi", 2), 0);
    ASSERT(wait_msgs(1, 2000));
    ASSERT_STREQ(F.msgs[0], "hi");

    /* A client-initiated close is answered and the connection goes away once. */
    ASSERT_EQ(client_reply_close(&c, 1000), 0);
    ASSERT_EQ(client_expect_close(&c, &p, 2000), 1000);
    ASSERT(wait_count(0, 2000));
    ASSERT_EQ(F.closes, 1);
    client_close(&c);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(subprotocol_regulars_or_none)
{
    struct client c;
    struct buf head;
    buf_init(&head);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    ASSERT_EQ(client_open(&c, 0), 0);
    ASSERT_EQ(client_upgrade(&c, "/v1/stream",
                             "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: regulars\r\n",
                             NULL, 0, &head),
              101);
    ASSERT(strstr(head.data, "Sec-WebSocket-Protocol: regulars\r\n") != NULL);
    ASSERT(strstr(head.data, "Sec-WebSocket-Accept: " ACCEPT "\r\n") != NULL);
    client_close(&c);

    /* Without a subprotocol the answer names none. */
    ASSERT_EQ(client_open(&c, 0), 0);
    ASSERT_EQ(client_upgrade(&c, "/v1/stream", NULL, NULL, 0, &head), 101);
    ASSERT(strstr(head.data, "Sec-WebSocket-Protocol") == NULL);
    client_close(&c);
    ASSERT(wait_count(0, 2000));
    ASSERT_EQ(F.opens, 2);
    ASSERT_EQ(F.closes, 2);
    buf_fini(&head);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(bytes_after_head_are_kept)
{
    /* A client may send its first frame in the same packet as the upgrade request: those
     * bytes were read by the HTTP side and must reach lws. */
    struct client c;
    struct buf head;
    unsigned char frame[] = {0x81, 0x85, 1, 2, 3, 4, 'e' ^ 1, 'a' ^ 2, 'r' ^ 3, 'l' ^ 4, 'y' ^ 1};
    buf_init(&head);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    ASSERT_EQ(client_open(&c, 0), 0);
    ASSERT_EQ(client_upgrade(&c, "/v1/stream", NULL, (const char *)frame, sizeof(frame), &head),
              101);
    ASSERT(wait_msgs(1, 2000));
    ASSERT_STREQ(F.msgs[0], "early");
    client_close(&c);
    buf_fini(&head);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(bad_upgrade_is_refused)
{
    /* Handshakes lws would get wrong (it takes any key and version 12, and hangs up with no
     * answer on an unknown subprotocol) are refused before the handover, so that the HTTP
     * side can still answer 400 on its socket. */
    static const char *const cases[] = {
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Key: " KEY "\r\n",
        "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 12\r\n",
        "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: chat, regularsx\r\n",
    };
    struct client c;
    struct buf head;
    buf_init(&head);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_EQ(client_open(&c, 0), 0);
        ASSERT_EQ(client_upgrade(&c, "/v1/stream", cases[i], NULL, 0, &head), 400);
        ASSERT_EQ(F.adopts, (int)i + 1);
        ASSERT_EQ(F.adopt_rc, RG_EPROTO);
        client_close(&c);
    }
    /* A list that names ours is accepted, and ours is the one selected. */
    ASSERT_EQ(client_open(&c, 0), 0);
    ASSERT_EQ(client_upgrade(&c, "/v1/stream",
                             "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Protocol: chat, regulars\r\n",
                             NULL, 0, &head),
              101);
    ASSERT(strstr(head.data, "Sec-WebSocket-Protocol: regulars\r\n") != NULL);
    client_close(&c);
    ASSERT(wait_count(0, 2000));
    ASSERT_EQ(F.opens, 1);
    buf_fini(&head);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(refused_open_closes_1011)
{
    struct client c;
    struct buf p;
    buf_init(&p);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    F.refuse = 1;
    ASSERT_EQ(client_connect(&c, "/v1/stream"), 0);
    ASSERT_EQ(client_expect_close(&c, &p, 2000), 1011);
    ASSERT_EQ(client_reply_close(&c, 1011), 0);
    ASSERT(wait_count(0, 2000));
    ASSERT_EQ(F.opens, 1);
    ASSERT_EQ(F.closes, 0); /* on_close is owed only after a successful on_open */
    client_close(&c);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(fragments_reassembled_and_size_limited)
{
    struct client c;
    struct buf p;
    buf_init(&p);
    ASSERT_EQ(fixture_start(1 << 20, 0, 65536, 0), 0);
    ASSERT_EQ(client_connect(&c, "/v1/stream"), 0);
    ASSERT_EQ(client_send_frame(&c, 0, OP_TEXT, "hello ", 6), 0);
    ASSERT_EQ(client_send_frame(&c, 0, OP_CONT, "wor", 3), 0);
    ASSERT_EQ(client_send_frame(&c, 1, OP_CONT, "ld", 2), 0);
    ASSERT(wait_msgs(1, 2000));
    ASSERT_STREQ(F.msgs[0], "hello world");

    /* One frame larger than lws's receive buffer arrives in pieces: delivered whole. */
    char *big = malloc(70000);
    for (int i = 0; i < 70000; i++)
        big[i] = (char)('a' + i % 26);
    ASSERT_EQ(client_send_frame(&c, 1, OP_TEXT, big, 50000), 0);
    ASSERT(wait_msgs(2, 2000));
    ASSERT_MEMEQ(F.msgs[1], F.msg_len[1], big, 50000);

    /* Over max_message_bytes: closed with 1009, not delivered. */
    ASSERT_EQ(client_send_frame(&c, 1, OP_TEXT, big, 70000), 0);
    free(big);
    ASSERT_EQ(client_expect_close(&c, &p, 2000), 1009);
    ASSERT_EQ(F.nmsgs, 2);
    client_close(&c);
    ASSERT(wait_count(0, 5000));
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(invalid_utf8_closes_1007)
{
    struct client c;
    struct buf p;
    buf_init(&p);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    ASSERT_EQ(client_connect(&c, "/v1/stream"), 0);
    ASSERT_EQ(client_send_frame(&c, 1, OP_TEXT, "ok\xc3\x28", 4), 0);
    ASSERT_EQ(client_expect_close(&c, &p, 2000), 1007);
    ASSERT_EQ(F.nmsgs, 0);
    client_close(&c);
    ASSERT(wait_count(0, 5000));
    ASSERT_EQ(F.closes, 1);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(binary_closes_1003)
{
    struct client c;
    struct buf p;
    buf_init(&p);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    ASSERT_EQ(client_connect(&c, "/v1/stream"), 0);
    ASSERT_EQ(client_send_frame(&c, 1, OP_BINARY, "\x01\x02", 2), 0);
    ASSERT_EQ(client_expect_close(&c, &p, 2000), 1003);
    ASSERT_EQ(F.nmsgs, 0);
    client_close(&c);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(queue_overflow_closes_1008)
{
    struct client c;
    struct buf p;
    char frame[1000];
    memset(frame, 'x', sizeof(frame));
    buf_init(&p);
    ASSERT_EQ(fixture_start(4096, 0, 65536, 0), 0);
    ASSERT_EQ(client_connect(&c, "/v1/stream"), 0);
    ASSERT_EQ(client_text(&c, &p, 2000), OP_TEXT); /* welcome */
    struct ws_conn *conn = F.conn;
    ASSERT(conn != NULL);

    /* Without the loop running nothing is written: 4 x 1000 bytes fit, the 5th does not. */
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(ws_conn_send(conn, frame, sizeof(frame)), 0);
    ASSERT_EQ(ws_conn_queued(conn), 4000);
    ASSERT_EQ(ws_conn_send(conn, frame, sizeof(frame)), RG_ETOOBIG);
    ASSERT_EQ(ws_conn_queued(conn), 0); /* the queue is dropped */
    ASSERT_EQ(ws_conn_send(conn, frame, 10), RG_EBUSY);

    ASSERT_EQ(client_frame(&c, &p, 2000), OP_CLOSE);
    ASSERT_EQ(close_code(&p), 1008);
    ASSERT_MEMEQ(p.data + 2, p.len - 2, "send queue full", 15);
    ASSERT_EQ(client_reply_close(&c, 1008), 0);
    ASSERT(wait_count(0, 2000));
    ASSERT_EQ(F.closes, 1);
    client_close(&c);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(stuck_client_is_dropped)
{
    /* A client that never reads: the socket fills, the queue passes its limit, and as not
     * even the close frame can be written, lws drops the connection after its 5 s close
     * timeout. */
    struct client c;
    struct buf p;
    size_t n = 16384;
    char *frame = malloc(n);
    memset(frame, 'y', n);
    buf_init(&p);
    ASSERT_EQ(fixture_start(256 * 1024, 0, 65536, 0), 0);
    ASSERT_EQ(client_open(&c, 4096), 0);
    ASSERT_EQ(client_upgrade(&c, "/v1/stream", NULL, NULL, 0, &p), 101);
    struct ws_conn *conn = F.conn;
    ASSERT(conn != NULL);
    int rc = 0;
    for (int i = 0; i < 4000 && rc == 0; i++) {
        rc = ws_conn_send(conn, frame, n);
        uv_run(&F.loop, UV_RUN_NOWAIT);
    }
    free(frame);
    ASSERT_EQ(rc, RG_ETOOBIG);
    ASSERT(wait_count(0, 8000));
    ASSERT_EQ(F.closes, 1);
    /* The client sees the stream end (a reset or FIN), not a hang. */
    int op;
    while ((op = client_frame(&c, &p, 3000)) >= 0)
        ;
    ASSERT_EQ(op, -2);
    client_close(&c);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(close_all_sends_1001_before_free)
{
    struct client a, b;
    struct buf p;
    buf_init(&p);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 0), 0);
    ASSERT_EQ(client_connect(&a, "/v1/stream?r=1"), 0);
    ASSERT_EQ(client_connect(&b, "/v1/stream?r=2"), 0);
    ASSERT_EQ(ws_server_count(F.ws), 2);
    ws_server_close_all(F.ws);
    /* Free at once, with no loop turn in between: the close frames must still go out. */
    ws_server_free(F.ws);
    F.ws = NULL;
    ASSERT_EQ(F.closes, 2);
    ASSERT_EQ(client_expect_close(&a, &p, 2000), 1001);
    ASSERT_MEMEQ(p.data + 2, p.len - 2, "server shutting down", 20);
    ASSERT_EQ(client_expect_close(&b, &p, 2000), 1001);
    client_close(&a);
    client_close(&b);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(ping_pong_keeps_alive_dead_peer_dropped)
{
    struct client c;
    struct buf p;
    buf_init(&p);
    ASSERT_EQ(fixture_start(65536, 1, 65536, 0), 0);
    ASSERT_EQ(client_connect(&c, "/v1/stream"), 0);
    ASSERT_EQ(client_frame(&c, &p, 2000), OP_TEXT); /* welcome */
    /* Idle for ping_interval_s: the server pings; a client that answers stays. */
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(client_frame(&c, &p, 3000), OP_PING);
        ASSERT_EQ(client_send_frame(&c, 1, OP_PONG, p.data, p.len), 0);
    }
    ASSERT_EQ(ws_server_count(F.ws), 1);
    ASSERT_EQ(F.closes, 0);
    /* Once it stops answering, it is dropped. */
    ASSERT_EQ(client_frame(&c, &p, 3000), OP_PING);
    ASSERT(wait_count(0, 4000));
    ASSERT_EQ(F.closes, 1);
    client_close(&c);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

/* ------------------------------------------------------------------------------------- */
/* The hub on top                                                                        */
/* ------------------------------------------------------------------------------------- */

/* Stores n events for recipient r in one write txn; frames[i] gets event i+1's frame. */
static int store_events(uint64_t r, int n, struct buf *frames)
{
    struct store_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.st = &F.st;
    uint64_t seq;
    if (mdb_txn_begin(F.st.env, NULL, 0, &tx.txn))
        return -1;
    for (int i = 0; i < n; i++) {
        char data[32];
        int len = snprintf(data, sizeof(data), "{\"i\":%d}", i);
        buf_init(&frames[i]);
        if (outbox_append(&tx, r, "test.event", 1000 + i, data, (size_t)len, &frames[i], &seq))
            return -1;
    }
    return mdb_txn_commit(tx.txn) ? -1 : 0;
}

/* Checks that p is a hello frame with last_seq. */
static int is_hello(const struct buf *p, uint64_t last_seq)
{
    char tail[64];
    const char *head = "{\"seq\":0,\"type\":\"hello\",\"at\":";
    int n = snprintf(tail, sizeof(tail), ",\"data\":{\"last_seq\":%" PRIu64 "}}", last_seq);
    return p->len > strlen(head) + (size_t)n && memcmp(p->data, head, strlen(head)) == 0 &&
           memcmp(p->data + p->len - (size_t)n, tail, (size_t)n) == 0;
}

TEST(hub_hello_then_live_once)
{
    struct client c, other;
    struct buf p, frames[4];
    buf_init(&p);
    uint64_t r = store_recipient(RG_KIND_USER, 5);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 1), 0);
    ASSERT_EQ(store_events(r, 4, frames), 0); /* seqs 1..4; 4 is "committed, not published" */

    char target[64];
    snprintf(target, sizeof(target), "/v1/stream?r=%" PRIu64, r);
    ASSERT_EQ(client_connect(&c, target), 0);
    ASSERT_EQ(client_connect(&other, "/v1/stream?r=999"), 0);
    ASSERT_EQ(hub_count(F.hub, r), 1);
    ASSERT_EQ(hub_count(F.hub, 999), 1);

    /* Hello first, with the outbox head; no replay without since. */
    ASSERT_EQ(client_frame(&c, &p, 2000), OP_TEXT);
    ASSERT(is_hello(&p, 4));
    ASSERT_EQ(client_frame(&other, &p, 2000), OP_TEXT);
    ASSERT(is_hello(&p, 0));

    /* Seq 4 is covered by the hello; 5 is new and goes out once, only to r. */
    const char *f5 = "{\"seq\":5,\"type\":\"test.event\",\"at\":1,\"data\":{}}";
    hub_publish(F.hub, r, 4, frames[3].data, frames[3].len);
    hub_publish(F.hub, r, 5, f5, strlen(f5));
    hub_publish(F.hub, r, 5, f5, strlen(f5));
    ASSERT_EQ(client_frame(&c, &p, 2000), OP_TEXT);
    ASSERT_MEMEQ(p.data, p.len, f5, strlen(f5));
    ASSERT_EQ(client_frame(&c, &p, 300), -1);     /* nothing more */
    ASSERT_EQ(client_frame(&other, &p, 100), -1); /* another recipient's event */

    /* Closing unregisters. */
    client_close(&c);
    uint64_t dl = deadline(2000);
    while (hub_count(F.hub, r) && !expired(dl))
        pump();
    ASSERT_EQ(hub_count(F.hub, r), 0);
    hub_publish(F.hub, r, 6, f5, strlen(f5)); /* nobody listening: a no-op */
    client_close(&other);
    ASSERT(wait_count(0, 2000));
    ASSERT_EQ(hub_count(F.hub, 999), 0);
    for (int i = 0; i < 4; i++)
        buf_fini(&frames[i]);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}

TEST(hub_replays_since)
{
    struct client a, b;
    struct buf p, frames[5];
    buf_init(&p);
    uint64_t r = store_recipient(RG_KIND_MERCHANT, 3);
    ASSERT_EQ(fixture_start(65536, 0, 65536, 1), 0);
    ASSERT_EQ(store_events(r, 5, frames), 0);

    char target[64];
    snprintf(target, sizeof(target), "/v1/stream?r=%" PRIu64 "&since=2", r);
    ASSERT_EQ(client_connect(&a, target), 0);
    snprintf(target, sizeof(target), "/v1/stream?r=%" PRIu64 "&since=0", r);
    F.hold_txn = 1; /* on_open must read in that txn rather than nest one */
    ASSERT_EQ(client_connect(&b, target), 0);
    F.hold_txn = 0;
    ASSERT_EQ(F.st.reader_active, 0);
    ASSERT_EQ(hub_count(F.hub, r), 2);

    /* a: hello, then 3, 4, 5 in order. */
    ASSERT_EQ(client_frame(&a, &p, 2000), OP_TEXT);
    ASSERT(is_hello(&p, 5));
    for (int i = 2; i < 5; i++) {
        ASSERT_EQ(client_frame(&a, &p, 2000), OP_TEXT);
        ASSERT_MEMEQ(p.data, p.len, frames[i].data, frames[i].len);
    }
    /* b: hello, then 1..5. */
    ASSERT_EQ(client_frame(&b, &p, 2000), OP_TEXT);
    ASSERT(is_hello(&p, 5));
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(client_frame(&b, &p, 2000), OP_TEXT);
        ASSERT_MEMEQ(p.data, p.len, frames[i].data, frames[i].len);
    }

    /* The live publish of an event already replayed is not sent again; the next is. */
    const char *f6 = "{\"seq\":6,\"type\":\"test.event\",\"at\":2,\"data\":{}}";
    hub_publish(F.hub, r, 5, frames[4].data, frames[4].len);
    hub_publish(F.hub, r, 6, f6, strlen(f6));
    ASSERT_EQ(client_frame(&a, &p, 2000), OP_TEXT);
    ASSERT_MEMEQ(p.data, p.len, f6, strlen(f6));
    ASSERT_EQ(client_frame(&b, &p, 2000), OP_TEXT);
    ASSERT_MEMEQ(p.data, p.len, f6, strlen(f6));
    ASSERT_EQ(client_frame(&a, &p, 200), -1);
    ASSERT_EQ(client_frame(&b, &p, 50), -1);

    /* Shutdown: every stream gets 1001 and the hub is emptied through on_close. */
    ws_server_close_all(F.ws);
    ASSERT_EQ(client_expect_close(&a, &p, 2000), 1001);
    ASSERT_EQ(client_expect_close(&b, &p, 2000), 1001);
    ws_server_free(F.ws);
    F.ws = NULL;
    ASSERT_EQ(hub_count(F.hub, r), 0);
    client_close(&a);
    client_close(&b);
    for (int i = 0; i < 5; i++)
        buf_fini(&frames[i]);
    buf_fini(&p);
    ASSERT_EQ(fixture_stop(), 0);
}
