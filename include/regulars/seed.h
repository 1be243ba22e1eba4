/*
 * Bench data (POST /bench/seed): users, merchants and a friend graph, deterministic for a
 * given seed (the structure and names; secrets are random and reported through emit).
 * The graph is Watts-Strogatz small-world: a ring where each user knows the
 * friends_per_user/2 next users, each edge rewired to a random user with probability 1/10.
 * Cost: per user 1 users_create (~6 puts); per friendship 1 get + 2 puts; per user 1 account
 * rewrite for its friend count. 100,000 users x 20 friends is ~4.5 million operations in one
 * write txn.
 */
#ifndef REGULARS_SEED_H
#define REGULARS_SEED_H

#include <stdint.h>

#include "regulars/store.h"

#define SEED_MAX_USERS 1000000
#define SEED_MAX_MERCHANTS 10000
#define SEED_MAX_FRIENDS 200

struct seed_params {
    uint64_t users;
    uint64_t merchants;
    uint64_t friends_per_user; /* average degree */
    uint64_t seed;
};

/* Called once per principal created, in creation order. Non-zero stops the run. */
typedef int (*seed_emit_fn)(void *ctx, int kind, uint64_t id, const char *secret);

/** Creates the data set in tx. Returns 0 or an rg_err. Writer thread. */
int seed_run(struct store_tx *tx, const struct seed_params *p, int64_t now, seed_emit_fn emit,
             void *ctx);

#endif
