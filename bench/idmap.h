/*
 * A string -> uint32 hash map for ids (user ids, purchase ids): open addressing, keys of at
 * most IDMAP_KEY_MAX - 1 bytes stored inline. idmap_init() on caller storage, idmap_fini().
 */
#ifndef BENCH_IDMAP_H
#define BENCH_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define IDMAP_KEY_MAX 32

struct idmap_slot {
    char key[IDMAP_KEY_MAX]; /* NUL-terminated; "" = empty slot */
    uint32_t val;            /* the value */
};

struct idmap {
    struct idmap_slot *slots; /* cap slots */
    size_t cap;               /* a power of two */
    size_t n;                 /* keys stored */
};

/** Empties m. */
void idmap_init(struct idmap *m);
/** Frees m's storage. */
void idmap_fini(struct idmap *m);
/** Stores key -> val (replacing). Returns 0, or -1 when the key is empty or too long. */
int idmap_put(struct idmap *m, const char *key, size_t len, uint32_t val);
/** Finds key. Returns 1 and sets *val, or 0 when absent. */
int idmap_get(const struct idmap *m, const char *key, size_t len, uint32_t *val);

#endif
