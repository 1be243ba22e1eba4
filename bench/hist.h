/*
 * A log-linear latency histogram in the spirit of HdrHistogram: values below 256 are counted
 * exactly, above that every power-of-two range is split into 128 linear sub-buckets, so any
 * recorded value is known to within 1/128 (0.8 %). Values are nanoseconds by convention;
 * the range is 0 .. 2^42 ns (73 minutes), larger values are clamped and counted.
 * Plain struct, no allocation: hist_init() on caller storage, nothing to free.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7                           /* 128 sub-buckets per octave */
#define HIST_MAX_BITS 42                          /* largest octave: 2^42 ns */
#define HIST_LINEAR   (1u << (HIST_SUB_BITS + 1)) /* 256 exact values at the bottom */
#define HIST_BUCKETS  (HIST_LINEAR + (HIST_MAX_BITS - HIST_SUB_BITS - 1) * (1u << HIST_SUB_BITS))

struct hist {
    uint64_t count;                /* values recorded */
    uint64_t min;                  /* smallest value recorded (exact), UINT64_MAX when empty */
    uint64_t max;                  /* largest value recorded (exact) */
    double sum;                    /* sum of the values, for the mean */
    uint64_t clamped;              /* values above the range, counted in the top bucket */
    uint64_t counts[HIST_BUCKETS]; /* per-bucket counts */
};

/** Empties h. */
void hist_init(struct hist *h);
/** Records one value. */
void hist_record(struct hist *h, uint64_t v);
/** Adds every value of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/** The value at quantile q (0..1): the highest value equivalent to the bucket that holds the
 *  ceil(q * count)-th smallest value, never above the exact max. 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/** Mean of the recorded values, 0 when empty. */
double hist_mean(const struct hist *h);
/** Bucket index of v (exposed for tests). */
unsigned hist_index(uint64_t v);
/** Highest value that maps to bucket i (exposed for tests). */
uint64_t hist_bucket_high(unsigned i);

#endif
