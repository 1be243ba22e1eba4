// Shared by the dashboard and the app: the API client, the signed-in secret, the live stream,
// formatting and a tiny DOM builder. Plain ES module, no dependencies.

// ---------------------------------------------------------------------------------------
// DOM

/**
 * h('p', {class: 'x', onclick: fn}, 'text', child, [more]) -> element. Strings become text
 * nodes (never HTML), null/false children are skipped, arrays are flattened.
 */
export function h(tag, attrs, ...children) {
    const svg = tag.startsWith('svg:');
    const el = svg
        ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
        : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k === 'text') el.textContent = v;
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) append(el, c);
        else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

/** SVG element shorthand: s('rect', {x: 1}) */
export const s = (tag, attrs, ...children) => h('svg:' + tag, attrs, ...children);

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replaces el's children. */
export function fill(el, ...children) {
    el.replaceChildren();
    append(el, children);
    return el;
}

// ---------------------------------------------------------------------------------------
// Formatting

const digitsCache = new Map();
function currencyDigits(currency) {
    if (!digitsCache.has(currency)) {
        let d = 2;
        try {
            d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
                .maximumFractionDigits;
        } catch {
            /* unknown code: two decimals */
        }
        digitsCache.set(currency, d);
    }
    return digitsCache.get(currency);
}

/** Money in minor units -> "₩6,500" / "$12.50". */
export function money(amount, currency = 'KRW') {
    const d = currencyDigits(currency);
    const v = amount / 10 ** d;
    try {
        return new Intl.NumberFormat(undefined, {
            style: 'currency',
            currency,
            maximumFractionDigits: d,
            minimumFractionDigits: d,
        }).format(v);
    } catch {
        return `${v.toFixed(d)} ${currency}`;
    }
}

/** Compact money for chart labels: "₩1.2M". */
export function moneyShort(amount, currency = 'KRW') {
    const d = currencyDigits(currency);
    try {
        return new Intl.NumberFormat(undefined, {
            style: 'currency',
            currency,
            notation: 'compact',
            maximumFractionDigits: 1,
        }).format(amount / 10 ** d);
    } catch {
        return money(amount, currency);
    }
}

/** Converts a major-unit value typed by a person ("6500", "12.50") to minor units. */
export function toMinor(text, currency = 'KRW') {
    const v = Number(String(text).replace(/[, ]/g, ''));
    if (!Number.isFinite(v)) return NaN;
    return Math.round(v * 10 ** currencyDigits(currency));
}

export const num = (n) => new Intl.NumberFormat().format(n);
export const pct = (x) => `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;
export const points = (n) => `${n > 0 ? '+' : n < 0 ? '−' : ''}${num(Math.abs(n))}`;

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
/** "3 minutes ago", "in 5 hours". */
export function ago(ms, now = Date.now()) {
    const d = (ms - now) / 1000;
    const a = Math.abs(d);
    if (a < 45) return rtf.format(Math.round(d), 'second');
    if (a < 2700) return rtf.format(Math.round(d / 60), 'minute');
    if (a < 64800) return rtf.format(Math.round(d / 3600), 'hour');
    if (a < 86400 * 30) return rtf.format(Math.round(d / 86400), 'day');
    return dateTime(ms);
}

export const dateTime = (ms) =>
    new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const date = (ms) => new Date(ms).toLocaleDateString(undefined, { dateStyle: 'medium' });
export const time = (ms) =>
    new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** A <time> element showing ago(ms) with the full date as its title; refreshed by tick(). */
export function timeEl(ms) {
    return h('time', { datetime: new Date(ms).toISOString(), title: dateTime(ms), dataset: { ms } },
        ago(ms));
}

/** Refreshes every timeEl on the page (call every ~30 s). */
export function tickTimes() {
    const now = Date.now();
    for (const t of $$('time[data-ms]')) t.textContent = ago(Number(t.dataset.ms), now);
}

/** Duration in seconds -> "2 days", "3 hours", "90 minutes". */
export function duration(sec) {
    if (sec % 86400 === 0) return `${sec / 86400} day${sec === 86400 ? '' : 's'}`;
    if (sec % 3600 === 0) return `${sec / 3600} hour${sec === 3600 ? '' : 's'}`;
    if (sec % 60 === 0) return `${sec / 60} minute${sec === 60 ? '' : 's'}`;
    return `${sec} seconds`;
}

/** Time left until ms: "45 minutes", "23 hours", "3 days". */
export function remaining(ms, now = Date.now()) {
    const min = Math.max(0, Math.floor((ms - now) / 60000));
    if (min < 60) return `${min} minute${min === 1 ? '' : 's'}`;
    if (min < 48 * 60) {
        const hours = Math.floor(min / 60);
        return `${hours} hour${hours === 1 ? '' : 's'}`;
    }
    return `${Math.floor(min / 1440)} days`;
}

// ---------------------------------------------------------------------------------------
// The signed-in secret (localStorage), and deep links that carry it (#key=... / #token=...)

export const session = {
    get(name) {
        try {
            return localStorage.getItem(`regulars.${name}`);
        } catch {
            return null;
        }
    },
    set(name, v) {
        try {
            if (v) localStorage.setItem(`regulars.${name}`, v);
            else localStorage.removeItem(`regulars.${name}`);
        } catch {
            /* private mode: the session lasts as long as the page */
        }
    },
};

/**
 * If the address ends in #<param>=<secret>, keeps the secret and removes it from the address
 * bar (and so from the history). Returns the secret or null.
 */
export function takeSecretFromHash(param) {
    const m = new RegExp(`^#${param}=([^&]+)`).exec(location.hash);
    if (!m) return null;
    history.replaceState(null, '', location.pathname + location.search);
    return decodeURIComponent(m[1]);
}

// ---------------------------------------------------------------------------------------
// API client

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message || code || `HTTP ${status}`);
        this.status = status;
        this.code = code;
        // 422 messages name the field first: "rules.earn_rate_bp: must be between ..."
        const m = /^([A-Za-z_][\w.[\]]*): (.*)$/.exec(message || '');
        this.field = status === 422 && m ? m[1] : null;
        this.detail = this.field ? m[2] : this.message;
    }
}

/** A tiny client for one secret (or none). onUnauthorized runs on any 401. */
export function client(secret, { onUnauthorized } = {}) {
    async function request(method, path, body, { idempotencyKey } = {}) {
        const headers = {};
        if (secret) headers.Authorization = `Bearer ${secret}`;
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
        let res;
        try {
            res = await fetch(path, {
                method,
                headers,
                body: body === undefined ? undefined : JSON.stringify(body),
                cache: 'no-store',
            });
        } catch (e) {
            throw new ApiError(0, 'network', 'The server cannot be reached. Is regularsd running?');
        }
        const text = await res.text();
        let json;
        try {
            json = text ? JSON.parse(text) : {};
        } catch {
            json = {};
        }
        if (!res.ok) {
            if (res.status === 401 && onUnauthorized) onUnauthorized();
            throw new ApiError(res.status, json?.error?.code, json?.error?.message);
        }
        return json;
    }
    return {
        secret,
        get: (p) => request('GET', p),
        post: (p, b, o) => request('POST', p, b ?? {}, o),
        put: (p, b) => request('PUT', p, b),
        patch: (p, b) => request('PATCH', p, b),
        del: (p) => request('DELETE', p),
    };
}

/** A random Idempotency-Key for one user action. */
export function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------------------
// Live stream (GET /v1/stream over WebSocket), reconnecting with `since`

/**
 * new Stream(secret, {onEvent(ev), onStatus('live'|'connecting'|'offline'), onReset()})
 *
 * The first connection asks for live events only (the page has just loaded its state over
 * HTTP); every reconnection passes since=<last seq seen>, so the server replays what was
 * missed. An event at or below the last seq seen is a duplicate and is dropped. When the
 * server's last_seq is below ours (its data was reset), onReset asks the page to reload.
 */
export class Stream {
    constructor(secret, { onEvent, onStatus, onReset } = {}) {
        this.secret = secret;
        this.onEvent = onEvent || (() => {});
        this.onStatus = onStatus || (() => {});
        this.onReset = onReset || (() => {});
        this.lastSeq = null;
        this.ws = null;
        this.stopped = false;
        this.retry = 0;
        this.timer = null;
        // Reachable from the console (and the browser tests) as regulars.streams.
        (globalThis.regulars ??= { streams: [] }).streams.push(this);
    }

    start() {
        this.stopped = false;
        this._connect();
        // Reconnect at once when the tab comes back or the network returns.
        this._wake = () => {
            if (!this.stopped && (!this.ws || this.ws.readyState === WebSocket.CLOSED)) {
                clearTimeout(this.timer);
                this._connect();
            }
        };
        window.addEventListener('online', this._wake);
        document.addEventListener('visibilitychange', this._wake);
    }

    stop() {
        this.stopped = true;
        clearTimeout(this.timer);
        window.removeEventListener('online', this._wake);
        document.removeEventListener('visibilitychange', this._wake);
        if (this.ws) this.ws.close(1000);
        this.ws = null;
    }

    _connect() {
        const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
        let url = `${proto}//${location.host}/v1/stream?token=${encodeURIComponent(this.secret)}`;
        if (this.lastSeq !== null) url += `&since=${this.lastSeq}`;
        this.onStatus('connecting');
        const ws = new WebSocket(url);
        this.ws = ws;
        ws.onmessage = (m) => {
            let ev;
            try {
                ev = JSON.parse(m.data);
            } catch {
                return;
            }
            if (ev.type === 'hello') {
                this.retry = 0;
                const last = ev.data?.last_seq ?? 0;
                if (this.lastSeq === null || last < this.lastSeq) {
                    const reset = this.lastSeq !== null;
                    this.lastSeq = last;
                    if (reset) this.onReset();
                }
                this.onStatus('live');
                return;
            }
            if (typeof ev.seq !== 'number' || ev.seq <= this.lastSeq) return;
            this.lastSeq = ev.seq;
            try {
                this.onEvent(ev);
            } catch (e) {
                console.warn('event handler failed', e);
            }
        };
        ws.onclose = () => {
            if (this.ws !== ws) return;
            this.ws = null;
            if (this.stopped) return;
            this.onStatus('offline');
            const delay = Math.min(15000, 500 * 2 ** this.retry++) * (0.75 + Math.random() / 2);
            this.timer = setTimeout(() => this._connect(), delay);
        };
    }
}

// ---------------------------------------------------------------------------------------
// Small UI pieces

/** Shows a transient message in the page's #toasts region (an aria-live region). */
export function toast(text, { kind = 'info', ms = 6000, title } = {}) {
    const region = $('#toasts');
    if (!region) return;
    const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
        h('div', { class: 'toast-body' }, title ? h('strong', {}, title) : null, h('span', {}, text)),
        h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
    region.append(t);
    // A burst of events must not cover the page: the newest three stay.
    while (region.children.length > 3) region.firstElementChild.remove();
    setTimeout(() => t.remove(), ms);
    return t;
}

/**
 * Shows an API error next to the form field it names, or in the form's general error slot.
 * fieldMap maps API field names ("rules.earn_rate_bp") to input elements.
 */
export function showFieldError(form, err, fieldMap = {}) {
    clearErrors(form);
    const input = err.field ? fieldMap[err.field] || form.querySelector(`[data-field="${CSS.escape(err.field)}"]`) : null;
    if (input) {
        const slot = errorSlot(input);
        slot.textContent = err.detail;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
    }
    const general = form.querySelector('.form-error');
    if (general) general.textContent = err.message;
    else toast(err.message, { kind: 'error' });
}

function errorSlot(input) {
    const id = input.getAttribute('aria-describedby')?.split(' ').find((x) => x.endsWith('-err'));
    let slot = id ? document.getElementById(id) : null;
    if (!slot) {
        const eid = `${input.id || input.name || 'f' + Math.random().toString(36).slice(2)}-err`;
        slot = h('span', { id: eid, class: 'field-error', role: 'alert' });
        (input.closest('.field') || input.parentElement).append(slot);
        input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), eid].filter(Boolean).join(' '));
    }
    return slot;
}

export function clearErrors(form) {
    for (const e of $$('.field-error', form)) e.textContent = '';
    for (const i of $$('[aria-invalid]', form)) i.removeAttribute('aria-invalid');
    const general = form.querySelector('.form-error');
    if (general) general.textContent = '';
}

/** Disables a form's submit button while fn runs. */
export async function busy(form, fn) {
    const btns = $$('button[type=submit], button:not([type])', form);
    btns.forEach((b) => (b.disabled = true));
    form.setAttribute('aria-busy', 'true');
    try {
        return await fn();
    } finally {
        btns.forEach((b) => (b.disabled = false));
        form.removeAttribute('aria-busy');
    }
}

/** A cache of {id, name} lookups (users, merchants) so each id is fetched once. */
export function nameCache(fetcher) {
    const m = new Map();
    return {
        set(id, v) {
            if (id && v) m.set(id, Promise.resolve(v));
        },
        get(id) {
            if (!id) return Promise.resolve(null);
            if (!m.has(id)) m.set(id, fetcher(id).catch(() => null));
            return m.get(id);
        },
    };
}

/**
 * Keyboard for a tab list (WAI-ARIA tabs pattern): arrows/Home/End move between tabs, which
 * activate on focus. Returns show(name); onSelect(name) runs after each change by the user.
 */
export function tabs(list, onSelect = () => {}) {
    const all = () => $$('[role=tab]', list);
    const show = (name) => {
        for (const t of all()) {
            const on = t.dataset.tab === name;
            t.setAttribute('aria-selected', on ? 'true' : 'false');
            t.tabIndex = on ? 0 : -1;
            const panel = document.getElementById(t.getAttribute('aria-controls'));
            if (panel) panel.hidden = !on;
        }
    };
    list.addEventListener('click', (e) => {
        const t = e.target.closest('[role=tab]');
        if (!t) return;
        show(t.dataset.tab);
        onSelect(t.dataset.tab);
    });
    list.addEventListener('keydown', (e) => {
        const ts = all();
        const i = ts.indexOf(document.activeElement);
        if (i < 0) return;
        let j = null;
        if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = (i + 1) % ts.length;
        else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = (i - 1 + ts.length) % ts.length;
        else if (e.key === 'Home') j = 0;
        else if (e.key === 'End') j = ts.length - 1;
        if (j === null) return;
        e.preventDefault();
        ts[j].focus();
        show(ts[j].dataset.tab);
        onSelect(ts[j].dataset.tab);
    });
    return show;
}
