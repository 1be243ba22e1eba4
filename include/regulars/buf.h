/*
 * A growable byte buffer (after lwan's strbuf). The struct lives in caller storage
 * (buf_init/buf_fini); the bytes are heap-owned by the buffer. data is always
 * NUL-terminated when len > 0 or after any append, so it can be used as a C string.
 *
 * Every append returns its status, and the first failure also stays in err (like ferror) so
 * that code writing many pieces can check once at the end.
 */
#ifndef REGULARS_BUF_H
#define REGULARS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* bytes, NUL-terminated past len; NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated (excluding the terminator's slot) */
    int err;    /* first failed append's rg_err (RG_ENOMEM), 0 until then; buf_reset clears it */
};

/** Initialises an empty buffer; allocates nothing. */
void buf_init(struct buf *b);
/** Frees the bytes; the buffer is empty and reusable afterwards. */
void buf_fini(struct buf *b);
/** Ensures room for extra more bytes. Returns 0 or RG_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/** Appends n bytes. Returns 0 or RG_ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
/** Appends a C string. Returns 0 or RG_ENOMEM. */
int buf_puts(struct buf *b, const char *s);
/** Appends printf-formatted text. Returns 0 or RG_ENOMEM. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Drops the first n bytes (n <= len), keeping the rest. */
void buf_consume(struct buf *b, size_t n);
/** Empties the buffer, keeping its allocation, and clears err. */
void buf_reset(struct buf *b);
/** Takes the bytes out of the buffer (caller frees); the buffer becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
