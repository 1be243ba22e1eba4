/*
 * Redemptions: a user spends points from their one wallet, on a merchant's reward or as
 * cash points.
 *
 * Layout (store.h): DB_REDEMPTIONS u64 redemption -> rg_redemption; ids from the
 * "redemption" sequence. The points leave the balance through one ledger entry of kind
 * redemption.
 *
 * Pure functions over a struct store_tx; writes run on the writer thread in the caller's txn.
 */
#ifndef REGULARS_REDEMPTIONS_H
#define REGULARS_REDEMPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/events.h"
#include "regulars/model.h"
#include "regulars/store.h"

/** User redeems reward_id (its cost in points), or, when reward_id is 0, cash_points (> 0),
 *  at now. *out gets the redemption, *balance the balance after. Appends a ledger entry
 *  (kind redemption, points = -cost, redemption_id, merchant_id = the reward's merchant or
 *  0 for cash) and EV_POINTS_REDEEMED to the user (points < 0, balance, redemption_id,
 *  kind = enum rg_redemption_kind, reward_id).
 *  Cost: 1 get (reward, when given) + 1 get (account) + 2 ops for the id sequence + 1 put
 *  (redemption) + ledger_append (2 gets, 3 puts).
 *  Returns 0, RG_ENOTFOUND (no such reward or user), RG_EINVAL (reward_id 0 and
 *  cash_points <= 0), RG_E_INSUFFICIENT (balance < points: nothing written), RG_ETOOBIG
 *  (ev full) or a store error. */
int redemptions_create(struct store_tx *tx, uint64_t user, uint64_t reward_id, int64_t cash_points,
                       int64_t now, struct rg_redemption *out, int64_t *balance,
                       struct dom_events *ev);

/** Reads redemption id. Cost: 1 get. Returns 0, RG_ENOTFOUND or a store error. */
int redemptions_get(struct store_tx *tx, uint64_t id, struct rg_redemption *out);

#endif
