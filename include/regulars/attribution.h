/*
 * Attribution — which share, if any, credits a purchase (API.md "Attribution", rules 2-3).
 *
 * A share S is a candidate for buyer B's purchase at merchant M at time t when: S is at M;
 * its sharer A != B; A and B are friends at t (an accepted friendship with since <= t);
 * S.created_at <= t < S.expires_at; S.referrals < M's current max_referrals_per_share;
 * S has never credited B (no DB_SHARE_CREDITS (S, B) row); S's own purchase is not refunded.
 * The winner is the most recently created candidate; of two made in the same millisecond,
 * the one recorded later (the higher share id).
 *
 * How it is found: walk B's friends (DB_FRIENDS prefix B) and, for each friend F, scan
 * DB_SHARES_BY_SHARER (M, F, *) from the newest share down. The index value is expires_at,
 * so expired shares are skipped without loading them. Share ids and created_at grow
 * together (one writer thread, a clock that never goes backwards), which gives two early
 * stops per friend:
 *   - once a candidate has been found (for any friend), no share with a lower id can win, so
 *     each later friend's scan stops at that id;
 *   - a share older than one whose expires_at <= t - max window has expired by t: the older
 *     share's expires_at <= its created_at + max window <= this share's created_at + max
 *     window <= this expires_at + max window <= t (windows are 0..max, rules.h).
 * Only shares that are live at t are read (1 get of the share, 1 get in DB_SHARE_CREDITS,
 * 1 get of its purchase, in that order of cheapness and only while still a candidate).
 *
 * Cost: O(friends of B + index entries at M of B's friends whose expires_at > t - 30 days
 * and whose id is above the best candidate so far); LMDB operations: 1 cursor walk of B's
 * friends, 1 seek per friend (even when M has no share of theirs), 1 step per index entry
 * scanned, and up to 3 gets per share live at t (a full or already-used share still costs
 * its gets). attribution.c discusses the merchant-side index that would bound this by the
 * merchant's live shares instead of the buyer's friends.
 */
#ifndef REGULARS_ATTRIBUTION_H
#define REGULARS_ATTRIBUTION_H

#include <stdint.h>

#include "regulars/model.h"
#include "regulars/rules.h"
#include "regulars/store.h"

/** The longest credit window in ms: API.md's credit_window_s maximum (rules.h). */
#define ATTRIBUTION_MAX_WINDOW_MS (RULES_CREDIT_WINDOW_S_MAX * INT64_C(1000))

/** Finds the share that credits buyer's purchase at merchant at now, reading the merchant's
 *  current max_referrals_per_share. Returns 0 with *winner set, RG_ENOTFOUND when no share
 *  is a candidate (also for an unknown merchant), or a store error. Read-only, any txn. */
int attribution_find(struct store_tx *tx, uint64_t merchant, uint64_t buyer, int64_t now,
                     struct rg_share *winner);

/** As attribution_find with the merchant's max_referrals_per_share given (purchases_record
 *  already holds the merchant's rules). */
int attribution_find_capped(struct store_tx *tx, uint64_t merchant, uint64_t buyer, int64_t now,
                            uint32_t max_referrals, struct rg_share *winner);

#endif
