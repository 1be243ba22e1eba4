/*
 * Bearer secrets (user tokens, merchant keys). A secret is shown once, at creation; the
 * store keeps only its SHA-256 (DB_SECRETS: hash[32] -> rg_secret), so a copy of the
 * database does not hand out working secrets. The secret has 256 bits of entropy, which is
 * why a fast unsalted hash is enough here (no password stretching needed).
 */
#ifndef REGULARS_SECRETS_H
#define REGULARS_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/model.h"
#include "regulars/store.h"

#define SECRETS_PREFIX_USER     "ut_" /* user tokens */
#define SECRETS_PREFIX_MERCHANT "mk_" /* merchant keys */
/* A secret is <prefix><43 chars base64url of 32 random bytes>; with a prefix of at most
 * SECRETS_PREFIX_MAX bytes it fits SECRETS_MAX bytes including the NUL. */
#define SECRETS_PREFIX_MAX   8
#define SECRETS_RANDOM_CHARS 43
#define SECRETS_MAX          (SECRETS_PREFIX_MAX + SECRETS_RANDOM_CHARS + 1)

/** Writes prefix followed by 32 bytes from getrandom(2) in unpadded base64url into out
 *  (NUL-terminated). Returns 0, RG_ETOOBIG when out (outsz bytes) is too small or prefix is
 *  longer than SECRETS_PREFIX_MAX, or RG_EIO when getrandom fails. Any thread. */
int secrets_generate(const char *prefix, char *out, size_t outsz);

/** out = SHA-256(secret[0..len)). */
void secrets_hash(const char *secret, size_t len, unsigned char out[32]);

/** Stores hash -> (kind, id). Cost: 1 put (MDB_NOOVERWRITE). Returns 0, RG_EEXIST when the
 *  hash is already there (never, for random secrets), or a store error. Writer thread. */
int secrets_put(struct store_tx *tx, const unsigned char hash[32], int kind, uint64_t id);

/** Finds whose secret hashes to hash. Cost: 1 get. The stored copy of the hash is compared
 *  in constant time (CRYPTO_memcmp). Returns 0 and fills *out, RG_EUNAUTHORIZED when
 *  unknown, or a store error. Any txn. */
int secrets_lookup(struct store_tx *tx, const unsigned char hash[32], struct rg_secret *out);

#endif
