// Helpers for the end-to-end tests: start the real regularsd, talk to it over HTTP (fetch),
// raw TCP and WebSockets.
//
//   const srv = await startServer(['--header-timeout-ms', '300']);
//   const r = await srv.api('GET', '/healthz');           // {status, headers, json, text}
//   const u = await createUser(srv, {name: 'Ann'});       // {id, token, user}
//   const res = await raw(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
//   const ws = await wsConnect(srv.url + '/v1/stream', {token: u.token});
//   const code = await srv.stop();                        // SIGTERM, resolves the exit code
//
// Use `test` from this module instead of node:test's: when a test fails, it appends the
// stderr of every server started by this file to the error, so the server's log is seen.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test as nodeTest, after } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The binary under test: $REGULARSD, else ../../build/regularsd next to this file. */
export const BIN = process.env.REGULARSD
    ? path.resolve(process.env.REGULARSD)
    : path.resolve(here, '../../build/regularsd');

const servers = new Set(); // servers of this test file not stopped yet
const allServers = []; // every server this test file started
const tmpDirs = [];
let anyFailed = false;

// ---------------------------------------------------------------------------------------
// Temporary folders

/** Makes a fresh, empty folder under $REGULARS_TEST_TMP (or the OS tmp dir). */
export function freshDir(prefix = 'regulars-e2e-') {
    const base = process.env.REGULARS_TEST_TMP || os.tmpdir();
    fs.mkdirSync(base, { recursive: true });
    const dir = fs.mkdtempSync(path.join(base, prefix));
    tmpDirs.push(dir);
    return dir;
}

// ---------------------------------------------------------------------------------------
// The server process

const LISTEN_RE = /^regularsd listening on (http:\/\/([^\s/]+):(\d+))\s*$/;

/**
 * Starts regularsd with --listen 127.0.0.1:0 and a fresh --data folder (or opts.data), plus
 * the given flags. Resolves once it printed its first stdout line with the URL.
 * Returns a Server.
 */
export async function startServer(flags = [], opts = {}) {
    const data = opts.data ?? freshDir();
    const args = ['--listen', '127.0.0.1:0', '--data', data, ...flags];
    const env = { ...process.env, ...(opts.env || {}) };
    // The server's own REGULARS_* fallbacks must not leak in from the caller's shell.
    for (const k of Object.keys(env)) {
        if (k.startsWith('REGULARS_') && k !== 'REGULARS_TEST_TMP' && !(opts.env && k in opts.env)) {
            delete env[k];
        }
    }
    if (!fs.existsSync(BIN)) {
        throw new Error(`regularsd not found at ${BIN} (build it, or set REGULARSD)`);
    }
    const proc = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const srv = new Server(proc, data, args);
    servers.add(srv);
    allServers.push(srv);
    try {
        await srv._ready(opts.startTimeoutMs ?? 20000);
    } catch (e) {
        proc.kill('SIGKILL');
        throw new Error(`${e.message}\n--- regularsd ${args.join(' ')} stderr ---\n${srv.stderr()}`);
    }
    return srv;
}

export class Server {
    constructor(proc, data, args) {
        this.proc = proc;
        this.data = data;
        this.args = args;
        this.url = null; // "http://127.0.0.1:PORT"
        this.host = null;
        this.port = null;
        this.stdoutLines = [];
        this._stderr = [];
        this._stdoutBuf = '';
        this.exitCode = undefined; // set when the process exited (signal name if killed)
        this.exitedAt = Infinity; // Date.now() at exit
        this.exited = new Promise((resolve) => {
            proc.on('exit', (code, signal) => {
                this.exitCode = code ?? signal;
                this.exitedAt = Date.now();
                resolve(this.exitCode);
            });
        });
        proc.stderr.on('data', (d) => this._stderr.push(d));
        proc.stdout.setEncoding('utf8');
        proc.stdout.on('data', (d) => {
            this._stdoutBuf += d;
            let i;
            while ((i = this._stdoutBuf.indexOf('\n')) >= 0) {
                this.stdoutLines.push(this._stdoutBuf.slice(0, i));
                this._stdoutBuf = this._stdoutBuf.slice(i + 1);
                this._onLine?.();
            }
        });
    }

    _ready(timeoutMs) {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(
                () => reject(new Error(`regularsd printed no URL within ${timeoutMs} ms`)),
                timeoutMs,
            );
            const check = () => {
                if (this.stdoutLines.length === 0) return;
                clearTimeout(timer);
                const m = LISTEN_RE.exec(this.stdoutLines[0]);
                if (!m) {
                    reject(new Error(`unexpected first stdout line: ${JSON.stringify(this.stdoutLines[0])}`));
                    return;
                }
                this.url = m[1];
                this.host = m[2];
                this.port = Number(m[3]);
                resolve(this);
            };
            this._onLine = check;
            this.proc.on('error', (e) => {
                clearTimeout(timer);
                reject(e);
            });
            this.exited.then((code) => {
                clearTimeout(timer);
                reject(new Error(`regularsd exited (${code}) before printing its URL`));
            });
        });
    }

    /** Everything the server wrote to stderr so far. */
    stderr() {
        return Buffer.concat(this._stderr).toString('utf8');
    }

    /** True while the process runs. */
    get running() {
        return this.exitCode === undefined;
    }

    /**
     * Sends a signal (SIGTERM by default) and resolves with the exit code (or the signal
     * name if it was killed). After timeoutMs it is killed with SIGKILL and "SIGKILL" results.
     */
    async stop(signal = 'SIGTERM', timeoutMs = 15000) {
        if (!this.running) return this.exitCode;
        this.proc.kill(signal);
        let timer;
        const killed = new Promise((resolve) => {
            timer = setTimeout(() => {
                this.proc.kill('SIGKILL');
                resolve('SIGKILL (stop timed out)');
            }, timeoutMs);
        });
        const code = await Promise.race([this.exited, killed]);
        clearTimeout(timer);
        servers.delete(this);
        return code;
    }

    /** HTTP request to this server; see apiAt(). */
    api(method, p, opts) {
        return apiAt(this.url, method, p, opts);
    }

    /** Raw TCP exchange with this server; see raw(). */
    raw(bytes, opts) {
        return raw(this.port, bytes, { host: this.host, ...opts });
    }

    /** WebSocket URL of the stream endpoint. */
    get wsUrl() {
        return this.url.replace(/^http/, 'ws') + '/v1/stream';
    }
}

// ---------------------------------------------------------------------------------------
// HTTP through fetch

/**
 * Sends one request with fetch. body: an object (sent as JSON) or a string/Buffer (sent as
 * is, with Content-Type application/json unless headers say otherwise). token: sent as
 * "Authorization: Bearer <token>". Resolves {status, headers, json, text}; json is undefined
 * when the body is not JSON.
 */
export async function apiAt(base, method, p, { body, token, headers = {} } = {}) {
    const h = { ...headers };
    let payload;
    if (body !== undefined) {
        payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
        if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
            h['Content-Type'] = 'application/json';
        }
    }
    if (token !== undefined) h.Authorization = `Bearer ${token}`;
    const res = await fetch(base + p, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try {
        json = text.length ? JSON.parse(text) : undefined;
    } catch {
        json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
}

/** POST /v1/users; resolves {id, token, user} and throws unless the answer is 201. */
export async function createUser(srv, fields = {}) {
    const body = { name: 'Test User', ...fields };
    const r = await srv.api('POST', '/v1/users', { body });
    if (r.status !== 201 || !r.json?.user?.id || !r.json?.token) {
        throw new Error(`POST /v1/users ${JSON.stringify(body)} -> ${r.status} ${r.text}`);
    }
    return { id: r.json.user.id, token: r.json.token, user: r.json.user };
}

// ---------------------------------------------------------------------------------------
// Raw TCP

/**
 * A raw TCP connection that records everything received.
 *   const c = await rawConnect(port);
 *   c.write('GET ...'); await c.waitFor((text) => ..., 2000); c.text; c.closed; c.destroy();
 */
export function rawConnect(port, { host = '127.0.0.1', connectTimeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
        const sock = net.connect({ port, host });
        const c = {
            sock,
            chunks: [],
            closed: false, // the server ended or reset the connection
            reset: false, // ...with an error such as ECONNRESET
            closedAt: null,
            waiters: new Set(),
            get data() {
                return Buffer.concat(this.chunks);
            },
            get text() {
                return this.data.toString('utf8');
            },
            write(bytes) {
                if (!this.closed) sock.write(bytes);
            },
            /** Resolves when pred(text, this) is true or the connection closes; false on timeout. */
            waitFor(pred, timeoutMs = 3000) {
                const check = () => pred(this.text, this) || this.closed;
                if (check()) return Promise.resolve(pred(this.text, this));
                return new Promise((res) => {
                    const w = () => {
                        if (check()) {
                            clearTimeout(timer);
                            this.waiters.delete(w);
                            res(pred(this.text, this));
                        }
                    };
                    const timer = setTimeout(() => {
                        this.waiters.delete(w);
                        res(false);
                    }, timeoutMs);
                    this.waiters.add(w);
                });
            },
            /** Resolves true once the server closed the connection, false after timeoutMs. */
            waitClosed(timeoutMs = 3000) {
                return this.waitFor((_t, self) => self.closed, timeoutMs);
            },
            destroy() {
                sock.destroy();
            },
        };
        const wake = () => {
            for (const w of [...c.waiters]) w();
        };
        const timer = setTimeout(() => {
            sock.destroy();
            reject(new Error(`connect to ${host}:${port} timed out`));
        }, connectTimeoutMs);
        sock.on('connect', () => {
            clearTimeout(timer);
            resolve(c);
        });
        sock.on('data', (d) => {
            c.chunks.push(d);
            wake();
        });
        const onClose = (err) => {
            if (c.closed) return;
            c.closed = true;
            c.closedAt = Date.now();
            if (err) c.reset = true;
            wake();
        };
        sock.on('end', () => onClose());
        sock.on('close', () => onClose());
        sock.on('error', (e) => {
            clearTimeout(timer);
            if (!c.closedAt && sock.connecting) reject(e);
            onClose(e);
        });
    });
}

/**
 * Sends bytes (a string, a Buffer, or an array of them written with delayMs between) and
 * collects the answer until the server closes, until(text) is true, or timeoutMs passes.
 * Resolves {text, data, closed, reset, ms, responses} where responses is parseResponses(data).
 */
export async function raw(port, bytes, { timeoutMs = 3000, until, host, delayMs = 50, headMethods } = {}) {
    const t0 = Date.now();
    const c = await rawConnect(port, { host });
    const parts = Array.isArray(bytes) ? bytes : [bytes];
    for (let i = 0; i < parts.length; i++) {
        if (i > 0) await sleep(delayMs);
        c.write(parts[i]);
    }
    await c.waitFor((text) => (until ? until(text, c) : false), timeoutMs);
    const closed = c.closed;
    c.destroy();
    const data = c.data;
    return {
        text: data.toString('utf8'),
        data,
        closed,
        reset: c.reset,
        ms: Date.now() - t0,
        responses: parseResponses(data, { headMethods }).responses,
    };
}

/**
 * Splits the bytes of HTTP/1.1 responses (Content-Length or chunked bodies; 1xx interim
 * answers are returned too). headMethods: per response index, true when it answers a HEAD
 * (no body). Returns {responses: [{status, reason, headers (lower-case names), body}], rest}
 * where rest is an incomplete tail.
 */
export function parseResponses(data, { headMethods = [] } = {}) {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    const responses = [];
    let off = 0;
    let finals = 0;
    for (;;) {
        const end = buf.indexOf('\r\n\r\n', off, 'latin1');
        if (end < 0) break;
        const head = buf.toString('latin1', off, end).split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(head[0]);
        if (!m) break;
        const headers = {};
        for (const line of head.slice(1)) {
            const i = line.indexOf(':');
            if (i < 0) continue;
            const k = line.slice(0, i).trim().toLowerCase();
            const v = line.slice(i + 1).trim();
            headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
        }
        const status = Number(m[1]);
        let pos = end + 4;
        let body = Buffer.alloc(0);
        const interim = status >= 100 && status < 200;
        const noBody = interim || status === 204 || status === 304 || headMethods[finals];
        if (!noBody) {
            if (/chunked/i.test(headers['transfer-encoding'] || '')) {
                const parts = [];
                let ok = false;
                for (;;) {
                    const le = buf.indexOf('\r\n', pos, 'latin1');
                    if (le < 0) break;
                    const size = parseInt(buf.toString('latin1', pos, le), 16);
                    if (Number.isNaN(size)) break;
                    if (size === 0) {
                        const te = buf.indexOf('\r\n\r\n', le, 'latin1');
                        if (te < 0) break;
                        pos = te + 4;
                        ok = true;
                        break;
                    }
                    if (buf.length < le + 2 + size + 2) break;
                    parts.push(buf.subarray(le + 2, le + 2 + size));
                    pos = le + 2 + size + 2;
                }
                if (!ok) break;
                body = Buffer.concat(parts);
            } else if ('content-length' in headers) {
                const n = Number(headers['content-length']);
                if (buf.length < pos + n) break;
                body = buf.subarray(pos, pos + n);
                pos += n;
            } else {
                // Delimited by close: the rest is the body.
                body = buf.subarray(pos);
                pos = buf.length;
            }
        }
        const r = { status, reason: m[2] || '', headers, body: body.toString('utf8') };
        try {
            r.json = JSON.parse(r.body);
        } catch {
            r.json = undefined;
        }
        responses.push(r);
        if (!interim) finals++;
        off = pos;
    }
    return { responses, rest: buf.subarray(off) };
}

/** Counts the complete final (non-1xx) responses in text. */
export function countResponses(text, opts) {
    return parseResponses(text, opts).responses.filter((r) => r.status >= 200).length;
}

// ---------------------------------------------------------------------------------------
// WebSockets

/**
 * Opens a WebSocket. url: ws:// or http:// (converted); token and since are added to the
 * query. Resolves a client {ws, next(timeoutMs), pong(timeoutMs), closed, close()} once open;
 * rejects with an Error whose .status is the HTTP status when the upgrade is refused.
 */
export function wsConnect(url, { token, since, headers = {}, timeoutMs = 5000 } = {}) {
    const u = new URL(url.replace(/^http/, 'ws'));
    if (token !== undefined) u.searchParams.set('token', token);
    if (since !== undefined) u.searchParams.set('since', String(since));
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(u.toString(), { headers, handshakeTimeout: timeoutMs });
        const queue = [];
        const waiters = [];
        let closeInfo = null;
        let resolveClosed;
        const closed = new Promise((r) => (resolveClosed = r));
        const wake = () => {
            while (waiters.length && (queue.length || closeInfo)) {
                const w = waiters.shift();
                if (queue.length) w.resolve(queue.shift());
                else w.reject(Object.assign(new Error(`WebSocket closed (${closeInfo.code} ${closeInfo.reason})`), closeInfo));
            }
        };
        const client = {
            ws,
            messages: queue,
            closed, // resolves {code, reason} when the connection closes
            get closeInfo() {
                return closeInfo;
            },
            /** Resolves the next message (JSON-parsed when possible); rejects on timeout/close. */
            next(ms = 5000) {
                return new Promise((res, rej) => {
                    const timer = setTimeout(() => {
                        const i = waiters.indexOf(w);
                        if (i >= 0) waiters.splice(i, 1);
                        rej(new Error(`no WebSocket message within ${ms} ms`));
                    }, ms);
                    const w = {
                        resolve: (v) => (clearTimeout(timer), res(v)),
                        reject: (e) => (clearTimeout(timer), rej(e)),
                    };
                    waiters.push(w);
                    wake();
                });
            },
            /** Sends a ping with payload and resolves the pong's payload (as a string). */
            pong(ms = 3000, payload = 'regulars-ping') {
                return new Promise((res, rej) => {
                    const timer = setTimeout(() => rej(new Error(`no pong within ${ms} ms`)), ms);
                    ws.once('pong', (d) => {
                        clearTimeout(timer);
                        res(d.toString('utf8'));
                    });
                    ws.ping(payload);
                });
            },
            send(v) {
                ws.send(typeof v === 'string' ? v : JSON.stringify(v));
            },
            close(code = 1000) {
                if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code);
                return closed;
            },
        };
        ws.on('message', (data, isBinary) => {
            let v = isBinary ? data : data.toString('utf8');
            if (!isBinary) {
                try {
                    v = JSON.parse(v);
                } catch {
                    /* keep the text */
                }
            }
            queue.push(v);
            wake();
        });
        ws.on('open', () => resolve(client));
        ws.on('unexpected-response', (req, res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => {
                let json;
                try {
                    json = JSON.parse(body);
                } catch {
                    json = undefined;
                }
                reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode} ${body}`), {
                    status: res.statusCode,
                    headers: res.headers,
                    body,
                    json,
                }));
            });
            res.on('error', () => reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode })));
            req.destroy?.();
        });
        ws.on('error', (e) => reject(e));
        ws.on('close', (code, reason) => {
            closeInfo = { code, reason: reason.toString('utf8') };
            resolveClosed(closeInfo);
            wake();
        });
    });
}

// ---------------------------------------------------------------------------------------
// Test plumbing

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value (resolved with it) or timeoutMs passes (throws). */
export async function eventually(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
    const t0 = Date.now();
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) return last;
        } catch (e) {
            last = e;
        }
        if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${last})`);
        await sleep(intervalMs);
    }
}

function tail(s, n) {
    return s.length > n ? `[... ${s.length - n} bytes]\n${s.slice(-n)}` : s;
}

/** The stderr of servers running now or that exited since t0 (ms). */
function serverLogs(t0) {
    return allServers
        .filter((s) => s.running || s.exitedAt >= t0)
        .map((s) => `--- regularsd ${s.args.join(' ')} (exit ${s.running ? 'running' : s.exitCode}) stderr ---\n${tail(s.stderr(), 8000)}`)
        .join('\n');
}

/**
 * node:test's test(), but a failure also shows the stderr of the servers that were running
 * during it, so the server's side of a failure is in the report.
 */
export function test(name, optsOrFn, maybeFn) {
    const fn = typeof optsOrFn === 'function' ? optsOrFn : maybeFn;
    const opts = typeof optsOrFn === 'function' ? {} : optsOrFn;
    return nodeTest(name, opts, async (t) => {
        const t0 = Date.now();
        try {
            await fn(t);
        } catch (e) {
            anyFailed = true;
            const logs = serverLogs(t0);
            if (logs && e && typeof e === 'object' && typeof e.message === 'string') {
                try {
                    e.message += `\n${logs}`;
                } catch {
                    /* a frozen error keeps its message */
                }
            }
            throw e;
        }
    });
}

// Whatever happens, no server outlives the test file.
after(async () => {
    await Promise.all([...servers].map((s) => s.stop('SIGTERM', 5000)));
});
process.on('exit', () => {
    for (const s of servers) if (s.running) s.proc.kill('SIGKILL');
    if (!anyFailed && !process.env.REGULARS_KEEP_TMP) {
        for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
    }
});
