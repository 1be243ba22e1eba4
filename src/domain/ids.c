/*
 * Ids: a 4-round Feistel network over 64 bits (two 32-bit halves) makes a bijection, so
 * parse(format(x)) == x without any table, and consecutive ids look unrelated. The kind
 * tweaks the round keys, so user 1 and purchase 1 do not share a suffix.
 */
#include <string.h>

#include "regulars/error.h"
#include "regulars/ids.h"

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz"; /* Crockford base32 */
static const uint32_t round_keys[4] = {0x9e3779b9u, 0x7f4a7c15u, 0x85ebca6bu, 0xc2b2ae35u};

static uint32_t round_fn(uint32_t x, uint32_t k)
{
    x ^= k;
    x *= 0x45d9f3bu;
    x ^= x >> 16;
    x *= 0x45d9f3bu;
    x ^= x >> 16;
    return x;
}

static uint64_t permute(uint64_t v, uint32_t tweak)
{
    uint32_t l = (uint32_t)(v >> 32), r = (uint32_t)v;
    for (int i = 0; i < 4; i++) {
        uint32_t t = r;
        r = l ^ round_fn(r, round_keys[i] ^ tweak);
        l = t;
    }
    return ((uint64_t)l << 32) | r;
}

static uint64_t unpermute(uint64_t v, uint32_t tweak)
{
    uint32_t l = (uint32_t)(v >> 32), r = (uint32_t)v;
    for (int i = 3; i >= 0; i--) {
        uint32_t t = l;
        l = r ^ round_fn(l, round_keys[i] ^ tweak);
        r = t;
    }
    return ((uint64_t)l << 32) | r;
}

void ids_format(enum ids_kind kind, uint64_t id, char *out)
{
    uint64_t v = permute(id, (uint32_t)kind * 0x01000193u);
    out[0] = (char)kind;
    out[1] = '_';
    /* 13 base32 digits hold 65 bits; the top digit carries the high 4 bits. */
    for (int i = 12; i >= 0; i--) {
        out[2 + i] = alphabet[v & 31];
        v >>= 5;
    }
    out[IDS_LEN] = '\0';
}

int ids_parse(enum ids_kind kind, const char *s, size_t len, uint64_t *id)
{
    if (len != IDS_LEN || s[0] != (char)kind || s[1] != '_')
        return RG_ENOTFOUND;
    uint64_t v = 0;
    for (int i = 0; i < 13; i++) {
        const char *p = memchr(alphabet, s[2 + i], 32);
        if (!p || s[2 + i] == '\0')
            return RG_ENOTFOUND;
        if (i == 0 && (p - alphabet) > 15)
            return RG_ENOTFOUND;
        v = (v << 5) | (uint64_t)(p - alphabet);
    }
    uint64_t x = unpermute(v, (uint32_t)kind * 0x01000193u);
    if (x == 0 || x >= (UINT64_C(1) << 56))
        return RG_ENOTFOUND;
    *id = x;
    return 0;
}
