/*
 * Unit tests of regulars-bench's pieces: the histogram, the HTTP response parser, WebSocket
 * framing, the id map, seed parsing, the report, and the engine itself against a toy server
 * on the loopback (HTTP keep-alive in closed and open loop, and a WebSocket crowd).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "bbuf.h"
#include "engine.h"
#include "hist.h"
#include "idmap.h"
#include "procinfo.h"
#include "report.h"
#include "resp.h"
#include "seedset.h"
#include "test.h"
#include "wsproto.h"

/* ------------------------------------------------------------------------------------------
 * Histogram
 * ---------------------------------------------------------------------------------------- */

TEST(hist_buckets_bound_values)
{
    /* Every value maps to a bucket whose highest value is >= it and within 1/128 of it, and
     * bucket indexes never go down as values go up. */
    unsigned last = 0;
    for (uint64_t v = 0; v < (UINT64_C(1) << 41); v = v < 1000 ? v + 1 : v + v / 97 + 1) {
        unsigned i = hist_index(v);
        uint64_t hi = hist_bucket_high(i);
        ASSERT(i < HIST_BUCKETS);
        ASSERT(i >= last);
        ASSERT(hi >= v);
        ASSERT((double)(hi - v) <= (double)v / 128.0 + 1);
        last = i;
    }
    ASSERT_EQ(hist_index(255), 255);
    ASSERT_EQ(hist_index(256), 256);
    ASSERT_EQ(hist_bucket_high(256), 257);
    ASSERT_EQ(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

TEST(hist_quantiles)
{
    static struct hist h;
    hist_init(&h);
    ASSERT_EQ(hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(&h, v * 1000); /* 1 µs .. 100 ms in ns */
    ASSERT_EQ(h.count, 100000);
    ASSERT_EQ(h.min, 1000);
    ASSERT_EQ(h.max, 100000000);
    double p50 = (double)hist_quantile(&h, 0.5), p99 = (double)hist_quantile(&h, 0.99);
    double p999 = (double)hist_quantile(&h, 0.999);
    ASSERT(p50 >= 50000000 && p50 <= 50000000 * 1.008);
    ASSERT(p99 >= 99000000 && p99 <= 99000000 * 1.008);
    ASSERT(p999 >= 99900000 && p999 <= 100000000);
    ASSERT_EQ(hist_quantile(&h, 1.0), 100000000);
    ASSERT_EQ(hist_quantile(&h, 0.0), 1000);
    double mean = hist_mean(&h);
    ASSERT(mean > 50000000 && mean < 50001000);
}

TEST(hist_merge_adds_counts)
{
    static struct hist a, b;
    hist_init(&a);
    hist_init(&b);
    for (int i = 0; i < 99; i++)
        hist_record(&a, 100);
    hist_record(&b, 5000000);
    hist_merge(&a, &b);
    ASSERT_EQ(a.count, 100);
    ASSERT_EQ(a.max, 5000000);
    ASSERT_EQ(hist_quantile(&a, 0.5), 100);
    ASSERT_EQ(hist_quantile(&a, 0.99), 100);
    ASSERT_EQ(hist_quantile(&a, 0.995), 5000000);
}

/* ------------------------------------------------------------------------------------------
 * HTTP response parser
 * ---------------------------------------------------------------------------------------- */

/* Feeds all of s in pieces of `step` bytes; returns responses completed, -1 on error.
 * Bodies of completed responses are appended to bodies, separated by '|'. */
static int feed_all(struct resp *r, const char *s, size_t n, size_t step, struct bbuf *bodies,
                    int *statuses)
{
    int done = 0;
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        size_t used = 0;
        while (used < k) {
            ssize_t u = resp_feed(r, s + off + used, k - used);
            if (u < 0)
                return -1;
            used += (size_t)u;
            if (r->state == RESP_ST_DONE) {
                if (statuses)
                    statuses[done] = r->status;
                done++;
                if (bodies) {
                    bbuf_add(bodies, r->body.data, r->body.len);
                    bbuf_adds(bodies, "|");
                }
                if (r->upgraded)
                    return done;
                resp_reset(r);
            }
        }
        off += k;
    }
    return done;
}

static const char two_responses[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    "{\"a\":true}\n"
    "HTTP/1.1 201 Created\r\ncontent-length:  3 \r\nX-Long: "
    "0123456789012345678901234567890123456789\r\n\r\nabc";

TEST(resp_content_length_pipelined_any_split)
{
    for (size_t step = 1; step <= sizeof(two_responses); step += step < 8 ? 1 : 13) {
        struct resp r;
        struct bbuf bodies;
        int st[4] = {0};
        resp_init(&r);
        r.keep_body = 1;
        bbuf_init(&bodies);
        int n = feed_all(&r, two_responses, sizeof(two_responses) - 1, step, &bodies, st);
        ASSERT_EQ(n, 2);
        ASSERT_EQ(st[0], 200);
        ASSERT_EQ(st[1], 201);
        ASSERT_STREQ(bodies.data, "{\"a\":true}\n|abc|");
        ASSERT(r.keep_alive);
        bbuf_fini(&bodies);
        resp_fini(&r);
    }
}

TEST(resp_chunked_with_extensions_and_trailers)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                            "5;ext=1\r\nhello\r\n1A\r\n abcdefghijklmnopqrstuvwxy\r\n"
                            "0\r\nX-Trailer: t\r\n\r\n"
                            "HTTP/1.1 204 No Content\r\n\r\n";
    for (size_t step = 1; step < sizeof(s); step += 3) {
        struct resp r;
        struct bbuf bodies;
        int st[4] = {0};
        resp_init(&r);
        r.keep_body = 1;
        bbuf_init(&bodies);
        ASSERT_EQ(feed_all(&r, s, sizeof(s) - 1, step, &bodies, st), 2);
        ASSERT_STREQ(bodies.data, "hello abcdefghijklmnopqrstuvwxy||");
        ASSERT_EQ(st[1], 204);
        bbuf_fini(&bodies);
        resp_fini(&r);
    }
}

/* Feeds one whole response and returns its keep_alive, or -1 when it did not complete. */
static int keep_alive_of(const char *s)
{
    struct resp r;
    resp_init(&r);
    ssize_t used = resp_feed(&r, s, strlen(s));
    int ka = used == (ssize_t)strlen(s) && r.state == RESP_ST_DONE ? r.keep_alive : -1;
    resp_fini(&r);
    return ka;
}

TEST(resp_connection_close_and_http10)
{
    ASSERT_EQ(keep_alive_of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 1);
    ASSERT_EQ(keep_alive_of("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
              0);
    ASSERT_EQ(keep_alive_of("HTTP/1.1 200 OK\r\nConnection: x, Close\r\nContent-Length: 0\r\n\r\n"),
              0);
    ASSERT_EQ(keep_alive_of("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
    ASSERT_EQ(
        keep_alive_of("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"), 1);
}

TEST(resp_body_until_eof)
{
    struct resp r;
    resp_init(&r);
    r.keep_body = 1;
    static const char a[] = "HTTP/1.1 200 OK\r\n\r\nall of it";
    ASSERT_EQ(feed_all(&r, a, sizeof(a) - 1, 4, NULL, NULL), 0);
    ASSERT_EQ(resp_eof(&r), 0);
    ASSERT_EQ(r.state, RESP_ST_DONE);
    ASSERT_MEMEQ(r.body.data, r.body.len, "all of it", 9);
    ASSERT_EQ(r.keep_alive, 0);
    /* A Content-Length body cut short is an error at EOF. */
    resp_reset(&r);
    static const char b[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
    ASSERT_EQ(feed_all(&r, b, sizeof(b) - 1, 100, NULL, NULL), 0);
    ASSERT_EQ(resp_eof(&r), -1);
    resp_fini(&r);
}

TEST(resp_upgrade_leaves_frames_and_captures_header)
{
    static const char s[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept:  abc= \r\n\r\n\x81\x02hi";
    struct resp r;
    resp_init(&r);
    r.want_header = "sec-websocket-accept";
    ssize_t used = resp_feed(&r, s, sizeof(s) - 1);
    ASSERT_EQ(r.state, RESP_ST_DONE);
    ASSERT(r.upgraded);
    ASSERT_EQ(r.status, 101);
    ASSERT_EQ(used, (ssize_t)(sizeof(s) - 1 - 4));
    ASSERT_STREQ(r.header_value, "abc=");
    resp_fini(&r);
}

TEST(resp_interim_100_then_final)
{
    static const char s[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 422 Unprocessable\r\n"
                            "Content-Length: 4\r\n\r\nnope";
    struct resp r;
    int st[2] = {0};
    resp_init(&r);
    ASSERT_EQ(feed_all(&r, s, sizeof(s) - 1, 7, NULL, st), 1);
    ASSERT_EQ(st[0], 422);
    resp_fini(&r);
}

TEST(resp_rejects_malformed)
{
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct resp r;
        resp_init(&r);
        int n = feed_all(&r, bad[i], strlen(bad[i]), 5, NULL, NULL);
        if (n != -1)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        ASSERT_EQ(n, -1);
        resp_fini(&r);
    }
}

TEST(resp_skips_body_unless_asked)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    struct resp r;
    resp_init(&r);
    ASSERT_EQ(feed_all(&r, s, sizeof(s) - 1, 3, NULL, NULL), 1);
    ASSERT_EQ(r.body.len, 0);
    resp_fini(&r);
}

/* ------------------------------------------------------------------------------------------
 * WebSocket framing
 * ---------------------------------------------------------------------------------------- */

TEST(ws_accept_matches_rfc6455)
{
    char out[WS_ACCEPT_LEN + 1];
    wsproto_accept("dGhlIHNhbXBsZSBub25jZQ==", out);
    ASSERT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char k1[WS_KEY_LEN + 1], k2[WS_KEY_LEN + 1];
    wsproto_key(k1);
    wsproto_key(k2);
    ASSERT_EQ(strlen(k1), WS_KEY_LEN);
    ASSERT(strcmp(k1, k2) != 0);
}

TEST(wsrx_rfc_examples)
{
    /* RFC 6455 5.7: an unmasked and a masked "Hello", and an unmasked ping. */
    static const unsigned char frames[] = {0x81, 0x05, 'H',  'e',  'l',  'l',  'o',  0x81, 0x85,
                                           0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
                                           0x89, 0x05, 'H',  'e',  'l',  'l',  'o'};
    struct wsrx w;
    wsrx_init(&w);
    int got = 0;
    for (size_t off = 0; off < sizeof(frames);) {
        ssize_t k = wsrx_feed(&w, (const char *)frames + off, 1); /* byte by byte */
        ASSERT(k == 1);
        off += (size_t)k;
        if (w.state == WSRX_DONE) {
            ASSERT_MEMEQ(w.payload.data, w.payload.len, "Hello", 5);
            ASSERT_EQ(w.opcode, got < 2 ? WS_OP_TEXT : WS_OP_PING);
            ASSERT(w.fin);
            got++;
            wsrx_next(&w);
        }
    }
    ASSERT_EQ(got, 3);
    wsrx_fini(&w);
}

TEST(ws_frame_roundtrip_lengths)
{
    size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct bbuf payload, wire;
        bbuf_init(&payload);
        bbuf_init(&wire);
        for (size_t j = 0; j < lens[i]; j++) {
            char ch = (char)('a' + j % 26);
            bbuf_add(&payload, &ch, 1);
        }
        wsproto_frame(&wire, WS_OP_BINARY, payload.data, lens[i], 0xa1b2c3d4u);
        ASSERT(wire.len > lens[i]);
        ASSERT(((unsigned char)wire.data[1] & 0x80) != 0); /* clients mask */
        struct wsrx w;
        wsrx_init(&w);
        ssize_t k = wsrx_feed(&w, wire.data, wire.len);
        ASSERT_EQ(k, (ssize_t)wire.len);
        ASSERT_EQ(w.state, WSRX_DONE);
        ASSERT_EQ(w.opcode, WS_OP_BINARY);
        ASSERT_EQ(w.len, lens[i]);
        if (lens[i])
            ASSERT_MEMEQ(w.payload.data, w.payload.len, payload.data, payload.len);
        wsrx_fini(&w);
        bbuf_fini(&payload);
        bbuf_fini(&wire);
    }
}

TEST(wsrx_rejects_bad_frames)
{
    static const unsigned char rsv[] = {0xc1, 0x00};       /* RSV1 without an extension */
    static const unsigned char frag_ping[] = {0x09, 0x00}; /* control frame without FIN */
    static const unsigned char big_ping[] = {0x89, 0x7e, 0x00, 0x80}; /* control > 125 */
    const unsigned char *bad[] = {rsv, frag_ping, big_ping};
    size_t lens[] = {sizeof(rsv), sizeof(frag_ping), sizeof(big_ping)};
    for (int i = 0; i < 3; i++) {
        struct wsrx w;
        wsrx_init(&w);
        ASSERT_EQ(wsrx_feed(&w, (const char *)bad[i], lens[i]), -1);
        wsrx_fini(&w);
    }
}

/* ------------------------------------------------------------------------------------------
 * Id map and seed
 * ---------------------------------------------------------------------------------------- */

TEST(idmap_put_get_grow)
{
    struct idmap m;
    idmap_init(&m);
    char key[32];
    for (uint32_t i = 0; i < 50000; i++) {
        int n = snprintf(key, sizeof(key), "p_%08x", i * 2654435761u);
        ASSERT_EQ(idmap_put(&m, key, (size_t)n, i), 0);
    }
    ASSERT_EQ(m.n, 50000);
    for (uint32_t i = 0; i < 50000; i += 7) {
        int n = snprintf(key, sizeof(key), "p_%08x", i * 2654435761u);
        uint32_t v = 0;
        ASSERT(idmap_get(&m, key, (size_t)n, &v));
        ASSERT_EQ(v, i);
    }
    uint32_t v;
    ASSERT(!idmap_get(&m, "p_missing", 9, &v));
    ASSERT_EQ(idmap_put(&m, "p_00000000", 10, 7), 0); /* replaces */
    ASSERT(idmap_get(&m, "p_00000000", 10, &v));
    ASSERT_EQ(v, 7);
    ASSERT_EQ(m.n, 50000);
    ASSERT_EQ(idmap_put(&m, "", 0, 1), -1);
    ASSERT_EQ(idmap_put(&m, "0123456789012345678901234567890123456789", 40, 1), -1);
    idmap_fini(&m);
}

TEST(seedset_parse_lines)
{
    static const char s[] = "{\"kind\":\"user\",\"id\":\"u_a\",\"secret\":\"ut_1\"}\n"
                            "{\"kind\":\"user\",\"id\":\"u_b\",\"secret\":\"ut_2\"}\n"
                            "\n"
                            "{\"kind\":\"merchant\",\"id\":\"m_c\",\"secret\":\"mk_3\"}\n";
    struct seedset ss;
    seedset_init(&ss);
    ASSERT_EQ(seedset_parse(&ss, s, sizeof(s) - 1), 3);
    ASSERT_EQ(ss.nusers, 2);
    ASSERT_EQ(ss.nmerchants, 1);
    ASSERT_STREQ(ss.users[1].secret, "ut_2");
    ASSERT_STREQ(ss.merchants[0].id, "m_c");
    uint32_t i;
    ASSERT(idmap_get(&ss.user_index, "u_b", 3, &i));
    ASSERT_EQ(i, 1);
    ASSERT_EQ(seedset_parse(&ss, "{\"kind\":\"robot\",\"id\":\"x\",\"secret\":\"y\"}", 39), -1);
    ASSERT_EQ(seedset_parse(&ss, "not json\n", 9), -1);
    seedset_fini(&ss);
}

/* ------------------------------------------------------------------------------------------
 * /proc
 * ---------------------------------------------------------------------------------------- */

TEST(procinfo_cpus_and_time)
{
    uint64_t mask = procinfo_cpus_allowed(0);
    ASSERT(mask != 0);
    ASSERT_EQ(procinfo_cpus_allowed(getpid()), mask);
    char list[64];
    procinfo_cpus_format(UINT64_C(0x2d), list, sizeof(list)); /* 0,2,3,5 */
    ASSERT_STREQ(list, "0,2-3,5");
    procinfo_cpus_format(UINT64_C(1), list, sizeof(list));
    ASSERT_STREQ(list, "0");
    /* Burning CPU here shows up in our own time and in our CPUs' busy time. */
    double busy0 = procinfo_cpus_busy_s(mask), self0 = procinfo_self_cpu_s();
    ASSERT(busy0 > 0);
    uint64_t end = engine_now() + 60000000;
    volatile uint64_t x = 0;
    while (engine_now() < end)
        x++;
    ASSERT(procinfo_self_cpu_s() - self0 > 0.03);
    ASSERT(procinfo_cpus_busy_s(mask) - busy0 > 0.03);
    ASSERT(procinfo_cpu_s(getpid()) > 0);
    ASSERT(procinfo_rss_kib(getpid()) > 0);
    ASSERT_EQ(procinfo_rss_kib(0x7ffffff0), -1);
}

/* A thread with a name writes a known number of bytes (as regularsd's commit thread writes
 * pages); only it is counted. */
static int wchar_fd;
static void *named_writer(void *arg)
{
    static char block[4096];
    pthread_setname_np(pthread_self(), "bench-wr");
    for (int i = 0; i < 3; i++)
        if (write(wchar_fd, block, sizeof(block)) != (ssize_t)sizeof(block))
            return NULL;
    /* Stay alive until the main thread has read our counter. */
    *(volatile int *)arg = 1;
    while (*(volatile int *)arg == 1)
        usleep(1000);
    return NULL;
}

TEST(procinfo_thread_wchar_counts_one_named_thread)
{
    ASSERT_EQ(procinfo_thread_wchar(getpid(), "bench-wr"), -1); /* no such thread yet */
    wchar_fd = open("/dev/null", O_WRONLY);
    ASSERT(wchar_fd >= 0);
    volatile int state = 0;
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, named_writer, (void *)&state), 0);
    while (state == 0)
        usleep(1000);
    /* Our own writes on the main thread do not count. */
    char small[100] = {0};
    ASSERT_EQ(write(wchar_fd, small, sizeof(small)), (ssize_t)sizeof(small));
    long long w = procinfo_thread_wchar(getpid(), "bench-wr");
    state = 2;
    pthread_join(t, NULL);
    close(wchar_fd);
    ASSERT_EQ(w, 3 * 4096);
}

/* ------------------------------------------------------------------------------------------
 * Report
 * ---------------------------------------------------------------------------------------- */

static json_t *fake_result(const char *id, const char *label, double tp, double p99)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:i,s:{s:f,s:f,s:f,s:f,s:f}}", "id", id, "scenario",
                     "read", "label", label, "mode", "closed", "throughput", tp, "duration_s", 10.0,
                     "connections", 64, "latency_us", "p50", p99 / 4, "p90", p99 / 2, "p99", p99,
                     "p999", p99 * 2, "max", p99 * 3);
}

TEST(report_ratios_and_verdicts)
{
    json_t *res = json_array();
    json_array_append_new(res, fake_result("read-nginx", "nginx", 100000, 900));
    json_array_append_new(res, fake_result("read", "regularsd", 90000, 1000));
    json_array_append_new(res,
                          fake_result("purchase-nosync", "regularsd --sync none", 20000, 2000));
    json_array_append_new(res, fake_result("purchase", "regularsd", 10000, 3000));
    struct bbuf md;
    bbuf_init(&md);
    report_targets(&md, res);
    ASSERT(strstr(md.data, "**0.90×** (90,000 vs 100,000 req/s) | met |"));
    ASSERT(strstr(md.data, "**0.50×** (10,000 vs 20,000 purchases/s) | **not met** |"));
    ASSERT(strstr(md.data, "push p99 | < 5 ms | not measured"));
    /* A baseline measured while other processes took the server's core is flagged. */
    json_object_set_new(json_array_get(res, 0), "server", json_pack("{s:f}", "other_load", 0.4));
    bbuf_reset(&md);
    report_targets(&md, res);
    ASSERT(strstr(md.data, "| met (busy machine: see CPU) |"));
    struct bbuf svg;
    bbuf_init(&svg);
    report_chart(&svg, res);
    ASSERT(strncmp(svg.data, "<svg", 4) == 0);
    ASSERT(strstr(svg.data, "read-nginx · nginx"));
    ASSERT(strstr(svg.data, "purchase · regularsd"));
    ASSERT(strstr(svg.data, "</svg>"));
    bbuf_fini(&md);
    bbuf_fini(&svg);
    json_decref(res);
}

/* ------------------------------------------------------------------------------------------
 * The engine against a toy server on the loopback
 * ---------------------------------------------------------------------------------------- */

struct toy_conn {
    uv_tcp_t tcp;
    struct bbuf in;
    int owed;               /* answers held back during a stall */
    struct toy_conn *next;  /* list of open toy connections */
    struct toy_conn **prev; /* the pointer that points here */
};

static struct toy_conn *toy_conns;

static uv_tcp_t toy_listener;
static int toy_requests;
static int toy_stall_at;       /* stall when this many requests arrived (0 = never) */
static uint64_t toy_stall_ms;  /* for this long */
static uint64_t toy_stall_end; /* ns; answers are held until then */
static uv_timer_t toy_stall_timer;
static char toy_rbuf[65536];

static void toy_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    b->base = toy_rbuf;
    b->len = sizeof(toy_rbuf);
}

static void toy_closed(uv_handle_t *h)
{
    struct toy_conn *c = h->data;
    *c->prev = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bbuf_fini(&c->in);
    free(c);
}

static void toy_write(struct toy_conn *c, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1); /* tiny answers on loopback go out at once */
}

static void toy_pay(struct toy_conn *c)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (; c->owed > 0; c->owed--)
        toy_write(c, ok, sizeof(ok) - 1);
}

static void toy_unstall(uv_timer_t *t)
{
    toy_stall_end = 0; /* libuv's ms timer may fire a little before the ns deadline */
    for (struct toy_conn *c = toy_conns; c; c = c->next)
        toy_pay(c);
}

/* Answers every complete request: a WebSocket upgrade gets 101 and a hello frame, anything
 * else a small keep-alive 200. */
static void toy_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct toy_conn *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, toy_closed);
        return;
    }
    bbuf_add(&c->in, b->base, (size_t)n);
    char *end;
    while (c->in.len && (end = strstr(c->in.data, "\r\n\r\n"))) {
        size_t len = (size_t)(end - c->in.data) + 4;
        char *key = strstr(c->in.data, "Sec-WebSocket-Key: ");
        if (key && key < end) {
            char k[WS_KEY_LEN + 1], acc[WS_ACCEPT_LEN + 1], out[256];
            memcpy(k, key + 19, WS_KEY_LEN);
            k[WS_KEY_LEN] = '\0';
            wsproto_accept(k, acc);
            int m = snprintf(out, sizeof(out),
                             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                             "\x81\x0d{\"type\":\"hi\"}",
                             acc);
            toy_write(c, out, (size_t)m);
        } else {
            c->owed++;
        }
        toy_requests++;
        if (toy_stall_at && toy_requests == toy_stall_at) {
            /* The whole server stops answering for a while, like a GC pause. */
            toy_stall_end = engine_now() + toy_stall_ms * 1000000u;
            uv_timer_start(&toy_stall_timer, toy_unstall, toy_stall_ms, 0);
        }
        memmove(c->in.data, c->in.data + len, c->in.len - len + 1);
        c->in.len -= len;
    }
    if (engine_now() >= toy_stall_end)
        toy_pay(c);
}

static void toy_accept(uv_stream_t *l, int status)
{
    struct toy_conn *c = calloc(1, sizeof(*c));
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    bbuf_init(&c->in);
    c->next = toy_conns;
    c->prev = &toy_conns;
    if (toy_conns)
        toy_conns->prev = &c->next;
    toy_conns = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, toy_alloc, toy_read);
    else
        uv_close((uv_handle_t *)&c->tcp, toy_closed);
}

/* Starts the toy server on loop; returns its port. */
static int toy_start(uv_loop_t *loop)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &toy_listener);
    if (uv_tcp_bind(&toy_listener, (const struct sockaddr *)&a, 0) ||
        uv_listen((uv_stream_t *)&toy_listener, 1024, toy_accept))
        return -1;
    int len = sizeof(a);
    uv_tcp_getsockname(&toy_listener, (struct sockaddr *)&a, &len);
    toy_requests = 0;
    toy_stall_at = 0;
    toy_stall_end = 0;
    uv_timer_init(loop, &toy_stall_timer);
    return ntohs(a.sin_port);
}

static void toy_walk_close(uv_handle_t *h, void *arg)
{
    int own = h == (uv_handle_t *)&toy_listener || h == (uv_handle_t *)&toy_stall_timer;
    if (!uv_is_closing(h))
        uv_close(h, own ? NULL : toy_closed);
}

static void toy_stop(uv_loop_t *loop)
{
    uv_walk(loop, toy_walk_close, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}

static int toy_next(void *ctx, struct bconn *c, struct bbuf *out)
{
    int *left = ctx;
    if (*left == 0)
        return -1;
    if (*left > 0)
        (*left)--;
    bbuf_adds(out, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    return 0;
}

static void toy_opts(struct engine_opts *o, int port)
{
    memset(o, 0, sizeof(*o));
    uv_ip4_addr("127.0.0.1", port, &o->target);
    snprintf(o->host, sizeof(o->host), "127.0.0.1:%d", port);
    o->name = "test";
    o->conns = 4;
    o->pipeline = 1;
    o->timeout_ms = 2000;
    o->quiet = 1;
}

TEST(engine_closed_loop_and_jobs)
{
    static uv_loop_t loop;
    static struct engine e;
    uv_loop_init(&loop);
    int port = toy_start(&loop);
    ASSERT(port > 0);
    struct engine_opts o;
    toy_opts(&o, port);
    o.warmup_s = 0.1;
    o.duration_s = 0.3;
    o.pipeline = 4;
    ASSERT_EQ(engine_init(&e, &loop, &o), 0);
    int forever = -1;
    struct workload wl = {&forever, toy_next, NULL, NULL, 0, {"get"}};
    ASSERT_EQ(engine_load(&e, &wl, ENGINE_CLOSED), 0);
    ASSERT(e.st.ok[0] > 100);
    ASSERT_EQ(e.st.non2xx + e.st.io_err + e.st.timeouts + e.st.parse_err, 0);
    ASSERT_EQ(e.st.all.count, e.st.ok[0]);
    ASSERT(e.st.measured_s > 0.29 && e.st.measured_s < 0.31);
    /* Jobs: exactly the work given, then the phase ends by itself. */
    int left = 37;
    e.o.duration_s = 10;
    wl.ctx = &left;
    int before = toy_requests;
    ASSERT_EQ(engine_load(&e, &wl, ENGINE_JOBS), 0);
    ASSERT_EQ(left, 0);
    ASSERT_EQ(toy_requests - before, 37);
    ASSERT_EQ(e.st.ok[0], 37);
    engine_fini(&e);
    toy_stop(&loop);
}

TEST(engine_open_loop_keeps_the_rate)
{
    static uv_loop_t loop;
    static struct engine e;
    uv_loop_init(&loop);
    int port = toy_start(&loop);
    ASSERT(port > 0);
    struct engine_opts o;
    toy_opts(&o, port);
    o.rate = 1000;
    o.warmup_s = 0.2;
    o.duration_s = 0.5;
    ASSERT_EQ(engine_init(&e, &loop, &o), 0);
    int forever = -1;
    struct workload wl = {&forever, toy_next, NULL, NULL, 0, {"get"}};
    ASSERT_EQ(engine_load(&e, &wl, ENGINE_OPEN), 0);
    /* 1000/s over 0.5 s measured: 500 requests scheduled in the window, all answered. */
    ASSERT(e.st.ok[0] >= 495 && e.st.ok[0] <= 505);
    ASSERT_EQ(e.st.unsent, 0);
    /* The toy answers in microseconds: the median cannot be near the 1 ms spacing. */
    ASSERT(hist_quantile(&e.st.all, 0.5) < 1000000);
    engine_fini(&e);
    toy_stop(&loop);
}

/* Counts measured latencies above ms. */
static uint64_t slower_than(const struct hist *h, uint64_t ms)
{
    uint64_t n = 0;
    for (unsigned i = hist_index(ms * 1000000u) + 1; i < HIST_BUCKETS; i++)
        n += h->counts[i];
    return n;
}

TEST(engine_open_loop_charges_a_stall_to_every_delayed_request)
{
    /* The server stops for 200 ms. A closed loop sees only the few requests in flight then
     * as slow; the open loop charges every request that was due during the stall, which is
     * what a user arriving at 1,000/s would have seen (coordinated omission corrected). */
    static uv_loop_t loop;
    static struct engine e;
    int forever = -1;
    struct workload wl = {&forever, toy_next, NULL, NULL, 0, {"get"}};
    uint64_t slow[2];
    for (int open = 0; open < 2; open++) {
        uv_loop_init(&loop);
        int port = toy_start(&loop);
        ASSERT(port > 0);
        toy_stall_ms = 200;
        struct engine_opts o;
        toy_opts(&o, port);
        o.rate = 1000;
        o.warmup_s = 0;
        o.duration_s = 0.6;
        ASSERT_EQ(engine_init(&e, &loop, &o), 0);
        toy_stall_at = open ? 150 : 3000; /* open: 0.15 s in; closed: a few ms in */
        ASSERT_EQ(engine_load(&e, &wl, open ? ENGINE_OPEN : ENGINE_CLOSED), 0);
        ASSERT(toy_requests > toy_stall_at);
        slow[open] = slower_than(&e.st.all, 50);
        ASSERT_EQ(e.st.non2xx + e.st.io_err + e.st.timeouts, 0);
        engine_fini(&e);
        toy_stop(&loop);
    }
    /* Closed loop, 4 connections: 4 requests waited through the stall (a busy machine may
     * add a few more). */
    ASSERT(slow[0] <= 30);
    /* Open loop: ~150 requests were due in the stall's first 150 ms. */
    ASSERT(slow[1] >= 120);
}

struct crowd_count {
    int opened;
    int messages;
};

static void crowd_path(void *ctx, uint32_t i, struct bbuf *out)
{
    bbuf_printf(out, "/v1/stream?token=t%u", i);
}

static void crowd_open(void *ctx, struct bconn *c, uint64_t now)
{
    ((struct crowd_count *)ctx)->opened++;
}

static void crowd_msg(void *ctx, struct bconn *c, const char *p, size_t n, uint64_t now)
{
    struct crowd_count *cc = ctx;
    if (n == 13 && memcmp(p, "{\"type\":\"hi\"}", 13) == 0)
        cc->messages++;
}

TEST(engine_websocket_crowd)
{
    static uv_loop_t loop;
    static struct engine e;
    uv_loop_init(&loop);
    int port = toy_start(&loop);
    ASSERT(port > 0);
    struct engine_opts o;
    toy_opts(&o, port);
    o.ws_window = 16;
    o.src_addrs = 3; /* exercise binding to 127.0.0.1-3 */
    ASSERT_EQ(engine_init(&e, &loop, &o), 0);
    struct crowd_count cc = {0, 0};
    struct ws_workload wwl = {&cc, crowd_path, crowd_open, crowd_msg};
    ASSERT_EQ(engine_ws_connect(&e, 200, &wwl, 10), 200);
    engine_idle(&e, 0.1, NULL, NULL);
    ASSERT_EQ(cc.opened, 200);
    ASSERT_EQ(cc.messages, 200);
    ASSERT_EQ(e.st.ws_failed, 0);
    ASSERT_EQ(engine_ws_open_count(&e), 200);
    ASSERT_EQ(e.nsrc, 3);
    engine_fini(&e);
    toy_stop(&loop);
}

TEST(engine_refuses_non_loopback)
{
    static uv_loop_t loop;
    static struct engine e;
    uv_loop_init(&loop);
    struct engine_opts o;
    toy_opts(&o, 80);
    uv_ip4_addr("10.0.0.1", 80, &o.target);
    ASSERT_EQ(engine_init(&e, &loop, &o), -1);
    uv_loop_close(&loop);
}
