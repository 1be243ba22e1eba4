/*
 * --demo: a small city that lives. On an empty data folder it seeds a dozen Seoul cafés,
 * restaurants and shops at real coordinates, about 200 customers in a small-world friend
 * graph and two weeks of history; then a gentle simulation (purchases, shares, friends
 * buying within credit windows, friend requests, the occasional refund and redemption) runs
 * on the server's loop, so that dashboards and apps move. It prints ready-to-click links.
 *
 * Demo secrets are derived from a random salt kept in the data folder (DB_META "demo:salt"),
 * so every restart prints the same working links while the store still holds only hashes.
 * Anyone with a copy of the data folder can derive them: demo data is not for production.
 */
#ifndef REGULARS_DEMO_H
#define REGULARS_DEMO_H

struct server;

/** Starts the demo on s: call after server_init and before server_run when s->cfg.demo is
 *  set. On an empty data folder it submits the seeding write; on a folder seeded by an
 *  earlier --demo it finds the demo city again; on a folder with other data it only logs a
 *  warning. The links are printed to stdout once the loop runs (after the "listening" line).
 *  Returns 0, or RG_ENOMEM / a store error (the server may go on without the demo). */
int demo_start(struct server *s);

/** Stops the simulation and frees its state (once its writes in flight are done). Call at
 *  shutdown, after server_run returns and before server_fini (which runs the loop to close
 *  handles). Safe to call when demo_start was not called or failed. */
void demo_stop(struct server *s);

#endif
