/*
 * The points ledger: every change of a user's balance is one append-only entry, and the
 * account's balance (DB_ACCOUNTS) is updated in the same txn, so that a balance always equals
 * the sum of the user's entries. Entries are never edited nor deleted; a refund appends
 * reversal entries instead.
 *
 * Layout: DB_LEDGER (u64 user, u64 entry) -> struct rg_ledger_entry. Entry ids come from the
 * global "ledger" sequence, so within a user they are in creation order and a reverse range
 * scan of the user's prefix gives newest first.
 *
 * Pure functions over a struct store_tx; writes run on the writer thread inside the caller's
 * txn. Nothing here reads the clock: time comes in as `now` (ms since the epoch).
 */
#ifndef REGULARS_LEDGER_H
#define REGULARS_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/model.h"
#include "regulars/store.h"

/** Appends entry e for user and updates the user's balance.
 *  The caller fills e->kind, e->points and the references (purchase_id, merchant_id,
 *  share_id, friend_id, redemption_id, reversed_kind); the ledger fills e->id, e->created_at
 *  (= now) and e->balance_after. Balances may go negative (reversals); no check is made here.
 *  Cost: 2 point reads (account, "ledger" sequence) + 3 puts (sequence, entry, account).
 *  Returns 0, RG_ENOTFOUND when user has no account (no such user), RG_EIO when the balance
 *  would overflow int64, or a store error. Writer thread. */
int ledger_append(struct store_tx *tx, uint64_t user, int64_t now, struct rg_ledger_entry *e);

/** One page of user's entries, newest first: at most limit entries with id < before
 *  (before = 0: from the newest) into out (room for limit). *n gets the count; *next gets
 *  the cursor of the following page (the id of the last entry returned) or 0 when no older
 *  entry remains. Cost: one cursor seek + (n + 1) steps. Returns 0 or a store error. */
int ledger_page(struct store_tx *tx, uint64_t user, uint64_t before, size_t limit,
                struct rg_ledger_entry *out, size_t *n, uint64_t *next);

/** Sums the points of every entry of user into *sum (a full scan of the user's entries, for
 *  invariant checks and tests). Returns 0 or a store error. */
int ledger_sum(struct store_tx *tx, uint64_t user, int64_t *sum);

/** The balance of user from DB_ACCOUNTS. Returns 0, RG_ENOTFOUND or a store error. */
int ledger_balance(struct store_tx *tx, uint64_t user, int64_t *balance);

#endif
