// API.md "Purchases" and "Attribution" over HTTP: recording, the points formula, phone look-up,
// reads, refunds and reversals, every attribution rule (window edges with /bench/clock, rules
// read at share vs purchase time, the cap, most recent wins, refunds), and idempotency keys.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { test, wsConnect } from './lib.mjs';
import {
    advance,
    assertError,
    assertInvalid,
    awardsOf,
    checkLedgers,
    makeMerchant,
    makeUser,
    expectStatus,
    phoneOf,
    purchaseRaw,
    scenario,
    startBench,
    uniq,
    walk,
} from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

const sharesOf = (sc, u) => walk(sc.srv, '/v1/me/shares', 'shares', u.token);
const referralsOf = async (sc, u, shareId) => (await sharesOf(sc, u)).find((s) => s.id === shareId).referrals;
const getPurchase = (sc, id, token) => sc.api('GET', `/v1/purchases/${id}`, { token });

// ---------------------------------------------------------------------------------------
// Recording

scenario('POST /v1/purchases -> 201 {purchase:{...,referral:null}, awards}', S, async (sc) => {
    const m = await sc.merchant({ currency: 'USD' });
    const b = await sc.user('Buyer');
    const r = await purchaseRaw(sc.srv, m, b, 12345);
    expectStatus(r, 201);
    assert.deepEqual(Object.keys(r.json).sort(), ['awards', 'purchase']);
    const p = r.json.purchase;
    for (const k of ['id', 'user_id', 'merchant_id', 'amount', 'currency', 'created_at', 'referral']) {
        assert.ok(k in p, `purchase.${k} in ${r.text}`);
    }
    assert.equal(typeof p.id, 'string');
    assert.equal(p.user_id, b.id);
    assert.equal(p.merchant_id, m.id);
    assert.equal(p.amount, 12345);
    assert.equal(p.currency, 'USD', "the merchant's currency");
    assert.ok(Number.isInteger(p.created_at) && p.created_at > 1e12);
    assert.equal(p.referral, null);
    assert.ok(!('refunded_at' in p) || p.refunded_at === null);
    assert.deepEqual(r.json.awards, [{ user_id: b.id, kind: 'purchase', points: 123 }]);
    const led = await sc.ledger(b);
    assert.equal(led.length, 1);
    assert.equal(led[0].kind, 'purchase');
    assert.equal(led[0].points, 123);
    assert.equal(led[0].purchase_id, p.id);
});

scenario('points = floor(amount x earn_rate_bp / 10000)', S, async (sc) => {
    const cases = [
        [100, 12345, 123],
        [333, 1001, 33],
        [10000, 777, 777],
        [1, 9999, 0],
        [1, 10000, 1],
        [2500, 1000000000, 250000000],
        [0, 1000000000, 0],
    ];
    for (const [bp, amount, points] of cases) {
        const m = await sc.merchant({ rules: { earn_rate_bp: bp } });
        const b = await sc.user(`B${bp}`);
        const p = await sc.buy(m, b, amount);
        assert.deepEqual(awardsOf(p.awards, b), points ? { purchase: points } : {}, `${amount} at ${bp} bp`);
        assert.equal(await sc.balance(b), points);
        // Rule 4: an award of 0 points writes no ledger entry.
        assert.equal((await sc.ledger(b)).length, points ? 1 : 0, `ledger entries at ${bp} bp`);
    }
});

scenario('amount is an integer 1..1000000000, else 422 and nothing recorded', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    for (const amount of [0, -1, 1000000001, 1.5, '100', null, true, [1]]) {
        assertInvalid(await purchaseRaw(sc.srv, m, b, amount), 'amount', `amount ${JSON.stringify(amount)}`);
    }
    assertInvalid(await purchaseRaw(sc.srv, m, b, 0, { body: { user_id: b.id } }), 'amount', 'no amount');
    assert.deepEqual(await walk(sc.srv, '/v1/merchants/me/purchases', 'purchases', m.key), []);
    expectStatus(await purchaseRaw(sc.srv, m, b, 1), 201, 'amount 1');
    expectStatus(await purchaseRaw(sc.srv, m, b, 1000000000), 201, 'amount 1000000000');
    assert.equal(await sc.balance(b), 10000000);
});

scenario('the buyer is user_id or phone; unknown -> 404 not_found; neither -> 422', S, async (sc) => {
    const m = await sc.merchant();
    const ph = phoneOf();
    const b = await sc.user('Phoned', { phone: ph });
    const r = await purchaseRaw(sc.srv, m, null, 0, { body: { phone: ph, amount: 5000 } });
    expectStatus(r, 201, 'by phone');
    assert.equal(r.json.purchase.user_id, b.id);
    assert.equal(await sc.balance(b), 50);
    assertError(await purchaseRaw(sc.srv, m, null, 0, { body: { phone: phoneOf(), amount: 5000 } }), 404, 'not_found', 'no user with that phone');
    assertError(await purchaseRaw(sc.srv, m, null, 0, { body: { user_id: 'u_zzzzzzzzzzzzz', amount: 5000 } }), 404, 'not_found', 'unknown user_id');
    assertError(await purchaseRaw(sc.srv, m, null, 0, { body: { user_id: m.id, amount: 5000 } }), 404, 'not_found', 'a merchant id as user_id');
    assertInvalid(await purchaseRaw(sc.srv, m, null, 0, { body: { amount: 5000 } }), 'user_id', 'neither');
    assertInvalid(await purchaseRaw(sc.srv, m, null, 0, { body: { phone: '010-1234', amount: 5000 } }), 'phone', 'not E.164');
    assertInvalid(await purchaseRaw(sc.srv, m, null, 0, { body: { user_id: 5, amount: 5000 } }), 'user_id', 'user_id not a string');
    assert.equal((await walk(sc.srv, '/v1/merchants/me/purchases', 'purchases', m.key)).length, 1, 'only the good one');
});

scenario('POST /v1/purchases needs a merchant key: none -> 401, user token -> 403', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    assertError(await sc.api('POST', '/v1/purchases', { body: { user_id: b.id, amount: 100 } }), 401, 'unauthorized');
    assertError(await purchaseRaw(sc.srv, m, b, 100, { token: 'mk_wrong' }), 401, 'unauthorized');
    assertError(await purchaseRaw(sc.srv, m, b, 100, { token: b.token }), 403, 'forbidden');
    assert.deepEqual(await walk(sc.srv, '/v1/me/purchases', 'purchases', b.token), []);
});

// ---------------------------------------------------------------------------------------
// GET /v1/purchases/{id}

scenario('GET /v1/purchases/{id}: its merchant and its buyer see it; others get 404', S, async (sc) => {
    const m = await sc.merchant();
    const m2 = await sc.merchant();
    const b = await sc.user('Buyer');
    const x = await sc.user('Stranger');
    const p = await sc.buy(m, b, 5000);
    const id = p.purchase.id;
    for (const [who, token] of [['merchant', m.key], ['buyer', b.token]]) {
        const r = expectStatus(await getPurchase(sc, id, token), 200, who);
        assert.deepEqual(Object.keys(r), ['purchase']);
        const { awards, ...rest } = r.purchase;
        for (const [k, v] of Object.entries(p.purchase)) assert.deepEqual(rest[k], v, `${who}: purchase.${k}`);
        assert.deepEqual(awards, p.awards, 'GET views carry the awards');
    }
    assertError(await getPurchase(sc, id, m2.key), 404, 'not_found', "another merchant's");
    assertError(await getPurchase(sc, id, x.token), 404, 'not_found', "another user's");
    assertError(await getPurchase(sc, 'p_zzzzzzzzzzzzz', m.key), 404, 'not_found', 'unknown');
    assertError(await getPurchase(sc, 'garbage', b.token), 404, 'not_found', 'garbage');
    assertError(await getPurchase(sc, id), 401, 'unauthorized', 'no secret');
    assertError(await getPurchase(sc, id, 'ut_nope'), 401, 'unauthorized', 'bad secret');
});

// ---------------------------------------------------------------------------------------
// Refunds

scenario('refund -> 200 {purchase with refunded_at, reversals: one per award}; twice -> 409', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('Sharer');
    const b = await sc.user('Buyer');
    await sc.friends(a, b);
    const { share: s } = await sc.buyAndShare(m, a, 10000);
    const p = await sc.buy(m, b, 20000);
    assert.equal(p.awards.length, 3);
    const t0 = await advance(sc.srv, 5);
    const r = await sc.api('POST', `/v1/purchases/${p.purchase.id}/refund`, { token: m.key });
    expectStatus(r, 200);
    assert.equal(r.json.purchase.id, p.purchase.id);
    assert.ok(Number.isInteger(r.json.purchase.refunded_at));
    assert.ok(r.json.purchase.refunded_at >= t0, 'refunded_at is the (moved) server time');
    assert.deepEqual(r.json.purchase.referral, { share_id: s.id, sharer_id: a.id });
    const want = p.awards.map((w) => ({ user_id: w.user_id, kind: 'reversal', points: -w.points }));
    assert.deepEqual(
        [...r.json.reversals].sort((x, y) => x.points - y.points || x.user_id.localeCompare(y.user_id)),
        want.sort((x, y) => x.points - y.points || x.user_id.localeCompare(y.user_id)),
    );
    assert.equal(await sc.balance(b), 0, "buyer's purchase and friend_bonus reversed");
    assert.equal(await sc.balance(a), 100, "sharer keeps its own purchase points, loses the referral");
    const la = await sc.ledger(a);
    assert.equal(la[0].kind, 'reversal');
    assert.equal(la[0].points, -100);
    assert.equal(la[0].purchase_id, p.purchase.id);
    const g = expectStatus(await getPurchase(sc, p.purchase.id, b.token), 200);
    assert.equal(g.purchase.refunded_at, r.json.purchase.refunded_at, 'GET shows refunded_at');

    assertError(await sc.api('POST', `/v1/purchases/${p.purchase.id}/refund`, { token: m.key }), 409, 'already_refunded');
    assert.equal(await sc.balance(b), 0, 'the second refund reversed nothing');
    assert.equal((await sc.ledger(b)).length, 4);
});

scenario('refund: another merchant -> 404, user -> 403, none -> 401, unknown -> 404; nothing changes', S, async (sc) => {
    const m = await sc.merchant();
    const m2 = await sc.merchant();
    const b = await sc.user('B');
    const p = await sc.buy(m, b, 5000);
    const path = `/v1/purchases/${p.purchase.id}/refund`;
    assertError(await sc.api('POST', path, { token: m2.key }), 404, 'not_found', 'another merchant');
    assertError(await sc.api('POST', path, { token: b.token }), 403, 'forbidden', 'the buyer');
    assertError(await sc.api('POST', path), 401, 'unauthorized', 'no secret');
    assertError(await sc.api('POST', '/v1/purchases/p_zzzzzzzzzzzzz/refund', { token: m.key }), 404, 'not_found', 'unknown');
    const g = expectStatus(await getPurchase(sc, p.purchase.id, m.key), 200);
    assert.ok(!('refunded_at' in g.purchase) || g.purchase.refunded_at === null, 'not refunded');
    assert.equal(await sc.balance(b), 50);
});

scenario('a refund may take a balance below zero', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 10000 } });
    const b = await sc.user('Spender');
    const p = await sc.buy(m, b, 300);
    expectStatus(await sc.api('POST', '/v1/redemptions', { token: b.token, body: { cash_points: 250 } }), 201);
    await sc.refund(m, p.purchase.id);
    assert.equal(await sc.balance(b), -250);
});

scenario('a refund of a purchase with no awards reverses nothing', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 0 } });
    const b = await sc.user('B');
    const p = await sc.buy(m, b, 300);
    assert.deepEqual(p.awards, []);
    const r = await sc.refund(m, p.purchase.id);
    assert.deepEqual(r.reversals, []);
    assert.deepEqual(await sc.ledger(b), []);
});

// ---------------------------------------------------------------------------------------
// Attribution

scenario('a friend buys after a share: buyer gets purchase + friend_bonus, sharer a referral', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 500, referral_bonus: 300, friend_bonus: 70 } });
    const a = await sc.user('Ann');
    const b = await sc.user('Bob');
    await sc.friends(a, b);
    const { share: s } = await sc.buyAndShare(m, a, 1000); // a: 50
    const p = await sc.buy(m, b, 2000);
    assert.deepEqual(p.purchase.referral, { share_id: s.id, sharer_id: a.id });
    assert.deepEqual(p.awards, [
        { user_id: b.id, kind: 'purchase', points: 100 },
        { user_id: a.id, kind: 'referral', points: 300 },
        { user_id: b.id, kind: 'friend_bonus', points: 70 },
    ]);
    assert.equal(await sc.balance(a), 350);
    assert.equal(await sc.balance(b), 170);
    assert.equal(await referralsOf(sc, a, s.id), 1, 'the share counts the credited friend');
    // A purchase by a non-friend or by the sharer earns the sharer nothing.
    const c = await sc.user('Carl');
    assert.equal((await sc.buy(m, c, 2000)).purchase.referral, null, 'not a friend');
    assert.equal((await sc.buy(m, a, 2000)).purchase.referral, null, "the sharer's own purchase");
    assert.equal(await sc.balance(a), 450);
    // A share at another merchant does not credit purchases here.
    const m2 = await sc.merchant();
    assert.equal((await sc.buy(m2, b, 2000)).purchase.referral, null, 'another merchant');
});

scenario('a share credits each friend once (never twice the same buyer)', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const b = await sc.user('B');
    await sc.friends(a, b);
    const { share: s } = await sc.buyAndShare(m, a);
    assert.notEqual((await sc.buy(m, b, 1000)).purchase.referral, null);
    const again = await sc.buy(m, b, 1000);
    assert.equal(again.purchase.referral, null, 'second purchase: the share has credited B');
    assert.deepEqual(again.awards, [{ user_id: b.id, kind: 'purchase', points: 10 }]);
    assert.equal(await referralsOf(sc, a, s.id), 1);
});

scenario('friendship is judged at the purchase: a share made before the friendship credits', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const b = await sc.user('B');
    const { share: s } = await sc.buyAndShare(m, a);
    await advance(sc.srv, 10);
    await sc.friends(a, b);
    const p = await sc.buy(m, b, 1000);
    assert.deepEqual(p.purchase.referral, { share_id: s.id, sharer_id: a.id });
});

scenario('credit window: credited before expires_at, not at or after it', S, async (sc) => {
    const m = await sc.merchant({ rules: { credit_window_s: 60 } });
    const a = await sc.user('Sharer');
    const [b, c, d] = await sc.someUsers(3, 'F');
    for (const f of [b, c, d]) await sc.friends(a, f);
    const { share: s } = await sc.buyAndShare(m, a);
    assert.equal(s.expires_at, s.created_at + 60000, 'expires_at = created_at + credit_window_s');
    const now = await advance(sc.srv, 58);
    assert.ok(now < s.expires_at, 'still inside the window');
    const pb = await sc.buy(m, b, 1000);
    assert.ok(pb.purchase.created_at < s.expires_at);
    assert.deepEqual(pb.purchase.referral, { share_id: s.id, sharer_id: a.id }, 'inside the window');
    // Land exactly on expires_at (or just past it): S.created_at <= t < S.expires_at fails.
    const n2 = await advance(sc.srv, 0);
    const left = s.expires_at - n2;
    await advance(sc.srv, Math.max(0, Math.ceil(left / 1000)));
    const pc = await sc.buy(m, c, 1000);
    assert.ok(pc.purchase.created_at >= s.expires_at, `purchase at ${pc.purchase.created_at} >= expires_at ${s.expires_at}`);
    assert.equal(pc.purchase.referral, null, 'at or past expires_at: no credit');
    await advance(sc.srv, 3600);
    assert.equal((await sc.buy(m, d, 1000)).purchase.referral, null, 'long expired');
    assert.equal(await referralsOf(sc, a, s.id), 1);
});

scenario('credit_window_s is read when the share is made: later changes do not move expires_at', S, async (sc) => {
    const m = await sc.merchant({ rules: { credit_window_s: 3600 } });
    const a = await sc.user('A');
    const a2 = await sc.user('A2');
    const b = await sc.user('B');
    const c = await sc.user('C');
    await sc.friends(a, b);
    await sc.friends(a2, c);
    const { share: long } = await sc.buyAndShare(m, a);
    expectStatus(await sc.api('PATCH', '/v1/merchants/me', { token: m.key, body: { rules: { credit_window_s: 60 } } }), 200);
    const { share: short } = await sc.buyAndShare(m, a2);
    assert.equal(long.expires_at - long.created_at, 3600e3);
    assert.equal(short.expires_at - short.created_at, 60e3);
    expectStatus(await sc.api('PATCH', '/v1/merchants/me', { token: m.key, body: { rules: { credit_window_s: 7200 } } }), 200);
    await advance(sc.srv, 120);
    const pb = await sc.buy(m, b, 1000);
    assert.deepEqual(pb.purchase.referral, { share_id: long.id, sharer_id: a.id }, 'the long window was kept after a shrink');
    const pc = await sc.buy(m, c, 1000);
    assert.equal(pc.purchase.referral, null, 'the short window was not stretched by a later change');
    const listed = (await sharesOf(sc, a)).find((x) => x.id === long.id);
    assert.equal(listed.expires_at, long.expires_at, 'expires_at is fixed');
});

scenario('every other rule is read when the purchase is recorded', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 100, referral_bonus: 100, friend_bonus: 50 } });
    const a = await sc.user('A');
    const b = await sc.user('B');
    await sc.friends(a, b);
    await sc.buyAndShare(m, a, 10000); // a: 100
    expectStatus(
        await sc.api('PATCH', '/v1/merchants/me', {
            token: m.key,
            body: { rules: { earn_rate_bp: 1000, referral_bonus: 555, friend_bonus: 44 } },
        }),
        200,
    );
    const p = await sc.buy(m, b, 10000);
    assert.deepEqual(awardsOf(p.awards, b), { purchase: 1000, friend_bonus: 44 });
    assert.deepEqual(awardsOf(p.awards, a), { referral: 555 });
    assert.equal(await sc.balance(a), 655);
});

scenario('cap: a share credits at most max_referrals_per_share friends (read at the purchase)', S, async (sc) => {
    const m = await sc.merchant({ rules: { max_referrals_per_share: 2 } });
    const a = await sc.user('A');
    const fs = await sc.someUsers(4, 'F');
    for (const f of fs) await sc.friends(a, f);
    const { share: s } = await sc.buyAndShare(m, a);
    assert.notEqual((await sc.buy(m, fs[0], 1000)).purchase.referral, null, '1st');
    assert.notEqual((await sc.buy(m, fs[1], 1000)).purchase.referral, null, '2nd');
    assert.equal((await sc.buy(m, fs[2], 1000)).purchase.referral, null, '3rd: over the cap');
    assert.equal(await referralsOf(sc, a, s.id), 2);
    expectStatus(await sc.api('PATCH', '/v1/merchants/me', { token: m.key, body: { rules: { max_referrals_per_share: 3 } } }), 200);
    assert.notEqual((await sc.buy(m, fs[2], 1000)).purchase.referral, null, 'the cap raised: credited now');
    assert.equal((await sc.buy(m, fs[3], 1000)).purchase.referral, null, 'over the new cap');
    assert.equal(await referralsOf(sc, a, s.id), 3);
    assert.equal(await sc.balance(a), 100 + 3 * 100);
});

scenario('the most recently created candidate wins; then the older one; then none', S, async (sc) => {
    const m = await sc.merchant();
    const a1 = await sc.user('Older');
    const a2 = await sc.user('Newer');
    const b = await sc.user('Buyer');
    await sc.friends(a1, b);
    await sc.friends(a2, b);
    const { share: s1 } = await sc.buyAndShare(m, a1);
    await advance(sc.srv, 1);
    const { share: s2 } = await sc.buyAndShare(m, a2);
    assert.ok(s2.created_at > s1.created_at);
    const p1 = await sc.buy(m, b, 1000);
    assert.deepEqual(p1.purchase.referral, { share_id: s2.id, sharer_id: a2.id }, 'newest wins');
    const p2 = await sc.buy(m, b, 1000);
    assert.deepEqual(p2.purchase.referral, { share_id: s1.id, sharer_id: a1.id }, 'then the older one');
    assert.equal((await sc.buy(m, b, 1000)).purchase.referral, null, 'then none');
    assert.equal(await sc.balance(a1), 200);
    assert.equal(await sc.balance(a2), 200);
});

scenario('of one sharer\'s two shares the newer wins; an expired newer one does not', S, async (sc) => {
    const m = await sc.merchant({ rules: { credit_window_s: 600 } });
    const a = await sc.user('A');
    const b = await sc.user('B');
    const c = await sc.user('C');
    await sc.friends(a, b);
    await sc.friends(a, c);
    const { share: old } = await sc.buyAndShare(m, a);
    expectStatus(await sc.api('PATCH', '/v1/merchants/me', { token: m.key, body: { rules: { credit_window_s: 60 } } }), 200);
    await advance(sc.srv, 1);
    const { share: young } = await sc.buyAndShare(m, a);
    assert.deepEqual((await sc.buy(m, b, 1000)).purchase.referral, { share_id: young.id, sharer_id: a.id });
    await advance(sc.srv, 120); // young expired, old (600 s) still live
    assert.deepEqual((await sc.buy(m, c, 1000)).purchase.referral, { share_id: old.id, sharer_id: a.id });
});

scenario('a share whose own purchase was refunded is no candidate', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const b = await sc.user('B');
    await sc.friends(a, b);
    const { purchase: pa } = await sc.buyAndShare(m, a);
    await sc.refund(m, pa.id);
    const p = await sc.buy(m, b, 1000);
    assert.equal(p.purchase.referral, null);
    assert.equal(await sc.balance(a), 0);
});

scenario('a credit stays counted after its purchase is refunded (cap and never-twice)', S, async (sc) => {
    const m = await sc.merchant({ rules: { max_referrals_per_share: 1 } });
    const a = await sc.user('A');
    const b = await sc.user('B');
    const c = await sc.user('C');
    await sc.friends(a, b);
    await sc.friends(a, c);
    const { share: s } = await sc.buyAndShare(m, a);
    const pb = await sc.buy(m, b, 1000);
    assert.notEqual(pb.purchase.referral, null);
    const r = await sc.refund(m, pb.purchase.id);
    assert.equal(r.reversals.length, 3);
    assert.equal(await referralsOf(sc, a, s.id), 1, 'still counted');
    assert.equal((await sc.buy(m, c, 1000)).purchase.referral, null, 'the cap of 1 is still used');
    expectStatus(await sc.api('PATCH', '/v1/merchants/me', { token: m.key, body: { rules: { max_referrals_per_share: 5 } } }), 200);
    assert.equal((await sc.buy(m, b, 1000)).purchase.referral, null, 'B was credited once already');
    assert.notEqual((await sc.buy(m, c, 1000)).purchase.referral, null, 'C now fits under the raised cap');
    assert.equal(await sc.balance(a), 100 + 100, 'the refunded referral is reversed, the later one kept');
});

scenario('awards of 0 points: no ledger entry, but the referral is recorded and counted', S, async (sc) => {
    const m = await sc.merchant({ rules: { referral_bonus: 0, friend_bonus: 0, max_referrals_per_share: 1 } });
    const a = await sc.user('A');
    const b = await sc.user('B');
    const c = await sc.user('C');
    await sc.friends(a, b);
    await sc.friends(a, c);
    const { share: s } = await sc.buyAndShare(m, a);
    const p = await sc.buy(m, b, 1000);
    assert.deepEqual(p.purchase.referral, { share_id: s.id, sharer_id: a.id });
    assert.deepEqual(p.awards, [{ user_id: b.id, kind: 'purchase', points: 10 }]);
    assert.deepEqual((await sc.ledger(b)).map((e) => e.kind), ['purchase']);
    assert.deepEqual((await sc.ledger(a)).map((e) => e.kind), ['purchase']);
    assert.equal(await referralsOf(sc, a, s.id), 1);
    assert.equal((await sc.buy(m, c, 1000)).purchase.referral, null, 'the 0-point credit used the cap');
    const g = expectStatus(await getPurchase(sc, p.purchase.id, m.key), 200);
    assert.deepEqual(g.purchase.referral, { share_id: s.id, sharer_id: a.id });
});

// ---------------------------------------------------------------------------------------
// Idempotency

scenario('same key + equal body (other spacing and key order) replays status and bytes', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    const key = `k-${uniq()}`;
    const first = await purchaseRaw(sc.srv, m, b, 0, { key, body: `{"user_id":"${b.id}","amount":4321}` });
    expectStatus(first, 201);
    const bodies = [
        `{"user_id":"${b.id}","amount":4321}`,
        `{ "amount" : 4321 ,\n  "user_id" : "${b.id}" }`,
        `{"amount":4321,"user_id":"${b.id}"}`,
    ];
    for (const body of bodies) {
        const r = await purchaseRaw(sc.srv, m, b, 0, { key, body });
        assert.equal(r.status, 201, `replay status for ${body}`);
        assert.equal(r.text, first.text, `replay bytes for ${body}`);
    }
    assert.equal((await walk(sc.srv, '/v1/merchants/me/purchases', 'purchases', m.key)).length, 1, 'one purchase');
    assert.equal(await sc.balance(b), 43, 'points once');
    assert.equal((await sc.ledger(b)).length, 1);
});

scenario('same key + another body -> 422 idempotency_mismatch, nothing changes', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    const c = await sc.user('C');
    const key = `k-${uniq()}`;
    const first = await purchaseRaw(sc.srv, m, b, 1000, { key });
    expectStatus(first, 201);
    assertError(await purchaseRaw(sc.srv, m, b, 1001, { key }), 422, 'idempotency_mismatch', 'other amount');
    assertError(await purchaseRaw(sc.srv, m, c, 1000, { key }), 422, 'idempotency_mismatch', 'other user');
    assertError(
        await purchaseRaw(sc.srv, m, b, 0, { key, body: { user_id: b.id, amount: 1000, note: 'x' } }),
        422,
        'idempotency_mismatch',
        'an extra (ignored) field still makes another body',
    );
    assert.equal(await sc.balance(b), 10);
    assert.equal(await sc.balance(c), 0);
    assert.equal((await walk(sc.srv, '/v1/merchants/me/purchases', 'purchases', m.key)).length, 1);
    const again = await purchaseRaw(sc.srv, m, b, 1000, { key });
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text, 'the stored answer is still there');
});

scenario('an error answer stores nothing: the key can be used again', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    const key = `k-${uniq()}`;
    assertInvalid(await purchaseRaw(sc.srv, m, b, 0, { key }), 'amount', '422 first');
    assertError(await purchaseRaw(sc.srv, m, null, 0, { key, body: { user_id: 'u_zzzzzzzzzzzzz', amount: 10 } }), 404, 'not_found');
    assertError(await purchaseRaw(sc.srv, m, null, 0, { key, body: { phone: phoneOf(), amount: 10 } }), 404, 'not_found', 'unknown phone (found in the writer)');
    const ok = await purchaseRaw(sc.srv, m, b, 2500, { key });
    expectStatus(ok, 201, 'the key is free after errors');
    assert.equal(ok.json.purchase.amount, 2500);
    const replay = await purchaseRaw(sc.srv, m, b, 2500, { key });
    assert.equal(replay.text, ok.text);
});

scenario('Idempotency-Key is 1..64 characters, else 400 and nothing recorded', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    assertError(await purchaseRaw(sc.srv, m, b, 100, { key: 'k'.repeat(65) }), 400, undefined, '65 chars');
    assertError(await purchaseRaw(sc.srv, m, b, 100, { key: '' }), 400, undefined, 'empty');
    assert.equal(await sc.balance(b), 0, 'nothing recorded');
    const k64 = `${uniq()}`.padEnd(64, 'x');
    expectStatus(await purchaseRaw(sc.srv, m, b, 100, { key: k64 }), 201, '64 chars');
    expectStatus(await purchaseRaw(sc.srv, m, b, 100, { key: 'k' }), 201, '1 char');
    assert.equal(await sc.balance(b), 2);
    const r = await purchaseRaw(sc.srv, m, b, 100, { key: 'k'.repeat(65) });
    assert.ok(['bad_request', 'bad_json'].includes(r.json.error.code), r.text);
});

scenario('two concurrent requests with one key -> one effect, the same answer', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    const key = `k-${uniq()}`;
    const rs = await Promise.all(Array.from({ length: 6 }, () => purchaseRaw(sc.srv, m, b, 7000, { key })));
    for (const r of rs) {
        assert.equal(r.status, 201, r.text);
        assert.equal(r.text, rs[0].text, 'every answer is the first one');
    }
    assert.equal((await walk(sc.srv, '/v1/merchants/me/purchases', 'purchases', m.key)).length, 1);
    assert.equal(await sc.balance(b), 70);
    // Concurrent, one key, two bodies: one wins, the other is a mismatch.
    const key2 = `k-${uniq()}`;
    const [x, y] = await Promise.all([
        purchaseRaw(sc.srv, m, b, 100, { key: key2 }),
        purchaseRaw(sc.srv, m, b, 200, { key: key2 }),
    ]);
    const statuses = [x.status, y.status].sort();
    assert.deepEqual(statuses, [201, 422], `${x.text} / ${y.text}`);
    const loser = x.status === 422 ? x : y;
    assert.equal(loser.json.error.code, 'idempotency_mismatch');
    assert.equal((await walk(sc.srv, '/v1/merchants/me/purchases', 'purchases', m.key)).length, 2);
});

scenario('purchase keys are per merchant: one key at two merchants is two purchases', S, async (sc) => {
    const m1 = await sc.merchant();
    const m2 = await sc.merchant();
    const b = await sc.user('B');
    const key = `k-${uniq()}`;
    const r1 = await purchaseRaw(sc.srv, m1, b, 1000, { key });
    const r2 = await purchaseRaw(sc.srv, m2, b, 1000, { key });
    expectStatus(r1, 201);
    expectStatus(r2, 201);
    assert.notEqual(r1.json.purchase.id, r2.json.purchase.id);
    assert.equal(await sc.balance(b), 20);
});

scenario('a stored answer is replayed for at least 24 hours, as it was', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const b = await sc.user('B');
    await sc.friends(a, b);
    await sc.buyAndShare(m, a);
    const key = `k-${uniq()}`;
    const first = await purchaseRaw(sc.srv, m, b, 3000, { key });
    expectStatus(first, 201);
    assert.notEqual(first.json.purchase.referral, null);
    await sc.refund(m, first.json.purchase.id); // the state changed since
    await advance(sc.srv, 23 * 3600 + 59 * 60);
    const r = await purchaseRaw(sc.srv, m, b, 3000, { key: key });
    assert.equal(r.status, 201);
    assert.equal(r.text, first.text, 'the same bytes a day later, not the refunded purchase');
    assert.equal((await walk(sc.srv, '/v1/merchants/me/purchases', 'purchases', m.key)).length, 2, 'no new purchase');
    assert.equal(await sc.balance(b), 0);
});

// ---------------------------------------------------------------------------------------
// Concurrency and stored facts

scenario('concurrent refunds of one purchase: one 200, the rest 409 already_refunded, reversed once', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    const p = await sc.buy(m, b, 10000);
    const rs = await Promise.all(Array.from({ length: 5 }, () => sc.api('POST', `/v1/purchases/${p.purchase.id}/refund`, { token: m.key })));
    assert.equal(rs.filter((r) => r.status === 200).length, 1, rs.map((r) => r.status).join(','));
    for (const r of rs) if (r.status !== 200) assertError(r, 409, 'already_refunded');
    assert.equal(await sc.balance(b), 0);
    assert.equal((await sc.ledger(b)).length, 2);
});

scenario('concurrent purchases by many friends against a cap of 2: exactly 2 credited', S, async (sc) => {
    const m = await sc.merchant({ rules: { max_referrals_per_share: 2 } });
    const a = await sc.user('A');
    const fs = await sc.someUsers(8, 'F');
    for (const f of fs) await sc.friends(a, f);
    const { share: s } = await sc.buyAndShare(m, a);
    const ps = await Promise.all(fs.map((f) => sc.buy(m, f, 1000)));
    assert.equal(ps.filter((p) => p.purchase.referral !== null).length, 2);
    assert.equal((await walk(sc.srv, '/v1/me/shares', 'shares', a.token)).find((x) => x.id === s.id).referrals, 2);
    assert.equal(await sc.balance(a), 100 + 200);
});

scenario("a purchase keeps the currency it was recorded in when the merchant's currency changes", S, async (sc) => {
    const m = await sc.merchant({ currency: 'KRW' });
    const b = await sc.user('B');
    const p = await sc.buy(m, b, 5000);
    assert.equal(p.purchase.currency, 'KRW');
    expectStatus(await sc.api('PATCH', '/v1/merchants/me', { token: m.key, body: { currency: 'USD' } }), 200);
    const p2 = await sc.buy(m, b, 5000);
    assert.equal(p2.purchase.currency, 'USD');
    // 5000 KRW stays 5000 KRW: the amount is in the minor units of the currency it was paid in.
    const g = expectStatus(await getPurchase(sc, p.purchase.id, b.token), 200);
    assert.equal(g.purchase.currency, 'KRW', 'GET /v1/purchases/{id} after the currency change');
    const list = await walk(sc.srv, '/v1/me/purchases', 'purchases', b.token);
    assert.deepEqual(list.map((x) => x.currency), ['USD', 'KRW'], 'GET /v1/me/purchases');
});

scenario('an integer too large for any range is 422 invalid (the body is valid JSON)', S, async (sc) => {
    const m = await sc.merchant();
    const b = await sc.user('B');
    const r = await sc.api('POST', '/v1/purchases', { token: m.key, body: `{"user_id":"${b.id}","amount":99999999999999999999}` });
    assertInvalid(r, 'amount', 'amount 99999999999999999999');
    assert.equal(await sc.balance(b), 0);
});

test('a 2xx write is durable: SIGKILL right after the answers loses nothing, replays survive', async () => {
    const s1 = await startBench();
    const m = await makeMerchant(s1, { rules: { earn_rate_bp: 10000 } });
    const u = await makeUser(s1, 'Durable');
    const keys = Array.from({ length: 20 }, (_, i) => `dur-${i}-${uniq()}`);
    const answers = await Promise.all(keys.map((key, i) => purchaseRaw(s1, m, u, i + 1, { key })));
    for (const r of answers) expectStatus(r, 201);
    assert.equal(await s1.stop('SIGKILL'), 'SIGKILL');
    const s2 = await startBench([], { data: s1.data });
    try {
        const list = await walk(s2, '/v1/merchants/me/purchases', 'purchases', m.key);
        assert.equal(list.length, 20, 'every answered purchase is there');
        const me = expectStatus(await s2.api('GET', '/v1/me', { token: u.token }), 200);
        assert.equal(me.balance, (20 * 21) / 2);
        await checkLedgers(s2, [u]);
        for (const [i, key] of keys.entries()) {
            const r = await purchaseRaw(s2, m, u, i + 1, { key });
            assert.equal(r.status, 201);
            assert.equal(r.text, answers[i].text, 'the stored answer survived the crash');
        }
        assert.equal((await walk(s2, '/v1/merchants/me/purchases', 'purchases', m.key)).length, 20);
        const ws = await wsConnect(s2.wsUrl, { token: u.token, since: 0 });
        try {
            const hello = await ws.next();
            assert.equal(hello.data.last_seq, 20, 'every event of an answered write is stored');
        } finally {
            ws.close();
        }
    } finally {
        await s2.stop();
    }
});
