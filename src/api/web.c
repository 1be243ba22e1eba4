/*
 * The web pages: the landing page, the merchant dashboard, the customer app and their assets
 * (embedded at build time, see scripts/embed.cmake and assets.h), the public share pages
 * rendered here in C, and the few read endpoints the pages need beyond API.md:
 *
 *   GET /v1/users?handle=<h>         (any secret) find a user by handle (the app's friends)
 *   GET /v1/shares/{id}              (public) a share with its sharer and merchant names
 *   GET /v1/merchants/me/activity    (merchant) purchases per hour and referral edges
 *
 * Static files are answered with a strong ETag (a hash of their bytes) and
 * "Cache-Control: no-cache": a browser keeps its copy and revalidates it with
 * If-None-Match, which costs a 304 without a body. Asset names carry no hash, so a longer
 * max-age would keep an old script after an upgrade.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "regulars/api.h"
#include "regulars/assets.h"
#include "regulars/clock.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/merchants.h"
#include "regulars/purchases.h"
#include "regulars/server.h"
#include "regulars/shares.h"
#include "regulars/users.h"

/* Pages may load only our own scripts and styles, and talk only to this server (the stream
 * is a WebSocket on the same host). */
#define WEB_CSP                                                                                    \
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "                  \
    "base-uri 'none'; form-action 'self'\r\n"
#define WEB_HTML_HEADERS                                                                           \
    WEB_CSP "Referrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n"                  \
            "Cache-Control: no-cache\r\n"

#define ACTIVITY_HOURS    24
#define ACTIVITY_MAX_SCAN 20000 /* purchases read per activity request, newest first */
#define ACTIVITY_PAGE     256
#define HOUR_MS           (3600LL * 1000)
#define DAY_MS            (24 * HOUR_MS)

/* ---- static files ------------------------------------------------------------------- */

static const struct asset *asset_find(const char *path, size_t len)
{
    for (const struct asset *a = assets_table; a->path; a++)
        if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
            return a;
    return NULL;
}

/* If-None-Match: "*" or a comma-separated list of entity tags, weak ones (W/"x") compared
 * by their opaque part, as RFC 9110 13.1.2 asks for this header. */
static int etag_matches(const char *v, size_t len, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = v, *end = v + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        const char *t = p, *te = q;
        while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if (te - t == 1 && *t == '*')
            return 1;
        if (te - t > 2 && t[0] == 'W' && t[1] == '/')
            t += 2;
        if ((size_t)(te - t) == elen && memcmp(t, etag, elen) == 0)
            return 1;
        p = q;
    }
    return 0;
}

static void send_asset(struct req *r, const struct asset *a)
{
    char extra[768];
    int html = strncmp(a->ctype, "text/html", 9) == 0;
    snprintf(extra, sizeof(extra), "ETag: %s\r\n%s", a->etag,
             html ? WEB_HTML_HEADERS
                  : "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n");
    size_t len;
    const char *inm = http_request_header(r->http, "If-None-Match", &len);
    if (inm && etag_matches(inm, len, a->etag)) {
        req_send(r, 304, NULL, NULL, 0, extra);
        return;
    }
    req_send(r, 200, a->ctype, (const char *)a->data, a->len, extra);
}

static void send_file(struct req *r, const char *path)
{
    const struct asset *a = asset_find(path, strlen(path));
    if (!a) {
        req_send_error(r, 404, "not_found", "no such page");
        return;
    }
    send_asset(r, a);
}

static void page_index(struct req *r)
{
    send_file(r, "/index.html");
}

static void page_dashboard(struct req *r)
{
    send_file(r, "/dashboard.html");
}

static void page_app(struct req *r)
{
    send_file(r, "/app.html");
}

static void favicon(struct req *r)
{
    send_file(r, "/assets/icon.svg");
}

static void asset(struct req *r)
{
    size_t len;
    const char *name = req_param(r, "file", &len);
    char path[128];
    if (!name || len + 9 > sizeof(path)) {
        req_send_error(r, 404, "not_found", "no such asset");
        return;
    }
    memcpy(path, "/assets/", 8);
    memcpy(path + 8, name, len);
    path[8 + len] = '\0';
    const struct asset *a = asset_find(path, 8 + len);
    if (!a) {
        req_send_error(r, 404, "not_found", "no such asset");
        return;
    }
    send_asset(r, a);
}

/* ---- HTML helpers ------------------------------------------------------------------- */

/* Appends s with the five characters that matter in HTML text and double-quoted
 * attributes escaped. The stored strings are valid UTF-8 without control characters
 * (api_field_str checks them), so nothing else needs care. */
static void html_text(struct buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&#39;");
            break;
        default:
            buf_append(b, p, 1);
        }
    }
}

/* <meta property|name="key" content="value"> with value escaped. */
static void html_meta(struct buf *b, const char *attr, const char *key, const char *value)
{
    buf_printf(b, "<meta %s=\"%s\" content=\"", attr, key);
    html_text(b, value);
    buf_puts(b, "\">\n");
}

/* A Host header we are willing to print into an absolute URL: host names, IPv4, [IPv6]
 * and a port. Anything else (a forged header with markup) gets no absolute URL. */
static int host_ok(const char *h, size_t len)
{
    if (len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

/* "3 days", "5 hours", "1 hour 20 minutes", "12 minutes", "less than a minute". */
static void remaining_text(char *out, size_t n, int64_t ms)
{
    int64_t min = ms / 60000;
    if (min >= 2 * 24 * 60)
        snprintf(out, n, "%lld days", (long long)(min / (24 * 60)));
    else if (min >= 2 * 60)
        snprintf(out, n, "%lld hours", (long long)(min / 60));
    else if (min >= 60)
        snprintf(out, n, "1 hour %lld minutes", (long long)(min - 60));
    else if (min >= 1)
        snprintf(out, n, "%lld minute%s", (long long)min, min == 1 ? "" : "s");
    else
        snprintf(out, n, "less than a minute");
}

static void utc_text(char *out, size_t n, int64_t ms, const char *fmt)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, fmt, &tm);
}

static const char *page_head =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<link rel=\"icon\" href=\"/assets/icon.svg\" type=\"image/svg+xml\">\n"
    "<link rel=\"stylesheet\" href=\"/assets/style.css\">\n";

static const char *page_brand =
    "<header><a class=\"brand\" href=\"/\"><img src=\"/assets/icon.svg\" alt=\"\" width=\"28\" "
    "height=\"28\"> regulars</a></header>\n";

static void share_not_found(struct req *r)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, page_head);
    buf_puts(&b, "<title>Share not found · regulars</title>\n<meta name=\"robots\" "
                 "content=\"noindex\">\n</head>\n<body>\n<main class=\"page\" id=\"main\">\n");
    buf_puts(&b, page_brand);
    buf_puts(&b, "<article class=\"card\"><h1>This share does not exist</h1>\n<p class=\"muted\">"
                 "The link may be mistyped. Find stores and friends in the app.</p>\n"
                 "<p class=\"links\"><a class=\"btn btn-primary\" href=\"/app\">Open the app</a>"
                 "</p></article>\n</main>\n</body>\n</html>\n");
    req_send(r, 404, "text/html; charset=utf-8", b.data, b.len, WEB_HTML_HEADERS);
    buf_fini(&b);
}

/* ---- GET /s/{id}: the public page of a shared purchase ------------------------------ */

struct share_view {
    struct rg_share share;
    struct rg_merchant merchant;
    struct rg_user sharer;
};

static const char *channel_noun(uint32_t ch)
{
    switch (ch) {
    case RG_CH_POST:
        return "a post";
    case RG_CH_CHECKIN:
        return "a check-in";
    case RG_CH_LINK:
        return "a link";
    default:
        return "a share";
    }
}

static void render_share(struct req *r, const struct share_view *v, struct buf *b)
{
    const struct rg_share *sh = &v->share;
    const struct rg_merchant *m = &v->merchant;
    int64_t now = clock_now_ms();
    int open = now < sh->expires_at;
    char left[64], until[64], iso[40], made[40], sid[IDS_LEN + 1];
    remaining_text(left, sizeof(left), sh->expires_at - now);
    utc_text(until, sizeof(until), sh->expires_at, "%d %b %Y, %H:%M UTC");
    utc_text(iso, sizeof(iso), sh->expires_at, "%Y-%m-%dT%H:%M:%SZ");
    utc_text(made, sizeof(made), sh->created_at, "%d %b %Y");
    ids_format(IDS_SHARE, sh->id, sid);

    /* Title: "Annika recommends Soup Corner"; the message goes in the description. */
    struct buf title, desc;
    buf_init(&title);
    buf_init(&desc);
    buf_printf(&title, "%s recommends %s", v->sharer.name, m->name);
    if (sh->message[0])
        buf_printf(&desc, "\xe2\x80\x9c%s\xe2\x80\x9d \xe2\x80\x94 ", sh->message);
    buf_puts(&desc, m->name);
    if (m->category[0])
        buf_printf(&desc, " \xc2\xb7 %s", m->category);
    if (m->address[0])
        buf_printf(&desc, " \xc2\xb7 %s", m->address);
    if (open)
        buf_printf(&desc, ". Friends of %s have %s left to use it.", v->sharer.name, left);
    else
        buf_puts(&desc, ".");

    buf_puts(b, page_head);
    buf_puts(b, "<title>");
    html_text(b, title.data);
    buf_puts(b, " \xc2\xb7 regulars</title>\n");
    html_meta(b, "name", "description", desc.data);
    html_meta(b, "property", "og:type", "website");
    html_meta(b, "property", "og:site_name", "regulars");
    html_meta(b, "property", "og:title", title.data);
    html_meta(b, "property", "og:description", desc.data);
    size_t hlen;
    const char *host = http_request_header(r->http, "Host", &hlen);
    if (host && host_ok(host, hlen)) {
        buf_printf(b, "<meta property=\"og:url\" content=\"http://%.*s/s/%s\">\n", (int)hlen, host,
                   sid);
        buf_printf(b, "<link rel=\"canonical\" href=\"http://%.*s/s/%s\">\n", (int)hlen, host, sid);
    }
    html_meta(b, "name", "twitter:card", "summary");
    html_meta(b, "name", "twitter:title", title.data);
    html_meta(b, "name", "twitter:description", desc.data);
    buf_puts(b, "</head>\n<body>\n<main class=\"page\" id=\"main\">\n");
    buf_puts(b, page_brand);

    buf_puts(b, "<article class=\"card\">\n<p class=\"share-meta small\">");
    html_text(b, v->sharer.name);
    buf_printf(b, " shared %s \xc2\xb7 %s</p>\n", channel_noun(sh->channel), made);
    buf_puts(b, "<h1 class=\"share-quote\">");
    html_text(b, v->sharer.name);
    buf_puts(b, " recommends <strong>");
    html_text(b, m->name);
    buf_puts(b, "</strong>");
    if (sh->message[0]) {
        buf_puts(b, ": <q>");
        html_text(b, sh->message);
        buf_puts(b, "</q>");
    }
    buf_puts(b, "</h1>\n<p>");
    if (m->category[0]) {
        html_text(b, m->category);
        buf_puts(b, " \xc2\xb7 ");
    }
    if (m->address[0]) {
        html_text(b, m->address);
        buf_puts(b, " \xc2\xb7 ");
    }
    buf_printf(b,
               "<a href=\"https://www.openstreetmap.org/?mlat=%.6f&amp;mlon=%.6f#map=18/%.6f/"
               "%.6f\" rel=\"noopener\">Open the map</a></p>\n",
               m->lat, m->lon, m->lat, m->lon);

    if (open) {
        buf_puts(b, "<p class=\"deadline\">Friends of ");
        html_text(b, v->sharer.name);
        buf_printf(b, " have <strong>%s</strong> left to use it: buy at ", left);
        html_text(b, m->name);
        buf_printf(b, " before <time datetime=\"%s\">%s</time> and you both earn points.</p>\n",
                   iso, until);
    } else {
        buf_puts(b, "<p class=\"deadline over\">This share's window has closed, but ");
        html_text(b, m->name);
        buf_puts(b, " still gives points to its regulars.</p>\n");
    }

    int offers = 0;
    for (uint32_t i = 0; i < m->noffers && i < RG_MAX_OFFERS; i++) {
        const struct rg_offer *o = &m->offers[i];
        if (o->ends_at && o->ends_at <= now)
            continue;
        if (!offers++)
            buf_puts(b, "<h2>Offers</h2>\n<ul class=\"offers-list\">\n");
        buf_printf(b, "<li class=\"offer-chip\"><strong>%u%% off</strong> ", o->discount_pct);
        html_text(b, o->title);
        if (o->ends_at) {
            char ends[40];
            utc_text(ends, sizeof(ends), o->ends_at, "%d %b %Y");
            buf_printf(b, " <span class=\"small\">until %s</span>", ends);
        }
        buf_puts(b, "</li>\n");
    }
    if (offers)
        buf_puts(b, "</ul>\n");
    /* 100 bp = "1%", 250 bp = "2.5%", 125 bp = "1.25%". */
    uint32_t bp = m->rules.earn_rate_bp;
    buf_puts(b, "<p class=\"small muted\">Earn ");
    if (bp % 100 == 0)
        buf_printf(b, "%u%%", bp / 100);
    else if (bp % 10 == 0)
        buf_printf(b, "%u.%u%%", bp / 100, bp % 100 / 10);
    else
        buf_printf(b, "%u.%02u%%", bp / 100, bp % 100);
    buf_puts(b, " of what you spend in points at ");
    html_text(b, m->name);
    buf_puts(b, ", in one wallet that works at every store.</p>\n");
    buf_puts(b, "<p class=\"links\"><a class=\"btn btn-primary\" href=\"/app\">Get the app</a>"
                "</p>\n</article>\n</main>\n</body>\n</html>\n");
    buf_fini(&title);
    buf_fini(&desc);
}

static void share_page(struct req *r)
{
    size_t len;
    const char *id = req_param(r, "id", &len);
    uint64_t sid;
    if (!id || ids_parse(IDS_SHARE, id, len, &sid)) {
        share_not_found(r);
        return;
    }
    struct share_view *v = malloc(sizeof(*v));
    struct store_tx tx;
    if (!v) {
        api_send_rc(r, RG_ENOMEM);
        return;
    }
    if (api_read_begin(r, &tx)) {
        free(v);
        return;
    }
    int rc = shares_get(&tx, sid, &v->share);
    if (!rc)
        rc = merchants_get(&tx, v->share.merchant_id, &v->merchant);
    if (!rc)
        rc = users_get(&tx, v->share.user_id, &v->sharer);
    store_read_end(&tx);
    if (rc == RG_ENOTFOUND) {
        share_not_found(r);
    } else if (rc) {
        api_send_rc(r, rc);
    } else {
        struct buf b;
        buf_init(&b);
        render_share(r, v, &b);
        req_send(r, 200, "text/html; charset=utf-8", b.data, b.len, WEB_HTML_HEADERS);
        buf_fini(&b);
    }
    free(v);
}

/* ---- GET /v1/shares/{id} ------------------------------------------------------------ */

static void share_get(struct req *r)
{
    uint64_t sid;
    struct store_tx tx;
    if (api_param_id(r, "id", IDS_SHARE, &sid) || api_read_begin(r, &tx))
        return;
    struct share_view *v = malloc(sizeof(*v));
    int rc = v ? shares_get(&tx, sid, &v->share) : RG_ENOMEM;
    if (!rc)
        rc = merchants_get(&tx, v->share.merchant_id, &v->merchant);
    json_t *body = NULL;
    if (!rc)
        body = json_pack("{s:o,s:o,s:{s:o,s:s}}", "share", api_share_json(&v->share), "user",
                         api_user_ref(&tx, v->share.user_id), "merchant", "id",
                         api_id(IDS_MERCHANT, v->merchant.id), "name", v->merchant.name);
    store_read_end(&tx);
    free(v);
    if (rc)
        api_send_rc(r, rc);
    else
        api_send_json(r, 200, body);
}

/* ---- GET /v1/users?handle= ---------------------------------------------------------- */

static void user_find(struct req *r)
{
    int kind;
    uint64_t me, id;
    char handle[128];
    struct store_tx tx;
    if (api_auth(r, API_ANY, 0, &kind, &me))
        return;
    int n = http_query_param(r->http, "handle", handle, sizeof(handle));
    /* Absent, too long or malformed: one answer, since no such handle can exist. */
    if (n < 0 || !users_valid_handle(handle, (size_t)n)) {
        api_invalid(r, "handle", "must be 3 to 32 of a-z, 0-9 and _");
        return;
    }
    if (api_read_begin(r, &tx))
        return;
    struct rg_user u;
    int rc = users_by_handle(&tx, handle, &id);
    if (!rc)
        rc = users_get(&tx, id, &u);
    store_read_end(&tx);
    if (rc) {
        api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200, json_pack("{s:o}", "user", api_user_json(&u, 0)));
}

/* ---- GET /v1/merchants/me/activity -------------------------------------------------- */

/*
 * What the dashboard's charts need and the stats endpoint does not give: purchases per hour
 * over the last 24 hours (direct / referred), and the referral edges (sharer -> buyer, with
 * purchases and revenue) of the last `days` days, for the cascade tree. Refunded purchases
 * count nowhere. It walks the merchant's purchases newest first, at most ACTIVITY_MAX_SCAN
 * of them ("truncated" says when it stopped there), so one request stays a few ms.
 * ?tz=<minutes east of UTC> aligns the hours with the viewer's clock (-840..840, default 0).
 */

struct edge {
    uint64_t sharer, buyer;
    int64_t purchases, revenue;
};

static int edge_cmp(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    if (x->sharer != y->sharer)
        return x->sharer < y->sharer ? -1 : 1;
    if (x->buyer != y->buyer)
        return x->buyer < y->buyer ? -1 : 1;
    return 0;
}

struct hour_bucket {
    int64_t direct, referred, revenue;
};

static void activity(struct req *r)
{
    int kind;
    uint64_t m;
    int64_t days, tz;
    struct store_tx tx;
    if (api_auth(r, API_MERCHANT, 0, &kind, &m) || api_query_int(r, "days", 30, 1, 365, &days) ||
        api_query_int(r, "tz", 0, -840, 840, &tz))
        return;
    int64_t now = clock_now_ms();
    int64_t off = tz * 60000;
    int64_t hour0 =
        now - (((now + off) % HOUR_MS) + HOUR_MS) % HOUR_MS - (ACTIVITY_HOURS - 1) * HOUR_MS;
    int64_t since = now - days * DAY_MS;
    int64_t oldest = since < hour0 ? since : hour0;

    struct rg_purchase *page = malloc(sizeof(*page) * ACTIVITY_PAGE);
    struct edge *edges = NULL;
    size_t nedges = 0, cap = 0, scanned = 0;
    struct hour_bucket hours[ACTIVITY_HOURS];
    memset(hours, 0, sizeof(hours));
    if (!page) {
        api_send_rc(r, RG_ENOMEM);
        return;
    }
    if (api_read_begin(r, &tx)) {
        free(page);
        return;
    }
    int rc = 0, done = 0;
    uint64_t before = 0;
    while (!rc && !done && scanned < ACTIVITY_MAX_SCAN) {
        size_t n = 0;
        uint64_t next = 0;
        rc = purchases_page_by_merchant(&tx, m, before, ACTIVITY_PAGE, page, &n, &next);
        for (size_t i = 0; !rc && i < n; i++) {
            const struct rg_purchase *p = &page[i];
            scanned++;
            if (p->created_at < oldest) {
                done = 1;
                break;
            }
            if (p->refunded_at)
                continue;
            if (p->created_at >= hour0) {
                int64_t h = (p->created_at - hour0) / HOUR_MS;
                if (h >= ACTIVITY_HOURS)
                    h = ACTIVITY_HOURS - 1; /* recorded after `now` (clock stepped back) */
                if (p->share_id)
                    hours[h].referred++;
                else
                    hours[h].direct++;
                hours[h].revenue += p->amount;
            }
            if (p->share_id && p->created_at >= since) {
                if (nedges == cap) {
                    size_t ncap = cap ? cap * 2 : 256;
                    struct edge *ne = realloc(edges, sizeof(*ne) * ncap);
                    if (!ne) {
                        rc = RG_ENOMEM;
                        break;
                    }
                    edges = ne;
                    cap = ncap;
                }
                edges[nedges++] = (struct edge){p->sharer_id, p->user_id, 1, p->amount};
            }
        }
        if (!next)
            done = 1;
        before = next;
    }

    json_t *jh = json_array(), *je = json_array();
    if (!rc) {
        for (int i = 0; i < ACTIVITY_HOURS; i++)
            json_array_append_new(jh, json_pack("{s:I,s:I,s:I,s:I}", "at",
                                                (json_int_t)(hour0 + i * HOUR_MS), "direct",
                                                (json_int_t)hours[i].direct, "referred",
                                                (json_int_t)hours[i].referred, "revenue",
                                                (json_int_t)hours[i].revenue));
        /* One edge per (sharer, buyer): sort, then merge runs. */
        if (nedges)
            qsort(edges, nedges, sizeof(*edges), edge_cmp);
        for (size_t i = 0; i < nedges;) {
            struct edge e = edges[i++];
            while (i < nedges && edges[i].sharer == e.sharer && edges[i].buyer == e.buyer) {
                e.purchases += edges[i].purchases;
                e.revenue += edges[i].revenue;
                i++;
            }
            json_array_append_new(
                je, json_pack("{s:o,s:o,s:I,s:I}", "sharer", api_user_ref(&tx, e.sharer), "buyer",
                              api_user_ref(&tx, e.buyer), "purchases", (json_int_t)e.purchases,
                              "revenue", (json_int_t)e.revenue));
        }
    }
    store_read_end(&tx);
    free(page);
    free(edges);
    if (rc) {
        json_decref(jh);
        json_decref(je);
        api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200,
                  json_pack("{s:I,s:I,s:o,s:o,s:I,s:b}", "days", (json_int_t)days, "now",
                            (json_int_t)now, "hours", jh, "edges", je, "scanned",
                            (json_int_t)scanned, "truncated",
                            !done && scanned >= ACTIVITY_MAX_SCAN));
}

/* ---- routes ------------------------------------------------------------------------- */

void api_web_routes(struct server *s)
{
    router_add(&s->router, HTTP_GET, "/", page_index);
    router_add(&s->router, HTTP_GET, "/dashboard", page_dashboard);
    router_add(&s->router, HTTP_GET, "/app", page_app);
    router_add(&s->router, HTTP_GET, "/favicon.ico", favicon);
    router_add(&s->router, HTTP_GET, "/assets/{file}", asset);
    router_add(&s->router, HTTP_GET, "/s/{id}", share_page);
    router_add(&s->router, HTTP_GET, "/v1/users", user_find);
    router_add(&s->router, HTTP_GET, "/v1/shares/{id}", share_get);
    router_add(&s->router, HTTP_GET, "/v1/merchants/me/activity", activity);
}
