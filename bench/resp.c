/*
 * Incremental HTTP/1.1 response parser: see resp.h. Lines (status, headers, chunk sizes,
 * trailers) are collected whole and parsed once complete; body bytes are taken in bulk.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp.h"

void resp_init(struct resp *r)
{
    memset(r, 0, sizeof(*r));
    bbuf_init(&r->body);
    resp_reset(r);
}

void resp_fini(struct resp *r)
{
    bbuf_fini(&r->body);
}

void resp_reset(struct resp *r)
{
    r->state = RESP_ST_STATUS;
    r->status = 0;
    r->http_minor = 1;
    r->keep_alive = 1;
    r->chunked = 0;
    r->content_length = -1;
    r->remaining = 0;
    r->upgraded = 0;
    r->header_value[0] = '\0';
    r->line_len = 0;
    r->line_overflow = 0;
    r->head_bytes = 0;
    bbuf_reset(&r->body);
}

/* Trims spaces and tabs at both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* True when the comma-separated list v contains token tok (case-insensitive). */
static int has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t el = comma ? (size_t)(comma - v) : n;
        const char *e = v;
        size_t en = el;
        trim(&e, &en);
        if (en == tl && strncasecmp(e, tok, tl) == 0)
            return 1;
        if (!comma)
            break;
        v = comma + 1;
        n -= el + 1;
    }
    return 0;
}

static int parse_status(struct resp *r, const char *l, size_t n)
{
    /* "HTTP/1.x NNN reason" */
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
        return -1;
    if (!isdigit((unsigned char)l[9]) || !isdigit((unsigned char)l[10]) ||
        !isdigit((unsigned char)l[11]) || (n > 12 && l[12] != ' '))
        return -1;
    r->http_minor = l[7] - '0';
    r->keep_alive = r->http_minor == 1;
    r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    return 0;
}

static int parse_header(struct resp *r, const char *l, size_t n)
{
    const char *colon = memchr(l, ':', n);
    if (!colon || colon == l)
        return -1;
    size_t nl = (size_t)(colon - l);
    const char *v = colon + 1;
    size_t vn = n - nl - 1;
    trim(&v, &vn);
    if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
        if (vn == 0 || vn > 18)
            return -1;
        int64_t cl = 0;
        for (size_t i = 0; i < vn; i++) {
            if (!isdigit((unsigned char)v[i]))
                return -1;
            cl = cl * 10 + (v[i] - '0');
        }
        if (r->content_length >= 0 && r->content_length != cl)
            return -1;
        r->content_length = cl;
    } else if (nl == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
        /* chunked must be the last coding; anything else we cannot decode. */
        r->chunked = vn >= 7 && strncasecmp(v + vn - 7, "chunked", 7) == 0;
        if (!r->chunked)
            return -1;
    } else if (nl == 10 && strncasecmp(l, "connection", 10) == 0) {
        if (has_token(v, vn, "close"))
            r->keep_alive = 0;
        else if (has_token(v, vn, "keep-alive"))
            r->keep_alive = 1;
    }
    if (r->want_header && strlen(r->want_header) == nl && strncasecmp(l, r->want_header, nl) == 0) {
        if (vn >= sizeof(r->header_value))
            vn = sizeof(r->header_value) - 1;
        memcpy(r->header_value, v, vn);
        r->header_value[vn] = '\0';
    }
    return 0;
}

/* The empty line after the headers: decides how the body is delimited. */
static void headers_done(struct resp *r)
{
    if (r->status == 101) {
        r->upgraded = 1;
        r->state = RESP_ST_DONE;
    } else if (r->status >= 100 && r->status < 200) {
        /* An interim answer (100 Continue): the real one follows. */
        int keep = r->keep_body;
        resp_reset(r);
        r->keep_body = keep;
    } else if (r->head_request || r->status == 204 || r->status == 304) {
        r->state = RESP_ST_DONE;
    } else if (r->chunked) {
        r->state = RESP_ST_CHUNK_SIZE;
    } else if (r->content_length >= 0) {
        r->remaining = (uint64_t)r->content_length;
        r->state = r->remaining ? RESP_ST_BODY : RESP_ST_DONE;
    } else {
        r->keep_alive = 0;
        r->state = RESP_ST_BODY_EOF;
    }
}

static int parse_chunk_size(struct resp *r, const char *l, size_t n)
{
    uint64_t sz = 0;
    size_t i = 0;
    for (; i < n && isxdigit((unsigned char)l[i]); i++) {
        if (sz >> 56)
            return -1;
        int c = tolower((unsigned char)l[i]);
        sz = sz * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    if (i == 0 || (i < n && l[i] != ';' && l[i] != ' ' && l[i] != '\t'))
        return -1;
    r->remaining = sz;
    r->state = sz ? RESP_ST_CHUNK_DATA : RESP_ST_TRAILER;
    return 0;
}

/* A complete line (without CRLF) in the current state. */
static int on_line(struct resp *r, const char *l, size_t n)
{
    switch (r->state) {
    case RESP_ST_STATUS:
        if (r->line_overflow)
            return -1;
        if (parse_status(r, l, n))
            return -1;
        r->state = RESP_ST_HEADER;
        return 0;
    case RESP_ST_HEADER:
        if (n == 0 && !r->line_overflow) {
            headers_done(r);
            return 0;
        }
        if (r->line_overflow)
            return 0; /* a header too long to keep is one we do not need */
        return parse_header(r, l, n);
    case RESP_ST_CHUNK_SIZE:
        if (r->line_overflow)
            return -1;
        return parse_chunk_size(r, l, n);
    case RESP_ST_CHUNK_END:
        if (n != 0)
            return -1;
        r->state = RESP_ST_CHUNK_SIZE;
        return 0;
    case RESP_ST_TRAILER:
        if (n == 0)
            r->state = RESP_ST_DONE;
        return 0;
    default:
        return -1;
    }
}

/* Takes bytes of a line until its LF. Returns bytes used or -1. */
static ssize_t take_line(struct resp *r, const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) + 1 : n;
    int in_head = r->state == RESP_ST_STATUS || r->state == RESP_ST_HEADER;
    if (in_head) {
        r->head_bytes += take;
        if (r->head_bytes > RESP_HEAD_MAX)
            return -1;
    }
    size_t copy = lf ? take - 1 : take;
    if (r->line_len + copy > sizeof(r->line)) {
        r->line_overflow = 1;
        copy = sizeof(r->line) - r->line_len;
    }
    memcpy(r->line + r->line_len, p, copy);
    r->line_len += copy;
    if (!lf)
        return (ssize_t)take;
    size_t ll = r->line_len;
    if (ll && r->line[ll - 1] == '\r')
        ll--;
    int rc = on_line(r, r->line, ll);
    r->line_len = 0;
    r->line_overflow = 0;
    return rc ? -1 : (ssize_t)take;
}

static size_t take_body(struct resp *r, const char *p, size_t n)
{
    size_t take = n;
    if (r->state != RESP_ST_BODY_EOF && take > r->remaining)
        take = (size_t)r->remaining;
    if (r->keep_body)
        bbuf_add(&r->body, p, take);
    if (r->state == RESP_ST_BODY_EOF)
        return take;
    r->remaining -= take;
    if (r->remaining == 0)
        r->state = r->state == RESP_ST_BODY ? RESP_ST_DONE : RESP_ST_CHUNK_END;
    return take;
}

ssize_t resp_feed(struct resp *r, const char *p, size_t n)
{
    size_t used = 0;
    while (used < n && r->state != RESP_ST_DONE) {
        ssize_t k;
        switch (r->state) {
        case RESP_ST_BODY:
        case RESP_ST_BODY_EOF:
        case RESP_ST_CHUNK_DATA:
            k = (ssize_t)take_body(r, p + used, n - used);
            break;
        default:
            k = take_line(r, p + used, n - used);
            break;
        }
        if (k < 0)
            return -1;
        used += (size_t)k;
    }
    return (ssize_t)used;
}

int resp_eof(struct resp *r)
{
    if (r->state == RESP_ST_BODY_EOF) {
        r->state = RESP_ST_DONE;
        return 0;
    }
    return -1;
}
