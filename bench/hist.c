/* Log-linear histogram: see hist.h. */
#include <string.h>

#include "hist.h"

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (unsigned)v;
    /* m is the octave (position of the top bit, >= 8); the top HIST_SUB_BITS + 1 bits of v
     * pick the sub-bucket, whose leading 1 we drop by subtracting 2^HIST_SUB_BITS. */
    unsigned m = 63u - (unsigned)__builtin_clzll(v);
    if (m >= HIST_MAX_BITS)
        return HIST_BUCKETS - 1;
    unsigned shift = m - HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) - (1u << HIST_SUB_BITS);
    return HIST_LINEAR + (m - HIST_SUB_BITS - 1) * (1u << HIST_SUB_BITS) + sub;
}

uint64_t hist_bucket_high(unsigned i)
{
    if (i < HIST_LINEAR)
        return i;
    unsigned k = i - HIST_LINEAR;
    unsigned m = k / (1u << HIST_SUB_BITS) + HIST_SUB_BITS + 1;
    unsigned sub = k % (1u << HIST_SUB_BITS);
    unsigned shift = m - HIST_SUB_BITS;
    uint64_t low = ((uint64_t)sub + (1u << HIST_SUB_BITS)) << shift;
    return low + (UINT64_C(1) << shift) - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
    unsigned i = hist_index(v);
    if (i == HIST_BUCKETS - 1 && v > hist_bucket_high(i))
        h->clamped++;
    h->counts[i]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum += src->sum;
    dst->clamped += src->clamped;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    /* The rank of the wanted value, 1-based: ceil(q * count), at least 1. */
    double r = q * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            return v > h->max ? h->max : v < h->min ? h->min : v;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}
