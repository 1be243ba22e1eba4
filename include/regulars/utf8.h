/*
 * UTF-8 checks for text the API stores (names, titles, messages). Strict RFC 3629: no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. Lengths are in
 * bytes (a JSON string may hold a NUL), limits in code points, as API.md counts "chars".
 */
#ifndef REGULARS_UTF8_H
#define REGULARS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Decodes the code point at s (len > 0 bytes available) into *cp. Returns the number of
 *  bytes it used (1..4), or -1 when the bytes there are not valid UTF-8. */
int utf8_decode(const char *s, size_t len, uint32_t *cp);

/** Counts the code points of s[0..len). Returns the count, or -1 when s is not valid UTF-8. */
long utf8_count(const char *s, size_t len);

/* Flags of utf8_is_text. */
#define UTF8_ALLOW_NEWLINE 1u /* accept '\n' (messages); every other control is still refused */

/** True when s[0..len) is valid UTF-8 of min_cp..max_cp code points with no control
 *  characters (C0 U+0000..U+001F, DEL, C1 U+0080..U+009F), except '\n' with
 *  UTF8_ALLOW_NEWLINE. */
bool utf8_is_text(const char *s, size_t len, size_t min_cp, size_t max_cp, unsigned flags);

#endif
