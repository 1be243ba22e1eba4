/*
 * The fuzz targets' shared server (see harness.h).
 */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "regulars/commit.h"
#include "regulars/config.h"
#include "regulars/conn.h"
#include "regulars/ids.h"
#include "regulars/log.h"
#include "regulars/model.h"
#include "regulars/secrets.h"

static struct server srv;
static int srv_ready;
static char data_dir[64];
static struct fuzz_ids ids;

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "fuzz harness: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    abort();
}

/* ---- checking answers ------------------------------------------------------------------ */

static const char *find(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle));
}

/* The value of header name (lower-case, with ':') inside head[0..len), or NULL. */
static const char *header_value(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = find(p, (size_t)(end - p), "\r\n");
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen;
            while (v < eol && *v == ' ')
                v++;
            *vlen = (size_t)(eol - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

static int is_error_shape(const json_t *v)
{
    const json_t *e = json_object_get(v, "error");
    return json_is_object(v) && json_object_size(v) == 1 && json_is_object(e) &&
           json_is_string(json_object_get(e, "code")) &&
           json_is_string(json_object_get(e, "message")) &&
           json_string_length(json_object_get(e, "message")) > 0;
}

/* Checks body as the answer with status and type ctype; returns 0, or -1 when it is not
 * what such an answer must be (the caller may then try the HEAD reading: no body). */
static int check_body(int status, const char *ctype, size_t ctype_len, const char *body, size_t len)
{
    if (!ctype || ctype_len < 16 || strncmp(ctype, "application/json", 16) != 0)
        return 0;
    json_error_t err;
    json_t *v = json_loadb(body, len, 0, &err);
    if (!v)
        return -1;
    int ok = status < 400 || is_error_shape(v);
    json_decref(v);
    return ok ? 0 : -1;
}

void fuzz_check_answers(const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    char what[160];
    while (p < end) {
        size_t left = (size_t)(end - p);
        if (left < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0 || p[9] < '1' || p[9] > '5' ||
            p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' || p[12] != ' ')
            die("answer does not start with a status line: %.40s", p);
        int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        if (status == 500) {
            snprintf(what, sizeof(what), "%.*s", (int)(left < 150 ? left : 150), p);
            die("a 500 answer: %s", what);
        }
        const char *hend = find(p, left, "\r\n\r\n");
        if (!hend)
            die("answer head without its blank line: %.40s", p);
        size_t hlen = (size_t)(hend - p) + 2;
        const char *body = hend + 4;
        if (status < 200 || status == 204) {
            p = body;
            continue;
        }
        size_t cl_len, ct_len = 0;
        const char *cl = header_value(p, hlen, "content-length:", &cl_len);
        const char *ct = header_value(p, hlen, "content-type:", &ct_len);
        if (!cl)
            die("answer without Content-Length: %.60s", p);
        size_t n = strtoul(cl, NULL, 10);
        size_t avail = (size_t)(end - body);
        int as_head_ok = avail == 0 || (avail >= 9 && memcmp(body, "HTTP/1.1 ", 9) == 0);
        if (n <= avail && check_body(status, ct, ct_len, body, n) == 0) {
            p = body + n;
        } else if (as_head_ok) {
            p = body; /* the answer to a HEAD: the length is announced, no body follows */
        } else {
            snprintf(what, sizeof(what), "%.*s", (int)(left < 150 ? left : 150), p);
            die("answer body is not what its head says: %s", what);
        }
    }
}

int fuzz_feed_out(const char *data, size_t len, struct buf *out)
{
    size_t start = out->len;
    int rc = conn_feed_detached(&srv, data, len, out);
    if (rc < 0)
        die("conn_feed_detached failed: %s", "out of memory");
    fuzz_check_answers(out->data ? out->data + start : "", out->len - start);
    return rc;
}

int fuzz_feed(const char *data, size_t len)
{
    struct buf out;
    buf_init(&out);
    int rc = fuzz_feed_out(data, len, &out);
    buf_fini(&out);
    return rc;
}

/* ---- seeding ---------------------------------------------------------------------------- */

/* Sends one request; returns its status and the parsed JSON body in *out (caller decrefs). */
static int call(const char *method, const char *path, const char *secret, const char *body,
                json_t **out)
{
    struct buf req, ans;
    buf_init(&req);
    buf_init(&ans);
    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: fuzz\r\n", method, path);
    if (secret)
        buf_printf(&req, "Authorization: Bearer %s\r\n", secret);
    if (body)
        buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
    else
        buf_puts(&req, "\r\n");
    fuzz_feed_out(req.data, req.len, &ans);
    if (ans.len < 13)
        die("no answer to %s", path);
    int status = atoi(ans.data + 9);
    const char *b = strstr(ans.data, "\r\n\r\n");
    json_error_t err;
    *out = b ? json_loads(b + 4, 0, &err) : NULL;
    if (!*out)
        die("no JSON in the answer to %s", path);
    buf_fini(&req);
    buf_fini(&ans);
    return status;
}

static void copy_id(char dst[16], json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != IDS_LEN)
        die("no id in the answer to %s", path);
    memcpy(dst, s, IDS_LEN + 1);
}

/* Creates a record with POST path and body; returns its answer (caller decrefs). */
static json_t *create(const char *path, const char *secret, const char *body)
{
    json_t *v;
    int status = call("POST", path, secret, body, &v);
    if (status != 201) {
        char *t = json_dumps(v, 0);
        fprintf(stderr, "fuzz harness: POST %s %s -> %d %s\n", path, body, status, t);
        abort();
    }
    return v;
}

struct secrets_cmd {
    struct commit_cmd cmd;
    uint64_t user1, user2, merchant;
    int done, status;
};

static int put_secret(struct store_tx *tx, const char *secret, int kind, uint64_t id)
{
    unsigned char h[32];
    secrets_hash(secret, strlen(secret), h);
    return secrets_put(tx, h, kind, id);
}

static int secrets_run(struct store_tx *tx, struct commit_cmd *cmd)
{
    struct secrets_cmd *c = (struct secrets_cmd *)cmd;
    int rc;
    if ((rc = put_secret(tx, FUZZ_USER1_TOKEN, RG_KIND_USER, c->user1)) ||
        (rc = put_secret(tx, FUZZ_USER2_TOKEN, RG_KIND_USER, c->user2)) ||
        (rc = put_secret(tx, FUZZ_MERCHANT_KEY, RG_KIND_MERCHANT, c->merchant)))
        return rc;
    return 0;
}

static void secrets_done(struct commit_cmd *cmd, int status)
{
    struct secrets_cmd *c = (struct secrets_cmd *)cmd;
    c->status = status;
    c->done = 1;
}

static uint64_t internal_id(enum ids_kind kind, const char *s)
{
    uint64_t id;
    if (ids_parse(kind, s, strlen(s), &id))
        die("cannot parse id %s", s);
    return id;
}

static void seed(void)
{
    char body[256], path[128];
    json_t *u1 =
        create("/v1/users", NULL,
               "{\"name\":\"Fuzz One\",\"handle\":\"fuzz_one\",\"phone\":\"+15550000001\"}");
    json_t *u2 = create("/v1/users", NULL, "{\"name\":\"Fuzz Two\",\"handle\":\"fuzz_two\"}");
    json_t *m = create("/v1/merchants", NULL,
                       "{\"name\":\"Fuzz Cafe\",\"category\":\"cafe\",\"lat\":37.5,"
                       "\"lon\":127.0,\"currency\":\"KRW\"}");
    copy_id(ids.user1, json_object_get(json_object_get(u1, "user"), "id"), "/v1/users");
    copy_id(ids.user2, json_object_get(json_object_get(u2, "user"), "id"), "/v1/users");
    copy_id(ids.merchant, json_object_get(json_object_get(m, "merchant"), "id"), "/v1/merchants");
    const char *t1 = json_string_value(json_object_get(u1, "token"));
    const char *t2 = json_string_value(json_object_get(u2, "token"));
    const char *mk = json_string_value(json_object_get(m, "api_key"));
    if (!t1 || !t2 || !mk)
        die("no secret in %s", "the seed answers");

    json_t *v = create("/v1/merchants/me/rewards", mk, "{\"title\":\"Coffee\",\"cost\":10}");
    copy_id(ids.reward, json_object_get(json_object_get(v, "reward"), "id"), "rewards");
    json_decref(v);

    snprintf(path, sizeof(path), "/v1/friends/%s", ids.user2);
    if (call("PUT", path, t1, NULL, &v) != 200)
        die("cannot ask %s", path);
    json_decref(v);
    snprintf(path, sizeof(path), "/v1/friends/%s", ids.user1);
    if (call("PUT", path, t2, NULL, &v) != 200)
        die("cannot accept %s", path);
    json_decref(v);

    snprintf(body, sizeof(body), "{\"user_id\":\"%s\",\"amount\":10000}", ids.user1);
    v = create("/v1/purchases", mk, body);
    copy_id(ids.purchase1, json_object_get(json_object_get(v, "purchase"), "id"), "purchases");
    json_decref(v);
    snprintf(body, sizeof(body), "{\"user_id\":\"%s\",\"amount\":5000}", ids.user1);
    v = create("/v1/purchases", mk, body);
    copy_id(ids.purchase2, json_object_get(json_object_get(v, "purchase"), "id"), "purchases");
    json_decref(v);

    snprintf(body, sizeof(body), "{\"purchase_id\":\"%s\",\"channel\":\"post\"}", ids.purchase1);
    v = create("/v1/shares", t1, body);
    copy_id(ids.share, json_object_get(json_object_get(v, "share"), "id"), "shares");
    json_decref(v);

    /* The fixed secrets, written like any command of the pipeline. */
    struct secrets_cmd sc;
    memset(&sc, 0, sizeof(sc));
    sc.cmd.run = secrets_run;
    sc.cmd.done = secrets_done;
    sc.user1 = internal_id(IDS_USER, ids.user1);
    sc.user2 = internal_id(IDS_USER, ids.user2);
    sc.merchant = internal_id(IDS_MERCHANT, ids.merchant);
    ids.user1_n = sc.user1;
    if (commit_submit(srv.commit, &sc.cmd))
        die("cannot submit the %s", "secrets");
    while (!sc.done)
        uv_run(srv.loop, UV_RUN_ONCE);
    if (sc.status)
        die("cannot store the %s", "secrets");
    json_decref(u1);
    json_decref(u2);
    json_decref(m);

    if (getenv("REGULARS_FUZZ_PRINT_IDS"))
        fprintf(stderr,
                "user1=%s user2=%s merchant=%s reward=%s purchase1=%s purchase2=%s share=%s\n",
                ids.user1, ids.user2, ids.merchant, ids.reward, ids.purchase1, ids.purchase2,
                ids.share);
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

/* The writer thread may still run: unlinking LMDB's files under it is harmless. */
static void remove_data(void)
{
    if (data_dir[0])
        nftw(data_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

struct server *fuzz_server(int bench)
{
    if (srv_ready)
        return &srv;
    struct config cfg;
    config_defaults(&cfg);
    log_set_level(getenv("REGULARS_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
    snprintf(data_dir, sizeof(data_dir), "/tmp/regulars-fuzz-XXXXXX");
    if (!mkdtemp(data_dir))
        die("mkdtemp %s failed", data_dir);
    atexit(remove_data);
    snprintf(cfg.data, sizeof(cfg.data), "%s", data_dir);
    cfg.sync = STORE_SYNC_NONE; /* nothing here needs to survive a crash */
    cfg.bench = bench;
    cfg.log_level = LOG_ERROR;
    if (server_init_detached(&srv, &cfg))
        die("server_init_detached failed in %s", data_dir);
    srv_ready = 1;
    seed();
    return &srv;
}

const struct fuzz_ids *fuzz_ids(void)
{
    return &ids;
}
