/*
 * JSON text encoding (see jsontext.h): jansson's compact output without its per-value
 * snprintf and cycle-check hashtable. Our trees are built by our own code and never contain
 * cycles, so the only recursion limit needed is a depth bound against a bug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regulars/error.h"
#include "regulars/jsontext.h"
#include "regulars/utf8.h"

#define DEPTH_MAX 64 /* far deeper than any answer we build */

/* Bytes that may be copied into a string literal as they are: printable ASCII but '"' and
 * '\\'. Bytes >= 0x80 are copied too once the UTF-8 they belong to has been checked. */
static int plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\' && c < 0x80;
}

int jsontext_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    /* Worst case every byte becomes \u00XX; reserving it up front keeps the loop free of
     * allocation checks. */
    if (buf_reserve(b, len * 6 + 2))
        return RG_ENOMEM;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (plain(c)) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            int n = utf8_decode(s + i, len - i, &cp);
            if (n < 0) {
                b->data[b->len] = '\0'; /* b->len unchanged: nothing half-written shows */
                if (!b->err)
                    b->err = RG_EINVAL;
                return RG_EINVAL;
            }
            memcpy(o, s + i, (size_t)n);
            o += n;
            i += (size_t)n;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
            break;
        }
        i++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int jsontext_int(struct buf *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    /* Work on the magnitude as unsigned so that INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int jsontext_real(struct buf *b, double v)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof(tmp) - 3)
        return RG_EINVAL;
    /* Keep it a real when read back: "1" becomes "1.0", as jansson does. */
    if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
        memcpy(tmp + n, ".0", 3);
        n += 2;
    }
    /* jansson drops a '+' and leading zeros from the exponent: 1e+20 -> 1e20. */
    char *e = strchr(tmp, 'e');
    if (e) {
        char *start = e + 1, *digits = e + 2;
        if (*start == '-')
            start++;
        while (*digits == '0')
            digits++;
        if (digits != start) {
            memmove(start, digits, (size_t)(tmp + n - digits) + 1);
            n -= (int)(digits - start);
        }
    }
    return buf_append(b, tmp, (size_t)n);
}

/* ---- values ----------------------------------------------------------------------------- */

struct key {
    const char *s;
    size_t len;
    json_t *value;
};

/* jansson's JSON_SORT_KEYS order: bytes, then length. */
static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->s, y->s, n);
    if (r)
        return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int dump(struct buf *b, json_t *v, unsigned flags, int depth);

static int dump_member(struct buf *b, const char *key, size_t len, json_t *value, int first,
                       unsigned flags, int depth)
{
    int rc;
    if (!first && (rc = buf_append(b, ",", 1)))
        return rc;
    if ((rc = jsontext_string(b, key, len)) || (rc = buf_append(b, ":", 1)))
        return rc;
    return dump(b, value, flags, depth + 1);
}

static int dump_object(struct buf *b, json_t *v, unsigned flags, int depth)
{
    int rc;
    size_t n = json_object_size(v);
    if ((rc = buf_append(b, "{", 1)))
        return rc;
    if (!(flags & JSONTEXT_SORT_KEYS) || n < 2) {
        int first = 1;
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            if ((rc = dump_member(b, json_object_iter_key(it), json_object_iter_key_len(it),
                                  json_object_iter_value(it), first, flags, depth)))
                return rc;
            first = 0;
        }
        return buf_append(b, "}", 1);
    }
    struct key *keys = malloc(n * sizeof(*keys));
    if (!keys)
        return RG_ENOMEM;
    size_t i = 0;
    for (void *it = json_object_iter(v); it && i < n; it = json_object_iter_next(v, it), i++)
        keys[i] = (struct key){json_object_iter_key(it), json_object_iter_key_len(it),
                               json_object_iter_value(it)};
    qsort(keys, i, sizeof(*keys), key_cmp);
    rc = 0;
    for (size_t j = 0; j < i && !rc; j++)
        rc = dump_member(b, keys[j].s, keys[j].len, keys[j].value, j == 0, flags, depth);
    free(keys);
    return rc ? rc : buf_append(b, "}", 1);
}

static int dump_array(struct buf *b, json_t *v, unsigned flags, int depth)
{
    int rc;
    size_t n = json_array_size(v);
    if ((rc = buf_append(b, "[", 1)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (i && (rc = buf_append(b, ",", 1)))
            return rc;
        if ((rc = dump(b, json_array_get(v, i), flags, depth + 1)))
            return rc;
    }
    return buf_append(b, "]", 1);
}

static int dump(struct buf *b, json_t *v, unsigned flags, int depth)
{
    if (!v || depth > DEPTH_MAX)
        return RG_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return dump_object(b, v, flags, depth);
    case JSON_ARRAY:
        return dump_array(b, v, flags, depth);
    case JSON_STRING:
        return jsontext_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return jsontext_int(b, json_integer_value(v));
    case JSON_REAL:
        return jsontext_real(b, json_real_value(v));
    case JSON_TRUE:
        return buf_append(b, "true", 4);
    case JSON_FALSE:
        return buf_append(b, "false", 5);
    case JSON_NULL:
        return buf_append(b, "null", 4);
    }
    return RG_EINVAL;
}

int jsontext_dump(struct buf *b, const json_t *v, unsigned flags)
{
    size_t start = b->len;
    /* jansson's accessors take non-const pointers but only read. */
    int rc = dump(b, (json_t *)v, flags, 0);
    if (rc) {
        /* Nothing half-written stays behind. */
        if (b->data) {
            b->len = start;
            b->data[start] = '\0';
        }
        if (!b->err)
            b->err = rc;
    }
    return rc;
}
