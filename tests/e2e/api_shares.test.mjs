// API.md "Shares": making a share (fields, channel, message), the order of checks (404, 403,
// 409 refunded, 409 already_shared), and GET /v1/me/shares with its referral counts.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { assertError, assertInvalid, expectStatus, scenario, snapshot, startBench, walk } from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

const postShare = (sc, u, body) => sc.api('POST', '/v1/shares', { token: u.token, body });

scenario('POST /v1/shares -> 201 {share:{id,user_id,merchant_id,purchase_id,channel,message,created_at,expires_at,referrals:0}}', S, async (sc) => {
    const m = await sc.merchant({ rules: { credit_window_s: 7200 } });
    const a = await sc.user('A');
    const p = await sc.buy(m, a, 5000);
    const r = await postShare(sc, a, { purchase_id: p.purchase.id, channel: 'checkin', message: 'Great noodles 🍜' });
    expectStatus(r, 201);
    assert.deepEqual(Object.keys(r.json), ['share']);
    const s = r.json.share;
    for (const k of ['id', 'user_id', 'merchant_id', 'purchase_id', 'channel', 'message', 'created_at', 'expires_at', 'referrals']) {
        assert.ok(k in s, `share.${k} in ${r.text}`);
    }
    assert.equal(typeof s.id, 'string');
    assert.equal(s.user_id, a.id);
    assert.equal(s.merchant_id, m.id);
    assert.equal(s.purchase_id, p.purchase.id);
    assert.equal(s.channel, 'checkin');
    assert.equal(s.message, 'Great noodles 🍜');
    assert.ok(Number.isInteger(s.created_at) && s.created_at >= p.purchase.created_at);
    assert.equal(s.expires_at, s.created_at + 7200 * 1000);
    assert.equal(s.referrals, 0);
    const listed = await walk(sc.srv, '/v1/me/shares', 'shares', a.token);
    assert.deepEqual(listed, [s], 'GET /v1/me/shares lists it as made');
});

scenario('channel is post, checkin or link; message is at most 280 characters', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const ps = [];
    for (let i = 0; i < 6; i++) ps.push((await sc.buy(m, a, 1000)).purchase.id);
    for (const bad of ['tweet', 'POST', '', 3, null]) {
        assertInvalid(await postShare(sc, a, { purchase_id: ps[0], channel: bad }), 'channel', `channel ${JSON.stringify(bad)}`);
    }
    assertInvalid(await postShare(sc, a, { purchase_id: ps[0] }), 'channel', 'no channel');
    assertInvalid(await postShare(sc, a, { purchase_id: ps[0], channel: 'post', message: 'x'.repeat(281) }), 'message', '281');
    assertInvalid(await postShare(sc, a, { purchase_id: ps[0], channel: 'post', message: '가'.repeat(281) }), 'message', '281 Hangul');
    assertInvalid(await postShare(sc, a, { purchase_id: ps[0], channel: 'post', message: 5 }), 'message', 'not a string');
    assertInvalid(await postShare(sc, a, { channel: 'post' }), 'purchase_id', 'no purchase_id');
    assert.deepEqual(await walk(sc.srv, '/v1/me/shares', 'shares', a.token), [], 'nothing made by refused requests');
    const made = [];
    for (const [i, body] of [
        { channel: 'post' },
        { channel: 'checkin', message: 'x'.repeat(280) },
        { channel: 'link', message: '가'.repeat(280) },
        { channel: 'post', message: 'two\nlines' },
        { channel: 'post', message: '' },
    ].entries()) {
        const r = expectStatus(await postShare(sc, a, { purchase_id: ps[i], ...body }), 201, JSON.stringify(body).slice(0, 60));
        assert.equal(r.share.channel, body.channel);
        if (body.message !== undefined) assert.equal(r.share.message, body.message);
        made.push(r.share.id);
    }
    const listed = await walk(sc.srv, '/v1/me/shares', 'shares', a.token);
    assert.deepEqual(listed.map((s) => s.id), made.reverse(), 'newest first');
});

scenario('checks in order: 404 no such purchase, 403 not yours, 409 refunded, 409 already_shared', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('Owner');
    const x = await sc.user('Other');
    const p = await sc.buy(m, a, 1000);
    const id = p.purchase.id;

    assertError(await postShare(sc, a, { purchase_id: 'p_zzzzzzzzzzzzz', channel: 'post' }), 404, 'not_found', 'unknown');
    assertError(await postShare(sc, a, { purchase_id: 'garbage', channel: 'post' }), 404, 'not_found', 'garbage id');
    assertError(await postShare(sc, x, { purchase_id: id, channel: 'post' }), 403, 'forbidden', "another user's");
    const s = expectStatus(await postShare(sc, a, { purchase_id: id, channel: 'post' }), 201).share;
    assertError(await postShare(sc, a, { purchase_id: id, channel: 'link' }), 409, 'already_shared', 'second share');
    assertError(await postShare(sc, x, { purchase_id: id, channel: 'post' }), 403, 'forbidden', "another user's, shared: 403 first");
    await sc.refund(m, id);
    assertError(await postShare(sc, a, { purchase_id: id, channel: 'post' }), 409, 'refunded', 'refunded and shared: refunded first');
    assertError(await postShare(sc, x, { purchase_id: id, channel: 'post' }), 403, 'forbidden', "another user's refunded: 403 first");

    const p2 = await sc.buy(m, a, 1000);
    await sc.refund(m, p2.purchase.id);
    assertError(await postShare(sc, a, { purchase_id: p2.purchase.id, channel: 'post' }), 409, 'refunded', 'refunded, never shared');
    const listed = await walk(sc.srv, '/v1/me/shares', 'shares', a.token);
    assert.deepEqual(listed.map((y) => y.id), [s.id], 'only the one good share exists');
    assert.deepEqual(await walk(sc.srv, '/v1/me/shares', 'shares', x.token), []);
});

scenario('POST /v1/shares needs a user token; refused requests change nothing', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const p = await sc.buy(m, a, 1000);
    const before = await snapshot(sc.srv, { users: [a], merchants: [m] });
    assertError(await sc.api('POST', '/v1/shares', { body: { purchase_id: p.purchase.id, channel: 'post' } }), 401, 'unauthorized');
    assertError(await sc.api('POST', '/v1/shares', { token: 'ut_bad', body: { purchase_id: p.purchase.id, channel: 'post' } }), 401, 'unauthorized');
    assertError(await sc.api('POST', '/v1/shares', { token: m.key, body: { purchase_id: p.purchase.id, channel: 'post' } }), 403, 'forbidden', 'its merchant');
    assertError(await sc.api('POST', '/v1/shares', { token: a.token, body: '{"purchase_id":' }), 400, 'bad_json');
    assert.deepEqual(await snapshot(sc.srv, { users: [a], merchants: [m] }), before);
    expectStatus(await postShare(sc, a, { purchase_id: p.purchase.id, channel: 'post' }), 201, 'the right principal');
});

scenario('GET /v1/me/shares: referrals is the number of friends credited so far', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const fs = await sc.someUsers(3, 'F');
    for (const f of fs) await sc.friends(a, f);
    const { share: s1 } = await sc.buyAndShare(m, a);
    const shares = async () => walk(sc.srv, '/v1/me/shares', 'shares', a.token);
    assert.equal((await shares())[0].referrals, 0);
    await sc.buy(m, fs[0], 1000);
    assert.equal((await shares())[0].referrals, 1);
    await sc.buy(m, fs[1], 1000);
    await sc.buy(m, fs[1], 1000); // not twice
    assert.equal((await shares())[0].referrals, 2);
    const { share: s2 } = await sc.buyAndShare(m, a);
    await sc.buy(m, fs[2], 1000); // the newer share wins
    const all = await shares();
    assert.deepEqual(all.map((s) => [s.id, s.referrals]), [[s2.id, 1], [s1.id, 2]]);
    assertError(await sc.api('GET', '/v1/me/shares', { token: m.key }), 403, 'forbidden');
    assertError(await sc.api('GET', '/v1/me/shares'), 401, 'unauthorized');
});

scenario('a share of a purchase at another merchant credits only there', S, async (sc) => {
    const m1 = await sc.merchant();
    const m2 = await sc.merchant();
    const a = await sc.user('A');
    const b = await sc.user('B');
    await sc.friends(a, b);
    const { share: s } = await sc.buyAndShare(m2, a);
    assert.equal(s.merchant_id, m2.id);
    assert.equal((await sc.buy(m1, b, 1000)).purchase.referral, null);
    assert.deepEqual((await sc.buy(m2, b, 1000)).purchase.referral, { share_id: s.id, sharer_id: a.id });
});

scenario('concurrent shares of one purchase: one 201, the others 409 already_shared', S, async (sc) => {
    const m = await sc.merchant();
    const a = await sc.user('A');
    const p = await sc.buy(m, a, 1000);
    const rs = await Promise.all(Array.from({ length: 4 }, () => postShare(sc, a, { purchase_id: p.purchase.id, channel: 'link' })));
    assert.equal(rs.filter((r) => r.status === 201).length, 1, rs.map((r) => r.status).join(','));
    for (const r of rs) if (r.status !== 201) assertError(r, 409, 'already_shared');
    assert.equal((await walk(sc.srv, '/v1/me/shares', 'shares', a.token)).length, 1);
});
