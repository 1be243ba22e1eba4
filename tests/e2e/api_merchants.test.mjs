// API.md "Merchants": sign-up with rules (ranges and defaults), the public profile, PATCH of
// the merchant's own profile (fields, rules one by one, offers), rewards, the nearby search
// and the merchant's purchase list.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { test } from './lib.mjs';
import {
    assertError,
    assertInvalid,
    expectStatus,
    makeMerchant,
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

const DEFAULT_RULES = {
    earn_rate_bp: 100,
    referral_bonus: 100,
    friend_bonus: 50,
    credit_window_s: 86400,
    max_referrals_per_share: 20,
};
const RANGES = {
    earn_rate_bp: [0, 10000],
    referral_bonus: [0, 1000000],
    friend_bonus: [0, 1000000],
    credit_window_s: [60, 2592000],
    max_referrals_per_share: [1, 1000],
};
const PUBLIC_KEYS = ['id', 'name', 'category', 'address', 'lat', 'lon', 'currency', 'rules', 'offers', 'rewards'];

const postMerchant = (body) => srv.api('POST', '/v1/merchants', { body });
const getMerchant = (id) => srv.api('GET', `/v1/merchants/${id}`);
const patch = (m, body) => srv.api('PATCH', '/v1/merchants/me', { token: m.key, body });

// ---------------------------------------------------------------------------------------
// POST /v1/merchants

test('POST /v1/merchants -> 201 {merchant, api_key}; defaults: KRW and the rules table', async () => {
    const r = await postMerchant({ name: 'Cafe Nori', category: 'cafe', address: '1 Main St', lat: 37.5, lon: 127.01 });
    expectStatus(r, 201);
    assert.equal(typeof r.json.api_key, 'string');
    assert.ok(r.json.api_key.length >= 16);
    const m = r.json.merchant;
    for (const k of PUBLIC_KEYS) assert.ok(k in m, `merchant.${k} in ${r.text}`);
    assert.equal(typeof m.id, 'string');
    assert.equal(m.name, 'Cafe Nori');
    assert.equal(m.category, 'cafe');
    assert.equal(m.address, '1 Main St');
    assert.equal(m.lat, 37.5);
    assert.equal(m.lon, 127.01);
    assert.equal(m.currency, 'KRW');
    assert.deepEqual(m.rules, DEFAULT_RULES);
    assert.deepEqual(m.offers, []);
    assert.deepEqual(m.rewards, []);
    assert.ok(!('api_key' in m));
});

test('POST /v1/merchants: name, lat and lon are required and checked', async () => {
    assertInvalid(await postMerchant({ lat: 1, lon: 1 }), 'name', 'no name');
    assertInvalid(await postMerchant({ name: '', lat: 1, lon: 1 }), 'name', 'empty name');
    assertInvalid(await postMerchant({ name: 'M', lon: 1 }), 'lat', 'no lat');
    assertInvalid(await postMerchant({ name: 'M', lat: 1 }), 'lon', 'no lon');
    assertInvalid(await postMerchant({ name: 'M', lat: 90.5, lon: 1 }), 'lat', 'lat > 90');
    assertInvalid(await postMerchant({ name: 'M', lat: -91, lon: 1 }), 'lat', 'lat < -90');
    assertInvalid(await postMerchant({ name: 'M', lat: 1, lon: 180.01 }), 'lon', 'lon > 180');
    assertInvalid(await postMerchant({ name: 'M', lat: '1', lon: 1 }), 'lat', 'lat as a string');
    assertInvalid(await postMerchant({ name: 7, lat: 1, lon: 1 }), 'name', 'name as a number');
    const edge = expectStatus(await postMerchant({ name: 'Edge', lat: -90, lon: 180 }), 201);
    assert.equal(edge.merchant.lat, -90);
    assert.equal(edge.merchant.lon, 180);
    assert.equal(expectStatus(await postMerchant({ name: 'Fraction ok', lat: 37.123456, lon: -0.5 }), 201).merchant.lat, 37.123456);
});

test('POST /v1/merchants: currency is an ISO 4217 code', async () => {
    const usd = expectStatus(await postMerchant({ name: 'U', lat: 1, lon: 1, currency: 'USD' }), 201);
    assert.equal(usd.merchant.currency, 'USD');
    for (const bad of ['usd', 'US', 'USDX', '', 840, 'U$D']) {
        assertInvalid(await postMerchant({ name: 'U', lat: 1, lon: 1, currency: bad }), 'currency', JSON.stringify(bad));
    }
});

test('POST /v1/merchants: every rule is checked at both ends of its range', async () => {
    for (const [rule, [lo, hi]] of Object.entries(RANGES)) {
        for (const bad of [lo - 1, hi + 1]) {
            assertInvalid(await postMerchant({ name: 'R', lat: 1, lon: 1, rules: { [rule]: bad } }), rule, `${rule}=${bad}`);
        }
        assertInvalid(await postMerchant({ name: 'R', lat: 1, lon: 1, rules: { [rule]: lo + 0.5 } }), rule, `${rule} fraction`);
        assertInvalid(await postMerchant({ name: 'R', lat: 1, lon: 1, rules: { [rule]: String(lo) } }), rule, `${rule} string`);
        for (const good of [lo, hi]) {
            const r = expectStatus(await postMerchant({ name: 'R', lat: 1, lon: 1, rules: { [rule]: good } }), 201, `${rule}=${good}`);
            assert.deepEqual(r.merchant.rules, { ...DEFAULT_RULES, [rule]: good }, 'the others keep their defaults');
        }
    }
    assertInvalid(await postMerchant({ name: 'R', lat: 1, lon: 1, rules: [1] }), 'rules', 'rules not an object');
    const all = { earn_rate_bp: 250, referral_bonus: 7, friend_bonus: 3, credit_window_s: 600, max_referrals_per_share: 2 };
    const r = expectStatus(await postMerchant({ name: 'All', lat: 1, lon: 1, rules: { ...all, unknown_rule: 5 } }), 201);
    assert.deepEqual(r.merchant.rules, all, 'unknown rules are ignored');
});

// ---------------------------------------------------------------------------------------
// GET /v1/merchants/{id}, GET /v1/merchants/me

test('GET /v1/merchants/{id} is public and shows the profile, never the key', async () => {
    const m = await makeMerchant(srv, { name: 'Shown', category: 'bakery', address: 'Here', currency: 'JPY' });
    const r = await getMerchant(m.id);
    expectStatus(r, 200);
    assert.deepEqual(Object.keys(r.json), ['merchant']);
    for (const k of PUBLIC_KEYS) assert.ok(k in r.json.merchant, `merchant.${k}`);
    assert.equal(r.json.merchant.id, m.id);
    assert.equal(r.json.merchant.name, 'Shown');
    assert.equal(r.json.merchant.category, 'bakery');
    assert.equal(r.json.merchant.currency, 'JPY');
    assert.ok(!r.text.includes(m.key), 'no api key');
    // With any secret it is the same.
    const u = await srv.api('POST', '/v1/users', { body: { name: 'x' } });
    assert.deepEqual((await srv.api('GET', `/v1/merchants/${m.id}`, { token: u.json.token })).json, r.json);
    assertError(await getMerchant('m_zzzzzzzzzzzzz'), 404, 'not_found');
    assertError(await getMerchant('nonsense'), 404, 'not_found');
    assertError(await getMerchant(u.json.user.id), 404, 'not_found', 'a user id');
});

test('GET /v1/merchants/me (merchant) -> the merchant\'s own profile', async () => {
    const m = await makeMerchant(srv, { name: 'Self' });
    const r = expectStatus(await srv.api('GET', '/v1/merchants/me', { token: m.key }), 200);
    assert.equal(r.merchant.id, m.id);
    assert.deepEqual(r.merchant.rules, DEFAULT_RULES);
    assertError(await srv.api('GET', '/v1/merchants/me'), 401, 'unauthorized');
    const u = await srv.api('POST', '/v1/users', { body: { name: 'x' } });
    assertError(await srv.api('GET', '/v1/merchants/me', { token: u.json.token }), 403, 'forbidden');
});

// ---------------------------------------------------------------------------------------
// PATCH /v1/merchants/me

test('PATCH /v1/merchants/me: each top-level field given replaces that field only', async () => {
    const m = await makeMerchant(srv, { name: 'Old', category: 'cafe', address: 'A', lat: 10, lon: 20 });
    const r = expectStatus(await patch(m, { name: 'New' }), 200);
    assert.equal(r.merchant.name, 'New');
    assert.equal(r.merchant.category, 'cafe');
    assert.equal(r.merchant.address, 'A');
    assert.equal(r.merchant.lat, 10);
    assert.equal(r.merchant.lon, 20);
    const r2 = expectStatus(await patch(m, { address: 'B', lat: 11.5, lon: -20.25, category: 'bar', currency: 'EUR' }), 200);
    assert.equal(r2.merchant.name, 'New');
    assert.equal(r2.merchant.address, 'B');
    assert.equal(r2.merchant.lat, 11.5);
    assert.equal(r2.merchant.lon, -20.25);
    assert.equal(r2.merchant.category, 'bar');
    assert.equal(r2.merchant.currency, 'EUR');
    const g = expectStatus(await getMerchant(m.id), 200);
    assert.deepEqual(g.merchant, r2.merchant, 'GET shows what PATCH answered');
    const empty = expectStatus(await patch(m, {}), 200, 'an empty PATCH');
    assert.deepEqual(empty.merchant, r2.merchant, 'changes nothing');
});

test('PATCH /v1/merchants/me: within rules, each rule given replaces that rule only', async () => {
    const m = await makeMerchant(srv, { rules: { earn_rate_bp: 300, friend_bonus: 7 } });
    const r = expectStatus(await patch(m, { rules: { referral_bonus: 999 } }), 200);
    assert.deepEqual(r.merchant.rules, { ...DEFAULT_RULES, earn_rate_bp: 300, friend_bonus: 7, referral_bonus: 999 });
    const r2 = expectStatus(await patch(m, { rules: { earn_rate_bp: 0, max_referrals_per_share: 1000 } }), 200);
    assert.deepEqual(r2.merchant.rules, {
        ...DEFAULT_RULES,
        earn_rate_bp: 0,
        friend_bonus: 7,
        referral_bonus: 999,
        max_referrals_per_share: 1000,
    });
    // An invalid rule refuses the whole PATCH: nothing changes.
    const before = expectStatus(await getMerchant(m.id), 200).merchant;
    for (const [rule, [lo, hi]] of Object.entries(RANGES)) {
        assertInvalid(await patch(m, { name: 'Changed?', rules: { earn_rate_bp: 5, [rule]: hi + 1 } }), rule, `${rule} > max`);
        assertInvalid(await patch(m, { rules: { [rule]: lo - 1 } }), rule, `${rule} < min`);
    }
    assertInvalid(await patch(m, { rules: { credit_window_s: 600.5 } }), 'credit_window_s');
    assert.deepEqual(expectStatus(await getMerchant(m.id), 200).merchant, before, 'refused PATCHes changed nothing');
});

test('PATCH /v1/merchants/me: offers replace the list; discount_pct 1..90, ends_at optional', async () => {
    const m = await makeMerchant(srv);
    const ends = Date.now() + 86400e3;
    const o1 = [
        { title: '10% off lattes', discount_pct: 10 },
        { title: 'Half price', discount_pct: 50, ends_at: ends },
    ];
    const r = expectStatus(await patch(m, { offers: o1 }), 200);
    assert.equal(r.merchant.offers.length, 2);
    assert.equal(r.merchant.offers[0].title, '10% off lattes');
    assert.equal(r.merchant.offers[0].discount_pct, 10);
    assert.ok(!('ends_at' in r.merchant.offers[0]) || r.merchant.offers[0].ends_at === null);
    assert.equal(r.merchant.offers[1].ends_at, ends);
    const r2 = expectStatus(await patch(m, { offers: [{ title: 'Only one', discount_pct: 90 }] }), 200);
    assert.deepEqual(r2.merchant.offers.map((o) => o.title), ['Only one'], 'replaced, not appended');
    const r3 = expectStatus(await patch(m, { name: 'No offers change' }), 200);
    assert.deepEqual(r3.merchant.offers.map((o) => o.title), ['Only one'], 'offers not given: kept');
    for (const bad of [0, 91, 10.5, '10']) {
        assertInvalid(await patch(m, { offers: [{ title: 'x', discount_pct: bad }] }), 'discount_pct', `discount_pct ${bad}`);
    }
    assertInvalid(await patch(m, { offers: [{ discount_pct: 10 }] }), 'title', 'no title');
    assertInvalid(await patch(m, { offers: [{ title: 'x', discount_pct: 10, ends_at: 1.5 }] }), 'ends_at', 'fractional ends_at');
    assertInvalid(await patch(m, { offers: { title: 'x' } }), 'offers', 'not a list');
    const r4 = expectStatus(await patch(m, { offers: [] }), 200);
    assert.deepEqual(r4.merchant.offers, [], 'an empty list clears the offers');
    assert.deepEqual(expectStatus(await getMerchant(m.id), 200).merchant.offers, []);
});

test('PATCH /v1/merchants/me: 401 without a key, 403 with a user token, 400 on bad JSON', async () => {
    const m = await makeMerchant(srv, { name: 'Guarded' });
    const before = expectStatus(await getMerchant(m.id), 200);
    assertError(await srv.api('PATCH', '/v1/merchants/me', { body: { name: 'X' } }), 401, 'unauthorized');
    assertError(await srv.api('PATCH', '/v1/merchants/me', { token: 'mk_bad', body: { name: 'X' } }), 401, 'unauthorized');
    const u = await srv.api('POST', '/v1/users', { body: { name: 'x' } });
    assertError(await srv.api('PATCH', '/v1/merchants/me', { token: u.json.token, body: { name: 'X' } }), 403, 'forbidden');
    assertError(await srv.api('PATCH', '/v1/merchants/me', { token: m.key, body: '{"name":' }), 400, 'bad_json');
    assertError(await srv.api('PATCH', '/v1/merchants/me', { token: m.key, body: '{"name":"a","name":"b"}' }), 400, 'bad_json');
    assert.deepEqual(expectStatus(await getMerchant(m.id), 200), before, 'nothing changed');
});

// ---------------------------------------------------------------------------------------
// Rewards

test('POST /v1/merchants/me/rewards -> 201 {reward:{id,title,cost}}; cost > 0', async () => {
    const m = await makeMerchant(srv);
    const r = await srv.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: 'Free coffee', cost: 500 } });
    expectStatus(r, 201);
    assert.equal(typeof r.json.reward.id, 'string');
    assert.equal(r.json.reward.title, 'Free coffee');
    assert.equal(r.json.reward.cost, 500);
    const r2 = expectStatus(await srv.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: 'Cake', cost: 1 } }), 201);
    for (const bad of [0, -5, 2.5, '10', null]) {
        assertInvalid(await srv.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: 'Bad', cost: bad } }), 'cost', `cost ${bad}`);
    }
    assertInvalid(await srv.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { cost: 5 } }), 'title', 'no title');
    assertInvalid(await srv.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: '', cost: 5 } }), 'title', 'empty title');
    const g = expectStatus(await getMerchant(m.id), 200);
    const ids = g.merchant.rewards.map((x) => x.id).sort();
    assert.deepEqual(ids, [r.json.reward.id, r2.reward.id].sort(), 'the profile lists both rewards, no refused one');
    assert.deepEqual(g.merchant.rewards.find((x) => x.id === r.json.reward.id), r.json.reward);
    const u = await srv.api('POST', '/v1/users', { body: { name: 'x' } });
    assertError(await srv.api('POST', '/v1/merchants/me/rewards', { token: u.json.token, body: { title: 'T', cost: 5 } }), 403, 'forbidden');
    assertError(await srv.api('POST', '/v1/merchants/me/rewards', { body: { title: 'T', cost: 5 } }), 401, 'unauthorized');
});

// ---------------------------------------------------------------------------------------
// Nearby search

/** A point far from every other test's merchants, 1 degree latitude ~ 111.2 km. */
let zone = 0;
const freshPoint = () => ({ lat: -60 + (zone++ % 50) * 0.5, lon: -150 + Math.random() * 0.01 });
const north = (p, meters) => ({ lat: p.lat + meters / 111195, lon: p.lon });

test('GET /v1/merchants?lat&lon: nearest first with distance_m, default radius 2000 m', async () => {
    const p = freshPoint();
    const near = await makeMerchant(srv, { name: 'Near', ...north(p, 100) });
    const mid = await makeMerchant(srv, { name: 'Mid', ...north(p, 1500) });
    const far = await makeMerchant(srv, { name: 'Far', ...north(p, 2600) });
    const r = await srv.api('GET', `/v1/merchants?lat=${p.lat}&lon=${p.lon}`);
    expectStatus(r, 200);
    assert.deepEqual(r.json.merchants.map((m) => m.id), [near.id, mid.id], 'within 2000 m, nearest first');
    const d = r.json.merchants.map((m) => m.distance_m);
    assert.ok(Math.abs(d[0] - 100) < 2, `distance ${d[0]} ~ 100 m`);
    assert.ok(Math.abs(d[1] - 1500) < 15, `distance ${d[1]} ~ 1500 m`);
    for (const k of PUBLIC_KEYS) assert.ok(k in r.json.merchants[0], `merchants[0].${k}`);
    assert.ok(!('next' in r.json) || r.json.next === null, 'the nearby search is not paginated');

    const r2 = expectStatus(await srv.api('GET', `/v1/merchants?lat=${p.lat}&lon=${p.lon}&radius_m=3000`), 200);
    assert.deepEqual(r2.merchants.map((m) => m.id), [near.id, mid.id, far.id]);
    const r3 = expectStatus(await srv.api('GET', `/v1/merchants?lat=${p.lat}&lon=${p.lon}&radius_m=3000&limit=2`), 200);
    assert.deepEqual(r3.merchants.map((m) => m.id), [near.id, mid.id], 'limit takes the nearest');
    const r4 = expectStatus(await srv.api('GET', `/v1/merchants?lat=${p.lat}&lon=${p.lon}&radius_m=50`), 200);
    assert.deepEqual(r4.merchants, []);
    // A moved merchant is found at its new place.
    expectStatus(await patch(mid, north(p, 2900)), 200);
    const r5 = expectStatus(await srv.api('GET', `/v1/merchants?lat=${p.lat}&lon=${p.lon}&radius_m=2800`), 200);
    assert.deepEqual(r5.merchants.map((m) => m.id), [near.id, far.id], 'after PATCH lat');
});

test('GET /v1/merchants: lat/lon required, radius_m 1..50000, limit 1..200', async () => {
    const p = freshPoint();
    const q = (s) => srv.api('GET', `/v1/merchants?${s}`);
    assertInvalid(await q(`lon=${p.lon}`), 'lat', 'no lat');
    assertInvalid(await q(`lat=${p.lat}`), 'lon', 'no lon');
    assertInvalid(await q(`lat=91&lon=0`), 'lat', 'lat 91');
    assertInvalid(await q(`lat=0&lon=-181`), 'lon', 'lon -181');
    assertInvalid(await q(`lat=abc&lon=0`), 'lat', 'lat abc');
    assertInvalid(await q(`lat=0&lon=0&radius_m=0`), 'radius_m', 'radius 0');
    assertInvalid(await q(`lat=0&lon=0&radius_m=50001`), 'radius_m', 'radius 50001');
    assertInvalid(await q(`lat=0&lon=0&radius_m=1.5`), 'radius_m', 'radius 1.5');
    assertInvalid(await q(`lat=0&lon=0&limit=0`), 'limit', 'limit 0');
    assertInvalid(await q(`lat=0&lon=0&limit=201`), 'limit', 'limit 201');
    expectStatus(await q(`lat=${p.lat}&lon=${p.lon}&radius_m=1`), 200, 'radius 1');
    expectStatus(await q(`lat=${p.lat}&lon=${p.lon}&radius_m=50000&limit=200`), 200, 'radius 50000, limit 200');
    expectStatus(await q(`lat=${p.lat}&lon=${p.lon}&limit=1`), 200, 'limit 1');
});

// ---------------------------------------------------------------------------------------
// GET /v1/merchants/me/purchases

scenario('GET /v1/merchants/me/purchases: this merchant\'s purchases newest first, with awards', S, async (sc) => {
    const m = await sc.merchant();
    const other = await sc.merchant();
    const a = await sc.user('A');
    const b = await sc.user('B');
    const p1 = await sc.buy(m, a, 1000);
    const p2 = await sc.buy(m, b, 2000);
    await sc.buy(other, a, 3000);
    const r = expectStatus(await sc.api('GET', '/v1/merchants/me/purchases', { token: m.key }), 200);
    assert.deepEqual(r.purchases.map((p) => p.id), [p2.purchase.id, p1.purchase.id]);
    assert.equal(r.next, null);
    const q = r.purchases[0];
    assert.equal(q.merchant_id, m.id);
    assert.equal(q.user_id, b.id);
    assert.equal(q.amount, 2000);
    assert.equal(q.currency, 'KRW');
    assert.deepEqual(q.awards, [{ user_id: b.id, kind: 'purchase', points: 20 }]);
    const all = await walk(srv, '/v1/merchants/me/purchases', 'purchases', m.key, 1);
    assert.deepEqual(all.map((p) => p.id), [p2.purchase.id, p1.purchase.id], 'limit=1 pages');
    assertError(await sc.api('GET', '/v1/merchants/me/purchases', { token: a.token }), 403, 'forbidden');
    assertError(await sc.api('GET', '/v1/merchants/me/purchases'), 401, 'unauthorized');
});

test('merchant names are 1..N characters of text; a merchant\'s key is unique', async () => {
    const a = await makeMerchant(srv, { name: `n${uniq()}` });
    const b = await makeMerchant(srv, { name: a.name });
    assert.notEqual(a.id, b.id, 'two merchants may share a name');
    assert.notEqual(a.key, b.key);
    assertInvalid(await postMerchant({ name: 'bad\u0001name', lat: 1, lon: 1 }), 'name', 'control character');
});

test('GET /v1/merchants/{id} lists every reward of the merchant', async () => {
    const m = await makeMerchant(srv);
    const made = [];
    for (let i = 0; i < 70; i++) {
        const r = await srv.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: `Reward ${i}`, cost: i + 1 } });
        made.push(expectStatus(r, 201).reward.id);
    }
    const g = expectStatus(await getMerchant(m.id), 200);
    assert.equal(g.merchant.rewards.length, 70, 'no reward is left out of the profile');
    assert.deepEqual(new Set(g.merchant.rewards.map((x) => x.id)), new Set(made));
});

test('every path answers a wrong method with 405 method_not_allowed and its Allow', async () => {
    const m = await makeMerchant(srv);
    for (const [method, path, allow] of [
        ['DELETE', '/v1/purchases/p_x', ['GET']],
        ['PUT', '/v1/me', ['GET']],
        ['POST', '/v1/merchants/me', ['GET', 'PATCH']],
        ['GET', '/v1/friends/u_x', ['PUT', 'DELETE']],
        ['GET', '/v1/purchases', ['POST']],
        ['GET', '/v1/shares', ['POST']],
        ['GET', '/v1/redemptions', ['POST']],
        ['GET', '/v1/merchants/me/rewards', ['POST']],
        ['DELETE', '/v1/merchants', ['GET', 'POST']],
        ['POST', '/v1/merchants/me/stats', ['GET']],
        ['GET', '/v1/purchases/p_x/refund', ['POST']],
    ]) {
        const r = await srv.api(method, path, { token: m.key });
        assertError(r, 405, 'method_not_allowed', `${method} ${path}`);
        const got = (r.headers.get('allow') || '').split(',').map((s) => s.trim());
        for (const a of allow) assert.ok(got.includes(a), `${method} ${path}: Allow ${got} has ${a}`);
    }
});
