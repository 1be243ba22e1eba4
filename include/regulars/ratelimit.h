/*
 * Token buckets per key (a client address, a secret's hash): `rate` requests per second with
 * a burst of one second's worth. A fixed-size open-addressing table, so a flood of new keys
 * costs no memory: a full probe window recycles its stalest bucket. Loop thread only.
 */
#ifndef REGULARS_RATELIMIT_H
#define REGULARS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 65536 /* power of two */

struct ratelimit_slot {
    uint64_t key;    /* hash of the key; 0 = empty */
    double tokens;   /* requests left */
    uint64_t last_ms; /* last refill */
};

struct ratelimit {
    unsigned rate; /* per second; 0 = unlimited */
    struct ratelimit_slot *slots;
};

/** Sets up a limiter (allocates the table when rate > 0). Returns 0 or RG_ENOMEM. */
int ratelimit_init(struct ratelimit *rl, unsigned rate);
void ratelimit_fini(struct ratelimit *rl);
/** Takes one token for key (len bytes) at now_ms. Returns 0 when allowed, or the seconds to
 *  wait (>= 1, for Retry-After) when the bucket is empty. */
unsigned ratelimit_take(struct ratelimit *rl, const void *key, size_t len, uint64_t now_ms);

#endif
