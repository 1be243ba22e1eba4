/*
 * The one clock every rule reads: real time plus an offset that only --bench can move
 * (POST /bench/clock), never going backwards. Thread-safe (the writer reads it too).
 */
#ifndef REGULARS_CLOCK_H
#define REGULARS_CLOCK_H

#include <stdint.h>

/** Milliseconds since the Unix epoch: max(real + offset, last value returned). */
int64_t clock_now_ms(void);
/** Moves the clock forward by seconds (>= 0). Returns the new now. */
int64_t clock_advance(int64_t seconds);
/** Sets a fixed base for tests: from now on clock_now_ms() returns base + offset and
 *  ignores real time (0 returns to real time). */
void clock_freeze(int64_t base_ms);

#endif
