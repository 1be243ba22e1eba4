#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regulars/buf.h"
#include "regulars/error.h"

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = 0;
}

void buf_fini(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra <= b->cap && b->data)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap + 1);
    if (!p) {
        if (!b->err)
            b->err = RG_ENOMEM;
        return RG_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return RG_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        va_end(ap);
        return RG_EINVAL;
    }
    if ((size_t)n < sizeof(tmp)) {
        va_end(ap);
        return buf_append(b, tmp, (size_t)n);
    }
    if (buf_reserve(b, (size_t)n)) {
        va_end(ap);
        return RG_ENOMEM;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return p;
}
