// API.md "Merchant analytics": the stats numbers of a small known scenario (a referral chain
// with a cycle and a refund), days validation and the period, the customers list with its
// sorts and pagination.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { advance, assertError, assertInvalid, expectStatus, scenario, startBench, walk } from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

const stats = async (m, q = '') => expectStatus(await srv.api('GET', `/v1/merchants/me/stats${q}`, { token: m.key }), 200, `stats${q}`);
const near = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} ~ ${b}`);

/**
 * Friends A-B, B-C, C-D, A-E at M (defaults: 100 bp, referral 100, friend 50).
 *   P_A1 10000 by A, A shares     ; P_B 20000 by B (A), B shares ; P_C 30000 by C (B), C shares
 *   P_D 40000 by D (C)            ; P_E 5000 by E (A)            ; P_E2 7777 by E, refunded
 *   P_A2 1000 by A (B: a cycle)   ; P_A3 2000 by A (no candidate left)
 */
async function chain(sc) {
    const m = await sc.merchant({ name: 'Chain Cafe' });
    const A = await sc.user('A');
    const B = await sc.user('B');
    const C = await sc.user('C');
    const D = await sc.user('D');
    const E = await sc.user('E');
    await sc.friends(A, B);
    await sc.friends(B, C);
    await sc.friends(C, D);
    await sc.friends(A, E);
    const refs = {};
    const buy = async (u, amount, sharerWanted) => {
        const p = await sc.buy(m, u, amount);
        assert.equal(p.purchase.referral?.sharer_id ?? null, sharerWanted?.id ?? null, `referral of ${u.name}'s ${amount}`);
        refs[`${u.name}${amount}`] = p.purchase;
        return p.purchase;
    };
    const pA1 = await buy(A, 10000, null);
    await sc.share(A, pA1.id);
    const pB = await buy(B, 20000, A);
    await sc.share(B, pB.id);
    const pC = await buy(C, 30000, B);
    await sc.share(C, pC.id);
    await buy(D, 40000, C);
    await buy(E, 5000, A);
    const pE2 = await buy(E, 7777, null);
    await sc.refund(m, pE2.id);
    await buy(A, 1000, B);
    await buy(A, 2000, null);
    return { m, A, B, C, D, E, refs };
}

scenario('stats of a known scenario: counts, revenue, rates, points, ambassadors with cascade', S, async (sc) => {
    const { m, A, B, C } = await chain(sc);
    const s = await stats(m);
    assert.equal(s.days, 30, 'default days');
    assert.equal(s.purchases, 7, 'the refunded purchase does not count');
    assert.equal(s.revenue, 108000);
    assert.equal(s.customers, 5);
    assert.equal(s.new_customers, 5);
    assert.equal(s.returning_customers, 1, "only A has 2+ purchases (E's second was refunded)");
    assert.equal(s.regulars, 1, 'A has 3 purchases in the period');
    near(s.repeat_rate, 0.2, 'repeat_rate = 1/5');
    assert.equal(s.referred_purchases, 5);
    assert.equal(s.referred_revenue, 96000);
    assert.equal(s.shares, 3);
    near(s.share_conversion, 5 / 3, 'share_conversion = 5/3');
    assert.equal(s.points_issued, 100 + 350 + 450 + 550 + 200 + 160 + 20);
    const amb = s.top_ambassadors;
    assert.ok(Array.isArray(amb) && amb.length <= 10);
    for (const x of amb) {
        assert.deepEqual(Object.keys(x).sort(), ['cascade_revenue', 'referrals', 'referred_revenue', 'user']);
        assert.deepEqual(Object.keys(x.user).sort(), ['id', 'name']);
    }
    const top2 = amb.slice(0, 2).sort((x, y) => x.user.name.localeCompare(y.user.name));
    assert.deepEqual(top2, [
        { user: { id: A.id, name: 'A' }, referrals: 2, referred_revenue: 25000, cascade_revenue: 96000 },
        { user: { id: B.id, name: 'B' }, referrals: 2, referred_revenue: 31000, cascade_revenue: 96000 },
    ], 'A and B reach everyone (cycle A->B->A counted once)');
    assert.deepEqual(amb[2], { user: { id: C.id, name: 'C' }, referrals: 1, referred_revenue: 40000, cascade_revenue: 40000 });
    for (const x of amb.slice(3)) assert.equal(x.cascade_revenue, 0, `no one else has referrals: ${JSON.stringify(x)}`);
    for (let i = 1; i < amb.length; i++) {
        const [p, q] = [amb[i - 1], amb[i]];
        assert.ok(p.cascade_revenue > q.cascade_revenue || (p.cascade_revenue === q.cascade_revenue && p.referrals >= q.referrals), 'by cascade_revenue, then referrals');
    }
});

scenario('stats of a merchant without purchases: zeros, rates 0, no ambassadors', S, async (sc) => {
    const m = await sc.merchant();
    const s = await stats(m, '?days=7');
    assert.deepEqual(s, {
        days: 7,
        purchases: 0,
        revenue: 0,
        customers: 0,
        new_customers: 0,
        returning_customers: 0,
        regulars: 0,
        repeat_rate: 0,
        referred_purchases: 0,
        referred_revenue: 0,
        shares: 0,
        share_conversion: 0,
        points_issued: 0,
        top_ambassadors: [],
    });
});

scenario('ambassadors: at most 10, by cascade_revenue then referrals', S, async (sc) => {
    const m = await sc.merchant();
    const sharers = await sc.someUsers(12, 'S');
    for (const [i, a] of sharers.entries()) {
        const f = await sc.user(`F${i}`);
        await sc.friends(a, f);
        await sc.buyAndShare(m, a, 1000);
        await sc.buy(m, f, 1000 * (i + 1)); // a's cascade = 1000 * (i + 1)
    }
    const amb = (await stats(m)).top_ambassadors;
    assert.equal(amb.length, 10);
    assert.deepEqual(amb.map((x) => x.user.id), sharers.slice(2).reverse().map((a) => a.id));
    assert.deepEqual(amb.map((x) => x.cascade_revenue), [12, 11, 10, 9, 8, 7, 6, 5, 4, 3].map((k) => k * 1000));
});

scenario('days is 1..365: 0, 366, -1, abc, 1.5 -> 422; only merchants', S, async (sc) => {
    const m = await sc.merchant();
    for (const d of ['0', '366', '-1', 'abc', '1.5', '']) {
        assertInvalid(await sc.api('GET', `/v1/merchants/me/stats?days=${d}`, { token: m.key }), 'days', `days=${d}`);
    }
    assert.equal((await stats(m, '?days=1')).days, 1);
    assert.equal((await stats(m, '?days=365')).days, 365);
    const u = await sc.user('U');
    assertError(await sc.api('GET', '/v1/merchants/me/stats', { token: u.token }), 403, 'forbidden');
    assertError(await sc.api('GET', '/v1/merchants/me/stats'), 401, 'unauthorized');
    assertError(await sc.api('GET', '/v1/merchants/me/customers', { token: u.token }), 403, 'forbidden');
    assertError(await sc.api('GET', '/v1/merchants/me/customers'), 401, 'unauthorized');
});

// ---------------------------------------------------------------------------------------
// Customers

scenario('customers: visits, spend, first/last, referred_by, referrals; sort recent|visits|spend', S, async (sc) => {
    const { m, A, B, C, D, E, refs } = await chain(sc);
    const r = expectStatus(await sc.api('GET', '/v1/merchants/me/customers', { token: m.key }), 200);
    assert.equal(r.next, null);
    const byId = Object.fromEntries(r.customers.map((c) => [c.user.id, c]));
    assert.equal(r.customers.length, 5);
    for (const c of r.customers) {
        assert.deepEqual(Object.keys(c).sort(), ['first_at', 'last_at', 'referrals', 'referred_by', 'spend', 'user', 'visits']);
    }
    assert.deepEqual(byId[A.id], {
        user: { id: A.id, name: 'A' },
        visits: 3,
        spend: 13000,
        first_at: refs.A10000.created_at,
        last_at: refs.A2000.created_at,
        referred_by: B.id,
        referrals: 2,
    });
    assert.deepEqual(byId[B.id], {
        user: { id: B.id, name: 'B' },
        visits: 1,
        spend: 20000,
        first_at: refs.B20000.created_at,
        last_at: refs.B20000.created_at,
        referred_by: A.id,
        referrals: 2,
    });
    assert.equal(byId[C.id].referred_by, B.id);
    assert.equal(byId[C.id].referrals, 1);
    assert.equal(byId[D.id].referred_by, C.id);
    assert.equal(byId[D.id].referrals, 0);
    assert.equal(byId[E.id].referred_by, A.id);
    assert.equal(byId[E.id].visits, 1, "E's refunded purchase is not a visit");
    assert.equal(byId[E.id].spend, 5000);

    const ids = (l) => l.map((c) => c.user.id);
    assert.deepEqual(ids(r.customers), [A.id, E.id, D.id, C.id, B.id], 'default: recent (last_at, newest first)');
    const recent = expectStatus(await sc.api('GET', '/v1/merchants/me/customers?sort=recent', { token: m.key }), 200);
    assert.deepEqual(recent.customers, r.customers);
    const spend = expectStatus(await sc.api('GET', '/v1/merchants/me/customers?sort=spend', { token: m.key }), 200);
    assert.deepEqual(ids(spend.customers), [D.id, C.id, B.id, A.id, E.id]);
    const visits = expectStatus(await sc.api('GET', '/v1/merchants/me/customers?sort=visits', { token: m.key }), 200);
    assert.equal(visits.customers[0].user.id, A.id);
    assert.equal(visits.customers.length, 5);
    for (const bad of ['newest', 'SPEND', '']) {
        assertInvalid(await sc.api('GET', `/v1/merchants/me/customers?sort=${bad}`, { token: m.key }), 'sort', `sort=${bad}`);
    }
    // Pagination: every customer once, in the same order, for each sort.
    for (const sort of ['recent', 'visits', 'spend']) {
        const full = expectStatus(await sc.api('GET', `/v1/merchants/me/customers?sort=${sort}`, { token: m.key }), 200).customers;
        for (const limit of [1, 2]) {
            const paged = await walk(sc.srv, `/v1/merchants/me/customers?sort=${sort}`, 'customers', m.key, limit);
            assert.deepEqual(ids(paged), ids(full), `sort=${sort} limit=${limit}`);
        }
    }
    for (const l of ['0', '201', 'x']) {
        assertInvalid(await sc.api('GET', `/v1/merchants/me/customers?limit=${l}`, { token: m.key }), 'limit', `limit=${l}`);
    }
});

scenario('a customer who refunded everything is no customer', S, async (sc) => {
    const m = await sc.merchant();
    const u = await sc.user('Refunder');
    const p = await sc.buy(m, u, 1000);
    await sc.refund(m, p.purchase.id);
    const r = expectStatus(await sc.api('GET', '/v1/merchants/me/customers', { token: m.key }), 200);
    assert.deepEqual(r.customers, []);
    const s = await stats(m);
    assert.equal(s.purchases, 0);
    assert.equal(s.customers, 0);
    assert.equal(s.points_issued, 0);
});

scenario('a refunded referred purchase counts nowhere: not referred, not an ambassador link', S, async (sc) => {
    const m = await sc.merchant();
    const A = await sc.user('A');
    const B = await sc.user('B');
    const C = await sc.user('C');
    await sc.friends(A, B);
    await sc.friends(B, C);
    await sc.buyAndShare(m, A, 1000);
    const pB = (await sc.buy(m, B, 20000)).purchase; // referred by A, refunded below
    assert.equal(pB.referral.sharer_id, A.id);
    await sc.share(B, pB.id);
    const pB2 = (await sc.buy(m, B, 500)).purchase; // B's own second purchase: keeps B a customer
    assert.equal(pB2.referral, null);
    const { share: sB2 } = { share: await sc.share(B, pB2.id) };
    const pC = (await sc.buy(m, C, 30000)).purchase; // referred by B's newest share
    assert.equal(pC.referral.share_id, sB2.id);
    await sc.refund(m, pB.id);
    const s = await stats(m);
    assert.equal(s.purchases, 3, 'A 1000, B 500, C 30000');
    assert.equal(s.revenue, 31500);
    assert.equal(s.referred_purchases, 1, "only C's purchase");
    assert.equal(s.referred_revenue, 30000);
    assert.equal(s.points_issued, 10 + 5 + (300 + 100 + 50));
    const byId = Object.fromEntries(s.top_ambassadors.map((x) => [x.user.id, x]));
    assert.ok(!byId[A.id] || (byId[A.id].referrals === 0 && byId[A.id].cascade_revenue === 0), `A's only credit was refunded: ${JSON.stringify(byId[A.id])}`);
    assert.deepEqual(byId[B.id], { user: { id: B.id, name: 'B' }, referrals: 1, referred_revenue: 30000, cascade_revenue: 30000 });
    assert.equal(s.top_ambassadors[0].user.id, B.id);
});

// ---------------------------------------------------------------------------------------
// The period (moves the clock: keep last)

scenario('only the last `days` days count; new vs returning; shares 0 -> share_conversion 0', S, async (sc) => {
    const m = await sc.merchant({ rules: { credit_window_s: 2592000 } });
    const A = await sc.user('Old');
    const F = await sc.user('Fresh');
    const G = await sc.user('Friend');
    await sc.friends(A, G);
    await sc.buy(m, A, 1000);
    await sc.buyAndShare(m, A, 2000);
    await advance(sc.srv, 3 * 86400);
    await sc.buy(m, F, 5000);
    await sc.buy(m, A, 700);
    const pg = await sc.buy(m, G, 300); // referred by A's 3-day-old share (30-day window)
    assert.notEqual(pg.purchase.referral, null);
    const s1 = await stats(m, '?days=1');
    assert.equal(s1.purchases, 3);
    assert.equal(s1.revenue, 6000);
    assert.equal(s1.customers, 3);
    assert.equal(s1.new_customers, 2, "F and G are new; A's first purchase was 3 days ago");
    assert.equal(s1.returning_customers, 1, 'A has 3 purchases up to now');
    assert.equal(s1.regulars, 0, 'A has one purchase in the period');
    near(s1.repeat_rate, 1 / 3, 'repeat_rate');
    assert.equal(s1.referred_purchases, 1);
    assert.equal(s1.referred_revenue, 300);
    assert.equal(s1.shares, 0, 'the share was made 3 days ago');
    assert.equal(s1.share_conversion, 0, 'no shares in the period: 0');
    assert.equal(s1.points_issued, 50 + 7 + 3 + 100 + 50);
    const s7 = await stats(m, '?days=7');
    assert.equal(s7.purchases, 5);
    assert.equal(s7.revenue, 9000);
    assert.equal(s7.regulars, 1);
    assert.equal(s7.shares, 1);
    near(s7.share_conversion, 1, 'share_conversion');
    assert.equal(s7.new_customers, 3);
});

scenario('a customer whose first purchase was refunded is new when they buy again', S, async (sc) => {
    const m = await sc.merchant();
    const A = await sc.user('Again');
    const p = await sc.buy(m, A, 1000);
    await sc.refund(m, p.purchase.id);
    await advance(sc.srv, 3 * 86400);
    await sc.buy(m, A, 2000);
    const s1 = await stats(m, '?days=1');
    assert.equal(s1.customers, 1);
    assert.equal(s1.new_customers, 1, 'the refunded purchase does not count as the first');
    assert.equal(s1.returning_customers, 0, 'one purchase, counting no refunded one');
    const [c] = expectStatus(await sc.api('GET', '/v1/merchants/me/customers', { token: m.key }), 200).customers;
    assert.equal(c.visits, 1);
    assert.equal(c.spend, 2000);
});
