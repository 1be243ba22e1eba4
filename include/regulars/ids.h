/*
 * The API's opaque ids. Internally every record has a sequential u64; outside it is a
 * one-letter kind prefix and 13 base32 characters of a keyed 64-bit permutation of that
 * number, so ids neither reveal counts nor can be walked, and each kind's ids are distinct.
 */
#ifndef REGULARS_IDS_H
#define REGULARS_IDS_H

#include <stddef.h>
#include <stdint.h>

enum ids_kind {
    IDS_USER = 'u',
    IDS_MERCHANT = 'm',
    IDS_PURCHASE = 'p',
    IDS_SHARE = 's',
    IDS_REWARD = 'r',
    IDS_REDEMPTION = 'd',
    IDS_LEDGER = 'l',
};

#define IDS_LEN 15 /* prefix, '_', 13 chars; IDS_LEN + 1 with the NUL */

/** Writes the id string of (kind, id) into out (at least IDS_LEN + 1 bytes). */
void ids_format(enum ids_kind kind, uint64_t id, char *out);
/** Parses an id string of the given kind. Returns 0 and sets *id, or RG_ENOTFOUND when the
 *  string is not a well-formed id of that kind (callers answer 404). */
int ids_parse(enum ids_kind kind, const char *s, size_t len, uint64_t *id);

#endif
