// API.md "Stream (WebSocket)": the hello, every user and merchant event with its data, replay
// with `since`, seqs without gaps, live delivery, and the secret by query or header.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { sleep, wsConnect } from './lib.mjs';
import { advance, expectStatus, scenario, startBench } from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

/** Opens the stream and reads the hello; resolves {ws, hello}. */
async function open(token, opts = {}) {
    const ws = await wsConnect(srv.wsUrl, { token, ...opts });
    const hello = await ws.next(5000);
    return { ws, hello };
}

/** Reads n frames (after the hello). */
async function take(ws, n, ms = 5000) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await ws.next(ms));
    return out;
}

/** Asserts that no frame arrives within ms. */
async function quiet(ws, ms = 300) {
    await sleep(ms);
    assert.deepEqual(ws.messages, [], 'no further frame');
}

/** Every stored event of a principal: connect with since=0, read last_seq frames. */
async function history(token) {
    const { ws, hello } = await open(token, { since: 0 });
    try {
        assertHello(hello);
        const evs = await take(ws, hello.data.last_seq);
        await quiet(ws, 150);
        return { hello, evs };
    } finally {
        ws.close();
    }
}

function assertHello(h) {
    assert.equal(h.seq, 0, `hello seq 0: ${JSON.stringify(h)}`);
    assert.equal(h.type, 'hello');
    assert.ok(Number.isInteger(h.at) && h.at > 1e12, 'hello.at in ms');
    assert.ok(Number.isInteger(h.data?.last_seq) && h.data.last_seq >= 0, 'hello.data.last_seq');
}

function assertFrames(evs, from = 1) {
    evs.forEach((e, i) => {
        assert.equal(e.seq, from + i, `seq without gaps: ${JSON.stringify(evs.map((x) => x.seq))}`);
        assert.equal(typeof e.type, 'string');
        assert.ok(Number.isInteger(e.at) && e.at > 1e12, `at of ${e.type}`);
        assert.equal(typeof e.data, 'object');
        assert.notEqual(e.data, null);
    });
}

const ref = (u) => ({ id: u.id, name: u.name });

/** The full story used by several tests: friends, a share, a referred purchase, a refund, redemptions. */
async function story(sc) {
    const m = await sc.merchant({ name: 'Noodle Bar', rules: { earn_rate_bp: 1000, referral_bonus: 300, friend_bonus: 70 } });
    const a = await sc.user('Ann Sharer');
    const b = await sc.user('Bob Buyer');
    expectStatus(await sc.api('PUT', `/v1/friends/${b.id}`, { token: a.token }), 200); // b: friend.request
    expectStatus(await sc.api('PUT', `/v1/friends/${a.id}`, { token: b.token }), 200); // a: friend.accepted
    const pa = await sc.buy(m, a, 1000); // a: earned purchase 100; m: purchase
    const s = await sc.share(a, pa.purchase.id, 'post', 'try it'); // m: share
    const pb = await sc.buy(m, b, 2000); // b: purchase 200, friend_bonus 70; a: referral 300; m: purchase
    await advance(sc.srv, 1);
    const rf = await sc.refund(m, pb.purchase.id); // b: 2 reversed; a: 1 reversed; m: refund
    const rw = expectStatus(await sc.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: 'Dumplings', cost: 40 } }), 201).reward;
    const r1 = expectStatus(await sc.api('POST', '/v1/redemptions', { token: a.token, body: { reward_id: rw.id } }), 201); // a: redeemed
    const r2 = expectStatus(await sc.api('POST', '/v1/redemptions', { token: a.token, body: { cash_points: 10 } }), 201); // a: redeemed
    return { m, a, b, pa, s, pb, rf, rw, r1, r2 };
}

// ---------------------------------------------------------------------------------------

scenario('user events: friend.request, points.earned (purchase, friend_bonus), points.reversed', S, async (sc) => {
    const { m, a, b, pb, s } = await story(sc);
    const { hello, evs } = await history(b.token);
    assert.equal(hello.data.last_seq, 5);
    assertFrames(evs);
    assert.deepEqual(evs.map((e) => e.type), ['friend.request', 'points.earned', 'points.earned', 'points.reversed', 'points.reversed']);
    const [req, earnP, earnF, rev1, rev2] = evs;
    assert.deepEqual(req.data, { from: ref(a) });
    assert.deepEqual(earnP.data, {
        kind: 'purchase',
        points: 200,
        balance: 200,
        purchase_id: pb.purchase.id,
        merchant: { id: m.id, name: 'Noodle Bar' },
        friend: null,
        share_id: null,
    });
    assert.deepEqual(earnF.data, {
        kind: 'friend_bonus',
        points: 70,
        balance: 270,
        purchase_id: pb.purchase.id,
        merchant: { id: m.id, name: 'Noodle Bar' },
        friend: ref(a),
        share_id: s.id,
    });
    assert.equal(earnP.at, pb.purchase.created_at);
    const revs = [rev1, rev2].map((e) => e.data);
    for (const d of revs) {
        assert.equal(d.purchase_id, pb.purchase.id);
        assert.deepEqual(d.merchant, { id: m.id, name: 'Noodle Bar' });
        assert.ok(d.points < 0);
    }
    assert.deepEqual(revs.map((d) => [d.reversed_kind, d.points]).sort(), [['friend_bonus', -70], ['purchase', -200]]);
    assert.equal(revs[1].balance, 0, 'balance after both reversals');
    assert.equal(revs[0].balance, 270 + revs[0].points);
});

scenario('user events: friend.accepted, points.earned (referral), points.reversed, points.redeemed', S, async (sc) => {
    const { m, a, b, pa, pb, s, rw, r1, r2 } = await story(sc);
    const { hello, evs } = await history(a.token);
    assert.equal(hello.data.last_seq, 6);
    assertFrames(evs);
    assert.deepEqual(evs.map((e) => e.type), [
        'friend.accepted',
        'points.earned',
        'points.earned',
        'points.reversed',
        'points.redeemed',
        'points.redeemed',
    ]);
    const [acc, own, referral, rev, red1, red2] = evs;
    assert.deepEqual(acc.data, { friend: ref(b) });
    assert.deepEqual(own.data, {
        kind: 'purchase',
        points: 100,
        balance: 100,
        purchase_id: pa.purchase.id,
        merchant: { id: m.id, name: 'Noodle Bar' },
        friend: null,
        share_id: null,
    });
    assert.deepEqual(referral.data, {
        kind: 'referral',
        points: 300,
        balance: 400,
        purchase_id: pb.purchase.id,
        merchant: { id: m.id, name: 'Noodle Bar' },
        friend: ref(b),
        share_id: s.id,
    });
    assert.deepEqual(rev.data, {
        points: -300,
        balance: 100,
        purchase_id: pb.purchase.id,
        merchant: { id: m.id, name: 'Noodle Bar' },
        reversed_kind: 'referral',
    });
    assert.deepEqual(red1.data, {
        points: -40,
        balance: 60,
        redemption_id: r1.redemption.id,
        kind: 'reward',
        reward: { id: rw.id, title: 'Dumplings' },
    });
    assert.deepEqual(red2.data, {
        points: -10,
        balance: 50,
        redemption_id: r2.redemption.id,
        kind: 'cash',
        reward: null,
    });
    assert.equal(await sc.balance(a), 50);
});

scenario('merchant events: purchase (buyer, awards, share, sharer), share, refund', S, async (sc) => {
    const { m, a, b, pa, pb, s, rf } = await story(sc);
    const { hello, evs } = await history(m.key);
    assert.equal(hello.data.last_seq, 4);
    assertFrames(evs);
    assert.deepEqual(evs.map((e) => e.type), ['purchase', 'share', 'purchase', 'refund']);
    const [p1, sh, p2, ref_] = evs;
    assert.equal(p1.data.purchase.id, pa.purchase.id);
    assert.equal(p1.data.purchase.amount, 1000);
    assert.deepEqual(p1.data.buyer, ref(a));
    assert.deepEqual(p1.data.awards, pa.awards);
    assert.ok(p1.data.share === null || p1.data.share === undefined, 'no share');
    assert.ok(p1.data.sharer === null || p1.data.sharer === undefined, 'no sharer');

    assert.deepEqual(sh.data.user, ref(a));
    assert.deepEqual(sh.data.share, s);

    assert.equal(p2.data.purchase.id, pb.purchase.id);
    assert.deepEqual(p2.data.purchase.referral, { share_id: s.id, sharer_id: a.id });
    assert.deepEqual(p2.data.buyer, ref(b));
    assert.deepEqual(p2.data.awards, pb.awards);
    assert.equal(p2.data.share.id, s.id);
    assert.equal(p2.data.share.message, 'try it');
    assert.deepEqual(p2.data.sharer, ref(a));

    assert.equal(ref_.data.purchase.id, pb.purchase.id);
    assert.equal(ref_.data.purchase.refunded_at, rf.purchase.refunded_at);
    const key = (x) => `${x.user_id}/${x.points}`;
    assert.deepEqual(ref_.data.reversals.map(key).sort(), rf.reversals.map(key).sort());
    for (const r of ref_.data.reversals) assert.equal(r.kind, 'reversal');
});

scenario('replay with since=N returns exactly the events with seq > N, in order', S, async (sc) => {
    const { a } = await story(sc);
    const all = (await history(a.token)).evs;
    for (const n of [0, 1, 3, 5, 6, 100]) {
        const { ws, hello } = await open(a.token, { since: n });
        try {
            assertHello(hello);
            assert.equal(hello.data.last_seq, 6);
            const want = all.filter((e) => e.seq > n);
            const got = await take(ws, want.length);
            assert.deepEqual(got, want, `since=${n}`);
            await quiet(ws, 150);
        } finally {
            ws.close();
        }
    }
});

scenario('without since only live events follow the hello; live seqs continue without gaps', S, async (sc) => {
    const m = await sc.merchant({ name: 'Live Cafe' });
    const u = await sc.user('Live');
    const v = await sc.user('Other');
    await sc.buy(m, u, 5000); // seq 1, stored
    const { ws, hello } = await open(u.token);
    try {
        assertHello(hello);
        assert.equal(hello.data.last_seq, 1);
        await quiet(ws, 200); // no replay
        const p = await sc.buy(m, u, 7000);
        const [e] = await take(ws, 1);
        assert.equal(e.seq, 2);
        assert.equal(e.type, 'points.earned');
        assert.equal(e.data.purchase_id, p.purchase.id);
        assert.equal(e.data.balance, 120);
        await sc.buy(m, v, 7000); // another user's purchase: not on this stream
        expectStatus(await sc.api('PUT', `/v1/friends/${u.id}`, { token: v.token }), 200);
        const [f] = await take(ws, 1);
        assert.equal(f.seq, 3);
        assert.deepEqual(f.data, { from: ref(v) });
        await quiet(ws, 150);
    } finally {
        ws.close();
    }
    // A merchant's live stream.
    const mw = await open(m.key);
    try {
        assertHello(mw.hello);
        assert.equal(mw.hello.data.last_seq, 3);
        const p = await sc.buy(m, v, 100);
        const [e] = await take(mw.ws, 1);
        assert.equal(e.seq, 4);
        assert.equal(e.type, 'purchase');
        assert.equal(e.data.purchase.id, p.purchase.id);
        assert.deepEqual(e.data.buyer, ref(v));
    } finally {
        mw.ws.close();
    }
});

scenario('two streams of one user both get every live event; a refused write sends nothing', S, async (sc) => {
    const m = await sc.merchant();
    const u = await sc.user('Twice');
    const s1 = await open(u.token);
    const s2 = await open(u.token, { since: 0 });
    try {
        assertFrames([]);
        assertError409(await sc.api('POST', '/v1/redemptions', { token: u.token, body: { cash_points: 5 } }));
        await sc.buy(m, u, 1000);
        const [e1] = await take(s1.ws, 1);
        const [e2] = await take(s2.ws, 1);
        assert.deepEqual(e1, e2);
        assert.equal(e1.seq, 1, 'the refused redemption made no event');
        await quiet(s1.ws, 100);
    } finally {
        s1.ws.close();
        s2.ws.close();
    }
});

function assertError409(r) {
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'insufficient_points');
}

scenario('the secret by ?token= or by Authorization; none or a bad one -> HTTP 401, no upgrade', S, async (sc) => {
    const u = await sc.user('Auth');
    const m = await sc.merchant();
    const viaHeader = await wsConnect(srv.wsUrl, { headers: { Authorization: `Bearer ${u.token}` } });
    try {
        assertHello(await viaHeader.next());
    } finally {
        viaHeader.close();
    }
    const viaQuery = await open(u.token);
    viaQuery.ws.close();
    const merchant = await open(m.key);
    assertHello(merchant.hello);
    merchant.ws.close();
    for (const [what, opts] of [
        ['no secret', {}],
        ['bad token', { token: 'ut_nope' }],
        ['bad header', { headers: { Authorization: 'Bearer ut_nope' } }],
        ['empty token', { token: '' }],
    ]) {
        await assert.rejects(wsConnect(srv.wsUrl, opts), (e) => {
            assert.equal(e.status, 401, `${what}: ${e.message}`);
            if (e.json) assert.equal(e.json.error.code, 'unauthorized');
            return true;
        });
    }
});

scenario('events are kept: a reconnect with since loses nothing (at least the last 1000)', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 10000 } });
    const u = await sc.user('Many');
    const N = 60;
    await Promise.all(Array.from({ length: N }, (_, i) => sc.buy(m, u, i + 1)));
    const { hello, evs } = await history(u.token);
    assert.equal(hello.data.last_seq, N);
    assertFrames(evs);
    assert.deepEqual(evs.map((e) => e.data.points).sort((x, y) => x - y), Array.from({ length: N }, (_, i) => i + 1));
    let bal = 0;
    for (const e of evs) {
        bal += e.data.points;
        assert.equal(e.data.balance, bal, 'balances follow the seq order');
    }
    const tail = await open(u.token, { since: N - 5 });
    try {
        const got = await take(tail.ws, 5);
        assert.deepEqual(got, evs.slice(-5));
    } finally {
        tail.ws.close();
    }
});

scenario('an award of 0 points sends no event; the merchant sees the referral', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 100, referral_bonus: 0, friend_bonus: 0 } });
    const a = await sc.user('Zero Sharer');
    const b = await sc.user('Zero Buyer');
    await sc.friends(a, b);
    const { share: s } = await sc.buyAndShare(m, a, 10000);
    const sa = await open(a.token);
    const sb = await open(b.token);
    const sm = await open(m.key);
    try {
        const p = await sc.buy(m, b, 5000);
        assert.deepEqual(p.purchase.referral, { share_id: s.id, sharer_id: a.id });
        const [e] = await take(sb.ws, 1);
        assert.equal(e.data.kind, 'purchase');
        const [me] = await take(sm.ws, 1);
        assert.equal(me.type, 'purchase');
        assert.deepEqual(me.data.awards, [{ user_id: b.id, kind: 'purchase', points: 50 }]);
        assert.equal(me.data.share.id, s.id);
        assert.deepEqual(me.data.sharer, ref(a));
        await quiet(sb.ws, 200);
        assert.deepEqual(sa.ws.messages, [], 'no referral event of 0 points');
    } finally {
        sa.ws.close();
        sb.ws.close();
        sm.ws.close();
    }
});

scenario('an idempotent replay sends no event', S, async (sc) => {
    const m = await sc.merchant();
    const u = await sc.user('Replay');
    const key = `k-${Date.now()}`;
    const body = { user_id: u.id, amount: 1000 };
    const first = await sc.api('POST', '/v1/purchases', { token: m.key, headers: { 'Idempotency-Key': key }, body });
    expectStatus(first, 201);
    const su = await open(u.token);
    const sm = await open(m.key);
    try {
        for (let i = 0; i < 3; i++) {
            const r = await sc.api('POST', '/v1/purchases', { token: m.key, headers: { 'Idempotency-Key': key }, body });
            assert.equal(r.text, first.text);
        }
        await quiet(su.ws, 250);
        assert.deepEqual(sm.ws.messages, []);
    } finally {
        su.ws.close();
        sm.ws.close();
    }
    assert.equal((await history(u.token)).hello.data.last_seq, 1);
});

scenario('at least the last 1000 events per recipient are kept for replay', S, async (sc) => {
    const m = await sc.merchant({ rules: { earn_rate_bp: 10000 } });
    const u = await sc.user('Busy');
    const N = 1100;
    for (let i = 0; i < N; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, j) => sc.buy(m, u, i + j + 1)));
    }
    const since = N - 1000;
    const { ws, hello } = await open(u.token, { since });
    try {
        assert.equal(hello.data.last_seq, N);
        const evs = await take(ws, 1000, 10000);
        assertFrames(evs, since + 1);
        await quiet(ws, 150);
    } finally {
        ws.close();
    }
}, { timeout: 60000 });
