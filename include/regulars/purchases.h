/*
 * Purchases: recording one at the counter (points, attribution, awards; API.md "Purchases"
 * rules 1-5), refunding it, and reading them back.
 *
 * Layouts (store.h): DB_PURCHASES u64 purchase -> rg_purchase; DB_USER_PURCHASES and
 * DB_MERCHANT_PURCHASES (u64 owner, u64 purchase) -> empty; DB_SHARE_CREDITS (u64 share,
 * u64 buyer) -> u64 purchase (8 bytes BE). Purchase ids come from the "purchase" sequence,
 * so id order is creation order and the indexes scanned backwards give newest first.
 *
 * Pure functions over a struct store_tx: writes run on the writer thread inside the caller's
 * (nested) txn, which the caller aborts when a write function fails (some puts may be done).
 * Time comes in as `now` (ms). Events are appended to the caller's struct dom_events; when a
 * write function fails, the events it appended are to be dropped along with the txn.
 */
#ifndef REGULARS_PURCHASES_H
#define REGULARS_PURCHASES_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/events.h"
#include "regulars/model.h"
#include "regulars/store.h"

#define PURCHASES_AMOUNT_MAX 1000000000 /* API.md: amount 1..1e9 minor units */

/** Records a purchase of amount by buyer at merchant, at now, in the caller's txn:
 *  1. the buyer earns floor(amount * earn_rate_bp / 10000) (kind purchase);
 *  2-3. attribution_find picks the crediting share, if any: its sharer earns referral_bonus
 *     (kind referral, friend = buyer), the buyer earns friend_bonus (kind friend_bonus,
 *     friend = sharer), the share's referrals count goes up by one and
 *     DB_SHARE_CREDITS (share, buyer) -> purchase is written;
 *  4. an award of 0 points writes no ledger entry and no event, and is not listed in
 *     out->awards, but the referral is still recorded and counted.
 *  Rules are the merchant's current ones. *out gets the stored purchase (awards in the
 *  order written: purchase, referral, friend_bonus). Events, in order: one EV_POINTS_EARNED
 *  per award to its user (kind, points, balance after, merchant, purchase, share, friend),
 *  then EV_PURCHASE to store_recipient(RG_KIND_MERCHANT, merchant) (user_id = buyer,
 *  purchase_id, share_id and friend_id = sharer when referred). Also calls
 *  analytics_on_purchase.
 *  Cost: 2 gets (merchant, buyer) + attribution (see attribution.h) + 2 ops for the id
 *  sequence + 3 puts (purchase, two indexes) + per award ledger_append (2 gets, 3 puts);
 *  when referred, 1 put share credit + 1 put share; plus the analytics updates.
 *  Returns 0, RG_ENOTFOUND (no such merchant or buyer), RG_EINVAL (amount outside
 *  1..PURCHASES_AMOUNT_MAX), RG_ETOOBIG (ev full) or a store error. */
int purchases_record(struct store_tx *tx, uint64_t merchant, uint64_t buyer, int64_t amount,
                     int64_t now, struct rg_purchase *out, struct dom_events *ev);

/** Refunds purchase_id for merchant at now: sets refunded_at, and appends for every award
 *  i of the purchase one ledger entry of kind reversal (reversed_kind = the award's kind,
 *  points = -award, same purchase/merchant/share/friend references) to the award's user;
 *  balances may go below zero. reversals (room for RG_MAX_AWARDS) gets, in the same order
 *  as out->awards, {user_id, RG_LK_REVERSAL, -points}; *nrev their count. A share credit
 *  made by the purchase stays counted (rule 5). Events: one EV_POINTS_REVERSED per reversal
 *  to its user (points < 0, balance after, reversed_kind, purchase, merchant), then EV_REFUND
 *  to the merchant (user_id = buyer, purchase_id, share_id, friend_id = sharer). Also
 *  calls analytics_on_refund.
 *  Cost: 1 get + 1 put (purchase) + per award ledger_append (2 gets, 3 puts) + analytics.
 *  Returns 0, RG_ENOTFOUND (no such purchase, or another merchant's: API.md answers 404),
 *  RG_EINVAL (now <= 0), RG_E_ALREADY_REFUNDED (nothing written), RG_ETOOBIG or a store
 *  error. */
int purchases_refund(struct store_tx *tx, uint64_t merchant, uint64_t purchase_id, int64_t now,
                     struct rg_purchase *out, struct rg_award *reversals, size_t *nrev,
                     struct dom_events *ev);

/** Reads purchase id. Cost: 1 get. Returns 0, RG_ENOTFOUND or a store error. */
int purchases_get(struct store_tx *tx, uint64_t id, struct rg_purchase *out);

/** One page of user's purchases, newest first: at most limit with id < before (0: from the
 *  newest) into out (room for limit); *n the count; *next the cursor of the next page (the
 *  last id returned) or 0 when none remains. Cost: 1 seek + (n + 1) steps + n gets.
 *  Returns 0 or a store error. */
int purchases_page_by_user(struct store_tx *tx, uint64_t user, uint64_t before, size_t limit,
                           struct rg_purchase *out, size_t *n, uint64_t *next);
/** The same over merchant's purchases. */
int purchases_page_by_merchant(struct store_tx *tx, uint64_t merchant, uint64_t before,
                               size_t limit, struct rg_purchase *out, size_t *n, uint64_t *next);

/** Buyer's points for amount under earn_rate_bp: floor(amount * bp / 10000), 0 for
 *  amount <= 0. Exact for every int64 amount (128-bit product). */
int64_t purchases_points(int64_t amount, uint32_t earn_rate_bp);

#endif
