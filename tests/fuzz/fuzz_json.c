/*
 * fuzz_json_<endpoint>: the fuzzed bytes are the JSON body of one write endpoint, sent in a
 * valid request (method, path, the right secret, Content-Length) through the whole path.
 * Built once per endpoint with -DFUZZ_ENDPOINT="<name>" (see the table).
 *
 * Input format: the body, as is. For a path with an id ({id}), an input that starts with
 * '@' gives the id instead: "@<id>\n<body>" (the seeded record's id otherwise). Endpoints
 * that take an Idempotency-Key get none, "fz-a" or "fz-b" by the input's length, so that
 * replays and mismatches happen.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifndef FUZZ_ENDPOINT
#error "build with -DFUZZ_ENDPOINT=\"<name>\""
#endif

enum auth { AUTH_NONE, AUTH_USER1, AUTH_MERCHANT };
enum id_of { ID_NONE, ID_USER2, ID_PURCHASE2 };

struct endpoint {
    const char *name;
    const char *method;
    const char *path; /* "%s" where the id goes */
    enum auth auth;
    enum id_of id;
    int idem;  /* takes an Idempotency-Key */
    int bench; /* needs --bench */
};

static const struct endpoint endpoints[] = {
    {"users", "POST", "/v1/users", AUTH_NONE, ID_NONE, 0, 0},
    {"merchants", "POST", "/v1/merchants", AUTH_NONE, ID_NONE, 0, 0},
    {"merchants_me", "PATCH", "/v1/merchants/me", AUTH_MERCHANT, ID_NONE, 0, 0},
    {"rewards", "POST", "/v1/merchants/me/rewards", AUTH_MERCHANT, ID_NONE, 0, 0},
    {"purchases", "POST", "/v1/purchases", AUTH_MERCHANT, ID_NONE, 1, 0},
    {"refund", "POST", "/v1/purchases/%s/refund", AUTH_MERCHANT, ID_PURCHASE2, 0, 0},
    {"shares", "POST", "/v1/shares", AUTH_USER1, ID_NONE, 0, 0},
    {"redemptions", "POST", "/v1/redemptions", AUTH_USER1, ID_NONE, 1, 0},
    {"friends", "PUT", "/v1/friends/%s", AUTH_USER1, ID_USER2, 0, 0},
    {"bench_clock", "POST", "/bench/clock", AUTH_NONE, ID_NONE, 0, 1},
    {"bench_seed", "POST", "/bench/seed", AUTH_NONE, ID_NONE, 0, 1},
};

static const struct endpoint *endpoint(void)
{
    static const struct endpoint *ep;
    if (ep)
        return ep;
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
        if (strcmp(endpoints[i].name, FUZZ_ENDPOINT) == 0)
            ep = &endpoints[i];
    if (!ep) {
        fprintf(stderr, "fuzz_json: unknown endpoint %s\n", FUZZ_ENDPOINT);
        abort();
    }
    return ep;
}

/* /bench/seed runs in one write txn: keep the graphs small so that an input stays fast.
 * Returns non-zero when body asks for more (the server's own checks run on the rest). */
static int too_big_for_seed(const char *body, size_t len)
{
    static const struct {
        const char *field;
        json_int_t max;
    } caps[] = {{"users", 50}, {"merchants", 10}, {"friends_per_user", 10}};
    json_error_t err;
    json_t *v = json_loadb(body, len, 0, &err);
    int big = 0;
    for (size_t i = 0; v && i < sizeof(caps) / sizeof(caps[0]); i++) {
        json_t *f = json_object_get(v, caps[i].field);
        if (json_is_integer(f) && json_integer_value(f) > caps[i].max)
            big = 1;
    }
    json_decref(v);
    return big;
}

/* Regression (tests/fuzz/regress/json_bench_seed): bench.c read friends_per_user
 * uninitialised when the field was absent, making a random number of friendships (and
 * taking seconds). Without the field, no user of the answer may have a friend. */
static void check_seed_friends(const char *body, size_t body_len, const struct buf *out)
{
    json_error_t err;
    json_t *req = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &err);
    int absent = json_is_object(req) && !json_is_integer(json_object_get(req, "friends_per_user"));
    json_decref(req);
    const char *nd = out->len > 12 && memcmp(out->data, "HTTP/1.1 200", 12) == 0
                         ? strstr(out->data, "\r\n\r\n")
                         : NULL;
    if (!absent || !nd)
        return;
    int checked = 0;
    for (const char *line = nd + 4; *line && checked < 3;) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        json_t *p = json_loadb(line, n, 0, &err);
        const char *secret = json_string_value(json_object_get(p, "secret"));
        if (secret && strcmp(json_string_value(json_object_get(p, "kind")), "user") == 0) {
            struct buf q, ans;
            buf_init(&q);
            buf_init(&ans);
            buf_printf(&q, "GET /v1/me HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer %s\r\n\r\n",
                       secret);
            fuzz_feed_out(q.data, q.len, &ans);
            const char *b = ans.data ? strstr(ans.data, "\r\n\r\n") : NULL;
            json_t *me = b ? json_loads(b + 4, 0, &err) : NULL;
            json_t *friends = json_object_get(me, "friends");
            if (!json_is_integer(friends) || json_integer_value(friends) != 0) {
                fprintf(stderr, "fuzz_json_bench_seed: friends without friends_per_user: %s\n",
                        ans.data ? ans.data : "(no answer)");
                abort();
            }
            json_decref(me);
            buf_fini(&q);
            buf_fini(&ans);
            checked++;
        }
        json_decref(p);
        line += n + (eol ? 1 : 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct endpoint *ep = endpoint();
    fuzz_server(ep->bench);
    const struct fuzz_ids *ids = fuzz_ids();
    const char *body = (const char *)data;
    size_t body_len = size;

    const char *id = ep->id == ID_USER2 ? ids->user2 : ids->purchase2;
    int id_len = (int)strlen(id);
    if (ep->id != ID_NONE && size && body[0] == '@') {
        const char *nl = memchr(body, '\n', size);
        size_t n = nl ? (size_t)(nl - body) : size;
        id = body + 1;
        id_len = (int)(n - 1);
        body_len = nl ? size - n - 1 : 0;
        body = nl ? nl + 1 : body + size;
    }
    if (strcmp(ep->name, "bench_seed") == 0 && too_big_for_seed(body, body_len))
        return -1; /* not added to the corpus */

    struct buf req;
    buf_init(&req);
    buf_puts(&req, ep->method);
    buf_puts(&req, " ");
    if (ep->id != ID_NONE) {
        const char *hole = strstr(ep->path, "%s");
        buf_append(&req, ep->path, (size_t)(hole - ep->path));
        buf_append(&req, id, (size_t)id_len);
        buf_puts(&req, hole + 2);
    } else {
        buf_puts(&req, ep->path);
    }
    buf_puts(&req, " HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n");
    if (ep->auth == AUTH_USER1)
        buf_puts(&req, "Authorization: Bearer " FUZZ_USER1_TOKEN "\r\n");
    else if (ep->auth == AUTH_MERCHANT)
        buf_puts(&req, "Authorization: Bearer " FUZZ_MERCHANT_KEY "\r\n");
    if (ep->idem && size % 3)
        buf_puts(&req, size % 3 == 1 ? "Idempotency-Key: fz-a\r\n" : "Idempotency-Key: fz-b\r\n");
    buf_printf(&req, "Content-Length: %zu\r\n\r\n", body_len);
    buf_append(&req, body, body_len);
    struct buf out;
    buf_init(&out);
    fuzz_feed_out(req.data, req.len, &out);
    if (strcmp(ep->name, "bench_seed") == 0)
        check_seed_friends(body, body_len, &out);
    buf_fini(&out);
    buf_fini(&req);
    return 0;
}
