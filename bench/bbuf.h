/*
 * A growable byte buffer for the bench tools (bodies, requests, report text). Always
 * NUL-terminated after len bytes once anything was appended. bbuf_init() on caller storage,
 * bbuf_fini() frees. Allocation failure aborts: a load generator that runs out of memory has
 * no useful way to go on.
 */
#ifndef BENCH_BBUF_H
#define BENCH_BBUF_H

#include <stddef.h>

struct bbuf {
    char *data; /* bytes, NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
};

/** Empties b (no allocation). */
void bbuf_init(struct bbuf *b);
/** Frees b's storage and empties it. */
void bbuf_fini(struct bbuf *b);
/** Appends n bytes. */
void bbuf_add(struct bbuf *b, const void *p, size_t n);
/** Appends a NUL-terminated string. */
void bbuf_adds(struct bbuf *b, const char *s);
/** Appends printf-formatted text. */
void bbuf_printf(struct bbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Forgets the content, keeps the storage. */
void bbuf_reset(struct bbuf *b);

#endif
