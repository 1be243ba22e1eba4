/* Web pages (api/web.c): the embedded assets, ETag matching, HTML escaping of share pages. */
#include "api/web.c"

#include "test.h"

TEST(assets_are_embedded_with_types_and_etags)
{
    const struct asset *a = asset_find("/dashboard.html", strlen("/dashboard.html"));
    ASSERT(a != NULL);
    ASSERT_STREQ(a->ctype, "text/html; charset=utf-8");
    ASSERT(a->len > 1000);
    ASSERT(memmem(a->data, a->len, "/assets/dashboard.js", 20) != NULL);
    a = asset_find("/assets/lib.js", strlen("/assets/lib.js"));
    ASSERT(a != NULL);
    ASSERT_STREQ(a->ctype, "text/javascript; charset=utf-8");
    a = asset_find("/assets/icon.svg", strlen("/assets/icon.svg"));
    ASSERT(a != NULL);
    ASSERT_STREQ(a->ctype, "image/svg+xml");
    ASSERT(asset_find("/assets/nope.js", 15) == NULL);
    ASSERT(asset_find("/dashboard", 10) == NULL); /* pages are routed, not looked up by URL */
    /* Every asset: a quoted 16-hex ETag, distinct bytes give distinct tags. */
    size_t n = 0;
    for (const struct asset *x = assets_table; x->path; x++, n++) {
        ASSERT_EQ(strlen(x->etag), 18);
        ASSERT(x->etag[0] == '"' && x->etag[17] == '"');
        ASSERT(x->data[x->len] == 0); /* NUL after the bytes */
        for (const struct asset *y = assets_table; y != x; y++)
            if (y->len != x->len || memcmp(y->data, x->data, x->len))
                ASSERT(strcmp(y->etag, x->etag) != 0);
    }
    ASSERT(n >= 10);
}

static int match(const char *header, const char *etag)
{
    return etag_matches(header, strlen(header), etag);
}

TEST(if_none_match_lists_weak_tags_and_star)
{
    const char *e = "\"0123456789abcdef\"";
    ASSERT(match("\"0123456789abcdef\"", e));
    ASSERT(match("W/\"0123456789abcdef\"", e)); /* weak comparison for If-None-Match */
    ASSERT(match("\"x\", \"0123456789abcdef\"", e));
    ASSERT(match("  \"x\" ,W/\"0123456789abcdef\"  ", e));
    ASSERT(match("*", e));
    ASSERT(!match("", e));
    ASSERT(!match("\"0123456789abcde\"", e));
    ASSERT(!match("\"0123456789abcdef0\"", e));
    ASSERT(!match("0123456789abcdef", e)); /* unquoted is another tag */
    ASSERT(!match("\"x\", *y", e));
}

static char *escaped(const char *s)
{
    struct buf b;
    buf_init(&b);
    html_text(&b, s);
    buf_puts(&b, "");
    return b.data;
}

TEST(html_text_escapes_markup_and_quotes)
{
    char *s = escaped("<script>alert(\"x\" & 'y')</script>");
    ASSERT_STREQ(s, "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
    free(s);
    s = escaped("Soup Corner \xec\x88\x98\xed\x94\x84 \xe2\x80\x94 caf\xc3\xa9");
    ASSERT_STREQ(s, "Soup Corner \xec\x88\x98\xed\x94\x84 \xe2\x80\x94 caf\xc3\xa9");
    free(s);
}

TEST(only_plain_hosts_make_absolute_urls)
{
    ASSERT(host_ok("127.0.0.1:8080", 14));
    ASSERT(host_ok("[::1]:8080", 10));
    ASSERT(host_ok("regulars.example", 16));
    ASSERT(!host_ok("", 0));
    ASSERT(!host_ok("a\"><script>", 11));
    ASSERT(!host_ok("a b", 3));
    ASSERT(!host_ok("user@host", 9));
}

TEST(remaining_time_reads_naturally)
{
    char s[64];
    remaining_text(s, sizeof(s), 3LL * 86400 * 1000 + 5000);
    ASSERT_STREQ(s, "3 days");
    remaining_text(s, sizeof(s), 47LL * 3600 * 1000);
    ASSERT_STREQ(s, "47 hours");
    remaining_text(s, sizeof(s), 80LL * 60 * 1000);
    ASSERT_STREQ(s, "1 hour 20 minutes");
    remaining_text(s, sizeof(s), 60LL * 1000);
    ASSERT_STREQ(s, "1 minute");
    remaining_text(s, sizeof(s), 59LL * 1000);
    ASSERT_STREQ(s, "less than a minute");
}
