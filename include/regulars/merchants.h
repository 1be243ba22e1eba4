/*
 * Merchants, their rewards catalogue and the nearby search. Pure functions over a store
 * txn; writes run on the writer thread inside the caller's txn. Validation of request
 * fields is the API layer's, with the helpers below and rules.h.
 *
 * Layouts (store.h): DB_MERCHANTS u64 -> rg_merchant (about 9 KB: LMDB keeps it on overflow
 * pages, so a point read touches 3 pages); DB_REWARDS u64 -> rg_reward;
 * DB_MERCHANT_REWARDS (merchant, reward) -> empty; DB_MERCHANT_GEO, the nearby index:
 *   key (u64 band, i64 lon_e7, u64 merchant) -> struct merchants_geo {lat, lon}
 * where band = floor((lat + 90) / MERCHANTS_GEO_BAND_DEG) and lon_e7 = round(lon x 1e7).
 * A search reads, for each band its circle crosses, the one key range of longitudes it
 * spans, and computes exact distances from the 16-byte index values, never reading the 9 KB
 * records. A 2 km search reads 1-2 bands; a 50 km one about 20.
 */
#ifndef REGULARS_MERCHANTS_H
#define REGULARS_MERCHANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "regulars/model.h"
#include "regulars/store.h"

#define MERCHANTS_NAME_MAX         64  /* code points, min 1 */
#define MERCHANTS_CATEGORY_MAX     32  /* code points, may be empty */
#define MERCHANTS_ADDRESS_MAX      200 /* code points, may be empty */
#define MERCHANTS_TITLE_MAX        120 /* code points of an offer or reward title, min 1 */
#define MERCHANTS_DEFAULT_CURRENCY "KRW"
#define MERCHANTS_RADIUS_MIN       1 /* radius_m of the nearby search */
#define MERCHANTS_RADIUS_MAX       50000
#define MERCHANTS_RADIUS_DEFAULT   2000
#define MERCHANTS_EARTH_RADIUS_M   6371008.8 /* mean radius (IUGG), for haversine */
#define MERCHANTS_GEO_BAND_DEG     0.05      /* latitude band of the index, about 5.6 km */

/* The value of a DB_MERCHANT_GEO entry. */
struct merchants_geo {
    double lat;
    double lon;
};

struct merchants_new {
    const char *name;                 /* required, validated */
    const char *category;             /* NULL or "" when none */
    const char *address;              /* NULL or "" when none */
    double lat, lon;                  /* validated (merchants_valid_lat/lon) */
    const char *currency;             /* NULL -> MERCHANTS_DEFAULT_CURRENCY; validated */
    const struct rg_rules *rules;     /* NULL -> rules_defaults(); validated */
    const unsigned char *secret_hash; /* 32 bytes: SHA-256 of the merchant key */
};

/** Creates a merchant with id store_next_id("merchant"), created_at = now, no offers, and
 *  its secret (kind RG_KIND_MERCHANT); copies it to *out.
 *  Cost: 1 get (sequence), 4 puts (sequence, merchant, geo, secret).
 *  Returns 0, RG_EINVAL (empty name, a string too long for its field, bad lat/lon or
 *  currency), or a store error. Writer. */
int merchants_create(struct store_tx *tx, const struct merchants_new *m, int64_t now,
                     struct rg_merchant *out);

/** Reads merchant id into *out. Cost: 1 get (~9 KB copied). Returns 0, RG_ENOTFOUND or a
 *  store error. */
int merchants_get(struct store_tx *tx, uint64_t id, struct rg_merchant *out);
/** Returns 0 when merchant id exists, RG_ENOTFOUND when not. Cost: 1 get, nothing copied. */
int merchants_exists(struct store_tx *tx, uint64_t id);

/** Replaces the stored merchant m->id with *m (the API layer applies PATCH to a copy from
 *  merchants_get, validates it, and calls this). id and created_at must not change
 *  (RG_EINVAL when created_at differs). Moves
 *  its nearby-index entry when lat/lon changed.
 *  Cost: 1 get + 1 put; when moved, 1 del + 1 put more. Returns 0, RG_ENOTFOUND, RG_EINVAL
 *  (noffers > RG_MAX_OFFERS) or a store error. Writer. */
int merchants_put(struct store_tx *tx, const struct rg_merchant *m);

/** Adds a reward (id store_next_id("reward"), created_at = now) to merchant_id's catalogue
 *  and copies it to *out. title validated by the caller, cost > 0.
 *  Cost: 2 gets (merchant exists, sequence), 3 puts (sequence, reward, merchant index).
 *  Returns 0, RG_ENOTFOUND (merchant), RG_EINVAL (cost <= 0, title too long) or a store
 *  error. Writer. */
int merchants_add_reward(struct store_tx *tx, uint64_t merchant_id, const char *title, int64_t cost,
                         int64_t now, struct rg_reward *out);
/** Reads reward reward_id. Cost: 1 get. Returns 0, RG_ENOTFOUND or a store error. */
int merchants_get_reward(struct store_tx *tx, uint64_t reward_id, struct rg_reward *out);
/** Copies up to max of merchant_id's rewards, newest first, into out; *n = how many.
 *  Cost: 1 reverse cursor scan + 1 get per reward. Returns 0 (also for an unknown merchant:
 *  *n = 0) or a store error. */
int merchants_rewards(struct store_tx *tx, uint64_t merchant_id, struct rg_reward *out, size_t max,
                      size_t *n);

struct merchants_hit {
    uint64_t id;       /* merchant */
    double distance_m; /* great-circle (haversine) distance from the search point */
};

/** The merchants within radius_m meters of (lat, lon), nearest first, ties by id
 *  ascending, at most limit of them into out (caller storage of limit entries); *n = how
 *  many. Cost: one cursor range per (band, longitude range) crossed, reading 40 bytes per
 *  merchant in those ranges; no record read. Returns 0 or a store error; RG_EINVAL for a
 *  bad lat/lon or radius_m <= 0. */
int merchants_nearby(struct store_tx *tx, double lat, double lon, double radius_m, size_t limit,
                     struct merchants_hit *out, size_t *n);

/** The haversine distance in meters between two points (degrees). */
double merchants_distance_m(double lat1, double lon1, double lat2, double lon2);

/* Validation of request fields (pure). */
/** Three ASCII capital letters [A-Z]{3} (s is len bytes). */
bool merchants_valid_currency(const char *s, size_t len);
/** -90 <= lat <= 90, finite. */
bool merchants_valid_lat(double lat);
/** -180 <= lon <= 180, finite. */
bool merchants_valid_lon(double lon);

#endif
