/* Growable byte buffer: see bbuf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbuf.h"

void bbuf_init(struct bbuf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void bbuf_fini(struct bbuf *b)
{
    free(b->data);
    bbuf_init(b);
}

static void reserve(struct bbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        fprintf(stderr, "regulars-bench: out of memory\n");
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void bbuf_add(struct bbuf *b, const void *p, size_t n)
{
    reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void bbuf_adds(struct bbuf *b, const char *s)
{
    bbuf_add(b, s, strlen(s));
}

void bbuf_printf(struct bbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void bbuf_reset(struct bbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
