// API.md "Users" and "Conventions" over HTTP: sign-up and its field rules, /v1/me, public
// profiles, the ledger and the user's purchases; JSON body rules (bad JSON, duplicate keys,
// fractions, unknown fields); secrets stored hashed; /bench/* only with --bench; 429.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { sleep, startServer, test } from './lib.mjs';
import {
    assertError,
    assertInvalid,
    expectStatus,
    handleOf,
    phoneOf,
    scenario,
    startBench,
    uniq,
} from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

const postUser = (body) => srv.api('POST', '/v1/users', { body });

// ---------------------------------------------------------------------------------------
// POST /v1/users

test('POST /v1/users -> 201 {user:{id,name,handle,created_at}, token}', async () => {
    const h = handleOf('ann');
    const r = await postUser({ name: 'Ann Lee', handle: h, phone: phoneOf() });
    expectStatus(r, 201);
    assert.match(r.headers.get('content-type') || '', /^application\/json/);
    assert.deepEqual(Object.keys(r.json).sort(), ['token', 'user']);
    const u = r.json.user;
    for (const k of ['id', 'name', 'handle', 'created_at']) assert.ok(k in u, `user.${k} in ${r.text}`);
    assert.equal(typeof u.id, 'string');
    assert.ok(u.id.length > 0);
    assert.equal(u.name, 'Ann Lee');
    assert.equal(u.handle, h);
    assert.ok(Number.isInteger(u.created_at), 'created_at is an integer');
    assert.ok(Math.abs(u.created_at - Date.now()) < 10 * 365 * 86400e3, 'created_at is ms since the epoch');
    assert.ok(u.created_at > 1e12, 'created_at is in milliseconds');
    assert.equal(typeof r.json.token, 'string');
    assert.ok(r.json.token.length >= 16, 'a token of some strength');
    assert.ok(!('phone' in u) || typeof u.phone === 'string');
});

test('POST /v1/users: each user gets its own id and token', async () => {
    const a = expectStatus(await postUser({ name: 'A' }), 201);
    const b = expectStatus(await postUser({ name: 'A' }), 201);
    assert.notEqual(a.user.id, b.user.id);
    assert.notEqual(a.token, b.token);
});

test('POST /v1/users: name is 1..64 characters (not bytes)', async () => {
    assertInvalid(await postUser({}), 'name', 'missing');
    assertInvalid(await postUser({ name: '' }), 'name', 'empty');
    assertInvalid(await postUser({ name: 'x'.repeat(65) }), 'name', '65 chars');
    assertInvalid(await postUser({ name: 42 }), 'name', 'a number');
    assertInvalid(await postUser({ name: ['a'] }), 'name', 'an array');
    assertInvalid(await postUser({ name: '가'.repeat(65) }), 'name', '65 Hangul chars');
    expectStatus(await postUser({ name: 'x' }), 201, '1 char');
    expectStatus(await postUser({ name: 'x'.repeat(64) }), 201, '64 chars');
    const r = expectStatus(await postUser({ name: '가'.repeat(64) }), 201, '64 Hangul chars (192 bytes)');
    assert.equal(r.user.name, '가'.repeat(64));
    const e = expectStatus(await postUser({ name: '🍜'.repeat(64) }), 201, '64 emoji (4 bytes each)');
    assert.equal(e.user.name, '🍜'.repeat(64));
});

test('POST /v1/users: handle is [a-z0-9_]{3,32}', async () => {
    for (const bad of ['ab', 'x'.repeat(33), 'Abc', 'ab-c', 'a b', 'abc!', 'ünï', '', 7]) {
        assertInvalid(await postUser({ name: 'H', handle: bad }), 'handle', JSON.stringify(bad));
    }
    const short = `a${uniq().slice(-2)}`.padEnd(3, '0').slice(0, 3);
    for (const good of [`abc_${uniq()}`.slice(0, 32), `9_${uniq()}`.padEnd(32, '0').slice(0, 32)]) {
        const r = expectStatus(await postUser({ name: 'H', handle: good }), 201, good);
        assert.equal(r.user.handle, good);
    }
    expectStatus(await postUser({ name: 'H', handle: short }), 201, `3 chars ${short}`);
});

test('POST /v1/users: a handle is unique -> 409 handle_taken', async () => {
    const h = handleOf('dup');
    expectStatus(await postUser({ name: 'First', handle: h }), 201);
    assertError(await postUser({ name: 'Second', handle: h }), 409, 'handle_taken');
});

test('POST /v1/users: phone is E.164 and unique -> 409 phone_taken', async () => {
    for (const bad of ['01012345678', '+0123456789', '+82 10 1234 5678', '+82-10-1234-5678', '+', '+1234567890123456', 'phone', 821012345678]) {
        assertInvalid(await postUser({ name: 'P', phone: bad }), 'phone', JSON.stringify(bad));
    }
    const ph = phoneOf();
    expectStatus(await postUser({ name: 'P1', phone: ph }), 201);
    assertError(await postUser({ name: 'P2', phone: ph }), 409, 'phone_taken');
    // An error stores nothing: the handle of the refused request is still free.
    const h = handleOf('ph');
    assertError(await postUser({ name: 'P3', phone: ph, handle: h }), 409, 'phone_taken');
    expectStatus(await postUser({ name: 'P4', handle: h }), 201, 'the handle was not taken by the refused sign-up');
});

test('POST /v1/users: a taken handle refuses the whole request (phone stays free)', async () => {
    const h = handleOf('hp');
    expectStatus(await postUser({ name: 'A', handle: h }), 201);
    const ph = phoneOf();
    assertError(await postUser({ name: 'B', handle: h, phone: ph }), 409, 'handle_taken');
    expectStatus(await postUser({ name: 'C', phone: ph }), 201, 'the phone was not taken');
});

// ---------------------------------------------------------------------------------------
// JSON body conventions (checked on POST /v1/users and a few other writes)

test('a body that is not JSON, not an object, or empty -> 400 bad_json', async () => {
    for (const body of ['{"name": "x"', 'name=x', '[{"name":"x"}]', '"x"', '42', 'null', '{"name":"x"} trailing']) {
        assertError(await srv.api('POST', '/v1/users', { body }), 400, 'bad_json', body);
    }
    assertError(await srv.api('POST', '/v1/users', { body: '' }), 400, 'bad_json', 'empty body');
});

test('duplicate keys -> 400 bad_json (users, merchants, purchases, nested rules)', async () => {
    assertError(await srv.api('POST', '/v1/users', { body: '{"name":"a","name":"b"}' }), 400, 'bad_json');
    assertError(await srv.api('POST', '/v1/merchants', { body: '{"name":"M","lat":1,"lon":2,"lat":3}' }), 400, 'bad_json');
    assertError(
        await srv.api('POST', '/v1/merchants', {
            body: '{"name":"M","lat":1,"lon":2,"rules":{"earn_rate_bp":1,"earn_rate_bp":2}}',
        }),
        400,
        'bad_json',
        'duplicate inside rules',
    );
    const m = expectStatus(await srv.api('POST', '/v1/merchants', { body: { name: 'D', lat: 1, lon: 2 } }), 201);
    const u = expectStatus(await postUser({ name: 'D' }), 201);
    const r = await srv.api('POST', '/v1/purchases', {
        token: m.api_key,
        body: `{"user_id":"${u.user.id}","amount":5,"amount":5}`,
    });
    assertError(r, 400, 'bad_json', 'duplicate amount, even with equal values');
    const p = await srv.api('GET', '/v1/me/purchases', { token: u.token });
    assert.deepEqual(p.json.purchases, [], 'nothing recorded');
});

test('unknown fields in a body are ignored', async () => {
    const r = await postUser({ name: 'Extra', colour: 'blue', nested: { a: [1, 2, { b: null }] }, token: 'mine' });
    expectStatus(r, 201);
    assert.equal(r.json.user.name, 'Extra');
    assert.ok(!('colour' in r.json.user));
    assert.notEqual(r.json.token, 'mine');
});

test('fractions where integers are expected -> 422 invalid', async () => {
    const m = expectStatus(await srv.api('POST', '/v1/merchants', { body: { name: 'F', lat: 1, lon: 2 } }), 201);
    const u = expectStatus(await postUser({ name: 'F' }), 201);
    for (const amount of ['10.5', '1e3', '100.0', '"100"', 'true']) {
        const r = await srv.api('POST', '/v1/purchases', {
            token: m.api_key,
            body: `{"user_id":"${u.user.id}","amount":${amount}}`,
        });
        assertInvalid(r, 'amount', `amount ${amount}`);
    }
    assertInvalid(
        await srv.api('POST', '/v1/merchants', { body: '{"name":"F","lat":1,"lon":2,"rules":{"earn_rate_bp":100.5}}' }),
        'earn_rate_bp',
    );
    assertInvalid(await srv.api('POST', '/bench/clock', { body: '{"advance_s":1.5}' }), 'advance_s');
    const p = await srv.api('GET', '/v1/me/purchases', { token: u.token });
    assert.deepEqual(p.json.purchases, [], 'nothing recorded');
});

// ---------------------------------------------------------------------------------------
// GET /v1/me, GET /v1/users/{id}

scenario('GET /v1/me -> {user:{id,name,handle,created_at}, balance, friends}', S, async (sc) => {
    const h = handleOf('me');
    const a = await sc.user('Me Myself', { handle: h });
    const b = await sc.user('Pal');
    const r = await sc.api('GET', '/v1/me', { token: a.token });
    expectStatus(r, 200);
    assert.deepEqual(r.json.user, a.user, 'the same user as at sign-up');
    assert.equal(r.json.user.handle, h);
    assert.equal(r.json.balance, 0);
    assert.equal(r.json.friends, 0);
    await sc.friends(a, b);
    const r2 = await sc.api('GET', '/v1/me', { token: a.token });
    assert.equal(r2.json.friends, 1);
    const m = await sc.merchant();
    await sc.buy(m, a, 12345);
    const r3 = await sc.api('GET', '/v1/me', { token: a.token });
    assert.equal(r3.json.balance, 123, 'floor(12345 x 100 / 10000)');
    // A merchant key is the wrong kind of secret here.
    assertError(await sc.api('GET', '/v1/me', { token: m.key }), 403, 'forbidden');
});

scenario('GET /v1/users/{id} with any secret -> {user:{id,name,handle}}', S, async (sc) => {
    const h = handleOf('pub');
    const a = await sc.user('Public', { handle: h, phone: phoneOf() });
    const b = await sc.user('Looker');
    const m = await sc.merchant();
    for (const [who, token] of [['another user', b.token], ['the user', a.token], ['a merchant', m.key]]) {
        const r = await sc.api('GET', `/v1/users/${a.id}`, { token });
        expectStatus(r, 200, who);
        assert.equal(r.json.user.id, a.id);
        assert.equal(r.json.user.name, 'Public');
        assert.equal(r.json.user.handle, h);
        assert.ok(!('phone' in r.json.user), 'no phone in a public profile');
        assert.ok(!('token' in r.json) && !('token' in r.json.user), 'no token');
    }
    assertError(await sc.api('GET', `/v1/users/${a.id}`), 401, 'unauthorized', 'no secret');
    assertError(await sc.api('GET', `/v1/users/${a.id}`, { token: 'ut_nope' }), 401, 'unauthorized', 'bad secret');
    assertError(await sc.api('GET', '/v1/users/u_zzzzzzzzzzzzz', { token: b.token }), 404, 'not_found', 'unknown id');
    assertError(await sc.api('GET', '/v1/users/nonsense', { token: b.token }), 404, 'not_found', 'garbage id');
    assertError(await sc.api('GET', `/v1/users/${m.id}`, { token: b.token }), 404, 'not_found', 'a merchant id');
    const none = await sc.api('GET', '/v1/users/u_zzzzzzzzzzzzz');
    assertError(none, 401, 'unauthorized', 'no secret on an unknown id: 401 first');
});

test('a user without a handle shows handle null (the key is there)', async () => {
    const r = expectStatus(await postUser({ name: 'No Handle' }), 201);
    assert.ok('handle' in r.user);
    assert.equal(r.user.handle, null);
});

// ---------------------------------------------------------------------------------------
// GET /v1/me/ledger, GET /v1/me/purchases

scenario('GET /v1/me/ledger: entries with their fields, newest first, every kind', S, async (sc) => {
    const a = await sc.user('Sharer');
    const b = await sc.user('Buyer');
    await sc.friends(a, b);
    const m = await sc.merchant({ rules: { earn_rate_bp: 1000 } });
    const rw = expectStatus(
        await sc.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: 'Coffee', cost: 10 } }),
        201,
    );
    const { purchase: pa, share: s } = await sc.buyAndShare(m, a, 1000); // a: purchase 100
    const pb = await sc.buy(m, b, 500); // b: purchase 50 + friend_bonus 50; a: referral 100
    expectStatus(await sc.api('POST', '/v1/redemptions', { token: b.token, body: { reward_id: rw.reward.id } }), 201);
    expectStatus(await sc.api('POST', '/v1/redemptions', { token: b.token, body: { cash_points: 5 } }), 201);
    await sc.refund(m, pa.id); // a: reversal -100

    const la = await sc.ledger(a);
    assert.deepEqual(la.map((e) => [e.kind, e.points]), [['reversal', -100], ['referral', 100], ['purchase', 100]]);
    const [rev, ref, pur] = la;
    for (const e of la) {
        for (const k of ['id', 'kind', 'points', 'balance_after', 'created_at']) assert.ok(k in e, `${k} in ${JSON.stringify(e)}`);
        assert.ok(Number.isInteger(e.created_at) && e.created_at > 1e12);
        assert.equal(e.merchant_id, m.id);
    }
    assert.equal(pur.purchase_id, pa.id);
    assert.ok(!('share_id' in pur) || pur.share_id === null);
    assert.ok(!('friend_id' in pur) || pur.friend_id === null);
    assert.equal(ref.purchase_id, pb.purchase.id);
    assert.equal(ref.share_id, s.id);
    assert.equal(ref.friend_id, b.id, 'on a referral the friend is the buyer');
    assert.equal(rev.purchase_id, pa.id);
    assert.deepEqual(la.map((e) => e.balance_after), [100, 200, 100]);
    assert.ok(la[0].created_at >= la[1].created_at && la[1].created_at >= la[2].created_at, 'newest first');
    assert.equal(new Set(la.map((e) => e.id)).size, 3, 'distinct ids');

    const lb = await sc.ledger(b);
    assert.deepEqual(lb.map((e) => [e.kind, e.points]), [
        ['redemption', -5],
        ['redemption', -10],
        ['friend_bonus', 50],
        ['purchase', 50],
    ]);
    assert.equal(lb[2].friend_id, a.id, 'on a friend_bonus the friend is the sharer');
    assert.equal(lb[2].share_id, s.id);
    assert.equal(lb[2].purchase_id, pb.purchase.id);
    assert.equal(typeof lb[0].redemption_id, 'string');
    assert.equal(typeof lb[1].redemption_id, 'string');
    assert.notEqual(lb[0].redemption_id, lb[1].redemption_id);
    assert.deepEqual(lb.map((e) => e.balance_after), [85, 90, 100, 50]);
    const kinds = new Set([...la, ...lb].map((e) => e.kind));
    assert.deepEqual([...kinds].sort(), ['friend_bonus', 'purchase', 'redemption', 'referral', 'reversal']);
});

scenario('GET /v1/me/purchases: the user\'s purchases newest first, other users\' not', S, async (sc) => {
    const a = await sc.user('Buyer A');
    const b = await sc.user('Buyer B');
    const m1 = await sc.merchant();
    const m2 = await sc.merchant();
    const p1 = await sc.buy(m1, a, 100);
    const p2 = await sc.buy(m2, a, 200);
    await sc.buy(m1, b, 300);
    const r = await sc.api('GET', '/v1/me/purchases', { token: a.token });
    expectStatus(r, 200);
    assert.equal(r.json.next, null);
    assert.deepEqual(r.json.purchases.map((p) => p.id), [p2.purchase.id, p1.purchase.id]);
    const q = r.json.purchases[0];
    for (const k of ['id', 'user_id', 'merchant_id', 'amount', 'currency', 'created_at', 'referral']) {
        assert.ok(k in q, `${k} in ${JSON.stringify(q)}`);
    }
    assert.equal(q.user_id, a.id);
    assert.equal(q.merchant_id, m2.id);
    assert.equal(q.amount, 200);
    assert.equal(q.currency, 'KRW');
    assert.equal(q.referral, null);
    assertError(await sc.api('GET', '/v1/me/purchases', { token: m1.key }), 403, 'forbidden', 'merchant key');
    assertError(await sc.api('GET', '/v1/me/purchases'), 401, 'unauthorized');
});

// ---------------------------------------------------------------------------------------
// Secrets, Authorization header forms

test('secrets are stored hashed: no token or api key appears in the data folder', async () => {
    const u = expectStatus(await postUser({ name: 'Secretive' }), 201);
    const m = expectStatus(await srv.api('POST', '/v1/merchants', { body: { name: 'S', lat: 0, lon: 0 } }), 201);
    const needles = [u.token, m.api_key].map((s) => Buffer.from(s));
    const files = [];
    const walkDir = (d) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walkDir(p);
            else files.push(p);
        }
    };
    walkDir(srv.data);
    assert.ok(files.length > 0);
    for (const f of files) {
        const data = fs.readFileSync(f);
        for (const n of needles) assert.equal(data.indexOf(n), -1, `${f} holds a secret in clear`);
    }
});

test('Authorization: a bare token, Basic, or an empty Bearer -> 401 unauthorized', async () => {
    const u = expectStatus(await postUser({ name: 'Auth' }), 201);
    for (const h of [u.token, `Basic ${u.token}`, 'Bearer ', 'Bearer', `Bearer ${u.token}x`, `Bearer ${u.token.slice(0, -1)}`]) {
        const r = await srv.api('GET', '/v1/me', { headers: { Authorization: h } });
        assertError(r, 401, 'unauthorized', `Authorization: ${h}`);
    }
    expectStatus(await srv.api('GET', '/v1/me', { headers: { Authorization: `Bearer ${u.token}` } }), 200);
    // The stream's ?token= is only for the stream.
    assertError(await srv.api('GET', `/v1/me?token=${encodeURIComponent(u.token)}`), 401, 'unauthorized', '?token= on /v1/me');
});

// ---------------------------------------------------------------------------------------
// Operations and bench

test('GET /healthz -> 200 {"status":"ok"}; GET /metrics -> Prometheus text', async () => {
    const h = await srv.api('GET', '/healthz');
    expectStatus(h, 200);
    assert.deepEqual(h.json, { status: 'ok' });
    const m = await srv.api('GET', '/metrics');
    expectStatus(m, 200);
    assert.match(m.headers.get('content-type') || '', /^text\/plain/);
    assert.match(m.text, /^# (HELP|TYPE) /m);
});

test('POST /bench/clock moves the clock forward; advance_s must be an integer >= 0', async () => {
    const a = expectStatus(await srv.api('POST', '/bench/clock', { body: { advance_s: 0 } }), 200);
    assert.ok(Number.isInteger(a.now));
    const b = expectStatus(await srv.api('POST', '/bench/clock', { body: { advance_s: 3600 } }), 200);
    assert.ok(b.now - a.now >= 3600e3 && b.now - a.now < 3600e3 + 5000, `moved by an hour: ${b.now - a.now}`);
    assertInvalid(await srv.api('POST', '/bench/clock', { body: { advance_s: -1 } }), 'advance_s');
    assertInvalid(await srv.api('POST', '/bench/clock', { body: {} }), 'advance_s');
    assertInvalid(await srv.api('POST', '/bench/clock', { body: { advance_s: '5' } }), 'advance_s');
    assertError(await srv.api('POST', '/bench/clock', { body: 'x' }), 400, 'bad_json');
    // Writes after it carry the moved time.
    const u = expectStatus(await postUser({ name: 'Later' }), 201);
    assert.ok(u.user.created_at >= b.now, 'created_at follows the moved clock');
});

test('POST /bench/seed -> 200 ndjson of principals; the same seed gives the same graph', async () => {
    const r = await srv.api('POST', '/bench/seed', { body: { users: 5, merchants: 2, friends_per_user: 2, seed: 7 } });
    expectStatus(r, 200);
    assert.match(r.headers.get('content-type') || '', /^application\/x-ndjson/);
    const lines = r.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.filter((l) => l.kind === 'user').length, 5);
    assert.equal(lines.filter((l) => l.kind === 'merchant').length, 2);
    for (const l of lines) {
        assert.equal(typeof l.id, 'string');
        assert.equal(typeof l.secret, 'string');
    }
    const u = lines.find((l) => l.kind === 'user');
    const me = expectStatus(await srv.api('GET', '/v1/me', { token: u.secret }), 200);
    assert.equal(me.user.id, u.id);
    const mm = lines.find((l) => l.kind === 'merchant');
    expectStatus(await srv.api('GET', '/v1/merchants/me', { token: mm.secret }), 200);

    // Same seed on two fresh servers: same friend counts per user position.
    const shape = async (s) => {
        const rr = await s.api('POST', '/bench/seed', { body: { users: 6, merchants: 1, friends_per_user: 2, seed: 42 } });
        const ls = rr.text.trim().split('\n').map((l) => JSON.parse(l));
        const out = [];
        for (const l of ls.filter((x) => x.kind === 'user')) {
            out.push((await s.api('GET', '/v1/me', { token: l.secret })).json.friends);
        }
        return out;
    };
    const s1 = await startBench();
    const s2 = await startBench();
    try {
        const [f1, f2] = [await shape(s1), await shape(s2)];
        assert.deepEqual(f1, f2, 'the same seed gives the same friend graph');
        assert.ok(f1.some((n) => n > 0), `some friendships: ${f1}`);
    } finally {
        await s1.stop();
        await s2.stop();
    }
});

test('without --bench, /bench/* is 404', async () => {
    const plain = await startServer();
    try {
        assertError(await plain.api('POST', '/bench/clock', { body: { advance_s: 1 } }), 404, 'not_found');
        assertError(await plain.api('POST', '/bench/seed', { body: { users: 1, merchants: 1 } }), 404, 'not_found');
        assertError(await plain.api('GET', '/bench/clock'), 404, 'not_found');
    } finally {
        await plain.stop();
    }
});

test('--rate-limit: over the limit -> 429 rate_limited with Retry-After', async () => {
    const limited = await startServer(['--rate-limit', '3']);
    try {
        const u = await limited.api('POST', '/v1/users', { body: { name: 'Rate' } });
        expectStatus(u, 201);
        let got;
        for (let i = 0; i < 40 && !got; i++) {
            const r = await limited.api('GET', '/v1/me', { token: u.json.token });
            if (r.status === 429) got = r;
            else expectStatus(r, 200, `request ${i} before the limit`);
        }
        assert.ok(got, 'a 429 within 40 quick requests at 3/s');
        assertError(got, 429, 'rate_limited');
        const ra = got.headers.get('retry-after');
        assert.match(ra || '', /^\d+$/, `Retry-After: ${ra}`);
        await sleep(Number(ra) * 1000 + 100);
        expectStatus(await limited.api('GET', '/v1/me', { token: u.json.token }), 200, 'after Retry-After');
    } finally {
        await limited.stop();
    }
});

test('concurrent sign-ups with one handle: one 201, the others 409 handle_taken', async () => {
    const h = handleOf('race');
    const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => postUser({ name: `R${i}`, handle: h })));
    assert.equal(rs.filter((r) => r.status === 201).length, 1, rs.map((r) => r.status).join(','));
    for (const r of rs) if (r.status !== 201) assertError(r, 409, 'handle_taken');
});
