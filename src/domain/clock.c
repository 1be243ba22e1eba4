#include <stdatomic.h>
#include <time.h>

#include "regulars/clock.h"

static _Atomic int64_t offset_ms;
static _Atomic int64_t frozen_ms;
static _Atomic int64_t last_ms;

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
    int64_t base = atomic_load(&frozen_ms);
    int64_t now = (base ? base : real_ms()) + atomic_load(&offset_ms);
    int64_t last = atomic_load(&last_ms);
    /* Never go backwards: ids and times must agree on order. */
    while (now > last && !atomic_compare_exchange_weak(&last_ms, &last, now))
        ;
    return now > last ? now : last;
}

int64_t clock_advance(int64_t seconds)
{
    if (seconds > 0)
        atomic_fetch_add(&offset_ms, seconds * 1000);
    return clock_now_ms();
}

void clock_freeze(int64_t base_ms)
{
    atomic_store(&frozen_ms, base_ms);
    atomic_store(&offset_ms, 0);
    atomic_store(&last_ms, 0);
}
