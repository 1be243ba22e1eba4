/*
 * Tests of the HTTP/1.1 request parser (src/net/http.c): framing fed whole, split at every byte and
 * one byte at a time, pipelining, keep-alive, upgrade, Expect, the limits, and a table of malformed
 * and smuggling-shaped requests that must all be refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "regulars/buf.h"
#include "regulars/error.h"
#include "regulars/http.h"
#include "test.h"

#define LIT(s) s, sizeof(s) - 1

static const char GET_REQ[] = "GET /v1/merchants?lat=37.5&lon=127.0&q=caf%C3%A9+bar HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "User-Agent:   curl/8.0  \t\r\n"
                              "Accept: */*\r\n"
                              "X-Empty:\r\n"
                              "\r\n";

static const char POST_REQ[] = "POST /v1/users HTTP/1.1\r\n"
                               "Host: a\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 17\r\n"
                               "\r\n"
                               "{\"name\": \"Mina\"}\n";

static const char CHUNKED_REQ[] = "POST /v1/purchases HTTP/1.1\r\n"
                                  "Host: a\r\n"
                                  "Transfer-Encoding: chunked\r\n"
                                  "\r\n"
                                  "5;ext=1\r\n"
                                  "hello\r\n"
                                  "6;a;b=c\r\n"
                                  " world\r\n"
                                  "0\r\n"
                                  "X-Trailer: t\r\n"
                                  "\r\n";

static struct http_parser *parser(size_t max_head, size_t max_body)
{
    struct http_limits lim = {max_head, max_body};
    struct http_parser *p = http_parser_new(&lim);
    if (!p) {
        fprintf(stderr, "http_parser_new failed\n");
        exit(2);
    }
    return p;
}

/* Feeds msg: first `first` bytes (0: all), then pieces of `step` bytes (0: the rest at once). Every
 * piece before the result must be consumed whole with HTTP_NEED_MORE (else -1000). Returns the
 * first other result, or HTTP_NEED_MORE; *used is the total consumed. */
static int feed_split(struct http_parser *p, const char *msg, size_t len, size_t first, size_t step,
                      size_t *used)
{
    size_t off = 0;
    *used = 0;
    while (off < len) {
        size_t n = len - off;
        if (off == 0 && first && first < n)
            n = first;
        else if (off > 0 && step && step < n)
            n = step;
        size_t c = 12345;
        int rc = http_parser_feed(p, msg + off, n, &c);
        if (rc != HTTP_NEED_MORE) {
            *used = off + (rc >= 0 ? c : 0);
            return rc;
        }
        if (c != n)
            return -1000;
        off += n;
    }
    *used = off;
    return HTTP_NEED_MORE;
}

/* A printable summary of everything the parser says about a request, to compare the parses of one
 * message fed in different pieces. */
static void snapshot(const struct http_request *r, struct buf *b)
{
    buf_reset(b);
    buf_printf(b, "%d %s|%s|%s|%s|%d.%d|ka=%d up=%d ex=%d cl=%lld hb=%zu|", (int)r->method,
               r->method_name, r->target, r->path, r->query, r->http_major, r->http_minor,
               r->keep_alive, r->upgrade, r->expect_continue, (long long)r->content_length,
               r->head_bytes);
    for (size_t i = 0; i < r->nheaders; i++)
        buf_printf(b, "[%.*s=%.*s]", (int)r->headers[i].name_len, r->headers[i].name,
                   (int)r->headers[i].value_len, r->headers[i].value);
    buf_puts(b, "|");
    buf_append(b, r->body.data ? r->body.data : "", r->body.len);
}

/* Checks that msg parses to the same request fed whole, split in two at every boundary, and one
 * byte at a time; the parser is reused (http_parser_next) between parses. */
static void check_splits(const char *msg, size_t len, size_t max_body)
{
    struct http_parser *p = parser(8192, max_body);
    struct buf want, got;
    buf_init(&want);
    buf_init(&got);
    size_t used;

    ASSERT_EQ(feed_split(p, msg, len, 0, 0, &used), HTTP_DONE);
    ASSERT_EQ(used, len);
    snapshot(http_parser_request(p), &want);
    http_parser_next(p);

    for (size_t k = 1; k < len; k++) {
        int rc = feed_split(p, msg, len, k, 0, &used);
        if (rc != HTTP_DONE || used != len)
            TEST_FAIL_("split at %zu: rc %d used %zu of %zu", k, rc, used, len);
        snapshot(http_parser_request(p), &got);
        if (strcmp(want.data, got.data) != 0)
            TEST_FAIL_("split at %zu:\n got %s\nwant %s", k, got.data, want.data);
        http_parser_next(p);
    }

    for (size_t k = 0; k < len; k++) {
        size_t c = 0;
        int rc = http_parser_feed(p, msg + k, 1, &c);
        if (k + 1 < len && (rc != HTTP_NEED_MORE || c != 1 || !http_parser_in_request(p)))
            TEST_FAIL_("byte %zu: rc %d consumed %zu", k, rc, c);
        if (k + 1 == len && (rc != HTTP_DONE || c != 1))
            TEST_FAIL_("last byte: rc %d consumed %zu", rc, c);
    }
    snapshot(http_parser_request(p), &got);
    ASSERT_STREQ(got.data, want.data);

    buf_fini(&want);
    buf_fini(&got);
    http_parser_free(p);
}

/* ---- plain requests -------------------------------------------------------------------------- */

TEST(simple_get)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used = 0, len;
    ASSERT_EQ(http_parser_in_request(p), 0);
    ASSERT_EQ(http_parser_feed(p, GET_REQ, strlen(GET_REQ), &used), HTTP_DONE);
    ASSERT_EQ(used, strlen(GET_REQ));
    ASSERT_EQ(http_parser_in_request(p), 0);
    ASSERT(http_parser_headers_done(p));

    const struct http_request *r = http_parser_request(p);
    ASSERT_EQ(r->method, HTTP_GET);
    ASSERT_STREQ(r->method_name, "GET");
    ASSERT_STREQ(r->target, "/v1/merchants?lat=37.5&lon=127.0&q=caf%C3%A9+bar");
    ASSERT_EQ(r->target_len, strlen(r->target));
    ASSERT_STREQ(r->path, "/v1/merchants");
    ASSERT_EQ(r->path_len, 13);
    ASSERT_STREQ(r->query, "lat=37.5&lon=127.0&q=caf%C3%A9+bar");
    ASSERT_EQ(r->query_len, strlen(r->query));
    ASSERT_EQ(r->http_major, 1);
    ASSERT_EQ(r->http_minor, 1);
    ASSERT_EQ(r->nheaders, 4);
    ASSERT_MEMEQ(r->headers[0].name, r->headers[0].name_len, "Host", 4);
    ASSERT_MEMEQ(r->headers[0].value, r->headers[0].value_len, "example.com", 11);
    ASSERT_MEMEQ(r->headers[1].value, r->headers[1].value_len, "curl/8.0", 8);
    ASSERT_STREQ(r->headers[1].value, "curl/8.0"); /* trimmed and NUL-terminated */
    ASSERT_EQ(r->headers[3].value_len, 0);
    ASSERT_EQ(r->body.len, 0);
    ASSERT_EQ(r->keep_alive, 1);
    ASSERT_EQ(r->upgrade, 0);
    ASSERT_EQ(r->expect_continue, 0);
    ASSERT_EQ(r->content_length, -1);
    ASSERT_EQ(r->head_bytes, strlen(GET_REQ));

    const char *v = http_request_header(r, "user-agent", &len);
    ASSERT(v != NULL);
    ASSERT_MEMEQ(v, len, "curl/8.0", 8);
    ASSERT(http_request_header(r, "HOST", &len) != NULL);
    ASSERT_EQ(len, 11);
    ASSERT(http_request_header(r, "X-Empty", &len) != NULL);
    ASSERT_EQ(len, 0);
    ASSERT(http_request_header(r, "Hos", &len) == NULL);
    ASSERT(http_request_header(r, "Cookie", &len) == NULL);

    const char *raw = http_parser_raw_head(p, &len);
    ASSERT_MEMEQ(raw, len, GET_REQ, strlen(GET_REQ));

    http_parser_next(p);
    ASSERT_EQ(http_parser_in_request(p), 0);
    ASSERT_EQ(http_parser_headers_done(p), 0);
    ASSERT_EQ(http_parser_feed(p, LIT("GE"), &used), HTTP_NEED_MORE);
    ASSERT_EQ(used, 2);
    ASSERT_EQ(http_parser_in_request(p), 1);
    ASSERT_EQ(http_parser_headers_done(p), 0);
    http_parser_free(p);
}

TEST(post_content_length)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used = 0;
    ASSERT_EQ(http_parser_feed(p, POST_REQ, strlen(POST_REQ), &used), HTTP_DONE);
    ASSERT_EQ(used, strlen(POST_REQ));
    const struct http_request *r = http_parser_request(p);
    ASSERT_EQ(r->method, HTTP_POST);
    ASSERT_STREQ(r->path, "/v1/users");
    ASSERT_STREQ(r->query, "");
    ASSERT_EQ(r->content_length, 17);
    ASSERT_MEMEQ(r->body.data, r->body.len, "{\"name\": \"Mina\"}\n", 17);
    ASSERT_EQ(r->head_bytes, strlen(POST_REQ) - 17);
    ASSERT_EQ(r->keep_alive, 1);
    http_parser_free(p);
}

TEST(chunked_body)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used = 0, len;
    ASSERT_EQ(http_parser_feed(p, CHUNKED_REQ, strlen(CHUNKED_REQ), &used), HTTP_DONE);
    ASSERT_EQ(used, strlen(CHUNKED_REQ));
    const struct http_request *r = http_parser_request(p);
    ASSERT_EQ(r->method, HTTP_POST);
    ASSERT_MEMEQ(r->body.data, r->body.len, "hello world", 11);
    ASSERT_EQ(r->content_length, -1);
    /* Trailers are read but not merged into the headers. */
    ASSERT_EQ(r->nheaders, 2);
    ASSERT(http_request_header(r, "X-Trailer", &len) == NULL);
    http_parser_free(p);
}

TEST(chunk_extension_at_the_cap)
{
    /* 256 bytes of extension (the cap) pass; the table below has one byte too many. */
    struct http_parser *p = parser(8192, 65536);
    struct buf b;
    size_t used;
    buf_init(&b);
    buf_puts(&b, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;x=");
    for (int i = 0; i < 254; i++)
        buf_puts(&b, "a");
    buf_puts(&b, "\r\nok\r\n0\r\n\r\n");
    ASSERT_EQ(http_parser_feed(p, b.data, b.len, &used), HTTP_DONE);
    ASSERT_EQ(used, b.len);
    ASSERT_MEMEQ(http_parser_request(p)->body.data, http_parser_request(p)->body.len, "ok", 2);
    buf_fini(&b);
    http_parser_free(p);
}

TEST(get_split_everywhere)
{
    check_splits(GET_REQ, strlen(GET_REQ), 65536);
}

TEST(post_split_everywhere)
{
    check_splits(POST_REQ, strlen(POST_REQ), 65536);
}

TEST(chunked_split_everywhere)
{
    check_splits(CHUNKED_REQ, strlen(CHUNKED_REQ), 65536);
}

TEST(leading_empty_lines_are_skipped)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used = 0, len;
    static const char msg[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_EQ(http_parser_feed(p, LIT(msg), &used), HTTP_DONE);
    ASSERT_EQ(used, sizeof(msg) - 1);
    const char *raw = http_parser_raw_head(p, &len);
    ASSERT_MEMEQ(raw, len, msg + 4, sizeof(msg) - 5);
    ASSERT_EQ(http_parser_request(p)->head_bytes, sizeof(msg) - 5);
    http_parser_free(p);
}

/* ---- a stream of requests, as conn.c drives it ----------------------------------------------- */

struct run {
    int ndone;          /* HTTP_DONE results */
    char paths[8][64];  /* their paths, in order */
    size_t consumed[8]; /* their *consumed */
    int rc;             /* the last result: HTTP_NEED_MORE, HTTP_UPGRADE or an error */
    int status;         /* the error's status */
    char message[128];  /* and message */
    size_t left;        /* bytes received but not consumed at the end */
};

/* Receives s in pieces of `step` bytes (0: at once) into an input buffer and parses as the
 * connection does: feed, on HTTP_DONE take the request, drop the consumed bytes, call
 * http_parser_next() and go on. Stops at an error or an upgrade. After an error it checks that the
 * error is sticky: more bytes, and http_parser_next(), change nothing. */
static void run_stream(struct http_parser *p, const char *s, size_t len, size_t step,
                       struct run *out)
{
    struct buf in;
    buf_init(&in);
    memset(out, 0, sizeof(*out));
    out->rc = HTTP_NEED_MORE;
    size_t off = 0;
    while (off < len && out->rc == HTTP_NEED_MORE) {
        size_t n = step && step < len - off ? step : len - off;
        buf_append(&in, s + off, n);
        off += n;
        while (in.len) {
            size_t used = 0;
            int rc = http_parser_feed(p, in.data, in.len, &used);
            out->rc = rc;
            if (rc < 0) {
                const char *code, *msg;
                http_parser_error(p, &out->status, &code, &msg);
                snprintf(out->message, sizeof(out->message), "%s", msg);
                break;
            }
            if (rc == HTTP_NEED_MORE) {
                buf_reset(&in);
                break;
            }
            buf_consume(&in, used);
            if (rc == HTTP_UPGRADE)
                break;
            if (out->ndone < 8) {
                snprintf(out->paths[out->ndone], sizeof(out->paths[0]), "%s",
                         http_parser_request(p)->path);
                out->consumed[out->ndone] = used;
            }
            out->ndone++;
            http_parser_next(p);
            out->rc = HTTP_NEED_MORE;
        }
    }
    out->left = in.len + (len - off);
    if (out->rc < 0) {
        size_t used = 99;
        int st = 0;
        const char *code, *msg;
        if (http_parser_feed(p, LIT("GET /y HTTP/1.1\r\nHost: a\r\n\r\n"), &used) != out->rc ||
            used != 0)
            out->status = -1;
        http_parser_next(p);
        if (http_parser_feed(p, LIT("GET /y HTTP/1.1\r\nHost: a\r\n\r\n"), &used) != out->rc)
            out->status = -1;
        http_parser_error(p, &st, &code, &msg);
        if (st != out->status)
            out->status = -2;
    }
    buf_fini(&in);
}

TEST(pipelined_three)
{
    struct buf all;
    buf_init(&all);
    buf_puts(&all, GET_REQ);
    buf_puts(&all, POST_REQ);
    buf_puts(&all, CHUNKED_REQ);

    /* By hand: each feed stops at the end of one request. */
    struct http_parser *p;
    size_t used = 0, off = 0;
    p = parser(8192, 65536);
    ASSERT_EQ(http_parser_feed(p, all.data, all.len, &used), HTTP_DONE);
    ASSERT_EQ(used, strlen(GET_REQ));
    ASSERT_STREQ(http_parser_request(p)->path, "/v1/merchants");
    ASSERT_EQ(http_parser_in_request(p), 0);
    off += used;
    http_parser_next(p);
    ASSERT_EQ(http_parser_feed(p, all.data + off, all.len - off, &used), HTTP_DONE);
    ASSERT_EQ(used, strlen(POST_REQ));
    ASSERT_STREQ(http_parser_request(p)->path, "/v1/users");
    ASSERT_MEMEQ(http_parser_request(p)->body.data, http_parser_request(p)->body.len,
                 "{\"name\": \"Mina\"}\n", 17);
    off += used;
    http_parser_next(p);
    ASSERT_EQ(http_parser_feed(p, all.data + off, all.len - off, &used), HTTP_DONE);
    ASSERT_EQ(used, strlen(CHUNKED_REQ));
    ASSERT_STREQ(http_parser_request(p)->path, "/v1/purchases");
    ASSERT_MEMEQ(http_parser_request(p)->body.data, http_parser_request(p)->body.len, "hello world",
                 11);
    off += used;
    ASSERT_EQ(off, all.len);
    http_parser_next(p);
    ASSERT_EQ(http_parser_feed(p, all.data + off, 0, &used), HTTP_NEED_MORE);
    ASSERT_EQ(used, 0);
    http_parser_free(p);

    /* As a connection receives them: at once, a byte at a time, in odd pieces. */
    size_t steps[] = {0, 1, 7, 64};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct run run;
        p = parser(8192, 65536);
        run_stream(p, all.data, all.len, steps[i], &run);
        ASSERT_EQ(run.rc, HTTP_NEED_MORE);
        ASSERT_EQ(run.ndone, 3);
        ASSERT_STREQ(run.paths[0], "/v1/merchants");
        ASSERT_STREQ(run.paths[1], "/v1/users");
        ASSERT_STREQ(run.paths[2], "/v1/purchases");
        ASSERT_EQ(run.left, 0);
        if (steps[i] == 0) {
            ASSERT_EQ(run.consumed[0], strlen(GET_REQ));
            ASSERT_EQ(run.consumed[1], strlen(POST_REQ));
            ASSERT_EQ(run.consumed[2], strlen(CHUNKED_REQ));
        }
        http_parser_free(p);
    }
    buf_fini(&all);
}

/* ---- keep-alive, methods, upgrade, Expect ---------------------------------------------------- */

static int keep_alive_of(const char *msg)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used;
    int ka = -1;
    if (http_parser_feed(p, msg, strlen(msg), &used) == HTTP_DONE)
        ka = http_parser_request(p)->keep_alive;
    http_parser_free(p);
    return ka;
}

TEST(keep_alive_rules)
{
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 1);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"), 1);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), 0);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n"), 0);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.0\r\n\r\n"), 0);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.0\r\nHost: a\r\n\r\n"), 0);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 1);
    ASSERT_EQ(keep_alive_of("POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi"), 0);
}

TEST(head_request)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used;
    static const char msg[] = "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_EQ(http_parser_feed(p, LIT(msg), &used), HTTP_DONE);
    ASSERT_EQ(used, sizeof(msg) - 1);
    ASSERT_EQ(http_parser_request(p)->method, HTTP_HEAD);
    ASSERT_STREQ(http_parser_request(p)->method_name, "HEAD");
    ASSERT_STREQ(http_parser_request(p)->path, "/healthz");
    ASSERT_EQ(http_parser_request(p)->keep_alive, 1);
    http_parser_free(p);
}

TEST(methods)
{
    static const struct {
        const char *msg;
        enum http_method m;
        const char *name;
    } cases[] = {
        {"PUT /f/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", HTTP_PUT, "PUT"},
        {"PATCH /m HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}", HTTP_PATCH, "PATCH"},
        {"DELETE /f/1 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_DELETE, "DELETE"},
        {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OPTIONS, "OPTIONS"},
        {"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OTHER, "TRACE"},
        {"PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OTHER, "PROPFIND"},
        {"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OTHER, "CONNECT"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_parser *p = parser(8192, 65536);
        size_t used;
        int rc = http_parser_feed(p, cases[i].msg, strlen(cases[i].msg), &used);
        if (rc != HTTP_DONE)
            TEST_FAIL_("%s: rc %d", cases[i].name, rc);
        ASSERT_EQ(http_parser_request(p)->method, cases[i].m);
        ASSERT_STREQ(http_parser_request(p)->method_name, cases[i].name);
        http_parser_free(p);
    }
}

static const char WS_HEAD[] = "GET /v1/stream?token=abc&since=3 HTTP/1.1\r\n"
                              "Host: a\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "\r\n";

TEST(upgrade_websocket)
{
    struct buf all;
    buf_init(&all);
    buf_puts(&all, WS_HEAD);
    buf_append(&all,
               "\x81\x85"
               "abcd"
               "hello",
               11); /* a masked frame, sent early */

    struct http_parser *p = parser(8192, 65536);
    size_t used = 0, len;
    ASSERT_EQ(http_parser_feed(p, all.data, all.len, &used), HTTP_UPGRADE);
    ASSERT_EQ(used, strlen(WS_HEAD));
    const struct http_request *r = http_parser_request(p);
    ASSERT_EQ(r->upgrade, 1);
    ASSERT_EQ(r->method, HTTP_GET);
    ASSERT_STREQ(r->path, "/v1/stream");
    ASSERT_STREQ(r->query, "token=abc&since=3");
    ASSERT_EQ(r->head_bytes, strlen(WS_HEAD));
    const char *raw = http_parser_raw_head(p, &len);
    ASSERT_MEMEQ(raw, len, WS_HEAD, strlen(WS_HEAD));
    http_parser_free(p);

    /* A byte at a time: the upgrade comes with the head's last byte. */
    struct run run;
    p = parser(8192, 65536);
    run_stream(p, all.data, all.len, 1, &run);
    ASSERT_EQ(run.rc, HTTP_UPGRADE);
    ASSERT_EQ(run.ndone, 0);
    ASSERT_EQ(run.left, 11);
    http_parser_free(p);
    buf_fini(&all);
}

TEST(upgrade_other_protocol_is_a_plain_request)
{
    /* Upgrade: h2c is not taken: the request is answered as HTTP and parsing goes on. */
    static const char msg[] = "GET /a HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n"
                              "Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: "
                              "AAMAAABkAAQAAP__\r\n\r\n"
                              "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    struct run run;
    struct http_parser *p = parser(8192, 65536);
    run_stream(p, LIT(msg), 0, &run);
    ASSERT_EQ(run.rc, HTTP_NEED_MORE);
    ASSERT_EQ(run.ndone, 2);
    ASSERT_STREQ(run.paths[0], "/a");
    ASSERT_STREQ(run.paths[1], "/b");
    http_parser_free(p);
}

TEST(expect_continue)
{
    static const char head[] = "POST /v1/purchases HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                               "Content-Length: 5\r\n\r\n";
    struct http_parser *p = parser(8192, 65536);
    size_t used;
    ASSERT_EQ(http_parser_take_continue(p), 0);
    ASSERT_EQ(http_parser_feed(p, head, 20, &used), HTTP_NEED_MORE);
    ASSERT_EQ(http_parser_take_continue(p), 0); /* headers not complete yet */
    ASSERT_EQ(http_parser_feed(p, head + 20, strlen(head) - 20, &used), HTTP_NEED_MORE);
    ASSERT(http_parser_headers_done(p));
    ASSERT_EQ(http_parser_request(p)->expect_continue, 1);
    ASSERT_EQ(http_parser_take_continue(p), 1);
    ASSERT_EQ(http_parser_take_continue(p), 0); /* once */
    ASSERT_EQ(http_parser_feed(p, LIT("hello"), &used), HTTP_DONE);
    ASSERT_MEMEQ(http_parser_request(p)->body.data, http_parser_request(p)->body.len, "hello", 5);
    ASSERT_EQ(http_parser_take_continue(p), 0);
    http_parser_free(p);

    /* The body came with the head: nobody is waiting. */
    p = parser(8192, 65536);
    struct buf all;
    buf_init(&all);
    buf_puts(&all, head);
    buf_puts(&all, "he");
    ASSERT_EQ(http_parser_feed(p, all.data, all.len, &used), HTTP_NEED_MORE);
    ASSERT_EQ(http_parser_take_continue(p), 0);
    buf_fini(&all);
    http_parser_free(p);

    /* Over the limit: a 413, never a 100. */
    p = parser(8192, 4);
    ASSERT_EQ(http_parser_feed(p, LIT(head), &used), RG_ETOOBIG);
    ASSERT_EQ(http_parser_take_continue(p), 0);
    http_parser_free(p);

    /* No body: nothing to continue. */
    p = parser(8192, 65536);
    ASSERT_EQ(http_parser_feed(p, LIT("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"),
                               &used),
              HTTP_DONE);
    ASSERT_EQ(http_parser_take_continue(p), 0);
    http_parser_free(p);

    /* Chunked: waits before the first chunk. */
    p = parser(8192, 65536);
    ASSERT_EQ(http_parser_feed(p,
                               LIT("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n"),
                               &used),
              HTTP_NEED_MORE);
    ASSERT_EQ(http_parser_take_continue(p), 1);
    ASSERT_EQ(http_parser_feed(p, LIT("2\r\nok\r\n0\r\n\r\n"), &used), HTTP_DONE);
    http_parser_free(p);
}

/* ---- limits ---------------------------------------------------------------------------------- */

static void expect_error(struct http_parser *p, int rc, int status, const char *code)
{
    int st;
    const char *c, *m;
    http_parser_error(p, &st, &c, &m);
    ASSERT_EQ(rc, status == 400 ? RG_EPROTO : RG_ETOOBIG);
    ASSERT_EQ(st, status);
    ASSERT_STREQ(c, code);
    ASSERT(m && *m);
}

TEST(head_too_large)
{
    size_t used;
    struct buf b;
    buf_init(&b);

    /* A header that does not fit: refused before the head ends. */
    struct http_parser *p = parser(128, 65536);
    buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nCookie: ");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "x");
    int rc = http_parser_feed(p, b.data, b.len, &used);
    expect_error(p, rc, 431, "headers_too_large");
    if (test_failed)
        return;
    http_parser_free(p);

    /* A request line over the limit, its CRLF not even sent. */
    p = parser(128, 65536);
    buf_reset(&b);
    buf_puts(&b, "GET /");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "a");
    rc = http_parser_feed(p, b.data, b.len, &used);
    expect_error(p, rc, 431, "headers_too_large");
    if (test_failed)
        return;
    http_parser_free(p);

    /* Exactly at the limit is fine; one byte more is not, fed whole or byte by byte. */
    buf_reset(&b);
    buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    while (b.len < 128 - 4)
        buf_puts(&b, "v");
    buf_puts(&b, "\r\n\r\n");
    ASSERT_EQ(b.len, 128);
    p = parser(128, 65536);
    ASSERT_EQ(http_parser_feed(p, b.data, b.len, &used), HTTP_DONE);
    ASSERT_EQ(http_parser_request(p)->head_bytes, 128);
    http_parser_free(p);
    p = parser(127, 65536);
    rc = http_parser_feed(p, b.data, b.len, &used);
    expect_error(p, rc, 431, "headers_too_large");
    if (test_failed)
        return;
    http_parser_free(p);
    p = parser(127, 65536);
    rc = feed_split(p, b.data, b.len, 1, 1, &used);
    expect_error(p, rc, 431, "headers_too_large");
    if (test_failed)
        return;
    http_parser_free(p);

    /* Empty lines before a request count too (a stream of CRLF is not free). */
    p = parser(128, 65536);
    buf_reset(&b);
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "\r\n");
    rc = http_parser_feed(p, b.data, b.len, &used);
    expect_error(p, rc, 431, "headers_too_large");
    if (test_failed)
        return;
    http_parser_free(p);

    /* Trailers count with the head. */
    p = parser(128, 65536);
    buf_reset(&b);
    buf_puts(&b, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n0\r\nT: ");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "t");
    rc = http_parser_feed(p, b.data, b.len, &used);
    expect_error(p, rc, 431, "headers_too_large");
    if (test_failed)
        return;
    http_parser_free(p);
    buf_fini(&b);
}

TEST(too_many_headers)
{
    size_t used;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < HTTP_MAX_HEADERS; i++)
        buf_printf(&b, "X-%d: %d\r\n", i, i);
    buf_puts(&b, "\r\n");
    struct http_parser *p = parser(1 << 20, 65536);
    ASSERT_EQ(http_parser_feed(p, b.data, b.len, &used), HTTP_DONE);
    ASSERT_EQ(http_parser_request(p)->nheaders, HTTP_MAX_HEADERS);
    size_t len;
    const char *v = http_request_header(http_parser_request(p), "x-63", &len);
    ASSERT(v != NULL);
    ASSERT_MEMEQ(v, len, "63", 2);
    http_parser_free(p);

    b.len -= 2;
    buf_puts(&b, "X-Last: 1\r\n\r\n");
    p = parser(1 << 20, 65536);
    int rc = http_parser_feed(p, b.data, b.len, &used);
    expect_error(p, rc, 431, "headers_too_large");
    http_parser_free(p);
    buf_fini(&b);
}

TEST(body_too_large_content_length)
{
    size_t used;
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    /* Refused from the head alone: no body byte was fed. */
    struct http_parser *p = parser(8192, 10);
    int rc = http_parser_feed(p, LIT(head), &used);
    expect_error(p, rc, 413, "payload_too_large");
    http_parser_free(p);

    p = parser(8192, 11);
    ASSERT_EQ(http_parser_feed(p, LIT(head), &used), HTTP_NEED_MORE);
    ASSERT_EQ(http_parser_feed(p, LIT("hello world"), &used), HTTP_DONE);
    http_parser_free(p);

    /* A Content-Length too large for any integer is a 400, not a wrap-around. */
    p = parser(8192, 10);
    rc = http_parser_feed(p,
                          LIT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
                              "99999999999999999999999\r\n\r\n"),
                          &used);
    ASSERT(rc < 0);
    http_parser_free(p);
}

TEST(body_too_large_chunked)
{
    size_t used;
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    struct http_parser *p = parser(8192, 10);
    ASSERT_EQ(http_parser_feed(p, LIT(head), &used), HTTP_NEED_MORE);
    ASSERT_EQ(http_parser_feed(p, LIT("6\r\nhello \r\n"), &used), HTTP_NEED_MORE);
    /* The second chunk's size passes the limit: refused before its data. */
    int rc = http_parser_feed(p, LIT("6\r\n"), &used);
    expect_error(p, rc, 413, "payload_too_large");
    http_parser_free(p);

    /* Exactly the limit is fine. */
    p = parser(8192, 10);
    ASSERT_EQ(http_parser_feed(p, LIT(head), &used), HTTP_NEED_MORE);
    ASSERT_EQ(http_parser_feed(p, LIT("6\r\nhello \r\n4\r\nworl\r\n0\r\n\r\n"), &used), HTTP_DONE);
    ASSERT_MEMEQ(http_parser_request(p)->body.data, http_parser_request(p)->body.len, "hello worl",
                 10);
    http_parser_free(p);
}

/* ---- malformed and smuggling-shaped requests ------------------------------------------------- */

#define H11   "GET / HTTP/1.1\r\nHost: a\r\n"
#define POSTC "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
#define NEXT  "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
#define A64   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct bad_case {
    const char *name;
    const char *msg;
    size_t len;      /* 0: strlen(msg) */
    int status;      /* expected error status */
    int ndone;       /* requests correctly answered before the bad one */
    const char *why; /* the error message (ours, or llhttp's where it catches the case) */
} bad_cases[] = {
    {"cve_2023_30589_bare_cr",
     "POST / HTTP/1.1\r\nHost: a\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n\r\n"
     "1\r\nA\r\n0\r\n\r\n" NEXT,
     0, 400, 0, "bare CR in head"},
    {"bare_cr_in_request_line", "GET / HTTP/1.1\rHost: a\r\n\r\n" NEXT, 0, 400, 0,
     "bare CR in head"},
    {"bare_cr_end_of_head", H11 "\rX\r\n\r\n" NEXT, 0, 400, 0, "bare CR in head"},
    {"bare_lf_head", "GET / HTTP/1.1\nHost: a\n\n" NEXT, 0, 400, 0, "invalid request line"},
    {"bare_lf_in_value", H11 "X: a\nb\r\n\r\n" NEXT, 0, 400, 0, "bare LF in head"},
    {"obs_fold_space", H11 "X-A: b\r\n c\r\n\r\n" NEXT, 0, 400, 0,
     "obs-fold (line starting with white space)"},
    {"obs_fold_tab", H11 "X-A: b\r\n\tTransfer-Encoding: chunked\r\n\r\n" NEXT, 0, 400, 0,
     "obs-fold (line starting with white space)"},
    {"first_header_folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n" NEXT, 0, 400, 0,
     "obs-fold (line starting with white space)"},
    {"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n" NEXT, 0, 400, 0,
     "white space before colon"},
    {"tab_before_colon", H11 "Transfer-Encoding\t: chunked\r\n\r\n" NEXT, 0, 400, 0,
     "white space before colon"},
    {"missing_host", "GET / HTTP/1.1\r\n\r\n" NEXT, 0, 400, 0, "missing Host"},
    {"duplicate_host", H11 "Host: b\r\n\r\n" NEXT, 0, 400, 0, "repeated Host"},
    {"duplicate_host_http10", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 0, 400, 0,
     "repeated Host"},
    {"cl_and_te",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" NEXT,
     0, 400, 0, "Content-Length can't be present with Transfer-Encoding"},
    {"te_and_cl",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 5\r\n\r\n0\r\n\r\n" NEXT,
     0, 400, 0, "Content-Length can't be present with Transfer-Encoding"},
    {"duplicate_cl_same",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     "Content-Length: 5\r\n\r\nhello" NEXT,
     0, 400, 0, "Duplicate Content-Length"},
    {"duplicate_cl_different",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     "Content-Length: 0\r\n\r\nhello" NEXT,
     0, 400, 0, "Duplicate Content-Length"},
    {"cl_list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello" NEXT, 0, 400, 0,
     "Invalid character in Content-Length"},
    {"cl_plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello" NEXT, 0, 400, 0,
     "Invalid character in Content-Length"},
    {"cl_negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n" NEXT, 0, 400, 0,
     "Invalid character in Content-Length"},
    {"te_gzip_chunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     "0\r\n\r\n" NEXT,
     0, 400, 0, "unsupported Transfer-Encoding"},
    {"te_chunked_twice",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" NEXT,
     0, 400, 0, "Invalid `Transfer-Encoding` header value"},
    {"te_identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n" NEXT, 0,
     400, 0, "unsupported Transfer-Encoding"},
    {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 400, 0,
     "Transfer-Encoding in HTTP/1.0"},
    {"bad_chunk_size", POSTC "zz\r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0, "invalid chunk size"},
    {"chunk_size_0x", POSTC "0x5\r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0, "invalid chunk size"},
    {"chunk_size_space", POSTC "5 \r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0, "invalid chunk size"},
    {"chunk_size_negative", POSTC "-5\r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0, "invalid chunk size"},
    {"chunk_size_overflow", POSTC "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0,
     "chunk size too long"},
    {"chunk_size_empty", POSTC "\r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0, "invalid chunk size"},
    {"chunk_size_bare_lf", POSTC "5\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0, "invalid chunk size"},
    {"chunk_data_without_crlf", POSTC "5\r\nhelloXX0\r\n\r\n" NEXT, 0, 400, 0,
     "missing CRLF after chunk data"},
    {"chunk_data_bare_lf", POSTC "5\r\nhello\n0\r\n\r\n" NEXT, 0, 400, 0,
     "missing CRLF after chunk data"},
    {"chunk_ext_bare_cr", POSTC "5;a\rb\r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0,
     "bare CR in chunk size line"},
    /* 2 + 4 x 64 bytes of extension: over the 256-byte cap. */
    {"chunk_ext_huge", POSTC "5;x=" A64 A64 A64 A64 "\r\nhello\r\n0\r\n\r\n" NEXT, 0, 400, 0,
     "chunk extension too long"},
    {"chunk_ext_nul", POSTC "5;a\0\r\nhello\r\n0\r\n\r\n" NEXT,
     sizeof(POSTC "5;a\0\r\nhello\r\n0\r\n\r\n" NEXT) - 1, 400, 0, "invalid chunk extension"},
    {"trailer_obs_fold", POSTC "0\r\nT: a\r\n b\r\n\r\n" NEXT, 0, 400, 0,
     "obs-fold (line starting with white space)"},
    {"trailer_space_before_colon", POSTC "0\r\nT : a\r\n\r\n" NEXT, 0, 400, 0,
     "white space before colon"},
    {"trailer_bare_cr", POSTC "0\r\nT: a\rb\r\n\r\n" NEXT, 0, 400, 0, "bare CR in head"},
    {"nul_in_header_value", H11 "X: a\0b\r\n\r\n" NEXT, sizeof(H11 "X: a\0b\r\n\r\n" NEXT) - 1, 400,
     0, "NUL byte in head"},
    {"nul_in_target", "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n" NEXT,
     sizeof("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n" NEXT) - 1, 400, 0, "invalid request-target"},
    {"nul_in_method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT,
     sizeof("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT) - 1, 400, 0, "invalid method"},
    {"nul_in_header_name", H11 "X\0: a\r\n\r\n" NEXT, sizeof(H11 "X\0: a\r\n\r\n" NEXT) - 1, 400, 0,
     "invalid header name"},
    {"control_in_value", H11 "X: a\x01z\r\n\r\n" NEXT, 0, 400, 0, "control character in header"},
    {"del_in_value", H11 "X: a\x7fz\r\n\r\n" NEXT, 0, 400, 0, "control character in header"},
    {"non_ascii_method", "G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0,
     "invalid method"},
    {"separator_in_method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0, "invalid method"},
    {"lowercase_method", "get / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0,
     "Invalid method encountered"},
    {"unknown_method", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0,
     "Invalid method encountered"},
    {"non_token_header_name", H11 "X(A): b\r\n\r\n" NEXT, 0, 400, 0, "invalid header name"},
    {"empty_header_name", H11 ": b\r\n\r\n" NEXT, 0, 400, 0, "invalid header name"},
    {"double_space_request_line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0,
     "invalid request-target"},
    {"tab_in_target", "GET /\ta HTTP/1.1\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0,
     "invalid request-target"},
    {"space_after_version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n" NEXT, 0, 400, 0,
     "invalid request line"},
    {"http_0_9", "GET /\r\n\r\n" NEXT, 0, 400, 0, "invalid request-target"},
    {"http_2_0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0, "unsupported HTTP version"},
    {"http_1_2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0, "unsupported HTTP version"},
    {"h2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" NEXT, 0, 400, 0, "unsupported HTTP version"},
    {"leading_garbage", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n" NEXT, 0, 400, 0, "invalid method"},
    {"get_with_body_smuggle", H11 "Content-Length: 5\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n", 0,
     400, 0, "body not allowed on GET/HEAD"},
    {"head_with_body", "HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" NEXT, 0, 400,
     0, "body not allowed on GET/HEAD"},
    {"get_chunked", H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" NEXT, 0, 400, 0,
     "body not allowed on GET/HEAD"},
    {"post_body_swallows_next_line",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
     "GET /x HTTP/1.1\r\nHost: a\r\n\r\n",
     0, 400, 1, "invalid request-target|Invalid method encountered"},
    {"data_after_connection_close", H11 "Connection: close\r\n\r\n" NEXT, 0, 400, 1,
     "request after Connection: close"},
    {"upgrade_with_body",
     "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
     "Connection: upgrade\r\nContent-Length: 3\r\n\r\nabc" NEXT,
     0, 400, 0, "upgrade request with a body"},
    {"connect_with_body", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" NEXT,
     0, 400, 0, "CONNECT with a body"},
    {"body_too_large_cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" NEXT, 0,
     413, 0, "body too large"},
    {"body_too_large_chunk", POSTC "10001\r\n" NEXT, 0, 413, 0, "body too large"},
};

/* why is one message or several separated by '|' (where it depends on how the bytes were split:
 * llhttp may see a bad byte before the scanner sees the rest of its line). */
static int why_matches(const char *why, const char *msg)
{
    size_t n = strlen(msg);
    for (const char *w = why; w; w = strchr(w, '|') ? strchr(w, '|') + 1 : NULL) {
        const char *bar = strchr(w, '|');
        size_t wl = bar ? (size_t)(bar - w) : strlen(w);
        if (wl == n && memcmp(w, msg, n) == 0)
            return 1;
    }
    return 0;
}

static void check_bad_case(const struct bad_case *c, size_t step)
{
    size_t len = c->len ? c->len : strlen(c->msg);
    struct run run;
    struct http_parser *p = parser(8192, 65536);
    run_stream(p, c->msg, len, step, &run);
    http_parser_free(p);
    if (run.rc >= 0)
        TEST_FAIL_("%s (step %zu): not refused (rc %d, %d done)", c->name, step, run.rc, run.ndone);
    if (run.status != c->status)
        TEST_FAIL_("%s (step %zu): status %d, want %d", c->name, step, run.status, c->status);
    if (run.ndone != c->ndone)
        TEST_FAIL_("%s (step %zu): %d requests done, want %d", c->name, step, run.ndone, c->ndone);
    if (!why_matches(c->why, run.message))
        TEST_FAIL_("%s (step %zu): refused for \"%s\", want \"%s\"", c->name, step, run.message,
                   c->why);
    for (int i = 0; i < run.ndone && i < 8; i++)
        if (strcmp(run.paths[i], "/x") == 0 || strcmp(run.paths[i], "/y") == 0)
            TEST_FAIL_("%s (step %zu): request after the bad one came out", c->name, step);
}

TEST(malformed_requests)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        check_bad_case(&bad_cases[i], 0);
        check_bad_case(&bad_cases[i], 1);
        check_bad_case(&bad_cases[i], 5);
        if (test_failed)
            return;
    }
}

TEST(error_is_sticky)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used = 7;
    static const char bad[] = "GET / HTTP/1.1\r\nHost : a\r\n\r\n";
    int rc = http_parser_feed(p, LIT(bad), &used);
    expect_error(p, rc, 400, "bad_request");
    if (test_failed)
        return;
    ASSERT_EQ(http_parser_in_request(p), 1);
    http_parser_next(p);
    ASSERT_EQ(http_parser_feed(p, LIT("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &used), RG_EPROTO);
    ASSERT_EQ(used, 0);
    expect_error(p, RG_EPROTO, 400, "bad_request");
    http_parser_free(p);
}

TEST(feed_after_done_needs_next)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used;
    ASSERT_EQ(http_parser_feed(p, LIT("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &used), HTTP_DONE);
    ASSERT(http_parser_feed(p, LIT("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &used) < 0);
    http_parser_free(p);
}

/* ---- steady state ---------------------------------------------------------------------------- */

/* After the first requests, the parser's buffers are reused, not reallocated: the body's capacity
 * and the arena (target) and raw-head addresses stay put. */
TEST(no_allocation_in_steady_state)
{
    struct buf all;
    buf_init(&all);
    buf_puts(&all, POST_REQ);
    buf_puts(&all, CHUNKED_REQ);
    buf_puts(&all, GET_REQ);
    struct http_parser *p = parser(8192, 65536);
    const char *target0 = NULL, *raw0 = NULL, *body0 = NULL;
    size_t cap0 = 0, len;
    for (int round = 0; round < 1000; round++) {
        size_t off = 0;
        for (int i = 0; i < 3; i++) {
            size_t used;
            ASSERT_EQ(http_parser_feed(p, all.data + off, all.len - off, &used), HTTP_DONE);
            off += used;
            const struct http_request *r = http_parser_request(p);
            if (round == 1 && i == 0) {
                target0 = r->target;
                raw0 = http_parser_raw_head(p, &len);
                body0 = r->body.data;
                cap0 = r->body.cap;
            } else if (round > 1 && i == 0) {
                ASSERT(r->target == target0);
                ASSERT(http_parser_raw_head(p, &len) == raw0);
                ASSERT(r->body.data == body0);
                ASSERT_EQ(r->body.cap, cap0);
            }
            http_parser_next(p);
        }
        ASSERT_EQ(off, all.len);
    }
    http_parser_free(p);
    buf_fini(&all);
}

/* ---- query parameters ------------------------------------------------------------------------ */

TEST(query_params)
{
    struct http_parser *p = parser(8192, 65536);
    size_t used;
    static const char msg[] = "GET /s?a=1&name=caf%C3%A9+au%20lait&empty=&flag&a=2&plus=%2B&"
                              "k%20x=sp&bad=%zz&trunc=%4&nul=%00&ten=0123456789&&=v HTTP/1.1\r\n"
                              "Host: a\r\n\r\n";
    ASSERT_EQ(http_parser_feed(p, LIT(msg), &used), HTTP_DONE);
    const struct http_request *r = http_parser_request(p);
    char out[64];
    ASSERT_EQ(http_query_param(r, "a", out, sizeof(out)), 1);
    ASSERT_STREQ(out, "1"); /* the first one wins */
    ASSERT_EQ(http_query_param(r, "name", out, sizeof(out)), 13);
    ASSERT_STREQ(out, "caf\xc3\xa9 au lait");
    ASSERT_EQ(http_query_param(r, "empty", out, sizeof(out)), 0);
    ASSERT_STREQ(out, "");
    ASSERT_EQ(http_query_param(r, "flag", out, sizeof(out)), 0);
    ASSERT_EQ(http_query_param(r, "plus", out, sizeof(out)), 1);
    ASSERT_STREQ(out, "+");
    ASSERT_EQ(http_query_param(r, "k x", out, sizeof(out)), 2);
    ASSERT_STREQ(out, "sp");
    ASSERT_EQ(http_query_param(r, "bad", out, sizeof(out)), -1);
    ASSERT_EQ(http_query_param(r, "trunc", out, sizeof(out)), -1);
    ASSERT_EQ(http_query_param(r, "nul", out, sizeof(out)), -1);
    ASSERT_EQ(http_query_param(r, "missing", out, sizeof(out)), -1);
    ASSERT_EQ(http_query_param(r, "nam", out, sizeof(out)), -1);
    ASSERT_EQ(http_query_param(r, "", out, sizeof(out)), -1);
    ASSERT_EQ(http_query_param(r, "ten", out, 11), 10);
    ASSERT_STREQ(out, "0123456789");
    ASSERT_EQ(http_query_param(r, "ten", out, 10), -1);
    http_parser_free(p);

    p = parser(8192, 65536);
    ASSERT_EQ(http_parser_feed(p, LIT("GET /s HTTP/1.1\r\nHost: a\r\n\r\n"), &used), HTTP_DONE);
    ASSERT_EQ(http_query_param(http_parser_request(p), "a", out, sizeof(out)), -1);
    http_parser_free(p);
    p = parser(8192, 65536);
    ASSERT_EQ(http_parser_feed(p, LIT("GET /s? HTTP/1.1\r\nHost: a\r\n\r\n"), &used), HTTP_DONE);
    ASSERT_STREQ(http_parser_request(p)->path, "/s");
    ASSERT_STREQ(http_parser_request(p)->query, "");
    ASSERT_EQ(http_query_param(http_parser_request(p), "a", out, sizeof(out)), -1);
    http_parser_free(p);
}

/* ---- responses ------------------------------------------------------------------------------- */

TEST(status_reasons)
{
    static const int used[] = {100, 101, 200, 201, 204, 301, 304, 400, 401, 403,
                               404, 405, 408, 409, 413, 422, 429, 431, 500, 503};
    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
        if (strcmp(http_status_reason(used[i]), "Unknown") == 0)
            TEST_FAIL_("no reason phrase for %d", used[i]);
    ASSERT_STREQ(http_status_reason(200), "OK");
    ASSERT_STREQ(http_status_reason(404), "Not Found");
    ASSERT_STREQ(http_status_reason(431), "Request Header Fields Too Large");
    ASSERT_STREQ(http_status_reason(299), "Unknown");
}

TEST(write_head)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "previous;");
    ASSERT_EQ(http_write_head(&b, 201, "application/json", 17, 1, "X-A: 1\r\nX-B: 2\r\n"), 0);

    const char *h = b.data + strlen("previous;");
    static const char start[] = "HTTP/1.1 201 Created\r\nDate: ";
    ASSERT(strncmp(b.data, "previous;", 9) == 0);
    ASSERT(strncmp(h, start, sizeof(start) - 1) == 0);
    const char *date = h + sizeof(start) - 1;
    const char *eol = strstr(date, "\r\n");
    ASSERT(eol != NULL);
    ASSERT_EQ(eol - date, 29); /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ASSERT(end == eol);
    time_t t = timegm(&tm), now = time(NULL);
    ASSERT(t <= now && now - t < 5);
    ASSERT_STREQ(eol, "\r\nServer: regulars\r\nContent-Type: application/json\r\n"
                      "Content-Length: 17\r\nConnection: keep-alive\r\nX-A: "
                      "1\r\nX-B: 2\r\n\r\n");

    buf_reset(&b);
    ASSERT_EQ(http_write_head(&b, 404, NULL, 0, 0, NULL), 0);
    eol = strstr(b.data, "\r\n");
    ASSERT(eol != NULL);
    ASSERT_MEMEQ(b.data, (size_t)(eol - b.data), "HTTP/1.1 404 Not Found", 22);
    eol = strstr(eol + 2, "\r\n"); /* past Date */
    ASSERT(eol != NULL);
    ASSERT_STREQ(eol, "\r\nServer: regulars\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(b.len, strlen(b.data));

    /* 204: no Content-Length. 100: the status line alone. */
    buf_reset(&b);
    ASSERT_EQ(http_write_head(&b, 204, NULL, 0, 1, NULL), 0);
    ASSERT(strstr(b.data, "Content-Length") == NULL);
    ASSERT(strstr(b.data, "Connection: keep-alive\r\n\r\n") != NULL);
    buf_reset(&b);
    ASSERT_EQ(http_write_head(&b, 100, NULL, 0, 1, NULL), 0);
    ASSERT_STREQ(b.data, "HTTP/1.1 100 Continue\r\n\r\n");
    buf_fini(&b);
}
