// API.md "Redemptions": one wallet across merchants, rewards and cash, 409 insufficient_points
// writing nothing, field rules, and idempotency keys scoped per user.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { assertError, assertInvalid, expectStatus, scenario, snapshot, startBench, uniq } from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

const redeem = (sc, u, body, key) =>
    sc.api('POST', '/v1/redemptions', { token: u.token, body, headers: key === undefined ? {} : { 'Idempotency-Key': key } });
const addReward = async (sc, m, title, cost) =>
    expectStatus(await sc.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title, cost } }), 201).reward;

/** A user with `points` points, earned at a 100% merchant. */
async function richUser(sc, points, name = 'Rich') {
    const u = await sc.user(name);
    if (!sc.bank) sc.bank = await sc.merchant({ rules: { earn_rate_bp: 10000 } });
    if (points > 0) await sc.buy(sc.bank, u, points);
    return u;
}

scenario('cash: 201 {redemption:{id,kind:"cash",points,created_at}, balance}', S, async (sc) => {
    const u = await richUser(sc, 1000);
    const r = await redeem(sc, u, { cash_points: 300 });
    expectStatus(r, 201);
    assert.deepEqual(Object.keys(r.json).sort(), ['balance', 'redemption']);
    const d = r.json.redemption;
    assert.equal(typeof d.id, 'string');
    assert.equal(d.kind, 'cash');
    assert.equal(d.points, 300);
    assert.ok(!('reward_id' in d) || d.reward_id === null);
    assert.ok(Number.isInteger(d.created_at) && d.created_at > 1e12);
    assert.equal(r.json.balance, 700);
    assert.equal(await sc.balance(u), 700);
    const [e] = await sc.ledger(u);
    assert.equal(e.kind, 'redemption');
    assert.equal(e.points, -300);
    assert.equal(e.redemption_id, d.id);
    assert.equal(e.balance_after, 700);
});

scenario('reward at any merchant: one wallet across merchants', S, async (sc) => {
    const u = await richUser(sc, 800); // earned at the bank merchant
    const cafe = await sc.merchant();
    const rw = await addReward(sc, cafe, 'Free latte', 450);
    const r = expectStatus(await redeem(sc, u, { reward_id: rw.id }), 201);
    assert.equal(r.redemption.kind, 'reward');
    assert.equal(r.redemption.points, 450, "the reward's cost");
    assert.equal(r.redemption.reward_id, rw.id);
    assert.equal(r.balance, 350);
    const [e] = await sc.ledger(u);
    assert.equal(e.kind, 'redemption');
    assert.equal(e.points, -450);
    assert.equal(e.redemption_id, r.redemption.id);
    assert.equal(e.merchant_id, cafe.id, "a reward's entry names the reward's merchant");
    assertError(await redeem(sc, u, { reward_id: 'w_zzzzzzzzzzzzz' }), 404, 'not_found', 'unknown reward');
    assertError(await redeem(sc, u, { reward_id: 'garbage' }), 404, 'not_found', 'garbage reward id');
});

scenario('not enough points -> 409 insufficient_points, nothing written', S, async (sc) => {
    const u = await richUser(sc, 500);
    const m = await sc.merchant();
    const rw = await addReward(sc, m, 'Big', 501);
    const before = await snapshot(sc.srv, { users: [u] });
    assertError(await redeem(sc, u, { cash_points: 501 }), 409, 'insufficient_points', 'cash 501 of 500');
    assertError(await redeem(sc, u, { reward_id: rw.id }), 409, 'insufficient_points', 'reward 501 of 500');
    assert.deepEqual(await snapshot(sc.srv, { users: [u] }), before, 'no ledger entry, same balance');
    const r = expectStatus(await redeem(sc, u, { cash_points: 500 }), 201, 'exactly the balance');
    assert.equal(r.balance, 0);
    assertError(await redeem(sc, u, { cash_points: 1 }), 409, 'insufficient_points', 'at 0');
    const poor = await sc.user('Poor');
    assertError(await redeem(sc, poor, { cash_points: 1 }), 409, 'insufficient_points', 'a new user');
    assert.deepEqual(await sc.ledger(poor), []);
});

scenario('a negative balance (after a refund) redeems nothing', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 10000 } });
    const u = await sc.user('U');
    const p = await sc.buy(m, u, 100);
    expectStatus(await redeem(sc, u, { cash_points: 100 }), 201);
    await sc.refund(m, p.purchase.id);
    assert.equal(await sc.balance(u), -100);
    assertError(await redeem(sc, u, { cash_points: 1 }), 409, 'insufficient_points');
});

scenario('fields: reward_id or cash_points (integer > 0), else 422', S, async (sc) => {
    const u = await richUser(sc, 100);
    for (const bad of [0, -1, 1.5, '5', true]) {
        assertInvalid(await redeem(sc, u, { cash_points: bad }), 'cash_points', `cash_points ${JSON.stringify(bad)}`);
    }
    assertInvalid(await redeem(sc, u, {}), 'reward_id', 'neither');
    assertInvalid(await redeem(sc, u, { reward_id: 5 }), 'reward_id', 'reward_id not a string');
    assertError(await sc.api('POST', '/v1/redemptions', { token: u.token, body: '{"cash_points":1,"cash_points":1}' }), 400, 'bad_json');
    assert.equal(await sc.balance(u), 100, 'nothing redeemed');
    expectStatus(await redeem(sc, u, { cash_points: 1, note: 'ignored' }), 201, 'unknown fields ignored');
});

scenario('POST /v1/redemptions needs a user token', S, async (sc) => {
    const u = await richUser(sc, 100);
    const m = await sc.merchant();
    assertError(await sc.api('POST', '/v1/redemptions', { body: { cash_points: 1 } }), 401, 'unauthorized');
    assertError(await sc.api('POST', '/v1/redemptions', { token: 'ut_x', body: { cash_points: 1 } }), 401, 'unauthorized');
    assertError(await sc.api('POST', '/v1/redemptions', { token: m.key, body: { cash_points: 1 } }), 403, 'forbidden');
    assert.equal(await sc.balance(u), 100);
});

// ---------------------------------------------------------------------------------------
// Idempotency, per user

scenario('same key + equal body replays byte for byte and redeems once', S, async (sc) => {
    const u = await richUser(sc, 1000);
    const key = `r-${uniq()}`;
    const first = await redeem(sc, u, '{"cash_points": 250}', key);
    expectStatus(first, 201);
    for (const body of ['{"cash_points":250}', '{\n "cash_points" :250 }']) {
        const r = await redeem(sc, u, body, key);
        assert.equal(r.status, 201);
        assert.equal(r.text, first.text, `replay of ${JSON.stringify(body)}`);
    }
    assert.equal(await sc.balance(u), 750, 'redeemed once');
    assert.equal((await sc.ledger(u)).filter((e) => e.kind === 'redemption').length, 1);
    assertError(await redeem(sc, u, { cash_points: 251 }, key), 422, 'idempotency_mismatch');
    const rw = await addReward(sc, sc.bank, 'Sticker', 1);
    assertError(await redeem(sc, u, { reward_id: rw.id }, key), 422, 'idempotency_mismatch', 'a reward body under a cash key');
    assert.equal(await sc.balance(u), 750);
});

scenario('redemption keys are per user: one key for two users is two redemptions', S, async (sc) => {
    const u = await richUser(sc, 100, 'U');
    const v = await richUser(sc, 100, 'V');
    const key = `r-${uniq()}`;
    const a = expectStatus(await redeem(sc, u, { cash_points: 10 }, key), 201);
    const b = expectStatus(await redeem(sc, v, { cash_points: 10 }, key), 201);
    assert.notEqual(a.redemption.id, b.redemption.id);
    assert.equal(await sc.balance(u), 90);
    assert.equal(await sc.balance(v), 90);
    // A merchant's purchase key with the same text is another scope too.
    const p = await sc.api('POST', '/v1/purchases', { token: sc.bank.key, headers: { 'Idempotency-Key': key }, body: { user_id: u.id, amount: 5 } });
    expectStatus(p, 201, 'the same key text as a purchase key');
});

scenario('an insufficient_points answer stores nothing: the key works once points arrive', S, async (sc) => {
    const u = await richUser(sc, 50);
    const key = `r-${uniq()}`;
    assertError(await redeem(sc, u, { cash_points: 80 }, key), 409, 'insufficient_points');
    assertError(await redeem(sc, u, { cash_points: 80 }, key), 409, 'insufficient_points', 'not replayed as stored: checked again');
    await sc.buy(sc.bank, u, 50);
    const r = expectStatus(await redeem(sc, u, { cash_points: 80 }, key), 201, 'same key after the balance grew');
    assert.equal(r.balance, 20);
    assertError(await redeem(sc, u, { cash_points: 80 }, 'k'.repeat(65)), 400, undefined, '65-char key');
    assert.equal(await sc.balance(u), 20);
});

scenario('concurrent redemptions with one key -> one effect', S, async (sc) => {
    const u = await richUser(sc, 100);
    const key = `r-${uniq()}`;
    const rs = await Promise.all(Array.from({ length: 5 }, () => redeem(sc, u, { cash_points: 60 }, key)));
    for (const r of rs) {
        assert.equal(r.status, 201, r.text);
        assert.equal(r.text, rs[0].text);
    }
    assert.equal(await sc.balance(u), 40);
    // Without keys, concurrent redemptions never overdraw.
    const free = await Promise.all(Array.from({ length: 5 }, () => redeem(sc, u, { cash_points: 15 })));
    const ok = free.filter((r) => r.status === 201).length;
    for (const r of free) if (r.status !== 201) assertError(r, 409, 'insufficient_points');
    assert.equal(ok, 2, '40 points pay two redemptions of 15');
    assert.equal(await sc.balance(u), 10);
});
