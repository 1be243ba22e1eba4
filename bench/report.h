/*
 * The bench report: reads the result files of one run (the .json files of DIR, written by
 * `regulars-bench --json` and `lmdb-ceiling --json`, plus an optional DIR/meta.json of
 * {"key": "text"} lines about the run) and writes DIR/report.md (Markdown: the targets as
 * ratios, every result, the LMDB ceiling, the machine) and DIR/chart.svg (throughput and
 * latency percentiles per scenario).
 *
 * Results are found by id: read, read-nginx, purchase, purchase-nosync, purchase-half, mix,
 * push, connections, lmdb. Missing ones leave their rows out ("not measured").
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <jansson.h>

#include "bbuf.h"

/** Writes dir/report.md and dir/chart.svg. machine is an extra line about the machine
 *  (disk, virtualisation), or NULL. Returns 0, or -1 with a message on stderr. */
int report_write(const char *dir, const char *machine);

/** The ratio checks of the report, for tests: fills out (Markdown table) from the results
 *  array (objects as the bench writes them). */
void report_targets(struct bbuf *out, json_t *results);

/** The SVG chart for the results array. */
void report_chart(struct bbuf *out, json_t *results);

#endif
