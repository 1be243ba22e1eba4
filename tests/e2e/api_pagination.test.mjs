// API.md "Lists": newest first, ?limit= 1..200 (default 50) else 422, ?before=<cursor> walks
// every item once, "next" null at the end — for every paginated list.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { assertInvalid, expectStatus, scenario, startBench, walk } from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

const N = 55; // more than one default page

/** One user with N purchases (each shared) at one merchant, made one after another. */
async function fixture(sc) {
    const m = await sc.merchant({ rules: { earn_rate_bp: 10000 } });
    const u = await sc.user('Pager');
    const purchases = [];
    const shares = [];
    for (let i = 0; i < N; i++) {
        const p = await sc.buy(m, u, i + 1);
        purchases.push(p.purchase.id);
        shares.push((await sc.share(u, p.purchase.id)).id);
    }
    const ledger = (await sc.ledger(u)).map((e) => e.id);
    return { m, u, purchases, shares, ledger };
}

const LISTS = (f) => [
    { path: '/v1/me/ledger', name: 'entries', token: f.u.token, want: f.ledger },
    { path: '/v1/me/purchases', name: 'purchases', token: f.u.token, want: [...f.purchases].reverse() },
    { path: '/v1/me/shares', name: 'shares', token: f.u.token, want: [...f.shares].reverse() },
    { path: '/v1/merchants/me/purchases', name: 'purchases', token: f.m.key, want: [...f.purchases].reverse() },
];

scenario('every list: default limit 50, limit 1..200, before walks every item once, newest first', S, async (sc) => {
    const f = await fixture(sc);
    assert.equal(f.ledger.length, N);
    for (const l of LISTS(f)) {
        const first = expectStatus(await sc.api('GET', l.path, { token: l.token }), 200, l.path);
        assert.equal(first[l.name].length, 50, `${l.path}: default page of 50`);
        assert.equal(typeof first.next, 'string', `${l.path}: next after a full page`);
        assert.deepEqual(first[l.name].map((x) => x.id), l.want.slice(0, 50), `${l.path}: newest first`);
        const rest = expectStatus(await sc.api('GET', `${l.path}?before=${encodeURIComponent(first.next)}`, { token: l.token }), 200);
        assert.deepEqual(rest[l.name].map((x) => x.id), l.want.slice(50), `${l.path}: the rest after the cursor`);
        assert.equal(rest.next, null, `${l.path}: next null at the end`);

        for (const limit of [1, 7, 54, 55, 200]) {
            const items = await walk(sc.srv, l.path, l.name, l.token, limit);
            assert.deepEqual(items.map((x) => x.id), l.want, `${l.path} limit=${limit}: each item once, in order`);
        }
        const all = expectStatus(await sc.api('GET', `${l.path}?limit=200`, { token: l.token }), 200);
        assert.equal(all[l.name].length, N);
        assert.equal(all.next, null, `${l.path}: everything fits: next null`);
        const exact = expectStatus(await sc.api('GET', `${l.path}?limit=${N}`, { token: l.token }), 200);
        assert.equal(exact[l.name].length, N);
        if (exact.next !== null) {
            // Allowed: a cursor after an exactly full page, as long as it leads to an empty page.
            const tail = expectStatus(await sc.api('GET', `${l.path}?limit=${N}&before=${encodeURIComponent(exact.next)}`, { token: l.token }), 200);
            assert.deepEqual(tail[l.name], []);
            assert.equal(tail.next, null);
        }
        for (const bad of ['0', '201', '-1', '1.5', 'abc', '']) {
            assertInvalid(await sc.api('GET', `${l.path}?limit=${bad}`, { token: l.token }), 'limit', `${l.path} limit=${bad}`);
        }
    }
});

scenario('a walk is stable: items added during the walk do not show up in later pages', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 10000 } });
    const u = await sc.user('Stable');
    for (let i = 0; i < 12; i++) await sc.buy(m, u, 10 + i);
    const want = (await sc.ledger(u)).map((e) => e.id);
    const seen = [];
    let before = null;
    for (;;) {
        const q = `/v1/me/ledger?limit=5${before ? `&before=${encodeURIComponent(before)}` : ''}`;
        const r = expectStatus(await sc.api('GET', q, { token: u.token }), 200);
        seen.push(...r.entries.map((e) => e.id));
        await sc.buy(m, u, 1); // a newer entry between pages
        if (r.next === null) break;
        before = r.next;
    }
    assert.deepEqual(seen, want, 'the walk saw exactly the entries older than its start');
    assert.equal((await sc.ledger(u)).length, 12 + 3);
});

scenario('entries are created_at newest first on every list', S, async (sc) => {
    const m = await sc.merchant();
    const u = await sc.user('Times');
    for (let i = 0; i < 5; i++) {
        const p = await sc.buy(m, u, 1000);
        await sc.share(u, p.purchase.id);
        await sc.advance(1);
    }
    for (const [path, name, token] of [
        ['/v1/me/ledger', 'entries', u.token],
        ['/v1/me/purchases', 'purchases', u.token],
        ['/v1/me/shares', 'shares', u.token],
        ['/v1/merchants/me/purchases', 'purchases', m.key],
    ]) {
        const items = await walk(sc.srv, path, name, token, 2);
        assert.equal(items.length, 5);
        for (let i = 1; i < items.length; i++) {
            assert.ok(items[i - 1].created_at > items[i].created_at, `${path}: newest first by created_at`);
        }
    }
});
