/*
 * Referral-abuse alerts for a merchant (GET /v1/merchants/me/alerts): patterns in its
 * referred purchases of the last `days` days that deserve a human look. The rules already
 * bound what abuse can earn (no self-credit, one credit per share and friend, the cap, every
 * award reversed on refund); alerts surface the attempts.
 *
 *   ALERT_BURST_BUYER   one buyer credited by ALERTS_BURST_SHARES or more different shares
 *                       within ALERTS_BURST_WINDOW_MS (friends farming the buyer's purchases);
 *   ALERT_REFUND_RATE   a sharer with ALERTS_REFUND_MIN or more credited purchases of which at
 *                       least ALERTS_REFUND_RATE were refunded (buy, get credited, refund);
 *   ALERT_RECIPROCAL    two users each credited by the other's shares (a ring of two).
 *
 * Cost: one reverse scan of the merchant's purchases of the period (a get per purchase),
 * capped at ALERTS_MAX_SCAN, then sorting the referred ones. Pure over a read txn.
 */
#ifndef REGULARS_ALERTS_H
#define REGULARS_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/store.h"

#define ALERTS_BURST_SHARES 3
#define ALERTS_BURST_WINDOW_MS (24LL * 3600 * 1000)
#define ALERTS_REFUND_MIN 3
#define ALERTS_REFUND_RATE 0.5
#define ALERTS_MAX_SCAN 200000
#define ALERTS_MAX 100

enum alert_kind { ALERT_BURST_BUYER = 1, ALERT_REFUND_RATE = 2, ALERT_RECIPROCAL = 3 };

struct alert {
    enum alert_kind kind;
    uint64_t user;    /* the buyer (burst), the sharer (refund rate), the first user (pair) */
    uint64_t other;   /* the second user of a reciprocal pair, else 0 */
    uint64_t count;   /* shares crediting the buyer in the window / credited purchases /
                         credits user -> other */
    uint64_t count2;  /* refunded of them / credits other -> user; else 0 */
    int64_t first_at; /* the pattern's first and last purchase */
    int64_t last_at;
};

/** Finds the alerts of merchant over [now - days, now]; at most max into out, most recent
 *  pattern first. Returns 0 or a store error. */
int alerts_scan(struct store_tx *tx, uint64_t merchant, int64_t now, int days, struct alert *out,
                size_t max, size_t *n);

#endif
