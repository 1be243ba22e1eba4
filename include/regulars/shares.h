/*
 * Shares: a user shares one of their purchases (a post, a check-in, a link); for the
 * merchant's credit window the share can credit the sharer's friends' purchases there
 * (attribution.h).
 *
 * Layouts (store.h): DB_SHARES u64 share -> rg_share; DB_USER_SHARES (u64 user, u64 share)
 * -> empty; DB_SHARES_BY_SHARER (u64 merchant, u64 sharer, u64 share) -> u64 expires_at
 * (8 bytes BE), the attribution index. Share ids come from the "share" sequence, so id order
 * is creation order (and, the clock never going backwards, created_at order).
 *
 * Pure functions over a struct store_tx; writes run on the writer thread in the caller's txn.
 */
#ifndef REGULARS_SHARES_H
#define REGULARS_SHARES_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/events.h"
#include "regulars/model.h"
#include "regulars/store.h"

#define SHARES_MESSAGE_MAX 280 /* code points (API.md); the caller validates */

/** User shares purchase_id on channel (enum rg_channel) with message (NULL or "" for none;
 *  at most RG_MESSAGE_MAX - 1 bytes are kept) at now. Checked in API.md's order: no such
 *  purchase -> RG_ENOTFOUND; not the user's -> RG_EFORBIDDEN; refunded -> RG_E_REFUNDED;
 *  already shared -> RG_E_ALREADY_SHARED. expires_at = now + the merchant's current
 *  credit_window_s * 1000 (fixed from now on). Marks the purchase shared_as, calls
 *  analytics_on_share, and appends EV_SHARE (share_id, user_id) to the merchant.
 *  Cost: 2 gets (purchase, merchant) + 2 ops for the id sequence + 4 puts (share, user index,
 *  sharer index, purchase) + analytics.
 *  Returns 0, the errors above, RG_EINVAL (bad channel), RG_ETOOBIG (ev full) or a store
 *  error; nothing is written when a check fails. */
int shares_create(struct store_tx *tx, uint64_t user, uint64_t purchase_id, uint32_t channel,
                  const char *message, int64_t now, struct rg_share *out, struct dom_events *ev);

/** Reads share id. Cost: 1 get. Returns 0, RG_ENOTFOUND or a store error. */
int shares_get(struct store_tx *tx, uint64_t id, struct rg_share *out);

/** One page of user's shares, newest first: at most limit with id < before (0: from the
 *  newest) into out; *n the count; *next the next page's cursor (last id returned) or 0.
 *  Cost: 1 seek + (n + 1) steps + n gets. Returns 0 or a store error. */
int shares_page_by_user(struct store_tx *tx, uint64_t user, uint64_t before, size_t limit,
                        struct rg_share *out, size_t *n, uint64_t *next);

#endif
