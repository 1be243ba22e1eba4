/*
 * JSON text: a fast compact encoder for jansson values, and the pieces it is made of for
 * code that writes JSON straight into a buffer.
 *
 * Why not json_dumps: jansson 2.14 formats every object's and array's address with
 * snprintf("%p") into a hashtable to detect cycles, and every integer with snprintf, which
 * made encoding the largest single cost of GET /v1/me and of a purchase's events (see
 * bench/README.md). The output here is byte for byte what json_dumps gives with
 * JSON_COMPACT (optionally JSON_SORT_KEYS): strings escape '"', '\\' and control characters
 * exactly as jansson does, reals use its "%.17g" form, keys keep insertion order unless
 * sorted. Idempotency hashes rely on that (api/write.c hashes the sorted form), and
 * tests/unit/test_jsontext.c checks it against jansson itself.
 *
 * All functions append to a caller-owned buf and return 0, RG_ENOMEM, or RG_EINVAL for a
 * string that is not valid UTF-8 (jansson refuses to encode those too); a failure is also
 * kept in the buf's err, so a sequence of appends can be checked once at its end.
 */
#ifndef REGULARS_JSONTEXT_H
#define REGULARS_JSONTEXT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "regulars/buf.h"

/* Flags of jsontext_dump. */
#define JSONTEXT_SORT_KEYS 1u /* object keys in strcmp order, as JSON_SORT_KEYS */

/** Appends v as compact JSON text. v is only read. */
int jsontext_dump(struct buf *b, const json_t *v, unsigned flags);
/** Appends the JSON string literal (quotes included) of s[0..len). */
int jsontext_string(struct buf *b, const char *s, size_t len);
/** Appends the decimal text of v. */
int jsontext_int(struct buf *b, int64_t v);
/** Appends v as jansson writes a real ("%.17g", always with '.' or an exponent). */
int jsontext_real(struct buf *b, double v);

#endif
