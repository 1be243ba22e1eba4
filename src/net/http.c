/*
 * HTTP/1.1 request framing: llhttp 8.1 behind a strict scanner of our own.
 *
 * Every byte goes through two parsers. scan() is a small state machine that checks the framing
 * (request line, header lines, chunked body, trailers) strictly and stops exactly at the end of the
 * head and at the end of the message; llhttp is then given exactly those bytes and must agree: it
 * has to report headers-complete and message-complete at the very same offsets, or the request is
 * refused. The scanner exists because Debian's llhttp 8.1 lets request-smuggling shapes through
 * (DESIGN.md): a bare CR inside a header value ends the line (CVE-2023-30589), obs-fold is joined,
 * "Host : a" is accepted, any two bytes after chunk data are taken as its CRLF, and a bare CR
 * inside a chunk extension ends the chunk-size line. llhttp remains the parser of record: it splits
 * the pieces, tracks keep-alive and upgrades, and decodes chunked bodies.
 *
 * Pipelining uses llhttp's pause: on_message_complete returns HPE_PAUSED, so llhttp_execute() stops
 * right after the message and llhttp_get_error_pos() says where; http_parser_next() resumes it.
 * on_headers_complete pauses too, which lets the head be checked (Host, framing headers, limits)
 * before a single body byte is parsed.
 *
 * Memory: the parser owns three buffers (raw head, string arena, body) that are reset, not freed,
 * between requests, so a connection in its steady state does not allocate.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* llhttp's method enumerators (HTTP_GET, ...) have the same names as ours: include it with its
 * names moved aside. Nothing else of llhttp.h clashes. */
#define HTTP_DELETE  LLHTTP_DELETE
#define HTTP_GET     LLHTTP_GET
#define HTTP_HEAD    LLHTTP_HEAD
#define HTTP_POST    LLHTTP_POST
#define HTTP_PUT     LLHTTP_PUT
#define HTTP_OPTIONS LLHTTP_OPTIONS
#define HTTP_PATCH   LLHTTP_PATCH
#include "llhttp.h"
#undef HTTP_DELETE
#undef HTTP_GET
#undef HTTP_HEAD
#undef HTTP_POST
#undef HTTP_PUT
#undef HTTP_OPTIONS
#undef HTTP_PATCH

#include "regulars/error.h"
#include "regulars/http.h"

#define DEFAULT_MAX_HEADER_BYTES 8192
#define DEFAULT_MAX_BODY_BYTES   65536
#define MAX_CHUNK_EXT_BYTES      256 /* per chunk-size line */
#define MAX_CHUNK_SIZE_DIGITS    16

/* Where scan() is. The states before S_HEAD_END are header lines (of the head, or trailers when
 * in_trailer is set); their bytes count toward max_header_bytes. */
enum scan_state {
    S_START,    /* before the request line; empty lines (CRLF) are skipped */
    S_START_LF, /* CR of an empty line seen */
    S_METHOD,
    S_TARGET_FIRST,
    S_TARGET,
    S_VERSION, /* matching "HTTP/1.0" or "HTTP/1.1" */
    S_LINE_LF, /* CR at the end of a line seen; LF must follow */
    S_LINE,    /* start of a header line, or the blank line */
    S_NAME,
    S_VALUE,
    S_END_LF,   /* CR of the blank line seen */
    S_HEAD_END, /* head scanned; waits for llhttp and head_complete() */
    S_BODY,     /* Content-Length body */
    S_CHUNK_SIZE,
    S_CHUNK_EXT,
    S_CHUNK_SIZE_LF,
    S_CHUNK_DATA,
    S_CHUNK_CR,
    S_CHUNK_LF,
    S_DONE, /* message scanned */
};

enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

struct http_parser {
    llhttp_t ll;
    struct http_limits limits;
    struct http_request req; /* what callers see; pointers into arena/body */

    /* scan() */
    enum scan_state st;
    unsigned ver_idx;      /* position in "HTTP/1.x" */
    unsigned nlines;       /* header lines of the head */
    size_t hdr_bytes;      /* head + trailer bytes, for max_header_bytes */
    uint64_t remaining;    /* bytes left of the Content-Length body or of the chunk */
    uint64_t chunk_size;   /* chunk size being read */
    unsigned chunk_digits; /* hex digits of it */
    size_t ext_bytes;      /* chunk extension bytes on this line */
    uint64_t body_total;   /* sum of the chunk sizes announced so far */
    enum body_mode body_mode;

    /* Storage, reused across requests. */
    struct buf raw;   /* the head as received, from the request line to the blank line */
    struct buf arena; /* target\0 path\0 name\0 value\0 ... (offsets until head end) */
    size_t target_len, path_off, path_len, query_off, query_len;
    uint32_t name_off[HTTP_MAX_HEADERS], value_off[HTTP_MAX_HEADERS];
    int in_field; /* llhttp is inside a header name */

    unsigned started : 1;        /* a byte of this request was scanned */
    unsigned in_trailer : 1;     /* header-line states are reading trailers */
    unsigned ll_head_done : 1;   /* llhttp called on_headers_complete */
    unsigned head_done : 1;      /* the head passed head_complete() */
    unsigned body_seen : 1;      /* a byte after the head was scanned */
    unsigned msg_done : 1;       /* llhttp called on_message_complete */
    unsigned continue_taken : 1; /* http_parser_take_continue() said yes */
    unsigned closed : 1;         /* the last request had no keep-alive: nothing may follow */

    /* The error, sticky: once set, feed() returns it forever. */
    int err_rc;
    int err_status;
    const char *err_code;
    const char *err_msg;
};

/* ---- errors ---------------------------------------------------------------------------------- */

/* Records the first error (later ones are consequences of it) and returns its rg_err. */
static int fail(struct http_parser *p, int status, const char *msg)
{
    if (p->err_status)
        return p->err_rc;
    p->err_status = status;
    p->err_msg = msg;
    switch (status) {
    case 400:
        p->err_rc = RG_EPROTO;
        p->err_code = "bad_request";
        break;
    case 413:
        p->err_rc = RG_ETOOBIG;
        p->err_code = "payload_too_large";
        break;
    case 431:
        p->err_rc = RG_ETOOBIG;
        p->err_code = "headers_too_large";
        break;
    default:
        p->err_rc = RG_ENOMEM;
        p->err_code = "internal";
        break;
    }
    return p->err_rc;
}

static int fail_nomem(struct http_parser *p)
{
    return fail(p, 500, "out of memory");
}

/* A caller's mistake (fed before http_parser_next()), seen while no error is set: a 500 like the
 * others, but RG_EINVAL. */
static int fail_misuse(struct http_parser *p)
{
    fail(p, 500, "request fed before http_parser_next()");
    p->err_rc = RG_EINVAL;
    return p->err_rc;
}

/* ---- byte classes ---------------------------------------------------------------------------- */

/* tchar (RFC 9110 5.6.2): the characters of a method and of a header name. */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Bytes allowed inside a field value or a chunk extension: HT, SP, VCHAR, obs-text (a table, so
 * that the hot loops cost one load per byte). */
static const uint8_t field_byte[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* Bytes of a request-target: visible ASCII, and obs-text that some clients send raw. */
static const uint8_t target_byte[256] = {
    [0x21 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ---- the scanner ----------------------------------------------------------------------------- */

/* One step of scan() in state st on the bytes s[0..n) (n >= 1; in header-line states n is already
 * capped at what max_header_bytes allows). Returns the bytes used (>= 1, or 0 with the state
 * changed) or a negative rg_err. */
static long scan_step(struct http_parser *p, const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t j;

    switch (p->st) {
    case S_START:
        if (c == '\r') {
            p->st = S_START_LF;
            return 1;
        }
        if (!tchar[c])
            return fail(p, 400, "invalid method");
        p->st = S_METHOD;
        return 0; /* S_METHOD scans this byte again */
    case S_START_LF:
    case S_LINE_LF:
        if (c != '\n')
            return fail(p, 400, "bare CR in head");
        p->st = p->st == S_START_LF ? S_START : S_LINE;
        return 1;
    case S_METHOD:
        for (j = 0; j < n && tchar[s[j]]; j++)
            ;
        if (j < n) {
            if (s[j] != ' ')
                return fail(p, 400, "invalid method");
            p->st = S_TARGET_FIRST;
            j++;
        }
        return (long)j;
    case S_TARGET_FIRST:
        if (!target_byte[c])
            return fail(p, 400, "invalid request-target");
        p->st = S_TARGET;
        return 1;
    case S_TARGET:
        for (j = 0; j < n && target_byte[s[j]]; j++)
            ;
        if (j < n) {
            if (s[j] != ' ')
                return fail(p, 400, "invalid request-target");
            p->st = S_VERSION;
            p->ver_idx = 0;
            j++;
        }
        return (long)j;
    case S_VERSION:
        if (p->ver_idx < 7) {
            if (c != "HTTP/1."[p->ver_idx])
                return fail(p, 400, "unsupported HTTP version");
        } else if (p->ver_idx == 7) {
            if (c != '0' && c != '1')
                return fail(p, 400, "unsupported HTTP version");
        } else {
            if (c != '\r')
                return fail(p, 400, "invalid request line");
            p->st = S_LINE_LF;
        }
        p->ver_idx++;
        return 1;
    case S_LINE:
        if (c == '\r') {
            p->st = S_END_LF;
            return 1;
        }
        if (c == ' ' || c == '\t')
            return fail(p, 400, "obs-fold (line starting with white space)");
        if (!tchar[c])
            return fail(p, 400, "invalid header name");
        if (!p->in_trailer && ++p->nlines > HTTP_MAX_HEADERS)
            return fail(p, 431, "too many headers");
        p->st = S_NAME;
        return 1;
    case S_NAME:
        for (j = 0; j < n && tchar[s[j]]; j++)
            ;
        if (j < n) {
            if (s[j] == ' ' || s[j] == '\t')
                return fail(p, 400, "white space before colon");
            if (s[j] != ':')
                return fail(p, 400, "invalid header name");
            p->st = S_VALUE;
            j++;
        }
        return (long)j;
    case S_VALUE:
        for (j = 0; j < n && field_byte[s[j]]; j++)
            ;
        if (j < n) {
            if (s[j] == 0)
                return fail(p, 400, "NUL byte in head");
            if (s[j] == '\n')
                return fail(p, 400, "bare LF in head");
            if (s[j] != '\r')
                return fail(p, 400, "control character in header");
            p->st = S_LINE_LF;
            j++;
        }
        return (long)j;
    case S_END_LF:
        if (c != '\n')
            return fail(p, 400, "bare CR in head");
        p->st = p->in_trailer ? S_DONE : S_HEAD_END;
        return 1;
    case S_BODY:
    case S_CHUNK_DATA:
        j = n < p->remaining ? n : (size_t)p->remaining;
        p->remaining -= j;
        if (!p->remaining)
            p->st = p->st == S_BODY ? S_DONE : S_CHUNK_CR;
        return (long)j;
    case S_CHUNK_SIZE: {
        int v = hexval(c);
        if (v >= 0) {
            if (p->chunk_digits == MAX_CHUNK_SIZE_DIGITS)
                return fail(p, 400, "chunk size too long");
            p->chunk_size = p->chunk_size << 4 | (uint64_t)v;
            p->chunk_digits++;
            return 1;
        }
        if (!p->chunk_digits)
            return fail(p, 400, "invalid chunk size");
        if (c == ';') {
            p->st = S_CHUNK_EXT;
            p->ext_bytes = 0;
        } else if (c == '\r') {
            p->st = S_CHUNK_SIZE_LF;
        } else {
            return fail(p, 400, "invalid chunk size");
        }
        return 1;
    }
    case S_CHUNK_EXT:
        for (j = 0; j < n && field_byte[s[j]]; j++)
            ;
        p->ext_bytes += j;
        if (p->ext_bytes > MAX_CHUNK_EXT_BYTES)
            return fail(p, 400, "chunk extension too long");
        if (j < n) {
            if (s[j] != '\r')
                return fail(p, 400, "invalid chunk extension");
            p->st = S_CHUNK_SIZE_LF;
            j++;
        }
        return (long)j;
    case S_CHUNK_SIZE_LF:
        if (c != '\n')
            return fail(p, 400, "bare CR in chunk size line");
        if (!p->chunk_size) {
            p->in_trailer = 1;
            p->st = S_LINE;
            return 1;
        }
        /* Refused on the size alone, before the chunk's data is read. */
        if (p->chunk_size > p->limits.max_body_bytes - p->body_total)
            return fail(p, 413, "body too large");
        p->body_total += p->chunk_size;
        p->remaining = p->chunk_size;
        p->chunk_size = 0;
        p->chunk_digits = 0;
        p->st = S_CHUNK_DATA;
        return 1;
    case S_CHUNK_CR:
        if (c != '\r')
            return fail(p, 400, "missing CRLF after chunk data");
        p->st = S_CHUNK_LF;
        return 1;
    case S_CHUNK_LF:
        if (c != '\n')
            return fail(p, 400, "missing CRLF after chunk data");
        p->st = S_CHUNK_SIZE;
        return 1;
    case S_HEAD_END:
    case S_DONE:
        break;
    }
    return 0;
}

/* Scans s[0..len), stopping early at the end of the head (S_HEAD_END) and of the message (S_DONE).
 * Sets *used to the bytes scanned; head bytes are also copied to p->raw. Returns 0 or a negative
 * rg_err. Linear in len: every step consumes bytes or changes state. */
static int scan(struct http_parser *p, const char *data, size_t len, size_t *used)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t i = 0, copy_from = SIZE_MAX;
    int rc = 0;

    if (p->st >= S_METHOD && p->st < S_HEAD_END && !p->in_trailer)
        copy_from = 0;
    if (len)
        p->started = 1;
    while (i < len && p->st != S_HEAD_END && p->st != S_DONE) {
        size_t n = len - i;
        int counted = p->st < S_HEAD_END;
        if (counted) {
            if (p->hdr_bytes >= p->limits.max_header_bytes) {
                rc = fail(p, 431, "request head too large");
                break;
            }
            if (n > p->limits.max_header_bytes - p->hdr_bytes)
                n = p->limits.max_header_bytes - p->hdr_bytes;
        } else {
            p->body_seen = 1;
        }
        if (p->st == S_START && copy_from == SIZE_MAX && s[i] != '\r')
            copy_from = i;
        long k = scan_step(p, s + i, n);
        if (k < 0) {
            rc = (int)k;
            break;
        }
        i += (size_t)k;
        if (counted)
            p->hdr_bytes += (size_t)k;
    }
    if (copy_from != SIZE_MAX && i > copy_from && !p->in_trailer) {
        if (buf_append(&p->raw, data + copy_from, i - copy_from) && !rc)
            rc = fail_nomem(p);
    }
    *used = i;
    return rc;
}

/* ---- llhttp callbacks ------------------------------------------------------------------------ */

/* The pieces are copied into p->arena as llhttp hands them over (the caller's buffer is not kept).
 * Offsets, not pointers, are recorded because the arena may move while it grows; the pointers are
 * set once the head is complete. Trailers (after the head) are not stored. */

static int arena_put(struct http_parser *p, const char *at, size_t n)
{
    if (buf_append(&p->arena, at, n)) {
        fail_nomem(p);
        return -1;
    }
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    p->target_len += n;
    return arena_put(p, at, n);
}

/* target\0 is in the arena; add path\0 and note where the query starts. */
static int on_url_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    if (arena_put(p, "", 1))
        return -1;
    const char *q = memchr(p->arena.data, '?', p->target_len);
    p->path_len = q ? (size_t)(q - p->arena.data) : p->target_len;
    p->query_off = q ? p->path_len + 1 : p->target_len; /* else the target's NUL: "" */
    p->query_len = p->target_len - p->query_off;
    p->path_off = p->arena.len;
    /* Reserve first: the copy's source is the arena itself. */
    if (buf_reserve(&p->arena, p->path_len + 1)) {
        fail_nomem(p);
        return -1;
    }
    buf_append(&p->arena, p->arena.data, p->path_len);
    return arena_put(p, "", 1);
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    if (p->ll_head_done)
        return 0;
    if (!p->in_field) {
        if (p->req.nheaders == HTTP_MAX_HEADERS) {
            fail(p, 431, "too many headers");
            return -1;
        }
        p->in_field = 1;
        p->name_off[p->req.nheaders] = (uint32_t)p->arena.len;
    }
    return arena_put(p, at, n);
}

static int on_header_field_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    if (p->ll_head_done)
        return 0;
    struct http_header *h = &p->req.headers[p->req.nheaders];
    h->name_len = p->arena.len - p->name_off[p->req.nheaders];
    p->in_field = 0;
    if (arena_put(p, "", 1))
        return -1;
    p->value_off[p->req.nheaders] = (uint32_t)p->arena.len;
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    if (p->ll_head_done)
        return 0;
    return arena_put(p, at, n);
}

/* Ends a header: its value is trimmed of SP/HT at both ends and NUL-terminated. */
static int on_header_value_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    if (p->ll_head_done)
        return 0;
    size_t k = p->req.nheaders;
    size_t start = p->value_off[k], end = p->arena.len;
    if (arena_put(p, "", 1))
        return -1;
    char *a = p->arena.data;
    while (start < end && (a[start] == ' ' || a[start] == '\t'))
        start++;
    while (end > start && (a[end - 1] == ' ' || a[end - 1] == '\t'))
        end--;
    a[end] = '\0';
    p->value_off[k] = (uint32_t)start;
    p->req.headers[k].value_len = end - start;
    p->req.nheaders++;
    return 0;
}

/* Pauses so that feed() can check the head before any of the body is parsed. */
static int on_headers_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    p->ll_head_done = 1;
    return HPE_PAUSED;
}

static int on_body(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    /* scan() has enforced the limit already; this is the belt to its braces. */
    if (n > p->limits.max_body_bytes - p->req.body.len) {
        fail(p, 413, "body too large");
        return -1;
    }
    if (buf_append(&p->req.body, at, n)) {
        fail_nomem(p);
        return -1;
    }
    return 0;
}

/* Pauses after each message (pipelining). Not for an upgrade: llhttp then pauses by itself with
 * HPE_PAUSED_UPGRADE at the same place, and a pause here would only delay that. */
static int on_message_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    p->msg_done = 1;
    p->req.keep_alive = llhttp_should_keep_alive(ll);
    return ll->upgrade ? 0 : HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the head -------------------------------------------------------------------------------- */

static int name_is(const struct http_header *h, const char *name, size_t len)
{
    return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

static int value_is(const struct http_header *h, const char *v, size_t len)
{
    return h->value_len == len && strncasecmp(h->value, v, len) == 0;
}

/* Whether a comma-separated list contains token (case-insensitive). */
static int has_token(const char *s, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t start = i;
        while (i < len && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp(s + start, token, tlen) == 0)
            return 1;
    }
    return 0;
}

/* 1*DIGIT, at most 18 of them (fits int64_t). Returns -1 when not a valid Content-Length. */
static int64_t parse_length(const char *s, size_t len)
{
    if (!len || len > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static enum http_method map_method(uint8_t m)
{
    switch (m) {
    case LLHTTP_GET:
        return HTTP_GET;
    case LLHTTP_HEAD:
        return HTTP_HEAD;
    case LLHTTP_POST:
        return HTTP_POST;
    case LLHTTP_PUT:
        return HTTP_PUT;
    case LLHTTP_PATCH:
        return HTTP_PATCH;
    case LLHTTP_DELETE:
        return HTTP_DELETE;
    case LLHTTP_OPTIONS:
        return HTTP_OPTIONS;
    default:
        return HTTP_OTHER;
    }
}

/* Runs once llhttp and scan() agree that the head ended: fills in the request, checks what llhttp
 * does not (Host, framing headers, limits) and sets the scanner up for the body. */
static int head_complete(struct http_parser *p)
{
    struct http_request *r = &p->req;
    char *a = p->arena.data;
    const struct http_header *upgrade = NULL;
    int nhost = 0, ncl = 0, nte = 0, te_ok = 1;
    int64_t cl = -1;

    r->target = a;
    r->target_len = p->target_len;
    r->path = a + p->path_off;
    r->path_len = p->path_len;
    r->query = a + p->query_off;
    r->query_len = p->query_len;
    r->http_major = p->ll.http_major;
    r->http_minor = p->ll.http_minor;
    r->method = map_method(p->ll.method);
    r->method_name = llhttp_method_name((llhttp_method_t)p->ll.method);
    r->head_bytes = p->raw.len;

    for (size_t i = 0; i < r->nheaders; i++) {
        struct http_header *h = &r->headers[i];
        h->name = a + p->name_off[i];
        h->value = a + p->value_off[i];
        switch (h->name_len) {
        case 4:
            nhost += name_is(h, "host", 4);
            break;
        case 6:
            if (name_is(h, "expect", 6) && value_is(h, "100-continue", 12))
                r->expect_continue = 1;
            break;
        case 7:
            if (name_is(h, "upgrade", 7))
                upgrade = h;
            break;
        case 14:
            if (name_is(h, "content-length", 14)) {
                ncl++;
                cl = parse_length(h->value, h->value_len);
                if (cl < 0)
                    return fail(p, 400, "invalid Content-Length");
            }
            break;
        case 17:
            if (name_is(h, "transfer-encoding", 17)) {
                nte++;
                te_ok &= value_is(h, "chunked", 7);
            }
            break;
        }
    }

    if (r->http_major != 1 || r->http_minor > 1)
        return fail(p, 400, "unsupported HTTP version");
    if (r->http_minor == 1 && nhost == 0)
        return fail(p, 400, "missing Host");
    if (nhost > 1)
        return fail(p, 400, "repeated Host");
    if (ncl > 1)
        return fail(p, 400, "repeated Content-Length");
    if (nte && ncl)
        return fail(p, 400, "Content-Length with Transfer-Encoding");
    if (nte > 1 || !te_ok)
        return fail(p, 400, "unsupported Transfer-Encoding");
    if (nte && r->http_minor == 0)
        return fail(p, 400, "Transfer-Encoding in HTTP/1.0");

    p->body_mode = nte ? BODY_CHUNKED : cl > 0 ? BODY_LENGTH : BODY_NONE;
    /* llhttp takes a CONNECT as the end of HTTP on this connection whatever its headers say. */
    if (p->ll.method == HTTP_CONNECT && p->body_mode != BODY_NONE)
        return fail(p, 400, "CONNECT with a body");
    /* A body on GET/HEAD has no meaning, and accepting one is how "CL.0" desyncs start. */
    if ((r->method == HTTP_GET || r->method == HTTP_HEAD) && p->body_mode != BODY_NONE)
        return fail(p, 400, "body not allowed on GET/HEAD");
    if (p->ll.upgrade && p->ll.method != HTTP_CONNECT && upgrade &&
        has_token(upgrade->value, upgrade->value_len, "websocket")) {
        if (p->body_mode != BODY_NONE)
            return fail(p, 400, "upgrade request with a body");
        r->upgrade = 1;
    }
    if (cl > 0 && (uint64_t)cl > p->limits.max_body_bytes)
        return fail(p, 413, "body too large");

    r->content_length = cl;
    r->keep_alive = llhttp_should_keep_alive(&p->ll);
    if (p->body_mode == BODY_LENGTH && buf_reserve(&r->body, (size_t)cl))
        return fail_nomem(p);
    p->head_done = 1;
    switch (p->body_mode) {
    case BODY_NONE:
        p->st = S_DONE;
        break;
    case BODY_LENGTH:
        p->remaining = (uint64_t)cl;
        p->st = S_BODY;
        break;
    case BODY_CHUNKED:
        p->st = S_CHUNK_SIZE;
        break;
    }
    return 0;
}

/* ---- the parser ------------------------------------------------------------------------------ */

/* Forgets the request (keeping the buffers' memory) and sets the scanner to a new one. */
static void request_reset(struct http_parser *p)
{
    struct http_request *r = &p->req;
    p->st = S_START;
    p->ver_idx = 0;
    p->nlines = 0;
    p->hdr_bytes = 0;
    p->remaining = 0;
    p->chunk_size = 0;
    p->chunk_digits = 0;
    p->ext_bytes = 0;
    p->body_total = 0;
    p->body_mode = BODY_NONE;
    buf_reset(&p->raw);
    buf_reset(&p->arena);
    p->target_len = p->path_off = p->path_len = p->query_off = p->query_len = 0;
    p->in_field = 0;
    p->started = p->in_trailer = p->ll_head_done = p->head_done = 0;
    p->body_seen = p->msg_done = p->continue_taken = 0;

    r->method = HTTP_OTHER;
    r->method_name = "OTHER";
    r->target = r->path = r->query = "";
    r->target_len = r->path_len = r->query_len = 0;
    r->http_major = r->http_minor = 0;
    r->nheaders = 0;
    buf_reset(&r->body);
    r->keep_alive = 0;
    r->upgrade = 0;
    r->expect_continue = 0;
    r->content_length = -1;
    r->head_bytes = 0;
}

struct http_parser *http_parser_new(const struct http_limits *limits)
{
    struct http_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->limits.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    p->limits.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    if (limits) {
        if (limits->max_header_bytes)
            p->limits.max_header_bytes = limits->max_header_bytes;
        p->limits.max_body_bytes = limits->max_body_bytes;
    }
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ll.data = p;
    buf_init(&p->raw);
    buf_init(&p->arena);
    buf_init(&p->req.body);
    request_reset(p);
    return p;
}

void http_parser_free(struct http_parser *p)
{
    if (!p)
        return;
    buf_fini(&p->raw);
    buf_fini(&p->arena);
    buf_fini(&p->req.body);
    free(p);
}

/* llhttp's reasons are short static strings ("Invalid method encountered"). */
static const char *bad_request_reason(const llhttp_t *ll)
{
    const char *r = llhttp_get_error_reason(ll);
    return r && *r ? r : "malformed request";
}

/* The scanner and llhttp disagree on where something ends: refuse rather than guess. */
static int mismatch(struct http_parser *p)
{
    return fail(p, 400, "ambiguous message framing");
}

int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t off = 0;

    *consumed = 0;
    if (p->err_status)
        return p->err_rc;
    if (p->msg_done)
        return fail_misuse(p);
    /* llhttp 8.1 would swallow these bytes silently; say what happened instead. */
    if (p->closed && len)
        return fail(p, 400, "request after Connection: close");
    if (!data)
        data = "";
    for (;;) {
        size_t n;
        int rc = scan(p, data + off, len - off, &n);
        if (rc)
            return rc;
        /* llhttp sees only what the scanner accepted, and nothing past the head or the message, so
         * that it pauses exactly where the scanner stopped. */
        llhttp_errno_t e = llhttp_execute(&p->ll, data + off, n);
        if (p->err_status) /* set by one of our callbacks */
            return p->err_rc;
        if (e == HPE_OK) {
            if (p->st == S_HEAD_END || p->st == S_DONE)
                return mismatch(p);
            off += n;
            if (off == len) {
                *consumed = len;
                return HTTP_NEED_MORE;
            }
            continue;
        }
        size_t pos = (size_t)(llhttp_get_error_pos(&p->ll) - data);
        if (e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE)
            return fail(p, 400, bad_request_reason(&p->ll));
        if (p->msg_done) {
            if (p->st != S_DONE || pos != off + n)
                return mismatch(p);
            *consumed = pos;
            return p->req.upgrade ? HTTP_UPGRADE : HTTP_DONE;
        }
        if (e != HPE_PAUSED || !p->ll_head_done || p->head_done || p->st != S_HEAD_END ||
            pos != off + n)
            return mismatch(p);
        if ((rc = head_complete(p)))
            return rc;
        llhttp_resume(&p->ll);
        /* Go round even when no byte is left: a message without a body completes now. */
        off = pos;
    }
}

int http_parser_take_continue(struct http_parser *p)
{
    if (!p->head_done || p->msg_done || p->err_status || !p->req.expect_continue ||
        p->continue_taken || p->body_seen || p->body_mode == BODY_NONE)
        return 0;
    p->continue_taken = 1;
    return 1;
}

int http_parser_in_request(const struct http_parser *p)
{
    return p->started && !p->msg_done;
}

int http_parser_headers_done(const struct http_parser *p)
{
    return p->head_done;
}

const struct http_request *http_parser_request(const struct http_parser *p)
{
    return &p->req;
}

const char *http_parser_raw_head(const struct http_parser *p, size_t *len)
{
    *len = p->raw.len;
    return p->raw.data ? p->raw.data : "";
}

void http_parser_error(const struct http_parser *p, int *status, const char **code,
                       const char **message)
{
    *status = p->err_status;
    *code = p->err_status ? p->err_code : "";
    *message = p->err_status ? p->err_msg : "";
}

void http_parser_next(struct http_parser *p)
{
    /* After an error the stream cannot be trusted any more: nothing resets it. */
    if (p->err_status)
        return;
    if (p->msg_done) {
        p->closed = !p->req.keep_alive;
        llhttp_resume(&p->ll);               /* after HPE_PAUSED */
        llhttp_resume_after_upgrade(&p->ll); /* after an upgrade we did not take */
    } else if (p->started) {
        llhttp_reset(&p->ll); /* a request abandoned halfway */
    }
    request_reset(p);
}

/* ---- request helpers ------------------------------------------------------------------------- */

const char *http_request_header(const struct http_request *req, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len == nlen && strncasecmp(h->name, name, nlen) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

/* Decodes one byte of a form-encoded component at s[*i] ('+' is a space, %XX a byte) and advances
 * *i. Returns the byte, or -1 for a malformed escape. */
static int form_byte(const char *s, size_t len, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    if (c == '+') {
        (*i)++;
        return ' ';
    }
    if (c != '%') {
        (*i)++;
        return c;
    }
    if (*i + 2 >= len)
        return -1;
    int hi = hexval((unsigned char)s[*i + 1]), lo = hexval((unsigned char)s[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    return hi << 4 | lo;
}

/* Whether the encoded key s[0..len) decodes to name. */
static int form_key_is(const char *s, size_t len, const char *name)
{
    size_t i = 0, j = 0;
    while (i < len) {
        int c = form_byte(s, len, &i);
        if (c < 0 || name[j] == '\0' || (unsigned char)name[j] != c)
            return 0;
        j++;
    }
    return name[j] == '\0';
}

int http_query_param(const struct http_request *req, const char *name, char *out, size_t outsz)
{
    const char *q = req->query, *end = req->query + req->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *seg_end = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(seg_end - q));
        const char *key_end = eq ? eq : seg_end;
        if (key_end > q && form_key_is(q, (size_t)(key_end - q), name)) {
            const char *v = eq ? eq + 1 : seg_end;
            size_t vlen = (size_t)(seg_end - v), i = 0, n = 0;
            while (i < vlen) {
                int c = form_byte(v, vlen, &i);
                /* A NUL would cut the C string short: refuse it like a bad escape. */
                if (c <= 0 || n + 1 >= outsz)
                    return -1;
                out[n++] = (char)c;
            }
            if (n >= outsz)
                return -1;
            out[n] = '\0';
            return (int)n;
        }
        q = seg_end + 1;
    }
    return -1;
}

/* ---- responses ------------------------------------------------------------------------------- */

const char *http_status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

/* The IMF-fixdate of now ("Sun, 06 Nov 1994 08:49:37 GMT", 29 bytes), formatted at most once a
 * second per thread: every response carries it. */
static const char *http_date(void)
{
    static const char wday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static _Thread_local time_t cached = (time_t)-1;
    static _Thread_local char date[64];
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[tm.tm_wday % 7],
                 tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        cached = now;
    }
    return date;
}

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static char *put_uint(char *w, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = tmp[--n];
    return w;
}

int http_write_head(struct buf *out, int status, const char *ctype, size_t content_length,
                    int keep_alive, const char *extra)
{
    const char *reason = http_status_reason(status);
    const char *date = http_date();
    size_t rlen = strlen(reason), dlen = strlen(date);
    size_t clen = ctype ? strlen(ctype) : 0, xlen = extra ? strlen(extra) : 0;
    int interim = status >= 100 && status < 200;

    if (buf_reserve(out, 160 + rlen + dlen + clen + xlen))
        return RG_ENOMEM;
    char *w = out->data + out->len;
    w = PUT_LIT(w, "HTTP/1.1 ");
    w = put_uint(w, (uint64_t)(status < 0 ? 0 : status));
    *w++ = ' ';
    w = put(w, reason, rlen);
    w = PUT_LIT(w, "\r\n");
    /* An interim response (100 Continue, 101) is only its status line and the extra lines. */
    if (!interim) {
        w = PUT_LIT(w, "Date: ");
        w = put(w, date, dlen);
        w = PUT_LIT(w, "\r\nServer: regulars\r\n");
        if (ctype) {
            w = PUT_LIT(w, "Content-Type: ");
            w = put(w, ctype, clen);
            w = PUT_LIT(w, "\r\n");
        }
        /* RFC 9110 8.6: no Content-Length on a 204, nor a wrong one (0) on a 304. */
        if (status != 204 && status != 304) {
            w = PUT_LIT(w, "Content-Length: ");
            w = put_uint(w, content_length);
            w = PUT_LIT(w, "\r\n");
        }
        w = keep_alive ? PUT_LIT(w, "Connection: keep-alive\r\n")
                       : PUT_LIT(w, "Connection: close\r\n");
    }
    if (xlen)
        w = put(w, extra, xlen);
    w = PUT_LIT(w, "\r\n");
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
}
