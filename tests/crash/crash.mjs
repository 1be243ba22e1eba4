// Crash safety: mixed write load, SIGKILL at a random moment, restart on the same data, and a
// full check of what survived. Run through scripts/crash-test (which builds what it needs):
//
//   node tests/crash/crash.mjs --bin build/regularsd --holder /tmp/crash-holder [--rounds 100]
//        [--epoch 10] [--clients 16] [--seed N] [--keep]
//
// One round: clients send purchases (each with a fresh Idempotency-Key), shares, redemptions
// (with keys) and refunds; 50..500 ms in, the server gets SIGKILL; it is restarted on the same
// --data folder and checked. Pass criteria, each a "violation" when broken:
//
//   1. Acknowledged means durable: every 2xx purchase, redemption, share and refund is present
//      after the restart.
//   2. Replays are exact: every key that got a 2xx (this round's and a sample of older ones)
//      replays the same status and the same bytes, and replaying changes nothing (the set of
//      purchases and every balance are the same before and after).
//   3. One key, one effect: keys whose answer was lost in the kill are replayed after the
//      restart; then the purchases of the data set are exactly the purchases named by the keys
//      that succeeded (no key without its purchase, no purchase without its key, no key twice),
//      and likewise the redemption entries of the ledgers. No share or refund exists that no
//      request asked for.
//   4. Ledgers are whole: every balance equals the sum of its ledger entries, each entry's
//      balance_after continues the one before, every non-zero award of every purchase has
//      exactly one ledger entry, and every award of a refunded purchase exactly one reversal.
//   5. The outbox has no gaps: for every recipient (mdb_dump of the outbox database), the
//      stored seqs run without a gap up to its last, at least the last min(last, 1000) of them
//      (fewer than 1064: pruning goes 64 at a time), and each frame carries its key's seq; over
//      the WebSocket (?since=0) every principal gets hello.last_seq followed by the stored seqs
//      in order, ending at last_seq; where nothing was pruned, the money events match the ledger entries one
//      for one (points and balance) and a merchant's purchase/refund/share events match its
//      purchases, refunds and shares.
//   6. Dead readers are cleared: on even rounds a helper process (crash-holder) keeps the
//      environment open across the kill, so the dead server's reader slot survives it
//      (checked with `mdb_stat -r` before the restart); the restarted server must log
//      "cleared N stale reader slot(s)" and `mdb_stat -r` must then list live processes only.
//      (Alone, a restarted server resets the reader table itself, so odd rounds only check
//      that no dead reader is listed.) A kill right after a map grow finds the server
//      between two read txns, with no slot to leave behind; at least half of the holder
//      rounds must have left one, or the set-up is broken.
//
// A new data folder (and seed) starts every --epoch rounds, which keeps each check's cost
// bounded. The last line is "crash-test: N rounds, M requests acknowledged, V violations";
// the exit status is 1 when V > 0 (the data folder of the failing epoch is kept).

import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from '../e2e/node_modules/ws/wrapper.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
    const o = {
        bin: process.env.REGULARSD || path.resolve(here, '../../build/regularsd'),
        holder: null,
        rounds: 100,
        epoch: 10,
        clients: 16,
        seed: Date.now() % 1000000,
        keep: false,
        users: 40,
        merchants: 6,
        tmp: process.env.TMPDIR || os.tmpdir(),
    };
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const v = () => argv[++i];
        if (a === '--bin') o.bin = v();
        else if (a === '--holder') o.holder = v();
        else if (a === '--rounds') o.rounds = Number(v());
        else if (a === '--epoch') o.epoch = Number(v());
        else if (a === '--clients') o.clients = Number(v());
        else if (a === '--seed') o.seed = Number(v());
        else if (a === '--users') o.users = Number(v());
        else if (a === '--merchants') o.merchants = Number(v());
        else if (a === '--tmp') o.tmp = v();
        else if (a === '--keep') o.keep = true;
        else throw new Error(`unknown argument ${a}`);
    }
    if (!(o.rounds >= 1) || !(o.epoch >= 1) || !(o.clients >= 1)) throw new Error('bad numbers');
    return o;
}

const opt = parseArgs(process.argv);

// A small deterministic PRNG (mulberry32), so that --seed reproduces a run's choices (the kill
// moments still depend on timing).
let rngState = opt.seed >>> 0 || 1;
function rand() {
    rngState = (rngState + 0x6d2b79f5) >>> 0;
    let t = rngState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Violations

const violations = [];
function violation(msg) {
    violations.push(msg);
    if (violations.length <= 30) console.error(`VIOLATION: ${msg}`);
}

// ---------------------------------------------------------------------------------------
// The server process

const LISTEN_RE = /^regularsd listening on http:\/\/([^\s/:]+):(\d+)\s*$/;

class Server {
    static async start(data) {
        const args = ['--listen', '127.0.0.1:0', '--data', data, '--bench', '--log-level', 'warn',
            '--map-size', '1M'];
        const env = { ...process.env };
        for (const k of Object.keys(env)) if (k.startsWith('REGULARS_')) delete env[k];
        const proc = spawn(opt.bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        const s = new Server(proc);
        await s.ready;
        return s;
    }

    constructor(proc) {
        this.proc = proc;
        this.pid = proc.pid;
        this.err = '';
        this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
        this.exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)));
        proc.stderr.setEncoding('utf8');
        proc.stderr.on('data', (d) => (this.err += d));
        proc.stdout.setEncoding('utf8');
        let out = '';
        this.ready = new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no URL within 20 s\n${this.err}`)), 20000);
            proc.stdout.on('data', (d) => {
                out += d;
                const nl = out.indexOf('\n');
                if (nl < 0 || this.port) return;
                clearTimeout(timer);
                const m = LISTEN_RE.exec(out.slice(0, nl));
                if (!m) return reject(new Error(`unexpected first line ${out.slice(0, nl)}`));
                this.host = m[1];
                this.port = Number(m[2]);
                resolve();
            });
            this.exited.then((c) => {
                clearTimeout(timer);
                reject(new Error(`regularsd exited (${c}) before listening\n${this.err}`));
            });
        });
    }

    async kill() {
        this.proc.kill('SIGKILL');
        await this.exited;
        this.agent.destroy();
    }

    async stop() {
        this.proc.kill('SIGTERM');
        const code = await Promise.race([this.exited, sleep(15000).then(() => 'timeout')]);
        if (code === 'timeout') {
            this.proc.kill('SIGKILL');
            await this.exited;
        }
        this.agent.destroy();
        return code;
    }

    /** One HTTP request. Resolves {status, body (Buffer), text, json}; rejects on a network
     *  error (connection refused or reset, timeout). */
    request(method, p, { body, token, key, timeoutMs = 20000 } = {}) {
        return new Promise((resolve, reject) => {
            const headers = {};
            let payload;
            if (body !== undefined) {
                payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
                headers['Content-Type'] = 'application/json';
                headers['Content-Length'] = payload.length;
            }
            if (token) headers.Authorization = `Bearer ${token}`;
            if (key) headers['Idempotency-Key'] = key;
            const req = http.request(
                { host: this.host, port: this.port, method, path: p, headers, agent: this.agent },
                (res) => {
                    const chunks = [];
                    res.on('data', (c) => chunks.push(c));
                    res.on('end', () => {
                        const buf = Buffer.concat(chunks);
                        const text = buf.toString('utf8');
                        let json;
                        try {
                            json = JSON.parse(text);
                        } catch {
                            json = undefined;
                        }
                        resolve({ status: res.statusCode, body: buf, text, json });
                    });
                    res.on('error', reject);
                    res.on('aborted', () => reject(new Error('response aborted')));
                },
            );
            req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout ${method} ${p}`)));
            req.on('error', reject);
            req.end(payload);
        });
    }

    /** A request that must get an answer (verification): a network error is a violation
     *  and aborts the round. */
    async must(method, p, opts) {
        try {
            return await this.request(method, p, opts);
        } catch (e) {
            throw new Error(`${method} ${p}: ${e.message}`);
        }
    }
}

function run(cmd, args) {
    return new Promise((resolve) => {
        execFile(cmd, args, { maxBuffer: 1 << 30 }, (err, stdout, stderr) =>
            resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
    });
}

/** Starts crash-holder on dir; resolves a handle whose close() ends it. */
async function startHolder(dir) {
    const proc = spawn(opt.holder, [dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => proc.on('exit', (c) => resolve(c)));
    await new Promise((resolve, reject) => {
        let out = '';
        proc.stdout.on('data', (d) => {
            out += d;
            if (out.includes('ready\n')) resolve();
        });
        exited.then((c) => reject(new Error(`crash-holder exited ${c}`)));
    });
    return {
        async close() {
            proc.stdin.end();
            return exited;
        },
    };
}

/** Reader table of the environment as [{pid, txnid}] (mdb_stat -r; opened while another
 *  process holds the environment, it does not reset the table). */
async function readers(dir) {
    const r = await run('mdb_stat', ['-r', dir]);
    // mdb_stat exits 1 after listing an empty table (it returns fputs's result): trust the
    // output, not the status.
    if (!r.stdout.includes('Reader Table Status')) throw new Error(`mdb_stat -r ${dir}: ${r.stderr}`);
    const list = [];
    for (const line of r.stdout.split('\n')) {
        const m = /^\s*(\d+)\s+([0-9a-f]+)\s+(\S+)\s*$/.exec(line);
        if (m) list.push({ pid: Number(m[1]), txnid: m[3] });
    }
    return list;
}

function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return e.code === 'EPERM';
    }
}

// ---------------------------------------------------------------------------------------
// The model of what was asked and answered (one per epoch)

class Model {
    constructor() {
        this.users = []; // {id, token}
        this.merchants = []; // {id, token}
        this.purchaseKeys = new Map(); // key -> Op
        this.redemptionKeys = new Map(); // key -> Op
        this.shareOps = []; // Op {purchaseId, userIdx}
        this.refundOps = []; // Op {purchaseId, merchantIdx}
        this.okPurchases = []; // {id, merchantIdx, userIdx} acknowledged, for shares/refunds
        this.shared = new Set(); // purchase ids a share was asked for
        this.refunded = new Set(); // purchase ids a refund was asked for
        this.acked = 0; // 2xx answers received during load, over the epoch
    }
}

// An Op's outcome: 'ok' (2xx: status, body kept), 'err' (an error answer: nothing stored),
// 'unknown' (no answer: the kill came first).

const N_KEY_SAMPLE = 60; // older acknowledged keys replayed per round

// ---------------------------------------------------------------------------------------
// Load

const EXPECTED_ERRORS = {
    purchase: new Set([503]),
    redemption: new Set([409, 503]),
    share: new Set([409, 503]),
    refund: new Set([409, 503]),
};

async function sendOp(srv, op) {
    try {
        const r = await srv.request('POST', op.path, { body: op.body, token: op.token, key: op.key });
        op.status = r.status;
        op.answer = r.body;
        op.json = r.json;
        if (r.status >= 200 && r.status < 300) {
            op.outcome = 'ok';
        } else {
            op.outcome = 'err';
            if (!EXPECTED_ERRORS[op.kind].has(r.status))
                violation(`${op.kind} ${op.path} ${JSON.stringify(op.body)} -> unexpected ${r.status} ${r.text}`);
        }
    } catch {
        op.outcome = 'unknown';
    }
    return op;
}

async function client(srv, model, round, ci, state) {
    let n = 0;
    while (state.running) {
        const key = `e${model.epoch}r${round}c${ci}n${n++}`;
        let x = rand();
        // A share or refund needs a purchase nobody shared or refunded yet; without one the
        // client records a purchase instead (never spins without awaiting).
        let target = null;
        if (x >= 0.7 && model.okPurchases.length >= 5) {
            target = pick(model.okPurchases);
            const busy = x < 0.85 ? model.shared.has(target.id) || model.refunded.has(target.id)
                : model.refunded.has(target.id);
            if (busy) x = 0;
        }
        let op;
        if (x < 0.55 || model.okPurchases.length < 5) {
            const mi = randInt(0, model.merchants.length - 1);
            const ui = randInt(0, model.users.length - 1);
            op = {
                kind: 'purchase', path: '/v1/purchases', key, merchantIdx: mi, userIdx: ui,
                token: model.merchants[mi].token,
                body: { user_id: model.users[ui].id, amount: randInt(100, 30000) },
            };
            model.purchaseKeys.set(key, op);
        } else if (x < 0.7) {
            const ui = randInt(0, model.users.length - 1);
            op = {
                kind: 'redemption', path: '/v1/redemptions', key, userIdx: ui, token: model.users[ui].token,
                body: { cash_points: randInt(1, 60) },
            };
            model.redemptionKeys.set(key, op);
        } else if (x < 0.85) {
            const p = target;
            model.shared.add(p.id);
            op = {
                kind: 'share', path: '/v1/shares', purchaseId: p.id, userIdx: p.userIdx,
                token: model.users[p.userIdx].token, body: { purchase_id: p.id, channel: pick(['post', 'checkin', 'link']) },
            };
            model.shareOps.push(op);
        } else {
            const p = target;
            model.refunded.add(p.id);
            op = {
                kind: 'refund', path: `/v1/purchases/${p.id}/refund`, purchaseId: p.id, merchantIdx: p.merchantIdx,
                token: model.merchants[p.merchantIdx].token, body: {},
            };
            model.refundOps.push(op);
        }
        op.round = round;
        state.sent++;
        await sendOp(srv, op);
        if (op.outcome === 'ok') {
            state.acked++;
            model.acked++;
            if (op.kind === 'purchase') {
                op.purchaseId = op.json.purchase.id;
                model.okPurchases.push({ id: op.purchaseId, merchantIdx: op.merchantIdx, userIdx: op.userIdx });
            }
        } else if (op.outcome === 'unknown') {
            state.unknown++;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading the whole data set

async function pages(srv, p, token, field) {
    const out = [];
    let before = null;
    for (;;) {
        const q = `${p}?limit=200${before ? `&before=${encodeURIComponent(before)}` : ''}`;
        const r = await srv.must('GET', q, { token });
        if (r.status !== 200 || !Array.isArray(r.json?.[field])) throw new Error(`GET ${q} -> ${r.status} ${r.text}`);
        out.push(...r.json[field]);
        if (!r.json.next) return out;
        before = r.json.next;
    }
}

async function pmap(items, n, fn) {
    const out = new Array(items.length);
    let i = 0;
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
        while (i < items.length) {
            const j = i++;
            out[j] = await fn(items[j], j);
        }
    }));
    return out;
}

/** Everything the checks need: purchases per merchant, and per user the balance, the ledger
 *  (oldest first) and the shares. */
async function snapshot(srv, model, { ledgers = true } = {}) {
    const purchases = new Map(); // id -> purchase (with merchantIdx)
    await pmap(model.merchants, 4, async (m, mi) => {
        for (const p of await pages(srv, '/v1/merchants/me/purchases', m.token, 'purchases')) {
            if (purchases.has(p.id)) violation(`purchase ${p.id} listed twice`);
            purchases.set(p.id, { ...p, merchantIdx: mi });
        }
    });
    const users = await pmap(model.users, 4, async (u) => {
        const me = await srv.must('GET', '/v1/me', { token: u.token });
        if (me.status !== 200) throw new Error(`GET /v1/me -> ${me.status} ${me.text}`);
        const out = { balance: me.json.balance };
        if (ledgers) {
            out.ledger = (await pages(srv, '/v1/me/ledger', u.token, 'entries')).reverse();
            out.shares = await pages(srv, '/v1/me/shares', u.token, 'shares');
        }
        return out;
    });
    return { purchases, users };
}

// ---------------------------------------------------------------------------------------
// Checks

function sameBytes(a, b) {
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
}

/** The body of a replay: the same JSON, keys in another order and spaced differently, so the
 *  server must compare the parsed bodies rather than the bytes. */
function respell(body) {
    const keys = Object.keys(body).reverse();
    return `{ ${keys.map((k) => `${JSON.stringify(k)} : ${JSON.stringify(body[k])}`).join(' ,\n ')} }`;
}

async function replay(srv, op) {
    const r = await srv.must('POST', op.path, { body: respell(op.body), token: op.token, key: op.key });
    return r;
}

/** Checks 2 and 3 (replays) and resolves the ops whose answers were lost. */
async function checkReplays(srv, model, round, restartedAt) {
    const keyed = [...model.purchaseKeys.values(), ...model.redemptionKeys.values()];
    const thisRound = keyed.filter((op) => op.round === round && op.outcome === 'ok');
    const older = keyed.filter((op) => op.round !== round && op.outcome === 'ok');
    const sample = [];
    for (let i = 0; i < Math.min(N_KEY_SAMPLE, older.length); i++) sample.push(pick(older));

    const before = await snapshot(srv, model, { ledgers: false });
    let replayed = 0;
    await pmap([...thisRound, ...sample], 6, async (op) => {
        const r = await replay(srv, op);
        replayed++;
        if (r.status !== op.status || !sameBytes(r.body, op.answer))
            violation(`replay of ${op.kind} key ${op.key}: got ${r.status} ${r.text}, first answer was ${op.status} ${op.answer}`);
    });
    const after = await snapshot(srv, model, { ledgers: false });
    if (after.purchases.size !== before.purchases.size)
        violation(`replaying ${replayed} keys changed the number of purchases: ${before.purchases.size} -> ${after.purchases.size}`);
    for (const [i, u] of after.users.entries())
        if (u.balance !== before.users[i].balance)
            violation(`replaying keys changed user ${model.users[i].id}'s balance ${before.users[i].balance} -> ${u.balance}`);

    // Keys without an answer: replay twice. The first replay returns the stored answer if the
    // request committed before the kill, or runs it now; the second must repeat it exactly.
    const unknown = keyed.filter((op) => op.outcome === 'unknown');
    let resolved = 0;
    let lostAnswers = 0; // committed before the kill, answer lost: the window this test is for
    await pmap(unknown, 6, async (op) => {
        const r1 = await replay(srv, op);
        const r2 = await replay(srv, op);
        if (r1.status !== r2.status || !sameBytes(r1.body, r2.body))
            violation(`in-flight ${op.kind} key ${op.key}: two replays differ: ${r1.status} ${r1.text} / ${r2.status} ${r2.text}`);
        op.status = r1.status;
        op.answer = r1.body;
        op.json = r1.json;
        if (r1.status >= 200 && r1.status < 300) {
            op.outcome = 'ok';
            resolved++;
            const made = r1.json?.purchase?.created_at ?? r1.json?.redemption?.created_at;
            if (made < restartedAt) lostAnswers++;
            if (op.kind === 'purchase') {
                op.purchaseId = r1.json.purchase.id;
                model.okPurchases.push({ id: op.purchaseId, merchantIdx: op.merchantIdx, userIdx: op.userIdx });
            }
        } else {
            op.outcome = 'err';
            if (!EXPECTED_ERRORS[op.kind].has(r1.status) || r1.status === 503)
                violation(`in-flight ${op.kind} key ${op.key} replayed -> ${r1.status} ${r1.text}`);
        }
    });
    return { replayed, resolved, lostAnswers, unknown: unknown.length };
}

function awardsOf(p) {
    return (p.awards || []).filter((a) => a.points !== 0);
}

/** Checks 1, 3 and 4 on a full snapshot. Resolves unknown shares and refunds from it. */
function checkData(model, snap) {
    const { purchases, users } = snap;
    const userIdx = new Map(model.users.map((u, i) => [u.id, i]));

    // Purchases <-> keys.
    const byKey = new Map();
    for (const op of model.purchaseKeys.values()) {
        if (op.outcome !== 'ok') continue;
        const id = op.purchaseId;
        if (byKey.has(id)) violation(`keys ${byKey.get(id)} and ${op.key} answered the same purchase ${id}`);
        byKey.set(id, op.key);
        const p = purchases.get(id);
        if (!p) {
            violation(`acknowledged purchase ${id} (key ${op.key}, round ${op.round}) is missing`);
            continue;
        }
        const a = op.json.purchase;
        if (p.amount !== a.amount || p.user_id !== a.user_id || p.merchant_id !== a.merchant_id ||
            p.merchantIdx !== op.merchantIdx || JSON.stringify(p.awards) !== JSON.stringify(op.json.awards))
            violation(`purchase ${id} differs from its acknowledged answer: ${JSON.stringify(p)} vs ${op.answer}`);
    }
    for (const id of purchases.keys())
        if (!byKey.has(id)) violation(`purchase ${id} exists but no key succeeded with it (a duplicate or phantom)`);

    // Shares: acknowledged ones exist; none exists that was not asked for; one per purchase.
    const sharesByPurchase = new Map();
    for (const [ui, u] of users.entries()) {
        for (const s of u.shares) {
            if (s.user_id !== model.users[ui].id) violation(`share ${s.id} listed for the wrong user`);
            if (sharesByPurchase.has(s.purchase_id)) violation(`purchase ${s.purchase_id} has two shares`);
            sharesByPurchase.set(s.purchase_id, s);
        }
    }
    const askedShares = new Map(model.shareOps.map((op) => [op.purchaseId, op]));
    for (const op of model.shareOps) {
        const s = sharesByPurchase.get(op.purchaseId);
        if (op.outcome === 'ok' && (!s || s.id !== op.json.share.id))
            violation(`acknowledged share ${op.json.share.id} of ${op.purchaseId} is missing`);
        if (op.outcome === 'err' && op.json?.error?.code !== 'already_shared' && s)
            violation(`share of ${op.purchaseId} exists although its request failed (${op.status} ${op.answer})`);
        if (op.outcome === 'ok-after' && !s) violation(`share of ${op.purchaseId} found after a restart is gone`);
        if (op.outcome === 'none-after' && s) violation(`share of ${op.purchaseId} appeared after a restart had found none`);
        if (op.outcome === 'unknown') op.outcome = s ? 'ok-after' : 'none-after';
    }
    for (const pid of sharesByPurchase.keys())
        if (!askedShares.has(pid)) violation(`share of ${pid} exists but was never asked for`);

    // Refunds.
    const askedRefunds = new Map(model.refundOps.map((op) => [op.purchaseId, op]));
    for (const op of model.refundOps) {
        const p = purchases.get(op.purchaseId);
        if (!p) continue; // reported above
        if (op.outcome === 'ok' && !p.refunded_at) violation(`acknowledged refund of ${op.purchaseId} is missing`);
        if (op.outcome === 'err' && op.json?.error?.code !== 'already_refunded' && p.refunded_at)
            violation(`purchase ${op.purchaseId} is refunded although its refund failed (${op.status} ${op.answer})`);
        if (op.outcome === 'none-after' && p.refunded_at) violation(`purchase ${op.purchaseId} became refunded after a restart had found it not`);
        if (op.outcome === 'ok-after' && !p.refunded_at) violation(`refund of ${op.purchaseId} found after a restart is gone`);
        if (op.outcome === 'unknown') op.outcome = p.refunded_at ? 'ok-after' : 'none-after';
    }
    for (const p of purchases.values())
        if (p.refunded_at && !askedRefunds.has(p.id)) violation(`purchase ${p.id} refunded but no refund was asked`);

    // Ledgers: sums, chains, and entries <-> awards, reversals and redemptions.
    const redemptionIds = new Map();
    for (const op of model.redemptionKeys.values()) {
        if (op.outcome !== 'ok') continue;
        const id = op.json.redemption.id;
        if (redemptionIds.has(id)) violation(`keys ${redemptionIds.get(id).key} and ${op.key} answered redemption ${id}`);
        redemptionIds.set(id, op);
    }
    const awardSeen = new Map(); // `${pid}|${user}|${kind}` -> count
    const reversalSeen = new Map();
    const redemptionSeen = new Map();
    for (const [ui, u] of users.entries()) {
        const uid = model.users[ui].id;
        let sum = 0;
        for (const e of u.ledger) {
            sum += e.points;
            if (e.balance_after !== sum)
                violation(`user ${uid} entry ${e.id}: balance_after ${e.balance_after} != running sum ${sum}`);
            if (e.kind === 'redemption') {
                redemptionSeen.set(e.redemption_id, (redemptionSeen.get(e.redemption_id) || 0) + 1);
                const op = redemptionIds.get(e.redemption_id);
                if (!op) violation(`user ${uid} has redemption ${e.redemption_id} that no key succeeded with`);
                else if (op.userIdx !== ui || op.json.redemption.points !== -e.points)
                    violation(`redemption ${e.redemption_id} entry ${JSON.stringify(e)} differs from its answer ${op.answer}`);
            } else {
                const p = purchases.get(e.purchase_id);
                if (!p) {
                    violation(`user ${uid} entry ${e.id} names unknown purchase ${e.purchase_id}`);
                    continue;
                }
                if (e.kind === 'reversal') {
                    const k = `${e.purchase_id}|${uid}|${e.reversed_kind}`;
                    reversalSeen.set(k, (reversalSeen.get(k) || 0) + 1);
                    const a = awardsOf(p).find((x) => x.user_id === uid && x.kind === e.reversed_kind);
                    if (!p.refunded_at || !a || a.points !== -e.points)
                        violation(`user ${uid} reversal ${JSON.stringify(e)} matches no award of refunded ${JSON.stringify(p)}`);
                } else {
                    const k = `${e.purchase_id}|${uid}|${e.kind}`;
                    awardSeen.set(k, (awardSeen.get(k) || 0) + 1);
                    const a = awardsOf(p).find((x) => x.user_id === uid && x.kind === e.kind);
                    if (!a || a.points !== e.points)
                        violation(`user ${uid} entry ${JSON.stringify(e)} matches no award of ${JSON.stringify(p)}`);
                }
            }
        }
        if (sum !== u.balance) violation(`user ${uid}: balance ${u.balance} != ledger sum ${sum}`);
    }
    for (const p of purchases.values()) {
        for (const a of awardsOf(p)) {
            if (!userIdx.has(a.user_id)) continue;
            const k = `${p.id}|${a.user_id}|${a.kind}`;
            if (awardSeen.get(k) !== 1) violation(`award ${k} has ${awardSeen.get(k) || 0} ledger entries, not 1`);
            const n = reversalSeen.get(k) || 0;
            if (n !== (p.refunded_at ? 1 : 0)) violation(`award ${k} has ${n} reversals (refunded_at ${p.refunded_at})`);
        }
    }
    for (const [id, op] of redemptionIds)
        if (redemptionSeen.get(id) !== 1)
            violation(`redemption ${id} (key ${op.key}) has ${redemptionSeen.get(id) || 0} ledger entries, not 1`);
    return { sharesByPurchase };
}

/** Check 5 from the database files: every recipient's stored seqs end at its last seq
 *  without a gap, hold at least its last min(last, 1000) and fewer than 1000 + 64 (the outbox
 *  prunes 64 at a time), and each frame carries its seq. Returns each recipient's last seq. */
async function checkOutboxDump(dir) {
    const dump = async (db) => {
        const r = await run('mdb_dump', ['-s', db, dir]);
        if (r.code !== 0) throw new Error(`mdb_dump -s ${db}: ${r.stderr}`);
        const lines = r.stdout.split('\n');
        let i = lines.indexOf('HEADER=END') + 1;
        const pairs = [];
        for (; i < lines.length && lines[i] !== 'DATA=END'; i += 2)
            pairs.push([Buffer.from(lines[i].trim(), 'hex'), Buffer.from(lines[i + 1].trim(), 'hex')]);
        return pairs;
    };
    const seqs = new Map();
    let frames = 0;
    for (const [k, v] of await dump('outbox')) {
        const rcp = k.readBigUInt64BE(0);
        const seq = Number(k.readBigUInt64BE(8));
        frames++;
        let f;
        try {
            f = JSON.parse(v.toString('utf8'));
        } catch {
            violation(`outbox ${rcp.toString(16)}#${seq}: frame is not JSON`);
            continue;
        }
        if (f.seq !== seq) violation(`outbox ${rcp.toString(16)}#${seq}: frame says seq ${f.seq}`);
        if (!seqs.has(rcp)) seqs.set(rcp, []);
        seqs.get(rcp).push(seq);
    }
    const heads = new Map();
    for (const [rcp, list] of seqs) {
        const head = list.at(-1);
        heads.set(rcp, head);
        const first = list[0];
        const gapFree = list.every((s, i) => s === first + i);
        const n = list.length;
        if (!gapFree || n < Math.min(head, 1000) || n >= 1000 + 64)
            violation(`outbox ${rcp.toString(16)}: stored seqs ${first}..${head} (${n}${gapFree ? '' : ', with gaps'}), want at least the last ${Math.min(head, 1000)} without a gap`);
    }
    return { recipients: heads.size, frames, heads };
}

/** Replays a principal's stream from since=0: [hello, ...frames up to last_seq]. */
function streamAll(srv, token) {
    return new Promise((resolve, reject) => {
        const url = `ws://${srv.host}:${srv.port}/v1/stream?token=${encodeURIComponent(token)}&since=0`;
        const ws = new WebSocket(url);
        const msgs = [];
        let last = null;
        const timer = setTimeout(() => {
            ws.terminate();
            reject(new Error(`stream replay incomplete after 15 s (${msgs.length} frames, last_seq ${last})`));
        }, 15000);
        const done = () => {
            clearTimeout(timer);
            ws.close();
            resolve(msgs);
        };
        ws.on('message', (d) => {
            const m = JSON.parse(d.toString('utf8'));
            msgs.push(m);
            if (msgs.length === 1) {
                last = m.data?.last_seq;
                if (m.type !== 'hello' || typeof last !== 'number') {
                    clearTimeout(timer);
                    ws.terminate();
                    reject(new Error(`first frame is not a hello: ${d}`));
                } else if (last === 0) done();
            } else if (m.seq >= last) done();
        });
        ws.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
    });
}

const MONEY = new Set(['points.earned', 'points.reversed', 'points.redeemed']);

/** Check 5 over the WebSocket, for every principal. */
async function checkStreams(srv, model, snap, sharesByPurchase) {
    const check = (msgs, who) => {
        const last = msgs[0].data.last_seq;
        const frames = msgs.slice(1);
        // Everything stored is replayed: the last seqs up to last_seq, at least min(last, 1000).
        const first = last - frames.length + 1;
        const ok = frames.length >= Math.min(last, 1000) && frames.length < 1000 + 64 &&
            first >= 1 && frames.every((f, i) => f.seq === first + i);
        if (!ok) violation(`stream of ${who}: last_seq ${last}, got seqs ${frames.map((f) => f.seq).slice(0, 5)}..${frames.at(-1)?.seq} (${frames.length})`);
        return { frames, complete: ok && first === 1 };
    };
    const canon = (pairs) => pairs.map((p) => p.join(':')).sort().join(',');
    await pmap(model.users, 6, async (u, ui) => {
        const { frames, complete } = check(await streamAll(srv, u.token), `user ${u.id}`);
        if (!complete) return;
        const ev = frames.filter((f) => MONEY.has(f.type)).map((f) => [f.data.points, f.data.balance]);
        const led = snap.users[ui].ledger.map((e) => [e.points, e.balance_after]);
        if (canon(ev) !== canon(led))
            violation(`user ${u.id}: money events (${ev.length}) do not match ledger entries (${led.length})`);
    });
    await pmap(model.merchants, 6, async (m, mi) => {
        const { frames, complete } = check(await streamAll(srv, m.token), `merchant ${m.id}`);
        if (!complete) return;
        const mine = [...snap.purchases.values()].filter((p) => p.merchantIdx === mi);
        const ids = (arr) => arr.sort().join(',');
        const got = (type) => ids(frames.filter((f) => f.type === type).map((f) => f.data.purchase?.id ?? f.data.share?.purchase_id));
        if (got('purchase') !== ids(mine.map((p) => p.id))) violation(`merchant ${m.id}: purchase events do not match its purchases`);
        if (got('refund') !== ids(mine.filter((p) => p.refunded_at).map((p) => p.id)))
            violation(`merchant ${m.id}: refund events do not match its refunded purchases`);
        if (got('share') !== ids(mine.filter((p) => sharesByPurchase.has(p.id)).map((p) => p.id)))
            violation(`merchant ${m.id}: share events do not match its shares`);
    });
}

// ---------------------------------------------------------------------------------------
// Epochs and rounds

async function seed(srv, model, seedNo) {
    const r = await srv.must('POST', '/bench/seed', {
        body: { users: opt.users, merchants: opt.merchants, friends_per_user: 4, seed: seedNo },
    });
    if (r.status !== 200) throw new Error(`POST /bench/seed -> ${r.status} ${r.text}`);
    for (const line of r.text.split('\n').filter(Boolean)) {
        const x = JSON.parse(line);
        (x.kind === 'user' ? model.users : model.merchants).push({ id: x.id, token: x.secret });
    }
}

async function round(ctx, rno) {
    const { model, dir } = ctx;
    const useHolder = rno % 2 === 0;
    const holder = useHolder ? await startHolder(dir) : null;
    const t0 = Date.now();

    // Load, then SIGKILL at a random moment.
    const state = { running: true, sent: 0, acked: 0, unknown: 0 };
    const killAt = randInt(50, 500);
    const clients = Array.from({ length: opt.clients }, (_, ci) => client(ctx.srv, model, rno, ci, state));
    await sleep(killAt);
    const deadPid = ctx.srv.pid;
    state.running = false; // requests already sent are in flight; no new ones
    await ctx.srv.kill();
    await Promise.all(clients);

    // The dead server's reader slot, visible only while the holder keeps the table. A server
    // holds one from its first read on, except for a moment after each map grow (the writer
    // drops the read txn to resize the map, and the next request takes a new one): a kill
    // in that moment leaves nothing to clear. So the check below is whether the restarted
    // server cleared every dead slot there is; main() requires that most holder rounds had
    // one, or the set-up would be testing nothing.
    let deadSeen = false;
    if (useHolder) {
        deadSeen = (await readers(dir)).some((r) => r.pid === deadPid);
        ctx.holderRounds++;
        if (deadSeen) ctx.deadReadersSeen++;
        else console.log(`round ${rno}: the server died without a reader slot (killed right after a map grow)`);
    }

    const t1 = Date.now();
    ctx.srv = await Server.start(dir);
    // Server time is real time here (nothing moves the bench clock); a margin for the kill.
    const restartedAt = t1 - 5;
    const restartMs = Date.now() - t1;
    const rd = await readers(dir);
    for (const r of rd) if (!alive(r.pid)) violation(`round ${rno}: reader slot of dead process ${r.pid} remains after restart`);
    if (useHolder && deadSeen) {
        // stderr and stdout are separate pipes: give the log line a moment to arrive.
        const cleared = /cleared [1-9]\d* stale reader slot\(s\)/;
        for (let i = 0; i < 50 && !cleared.test(ctx.srv.err); i++) await sleep(20);
        if (!cleared.test(ctx.srv.err))
            violation(`round ${rno}: the restarted server did not report clearing the stale reader slot (log: ${ctx.srv.err.trim()})`);
    }
    if (holder) await holder.close();

    // Verify.
    const rep = await checkReplays(ctx.srv, model, rno, restartedAt);
    const snap = await snapshot(ctx.srv, model);
    const { sharesByPurchase } = checkData(model, snap);
    const ob = await checkOutboxDump(dir);
    await checkStreams(ctx.srv, model, snap, sharesByPurchase);
    const errs = ctx.srv.err.split('\n').filter((l) => /\b(error|fatal)\b/i.test(l));
    for (const l of errs) violation(`round ${rno}: server logged: ${l}`);

    ctx.totalAcked += state.acked;
    ctx.totalLost += rep.lostAnswers;
    console.log(
        `round ${rno}: killed at ${killAt} ms, ${state.sent} sent, ${state.acked} acked, ${state.unknown} in flight` +
        ` (keyed: ${rep.lostAnswers} had committed, ${rep.resolved - rep.lostAnswers} ran on replay);` +
        ` replayed ${rep.replayed} keys;` +
        ` ${snap.purchases.size} purchases, ${ob.recipients} outbox recipients, ${ob.frames} frames;` +
        ` ${useHolder ? `holder: dead reader seen ${deadSeen ? 'and cleared' : 'NOT'}; ` : ''}` +
        `restart ${restartMs} ms, round ${Date.now() - t0} ms`,
    );
}

/** SIGTERM at the end of an epoch: the server must exit 0 (under ASan, also leak-free). */
async function stopClean(srv) {
    const code = await srv.stop();
    if (code !== 0) violation(`server exited ${code} on SIGTERM\n${srv.err}`);
}

async function main() {
    if (!fs.existsSync(opt.bin)) throw new Error(`regularsd not found at ${opt.bin}`);
    if (!opt.holder || !fs.existsSync(opt.holder)) throw new Error('--holder PATH (crash-holder) is required');
    const t0 = Date.now();
    const ctx = { totalAcked: 0, totalLost: 0, srv: null, model: null, dir: null, holderRounds: 0, deadReadersSeen: 0 };
    let done = 0;
    let failedDir = null;
    try {
        for (let r = 1; r <= opt.rounds && violations.length === 0; r++) {
            if ((r - 1) % opt.epoch === 0) {
                if (ctx.srv) await stopClean(ctx.srv);
                if (ctx.dir && !opt.keep) fs.rmSync(ctx.dir, { recursive: true, force: true });
                ctx.dir = fs.mkdtempSync(path.join(opt.tmp, 'regulars-crash-'));
                ctx.model = new Model();
                ctx.model.epoch = Math.floor((r - 1) / opt.epoch);
                ctx.srv = await Server.start(ctx.dir);
                await seed(ctx.srv, ctx.model, opt.seed + r);
            }
            await round(ctx, r);
            done = r;
        }
    } catch (e) {
        violation(`round ${done + 1} aborted: ${e.stack || e.message}`);
        if (ctx.srv) console.error(`--- server stderr ---\n${ctx.srv.err}`);
    }
    if (ctx.srv && ctx.srv.proc.exitCode === null && ctx.srv.proc.signalCode === null) await stopClean(ctx.srv).catch((e) => violation(e.message));
    if (ctx.holderRounds && ctx.deadReadersSeen * 2 < ctx.holderRounds)
        violation(`only ${ctx.deadReadersSeen} of ${ctx.holderRounds} rounds with crash-holder left a dead reader slot to clear (test setup broken?)`);
    if (violations.length) failedDir = ctx.dir;
    else if (ctx.dir && !opt.keep) fs.rmSync(ctx.dir, { recursive: true, force: true });
    if (failedDir) console.error(`data of the failing epoch kept in ${failedDir}`);
    if (violations.length > 30) console.error(`... and ${violations.length - 30} more violations`);
    console.log(`crash-test: ${done} rounds, ${ctx.totalAcked} requests acknowledged, ${violations.length} violations` +
        ` (${ctx.totalLost} in-flight keys had committed; ${((Date.now() - t0) / 1000).toFixed(1)} s, seed ${opt.seed})`);
    process.exit(violations.length ? 1 : 0);
}

main();
