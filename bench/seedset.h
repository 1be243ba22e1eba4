/*
 * The principals of a bench data set, as POST /bench/seed lists them (one JSON object per
 * line: {"kind": "user" | "merchant", "id", "secret"}), in creation order. Users keep their
 * order because the seeded friend graph is a ring over it: user i's friends are mostly users
 * i +- 1 .. i +- friends_per_user / 2.
 * seedset_init() on caller storage, seedset_fini() frees.
 */
#ifndef BENCH_SEEDSET_H
#define BENCH_SEEDSET_H

#include <stddef.h>
#include <stdint.h>

#include "idmap.h"

struct principal {
    char id[24];     /* "u_..." or "m_..." */
    char secret[64]; /* bearer secret */
};

struct seedset {
    struct principal *users;     /* in creation order */
    uint32_t nusers;             /* number of users */
    struct principal *merchants; /* in creation order */
    uint32_t nmerchants;         /* number of merchants */
    struct idmap user_index;     /* user id -> index in users */
};

/** Empties s. */
void seedset_init(struct seedset *s);
/** Frees s. */
void seedset_fini(struct seedset *s);
/** Parses ndjson text (n bytes) into s (appending). Returns principals read, or -1 with a
 *  message on stderr at the first malformed line. */
int seedset_parse(struct seedset *s, const char *text, size_t n);
/** Reads an ndjson file into s. Returns principals read, or -1. */
int seedset_load(struct seedset *s, const char *path);
/** Writes ndjson text to path. Returns 0 or -1. */
int seedset_save(const char *path, const char *text, size_t n);

#endif
