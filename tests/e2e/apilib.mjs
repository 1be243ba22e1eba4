// Shared helpers for the API contract tests (api_*.test.mjs): principals, friendships,
// purchases and shares over real HTTP, error-shape checks, and the ledger invariant that is
// checked after every scenario.
//
//   const srv = await startBench();                       // regularsd --bench
//   scenario('name', () => srv, async (sc) => {           // a test whose users get checked
//       const a = await sc.user('Ann');                   // {id, token, user, name}
//       const m = await sc.merchant({ rules: { friend_bonus: 0 } }); // {id, key, merchant}
//       await sc.friends(a, b);
//       const p = await sc.buy(m, b, 10000);              // the 201 JSON
//       const s = await sc.share(a, p.purchase.id);       // the 201 JSON's share
//   });                                                   // then: balance == ledger sum

import assert from 'node:assert/strict';
import { createUser, startServer, test } from './lib.mjs';

let uniqCounter = 0;
/** A short string unique within this process and across runs. */
export const uniq = () =>
    `${Date.now().toString(36)}${(uniqCounter++).toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;

/** A handle matching [a-z0-9_]{3,32}. */
export const handleOf = (p = 'u') => `${p}_${uniq()}`.slice(0, 32);

let phoneCounter = Math.floor(Math.random() * 1e6);
/** A fresh E.164 phone number. */
export const phoneOf = () => `+8210${String(10000000 + (phoneCounter++ % 89999999)).padStart(8, '0')}`;

/** Starts regularsd with --bench (plus flags). */
export function startBench(flags = [], opts = {}) {
    return startServer(['--bench', ...flags], opts);
}

/** Asserts the API's error shape: status, JSON {"error":{"code","message"}}, and the code. */
export function assertError(r, status, code, what = '') {
    const ctx = `${what ? `${what}: ` : ''}${r.status} ${r.text}`;
    assert.equal(r.status, status, `status (${ctx})`);
    assert.match(r.headers.get('content-type') || '', /^application\/json/, `content-type (${ctx})`);
    assert.equal(typeof r.json?.error, 'object', `error object (${ctx})`);
    if (code !== undefined) assert.equal(r.json.error.code, code, `error code (${ctx})`);
    assert.equal(typeof r.json.error.message, 'string', ctx);
    assert.ok(r.json.error.message.length > 0, `error message not empty (${ctx})`);
}

/** Asserts a 422 invalid whose message names field. */
export function assertInvalid(r, field, what = '') {
    assertError(r, 422, 'invalid', what);
    assert.ok(r.json.error.message.includes(field), `message names ${field}: ${r.text} ${what}`);
}

/** Asserts status (with the body in the message) and returns the JSON. */
export function expectStatus(r, status, what = '') {
    assert.equal(r.status, status, `${what ? `${what}: ` : ''}${r.status} ${r.text}`);
    return r.json;
}

/** POST /bench/clock; resolves the server's new now (ms). */
export async function advance(srv, seconds) {
    const r = await srv.api('POST', '/bench/clock', { body: { advance_s: seconds } });
    expectStatus(r, 200, `advance ${seconds}s`);
    assert.equal(typeof r.json.now, 'number');
    return r.json.now;
}

/** The server's now (ms), read by advancing the clock by 0 s. */
export const serverNow = (srv) => advance(srv, 0);

// ---------------------------------------------------------------------------------------
// Principals and actions (each throws unless the server answers the expected 2xx)

/** POST /v1/merchants; resolves {id, key, merchant}. */
export async function makeMerchant(srv, fields = {}) {
    const body = { name: `Shop ${uniq()}`, lat: 37.5665, lon: 126.978, ...fields };
    const r = await srv.api('POST', '/v1/merchants', { body });
    expectStatus(r, 201, `POST /v1/merchants ${JSON.stringify(body)}`);
    assert.equal(typeof r.json.api_key, 'string');
    return { id: r.json.merchant.id, key: r.json.api_key, merchant: r.json.merchant, name: r.json.merchant.name };
}

/** POST /v1/users; resolves {id, token, user, name}. */
export async function makeUser(srv, name = 'User', fields = {}) {
    const u = await createUser(srv, { name, ...fields });
    return { ...u, name: u.user.name };
}

/** a asks b, b accepts: they are friends. */
export async function makeFriends(srv, a, b) {
    const r1 = await srv.api('PUT', `/v1/friends/${b.id}`, { token: a.token });
    expectStatus(r1, 200, 'friend ask');
    const r2 = await srv.api('PUT', `/v1/friends/${a.id}`, { token: b.token });
    expectStatus(r2, 200, 'friend accept');
    assert.equal(r2.json.status, 'friends');
}

/** POST /v1/purchases (merchant m, buyer u); resolves the raw answer. */
export function purchaseRaw(srv, m, u, amount, { key, body, token } = {}) {
    const headers = key === undefined ? {} : { 'Idempotency-Key': key };
    return srv.api('POST', '/v1/purchases', {
        token: token ?? m.key,
        headers,
        body: body ?? { user_id: u.id, amount },
    });
}

/** POST /v1/purchases expecting 201; resolves the JSON {purchase, awards}. */
export async function purchase(srv, m, u, amount, opts) {
    const r = await purchaseRaw(srv, m, u, amount, opts);
    return expectStatus(r, 201, `purchase ${amount} by ${u?.id} at ${m.id}`);
}

/** POST /v1/shares expecting 201; resolves the share. */
export async function share(srv, u, purchaseId, channel = 'post', message) {
    const body = { purchase_id: purchaseId, channel };
    if (message !== undefined) body.message = message;
    const r = await srv.api('POST', '/v1/shares', { token: u.token, body });
    return expectStatus(r, 201, `share ${purchaseId}`).share;
}

/** Buys at m and shares it: resolves {purchase, share}. */
export async function buyAndShare(srv, m, u, amount = 10000) {
    const p = await purchase(srv, m, u, amount);
    const s = await share(srv, u, p.purchase.id);
    return { purchase: p.purchase, share: s };
}

/** POST /v1/purchases/{id}/refund expecting 200; resolves the JSON. */
export async function refund(srv, m, purchaseId) {
    const r = await srv.api('POST', `/v1/purchases/${purchaseId}/refund`, { token: m.key });
    return expectStatus(r, 200, `refund ${purchaseId}`);
}

/** GET /v1/me balance. */
export async function balanceOf(srv, u) {
    const r = await srv.api('GET', '/v1/me', { token: u.token });
    return expectStatus(r, 200, 'GET /v1/me').balance;
}

/**
 * Walks a paginated list with ?limit=&before= and returns every item, checking that the
 * cursors make progress. path may carry a query already.
 */
export async function walk(srv, path, listName, token, limit = 200) {
    const items = [];
    let before = null;
    for (let pages = 0; ; pages++) {
        assert.ok(pages < 10000, `too many pages of ${path}`);
        const sep = path.includes('?') ? '&' : '?';
        const q = `${sep}limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ''}`;
        const r = await srv.api('GET', path + q, { token });
        expectStatus(r, 200, `GET ${path + q}`);
        assert.ok(Array.isArray(r.json[listName]), `${listName} is a list: ${r.text}`);
        assert.ok('next' in r.json, `"next" present: ${r.text}`);
        assert.ok(r.json[listName].length <= limit);
        items.push(...r.json[listName]);
        if (r.json.next === null) break;
        assert.equal(typeof r.json.next, 'string');
        assert.notEqual(r.json.next, before, 'the cursor moves');
        before = r.json.next;
    }
    return items;
}

/** Every ledger entry of u, newest first. */
export const ledgerOf = (srv, u, limit = 200) => walk(srv, '/v1/me/ledger', 'entries', u.token, limit);

/** Asserts GET /v1/me balance == the sum of every ledger entry's points (walking pages). */
export async function checkLedger(srv, u, limit = 200) {
    const bal = await balanceOf(srv, u);
    const entries = await ledgerOf(srv, u, limit);
    const sum = entries.reduce((s, e) => s + e.points, 0);
    assert.equal(bal, sum, `balance of ${u.id} (${u.name}) equals the sum of its ${entries.length} ledger entries`);
    // Newest first, and balance_after chains: the newest entry's balance_after is the balance.
    if (entries.length) assert.equal(entries[0].balance_after, bal, `newest balance_after of ${u.id}`);
    let run = 0;
    for (let i = entries.length - 1; i >= 0; i--) {
        run += entries[i].points;
        assert.equal(entries[i].balance_after, run, `balance_after of entry ${entries[i].id} of ${u.id}`);
    }
    return { balance: bal, entries };
}

/** checkLedger for every user. */
export async function checkLedgers(srv, users) {
    for (const u of users) await checkLedger(srv, u);
}

/**
 * What a user's or a merchant's state looks like, for "a refused request changed nothing":
 * a user's /v1/me, ledger, purchases, shares, friends; a merchant's profile and purchases.
 */
export async function snapshot(srv, { users = [], merchants = [], purchases = [] } = {}) {
    const out = {};
    for (const u of users) {
        const me = await srv.api('GET', '/v1/me', { token: u.token });
        out[`user ${u.id}`] = {
            me: me.json,
            ledger: await ledgerOf(srv, u),
            purchases: await walk(srv, '/v1/me/purchases', 'purchases', u.token),
            shares: await walk(srv, '/v1/me/shares', 'shares', u.token),
            friends: (await srv.api('GET', '/v1/friends', { token: u.token })).json,
        };
    }
    for (const m of merchants) {
        out[`merchant ${m.id}`] = {
            me: (await srv.api('GET', '/v1/merchants/me', { token: m.key })).json,
            purchases: await walk(srv, '/v1/merchants/me/purchases', 'purchases', m.key),
        };
    }
    for (const p of purchases) {
        out[`purchase ${p.id}`] = (await srv.api('GET', `/v1/purchases/${p.id}`, { token: p.token })).json;
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Scenarios: every user made through sc is checked (balance == ledger sum) at the end

export class Scenario {
    constructor(srv) {
        this.srv = srv;
        this.users = [];
        this.merchants = [];
    }

    async user(name = 'User', fields = {}) {
        const u = await makeUser(this.srv, name, fields);
        this.users.push(u);
        return u;
    }

    async someUsers(n, prefix = 'U') {
        const out = [];
        for (let i = 0; i < n; i++) out.push(await this.user(`${prefix}${i}`));
        return out;
    }

    async merchant(fields = {}) {
        const m = await makeMerchant(this.srv, fields);
        this.merchants.push(m);
        return m;
    }

    friends(a, b) {
        return makeFriends(this.srv, a, b);
    }

    buy(m, u, amount, opts) {
        return purchase(this.srv, m, u, amount, opts);
    }

    share(u, purchaseId, channel, message) {
        return share(this.srv, u, purchaseId, channel, message);
    }

    buyAndShare(m, u, amount) {
        return buyAndShare(this.srv, m, u, amount);
    }

    refund(m, purchaseId) {
        return refund(this.srv, m, purchaseId);
    }

    advance(seconds) {
        return advance(this.srv, seconds);
    }

    balance(u) {
        return balanceOf(this.srv, u);
    }

    ledger(u) {
        return ledgerOf(this.srv, u);
    }

    api(method, path, opts) {
        return this.srv.api(method, path, opts);
    }

    /** The invariant, for every user of the scenario. */
    check() {
        return checkLedgers(this.srv, this.users);
    }
}

/**
 * A test whose body gets a Scenario on getSrv()'s server; after the body, every user made
 * through it has balance == the sum of their ledger entries.
 */
export function scenario(name, getSrv, fn, opts = {}) {
    return test(name, opts, async (t) => {
        const sc = new Scenario(getSrv());
        await fn(sc, t);
        await sc.check();
    });
}

/** The points of u in a purchase's awards, by kind. */
export function awardsOf(awards, u) {
    const out = {};
    for (const a of awards) if (a.user_id === u.id) out[a.kind] = (out[a.kind] ?? 0) + a.points;
    return out;
}
