/* Deterministic bench data: see seed.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regulars/error.h"
#include "regulars/merchants.h"
#include "regulars/model.h"
#include "regulars/secrets.h"
#include "regulars/seed.h"
#include "regulars/users.h"

/* splitmix64: small, fast, and the same sequence everywhere for a seed. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Links a and b as friends unless they already are. Returns 1 when linked. */
static int link_pair(struct store_tx *tx, uint64_t a, uint64_t b, int64_t now)
{
    struct skey k;
    MDB_val v;
    skey_make2(&k, a, b);
    int rc = store_get(tx, DB_FRIENDS, &k, &v);
    if (rc == 0)
        return 0;
    if (rc != RG_ENOTFOUND)
        return rc;
    struct rg_friend_edge e = {now};
    if ((rc = store_put(tx, DB_FRIENDS, &k, &e, sizeof(e), 0)))
        return rc;
    skey_make2(&k, b, a);
    if ((rc = store_put(tx, DB_FRIENDS, &k, &e, sizeof(e), 0)))
        return rc;
    return 1;
}

int seed_run(struct store_tx *tx, const struct seed_params *p, int64_t now, seed_emit_fn emit,
             void *ctx)
{
    int rc = 0;
    uint64_t rnd = p->seed;
    uint64_t *ids = calloc(p->users ? p->users : 1, sizeof(*ids));
    uint32_t *degree = calloc(p->users ? p->users : 1, sizeof(*degree));
    if (!ids || !degree) {
        rc = RG_ENOMEM;
        goto out;
    }
    char secret[SECRETS_MAX], name[64];
    unsigned char hash[32];
    for (uint64_t i = 0; i < p->users; i++) {
        struct rg_user u;
        snprintf(name, sizeof(name), "User %llu", (unsigned long long)i + 1);
        if ((rc = secrets_generate(SECRETS_PREFIX_USER, secret, sizeof(secret))))
            goto out;
        secrets_hash(secret, strlen(secret), hash);
        struct users_new in = {name, NULL, NULL, hash};
        if ((rc = users_create(tx, &in, now, &u)))
            goto out;
        ids[i] = u.id;
        if (emit && (rc = emit(ctx, RG_KIND_USER, u.id, secret)))
            goto out;
    }
    for (uint64_t i = 0; i < p->merchants; i++) {
        struct rg_merchant *m = malloc(sizeof(*m));
        if (!m) {
            rc = RG_ENOMEM;
            goto out;
        }
        snprintf(name, sizeof(name), "Store %llu", (unsigned long long)i + 1);
        if ((rc = secrets_generate(SECRETS_PREFIX_MERCHANT, secret, sizeof(secret)))) {
            free(m);
            goto out;
        }
        secrets_hash(secret, strlen(secret), hash);
        /* Spread around central Seoul, within ~10 km. */
        double lat = 37.5665 + ((double)(next_rand(&rnd) % 2000) - 1000) / 10000.0;
        double lon = 126.9780 + ((double)(next_rand(&rnd) % 2000) - 1000) / 10000.0;
        struct merchants_new in = {name, "cafe", "", lat, lon, NULL, NULL, hash};
        rc = merchants_create(tx, &in, now, m);
        uint64_t id = m->id;
        free(m);
        if (rc || (emit && (rc = emit(ctx, RG_KIND_MERCHANT, id, secret))))
            goto out;
    }
    uint64_t half = p->friends_per_user / 2;
    for (uint64_t i = 0; p->users > 1 && i < p->users; i++) {
        for (uint64_t d = 1; d <= half; d++) {
            uint64_t j = (i + d) % p->users;
            if (next_rand(&rnd) % 10 == 0)
                j = next_rand(&rnd) % p->users;
            if (j == i)
                continue;
            int linked = link_pair(tx, ids[i], ids[j], now);
            if (linked < 0) {
                rc = linked;
                goto out;
            }
            if (linked)
                degree[i]++, degree[j]++;
        }
    }
    for (uint64_t i = 0; i < p->users; i++) {
        struct rg_account a;
        if (!degree[i])
            continue;
        if ((rc = users_account(tx, ids[i], &a)))
            goto out;
        a.friends += degree[i];
        if ((rc = users_put_account(tx, ids[i], &a)))
            goto out;
    }
out:
    free(ids);
    free(degree);
    return rc;
}
