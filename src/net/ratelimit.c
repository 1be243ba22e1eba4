/* Token-bucket rate limits: see ratelimit.h. */
#include <math.h>
#include <stdlib.h>

#include "regulars/error.h"
#include "regulars/ratelimit.h"

#define PROBE 8

int ratelimit_init(struct ratelimit *rl, unsigned rate)
{
    rl->rate = rate;
    rl->slots = NULL;
    if (!rate)
        return 0;
    rl->slots = calloc(RATELIMIT_SLOTS, sizeof(*rl->slots));
    return rl->slots ? 0 : RG_ENOMEM;
}

void ratelimit_fini(struct ratelimit *rl)
{
    free(rl->slots);
    rl->slots = NULL;
}

/* FNV-1a, then a final mix; 0 is reserved for empty slots. */
static uint64_t hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    h ^= h >> 33;
    return h ? h : 1;
}

unsigned ratelimit_take(struct ratelimit *rl, const void *key, size_t len, uint64_t now_ms)
{
    if (!rl->rate || !rl->slots)
        return 0;
    uint64_t h = hash(key, len);
    size_t base = (size_t)h & (RATELIMIT_SLOTS - 1), victim = base;
    struct ratelimit_slot *s = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        struct ratelimit_slot *c = &rl->slots[(base + i) & (RATELIMIT_SLOTS - 1)];
        if (c->key == h) {
            s = c;
            break;
        }
        if (c->key == 0 || c->last_ms < rl->slots[victim].last_ms)
            victim = (base + i) & (RATELIMIT_SLOTS - 1);
        if (c->key == 0)
            break;
    }
    if (!s) {
        s = &rl->slots[victim];
        s->key = h;
        s->tokens = rl->rate;
        s->last_ms = now_ms;
    }
    if (now_ms > s->last_ms) {
        s->tokens += (double)(now_ms - s->last_ms) * rl->rate / 1000.0;
        if (s->tokens > rl->rate)
            s->tokens = rl->rate;
        s->last_ms = now_ms;
    }
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return 0;
    }
    unsigned wait = (unsigned)ceil((1.0 - s->tokens) / rl->rate);
    return wait ? wait : 1;
}
