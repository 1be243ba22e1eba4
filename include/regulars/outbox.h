/*
 * The outbox: every event is stored in the write txn of the change that caused it, with the
 * next per-recipient seq (1, 2, 3, ... without gaps), and only published after that txn is
 * durable. The last OUTBOX_KEEP events per recipient are kept for replay (`since`); older
 * ones are pruned as new ones are appended.
 */
#ifndef REGULARS_OUTBOX_H
#define REGULARS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/buf.h"
#include "regulars/store.h"

#define OUTBOX_KEEP 1000

/** Appends an event for recipient: builds the frame
 *  {"seq":N,"type":"<type>","at":<at>,"data":<data_json>} into frame (reset first), stores
 *  it, and sets *seq. data_json must be a JSON object text. Writer thread. */
int outbox_append(struct store_tx *tx, uint64_t recipient, const char *type, int64_t at,
                  const char *data_json, size_t data_len, struct buf *frame, uint64_t *seq);
/** The last seq issued to recipient (0 when none). */
int outbox_last_seq(struct store_tx *tx, uint64_t recipient, uint64_t *seq);

#endif
