/*
 * A strict UTF-8 decoder after RFC 3629's table: the second byte's range depends on the
 * first (E0 needs A0..BF to forbid overlongs, ED needs 80..9F to forbid surrogates, F0 needs
 * 90..BF, F4 needs 80..8F to stop at U+10FFFF); C0, C1 and F5..FF never appear.
 */
#include "regulars/utf8.h"

int utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    if (len < (size_t)n)
        return -1;
    for (int i = 1; i < n; i++) {
        unsigned char b = p[i];
        if (b < lo || b > hi)
            return -1;
        lo = 0x80, hi = 0xBF; /* only the second byte has a narrowed range */
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return n;
}

long utf8_count(const char *s, size_t len)
{
    long count = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        int n = utf8_decode(s + i, len - i, &cp);
        if (n < 0)
            return -1;
        i += (size_t)n;
        count++;
    }
    return count;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

bool utf8_is_text(const char *s, size_t len, size_t min_cp, size_t max_cp, unsigned flags)
{
    size_t count = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        int n = utf8_decode(s + i, len - i, &cp);
        if (n < 0)
            return false;
        if (is_control(cp) && !(cp == '\n' && (flags & UTF8_ALLOW_NEWLINE)))
            return false;
        i += (size_t)n;
        /* Stop early on long input: the caller's limit is what matters. */
        if (++count > max_cp)
            return false;
    }
    return count >= min_cp;
}
