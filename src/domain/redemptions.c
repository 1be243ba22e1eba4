/*
 * Redemptions: points leave the one wallet through a ledger entry of kind redemption. Every
 * check is made before the first write, so a refused redemption writes nothing.
 */
#include "regulars/error.h"
#include "regulars/ledger.h"
#include "regulars/merchants.h"
#include "regulars/redemptions.h"

int redemptions_create(struct store_tx *tx, uint64_t user, uint64_t reward_id, int64_t cash_points,
                       int64_t now, struct rg_redemption *out, int64_t *balance,
                       struct dom_events *ev)
{
    struct rg_redemption r = {0};
    struct rg_reward reward = {0};
    int64_t have;
    struct skey k;
    int rc;

    if (reward_id) {
        if ((rc = merchants_get_reward(tx, reward_id, &reward)))
            return rc;
        r.kind = RG_RK_REWARD;
        r.points = reward.cost;
        r.reward_id = reward_id;
    } else {
        if (cash_points <= 0)
            return RG_EINVAL;
        r.kind = RG_RK_CASH;
        r.points = cash_points;
    }
    if (r.points <= 0)
        return RG_EIO; /* a stored reward always costs > 0 */
    if ((rc = ledger_balance(tx, user, &have)))
        return rc;
    if (have < r.points)
        return RG_E_INSUFFICIENT;

    if ((rc = store_next_id(tx, "redemption", &r.id)))
        return rc;
    r.user_id = user;
    r.created_at = now;
    skey_make1(&k, r.id);
    if ((rc = store_put(tx, DB_REDEMPTIONS, &k, &r, sizeof(r), MDB_NOOVERWRITE)))
        return rc;

    struct rg_ledger_entry e = {
        .kind = RG_LK_REDEMPTION,
        .points = -r.points,
        .merchant_id = reward.merchant_id,
        .redemption_id = r.id,
    };
    if ((rc = ledger_append(tx, user, now, &e)))
        return rc;

    struct dom_event d = {
        .type = EV_POINTS_REDEEMED,
        .recipient = store_recipient(RG_KIND_USER, user),
        .at = now,
        .user_id = user,
        .merchant_id = reward.merchant_id,
        .redemption_id = r.id,
        .reward_id = r.reward_id,
        .kind = r.kind,
        .points = e.points,
        .balance = e.balance_after,
    };
    if ((rc = dom_events_add(ev, &d)))
        return rc;
    *out = r;
    *balance = e.balance_after;
    return 0;
}

int redemptions_get(struct store_tx *tx, uint64_t id, struct rg_redemption *out)
{
    struct skey k;
    skey_make1(&k, id);
    return store_get_rec(tx, DB_REDEMPTIONS, &k, out, sizeof(*out));
}
