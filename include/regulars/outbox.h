/*
 * The outbox: every event is stored in the write txn of the change that caused it, with the
 * next per-recipient seq (1, 2, 3, ... without gaps), and only published after that txn is
 * durable. At least the last OUTBOX_KEEP events per recipient are kept for replay (`since`):
 * older ones are pruned OUTBOX_PRUNE at a time as new ones are appended, so a recipient holds
 * between OUTBOX_KEEP and OUTBOX_KEEP + OUTBOX_PRUNE - 1 of them.
 *
 * Cost of an append in LMDB operations: one cursor seek (the last seq) and one put; every
 * OUTBOX_PRUNE-th append of a recipient past the window also deletes OUTBOX_PRUNE keys in
 * one cursor run.
 */
#ifndef REGULARS_OUTBOX_H
#define REGULARS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/buf.h"
#include "regulars/store.h"

#define OUTBOX_KEEP  1000 /* events per recipient kept at least */
#define OUTBOX_PRUNE 64   /* events pruned at once */

/** Appends an event for recipient: builds the frame
 *  {"seq":N,"type":"<type>","at":<at>,"data":<data_json>} into frame (reset first), stores
 *  it, and sets *seq. data_json must be a JSON object text. Writer thread. */
int outbox_append(struct store_tx *tx, uint64_t recipient, const char *type, int64_t at,
                  const char *data_json, size_t data_len, struct buf *frame, uint64_t *seq);
/** The last seq issued to recipient (0 when none). */
int outbox_last_seq(struct store_tx *tx, uint64_t recipient, uint64_t *seq);

#endif
