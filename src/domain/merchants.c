/*
 * Merchants, rewards and the nearby search.
 *
 * The nearby index (DB_MERCHANT_GEO) cuts the globe into latitude bands of
 * MERCHANTS_GEO_BAND_DEG and orders each band by longitude, so a search circle becomes a
 * few key ranges: for each band the circle crosses, the longitudes it spans there. The
 * bounds are exact for a spherical cap (plus a small margin): its latitude half-span is the
 * angular radius d, its longitude half-span asin(sin d / cos lat), and when the cap holds a
 * pole every longitude is in. Candidates are then filtered by their exact haversine distance
 * from the positions stored in the index values, so the index decides cost, never results.
 */
#include <math.h>
#include <string.h>

#include "regulars/error.h"
#include "regulars/merchants.h"
#include "regulars/rules.h"
#include "regulars/secrets.h"

#define DEG (M_PI / 180.0)
/* Margin added to the index's bounds (degrees, ~0.1 m) against rounding at the edges. */
#define GEO_EPS_DEG 1e-6

static int copy_field(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return RG_EINVAL;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* ---- the nearby index ---- */

static uint64_t geo_band(double lat)
{
    return (uint64_t)floor((lat + 90.0) / MERCHANTS_GEO_BAND_DEG);
}

static int64_t geo_lon_e7(double lon)
{
    return llround(lon * 1e7);
}

static void geo_key(struct skey *k, double lat, double lon, uint64_t id)
{
    skey_make1(k, geo_band(lat));
    skey_i64(k, geo_lon_e7(lon));
    skey_u64(k, id);
}

static int geo_put(struct store_tx *tx, uint64_t id, double lat, double lon)
{
    struct skey k;
    struct merchants_geo g = {.lat = lat, .lon = lon};
    geo_key(&k, lat, lon, id);
    return store_put(tx, DB_MERCHANT_GEO, &k, &g, sizeof(g), 0);
}

double merchants_distance_m(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * DEG, p2 = lat2 * DEG;
    double dp = (lat2 - lat1) * DEG, dl = (lon2 - lon1) * DEG;
    double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    if (a > 1.0)
        a = 1.0;
    return 2.0 * MERCHANTS_EARTH_RADIUS_M * asin(sqrt(a));
}

/* Keeps out[0..*n) sorted by (distance, id) and at most limit long. */
static void hits_insert(struct merchants_hit *out, size_t *n, size_t limit, uint64_t id,
                        double dist)
{
    size_t i = *n;
    if (i == limit) {
        const struct merchants_hit *last = &out[limit - 1];
        if (dist > last->distance_m || (dist == last->distance_m && id > last->id))
            return;
        i--; /* the last one falls off */
    } else {
        (*n)++;
    }
    while (i > 0 && (out[i - 1].distance_m > dist ||
                     (out[i - 1].distance_m == dist && out[i - 1].id > id))) {
        out[i] = out[i - 1];
        i--;
    }
    out[i].id = id;
    out[i].distance_m = dist;
}

struct lon_range {
    double lo, hi;
};

/* Scans band b between longitudes r (degrees), adding hits within radius. */
static int scan_range(MDB_cursor *cur, uint64_t b, struct lon_range r, double lat, double lon,
                      double radius_m, size_t limit, struct merchants_hit *out, size_t *n)
{
    struct skey k;
    MDB_val key, val;
    int64_t hi = (int64_t)ceil(r.hi * 1e7) + 1;
    skey_make1(&k, b);
    skey_i64(&k, (int64_t)floor(r.lo * 1e7) - 1);
    skey_u64(&k, 0);
    key = skey_val(&k);
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size != 24 || store_be64(key.mv_data) != b)
            return 0;
        const unsigned char *kb = key.mv_data;
        if (store_bei64(kb + 8) > hi)
            return 0;
        struct merchants_geo g;
        if (val.mv_size != sizeof(g))
            return RG_EIO;
        memcpy(&g, val.mv_data, sizeof(g));
        double d = merchants_distance_m(lat, lon, g.lat, g.lon);
        if (d <= radius_m)
            hits_insert(out, n, limit, store_be64(kb + 16), d);
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int merchants_nearby(struct store_tx *tx, double lat, double lon, double radius_m, size_t limit,
                     struct merchants_hit *out, size_t *n)
{
    *n = 0;
    if (!merchants_valid_lat(lat) || !merchants_valid_lon(lon) || !(radius_m > 0) ||
        !isfinite(radius_m))
        return RG_EINVAL;
    if (limit == 0)
        return 0;

    double d = radius_m / MERCHANTS_EARTH_RADIUS_M; /* angular radius, radians */
    double dlat = d / DEG + GEO_EPS_DEG;
    double lat_lo = lat - dlat, lat_hi = lat + dlat;
    int all_lons = 0;
    if (lat_lo <= -90.0) {
        lat_lo = -90.0;
        all_lons = 1;
    }
    if (lat_hi >= 90.0) {
        lat_hi = 90.0;
        all_lons = 1;
    }
    struct lon_range ranges[2];
    size_t nranges = 1;
    ranges[0] = (struct lon_range){-180.0, 180.0};
    if (!all_lons) {
        double s = sin(d) / cos(lat * DEG);
        if (s < 1.0) {
            double dlon = asin(s) / DEG + GEO_EPS_DEG;
            double lo = lon - dlon, hi = lon + dlon;
            if (lo < -180.0) {
                ranges[0] = (struct lon_range){-180.0, hi};
                ranges[1] = (struct lon_range){lo + 360.0, 180.0};
                nranges = 2;
            } else if (hi > 180.0) {
                ranges[0] = (struct lon_range){lo, 180.0};
                ranges[1] = (struct lon_range){-180.0, hi - 360.0};
                nranges = 2;
            } else {
                ranges[0] = (struct lon_range){lo, hi};
            }
        }
    }

    MDB_cursor *cur;
    int rc = store_cursor(tx, DB_MERCHANT_GEO, &cur);
    if (rc)
        return rc;
    uint64_t b_hi = geo_band(lat_hi);
    for (uint64_t b = geo_band(lat_lo); b <= b_hi && rc == 0; b++)
        for (size_t i = 0; i < nranges && rc == 0; i++)
            rc = scan_range(cur, b, ranges[i], lat, lon, radius_m, limit, out, n);
    mdb_cursor_close(cur);
    if (rc)
        *n = 0;
    return rc;
}

/* ---- merchants ---- */

int merchants_create(struct store_tx *tx, const struct merchants_new *m, int64_t now,
                     struct rg_merchant *out)
{
    struct rg_merchant mer;
    const char *currency = m->currency ? m->currency : MERCHANTS_DEFAULT_CURRENCY;
    int rc;

    memset(&mer, 0, sizeof(mer));
    if (!merchants_valid_lat(m->lat) || !merchants_valid_lon(m->lon) ||
        !merchants_valid_currency(currency, strlen(currency)))
        return RG_EINVAL;
    if (!m->name || !*m->name || copy_field(mer.name, sizeof(mer.name), m->name) ||
        copy_field(mer.category, sizeof(mer.category), m->category) ||
        copy_field(mer.address, sizeof(mer.address), m->address))
        return RG_EINVAL;
    memcpy(mer.currency, currency, 4);
    mer.lat = m->lat;
    mer.lon = m->lon;
    if (m->rules)
        mer.rules = *m->rules;
    else
        rules_defaults(&mer.rules);
    if ((rc = store_next_id(tx, "merchant", &mer.id)))
        return rc;
    mer.created_at = now;

    struct skey k;
    skey_make1(&k, mer.id);
    if ((rc = store_put(tx, DB_MERCHANTS, &k, &mer, sizeof(mer), MDB_NOOVERWRITE)))
        return rc;
    if ((rc = geo_put(tx, mer.id, mer.lat, mer.lon)))
        return rc;
    if ((rc = secrets_put(tx, m->secret_hash, RG_KIND_MERCHANT, mer.id)))
        return rc;
    if (out)
        *out = mer;
    return 0;
}

int merchants_get(struct store_tx *tx, uint64_t id, struct rg_merchant *out)
{
    struct skey k;
    skey_make1(&k, id);
    return store_get_rec(tx, DB_MERCHANTS, &k, out, sizeof(*out));
}

int merchants_exists(struct store_tx *tx, uint64_t id)
{
    struct skey k;
    MDB_val v;
    skey_make1(&k, id);
    return store_get(tx, DB_MERCHANTS, &k, &v);
}

int merchants_put(struct store_tx *tx, const struct rg_merchant *m)
{
    struct skey k;
    MDB_val v;
    int rc;

    if (m->noffers > RG_MAX_OFFERS || !merchants_valid_lat(m->lat) || !merchants_valid_lon(m->lon))
        return RG_EINVAL;
    skey_make1(&k, m->id);
    if ((rc = store_get(tx, DB_MERCHANTS, &k, &v)))
        return rc;
    if (v.mv_size != sizeof(*m))
        return RG_EIO;
    /* Read what we need of the old record now: v points into the map, which the puts
     * below may change. */
    const char *old = v.mv_data;
    double old_lat, old_lon;
    int64_t old_created;
    memcpy(&old_lat, old + offsetof(struct rg_merchant, lat), sizeof(double));
    memcpy(&old_lon, old + offsetof(struct rg_merchant, lon), sizeof(double));
    memcpy(&old_created, old + offsetof(struct rg_merchant, created_at), sizeof(int64_t));
    if (old_created != m->created_at)
        return RG_EINVAL;

    if ((rc = store_put(tx, DB_MERCHANTS, &k, m, sizeof(*m), 0)))
        return rc;
    if (old_lat == m->lat && old_lon == m->lon)
        return 0;
    struct skey g;
    geo_key(&g, old_lat, old_lon, m->id);
    if ((rc = store_del(tx, DB_MERCHANT_GEO, &g)) && rc != RG_ENOTFOUND)
        return rc;
    return geo_put(tx, m->id, m->lat, m->lon);
}

/* ---- rewards ---- */

int merchants_add_reward(struct store_tx *tx, uint64_t merchant_id, const char *title, int64_t cost,
                         int64_t now, struct rg_reward *out)
{
    struct rg_reward r;
    struct skey k;
    int rc;

    memset(&r, 0, sizeof(r));
    if (cost <= 0 || !title || !*title || copy_field(r.title, sizeof(r.title), title))
        return RG_EINVAL;
    if ((rc = merchants_exists(tx, merchant_id)))
        return rc;
    if ((rc = store_next_id(tx, "reward", &r.id)))
        return rc;
    r.merchant_id = merchant_id;
    r.cost = cost;
    r.created_at = now;
    skey_make1(&k, r.id);
    if ((rc = store_put(tx, DB_REWARDS, &k, &r, sizeof(r), MDB_NOOVERWRITE)))
        return rc;
    skey_make2(&k, merchant_id, r.id);
    if ((rc = store_put(tx, DB_MERCHANT_REWARDS, &k, "", 0, 0)))
        return rc;
    if (out)
        *out = r;
    return 0;
}

int merchants_get_reward(struct store_tx *tx, uint64_t reward_id, struct rg_reward *out)
{
    struct skey k;
    skey_make1(&k, reward_id);
    return store_get_rec(tx, DB_REWARDS, &k, out, sizeof(*out));
}

int merchants_rewards(struct store_tx *tx, uint64_t merchant_id, struct rg_reward *out, size_t max,
                      size_t *n)
{
    MDB_cursor *cur;
    MDB_val key, val;
    struct skey k;
    int rc;

    *n = 0;
    if (max == 0)
        return 0;
    if ((rc = store_cursor(tx, DB_MERCHANT_REWARDS, &cur)))
        return rc;
    /* Newest first: start just past this merchant's keys and walk backwards. */
    skey_make2(&k, merchant_id + 1, 0);
    key = skey_val(&k);
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    else if (rc == 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    while (rc == 0 && *n < max) {
        if (key.mv_size != 16 || store_be64(key.mv_data) != merchant_id)
            break;
        uint64_t rid = store_be64((const unsigned char *)key.mv_data + 8);
        int grc = merchants_get_reward(tx, rid, &out[*n]);
        if (grc) {
            mdb_cursor_close(cur);
            *n = 0;
            return grc == RG_ENOTFOUND ? RG_EIO : grc;
        }
        (*n)++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        *n = 0;
        return store_err(rc);
    }
    return 0;
}

/* ---- validation ---- */

bool merchants_valid_currency(const char *s, size_t len)
{
    if (!s || len != 3)
        return false;
    for (size_t i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

bool merchants_valid_lat(double lat)
{
    return isfinite(lat) && lat >= -90.0 && lat <= 90.0;
}

bool merchants_valid_lon(double lon)
{
    return isfinite(lon) && lon >= -180.0 && lon <= 180.0;
}
