// Helpers for the browser tests: Debian's Chromium driven by playwright-core, pages that
// record console errors, screenshots as artifacts, and accessibility checks run in the page.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const CHROMIUM = process.env.REGULARS_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.REGULARS_ARTIFACTS || path.join(here, 'artifacts');
export const haveChromium = fs.existsSync(CHROMIUM);
export const SKIP = haveChromium ? false : `Chromium not found at ${CHROMIUM}: apt-get install chromium (scripts/deps browser)`;

/** Launches Chromium as the tests always do. */
export async function launch() {
    const { chromium } = await import('playwright-core');
    return chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
}

/**
 * A fresh context (own localStorage) and page. page.problems collects console errors and
 * uncaught exceptions, except HTTP errors the test announced with page.allowHttp(status).
 */
export async function openPage(browser, { width = 1440, height = 900, ...opts } = {}) {
    const context = await browser.newContext({ viewport: { width, height }, ...opts });
    const page = await context.newPage();
    page.problems = [];
    page.allowed = new Set();
    page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const text = msg.text();
        // Chromium logs every 4xx answer to fetch as "Failed to load resource": expected
        // ones (an invalid rule is a 422) are announced by the test.
        const m = /Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
        if (m && page.allowed.has(Number(m[1]))) return;
        page.problems.push(`console.error: ${text} (${msg.location()?.url || ''})`);
    });
    page.on('pageerror', (e) => page.problems.push(`uncaught: ${e.message}`));
    page.allowHttp = (...codes) => codes.forEach((c) => page.allowed.add(c));
    page.context_ = context;
    return page;
}

/** Saves a screenshot under artifacts/ and returns its path. */
export async function shot(page, name, { fullPage = true } = {}) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.png`);
    if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, fullPage });
    return file;
}

/**
 * Runs in the page: every form control has an accessible name (a <label>, aria-label or
 * aria-labelledby), every button has text or aria-label. Returns the offenders.
 */
export function unlabelledControls(page) {
    return page.evaluate(() => {
        const bad = [];
        for (const el of document.querySelectorAll('input, select, textarea')) {
            if (el.type === 'hidden' || el.hidden) continue;
            const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') ||
                el.getAttribute('aria-labelledby');
            if (!named) bad.push(el.outerHTML.slice(0, 120));
        }
        for (const b of document.querySelectorAll('button')) {
            if (!(b.textContent.trim() || b.getAttribute('aria-label'))) bad.push(b.outerHTML.slice(0, 120));
        }
        return bad;
    });
}

/**
 * Runs in the page: the contrast of every visible text against its effective background,
 * WCAG 2 AA (4.5:1, or 3:1 for large text). Returns the failures.
 */
export function lowContrast(page) {
    return page.evaluate(() => {
        const parse = (c) => {
            const m = c.match(/rgba?\(([^)]+)\)/);
            if (!m) return null;
            const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
            return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
        };
        const lum = ({ r, g, b }) => {
            const f = (v) => {
                v /= 255;
                return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
            };
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        const blend = (top, under) => ({
            r: top.r * top.a + under.r * (1 - top.a),
            g: top.g * top.a + under.g * (1 - top.a),
            b: top.b * top.a + under.b * (1 - top.a),
            a: 1,
        });
        const background = (el) => {
            const layers = [];
            for (let e = el; e; e = e.parentElement) {
                const cs = getComputedStyle(e);
                if (cs.backgroundImage && cs.backgroundImage !== 'none') return null; // gradients: skip
                const c = parse(cs.backgroundColor);
                if (c && c.a > 0) {
                    layers.push(c);
                    if (c.a >= 1) break;
                }
            }
            let bg = { r: 255, g: 255, b: 255, a: 1 };
            for (const l of layers.reverse()) bg = blend(l, bg);
            return bg;
        };
        const bad = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const seen = new Set();
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const el = n.parentElement;
            if (!n.textContent.trim() || !el || seen.has(el) || el.closest('svg')) continue;
            seen.add(el);
            const r = el.getBoundingClientRect();
            const cs = getComputedStyle(el);
            if (!r.width || !r.height || cs.visibility === 'hidden' || Number(cs.opacity) === 0 ||
                el.closest('[hidden], .sr-only, option, datalist')) continue;
            const fg = parse(cs.color), bg = background(el);
            if (!fg || !bg) continue;
            const l1 = lum(blend(fg, bg)), l2 = lum(bg);
            const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
            const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
            const large = size >= 24 || (bold && size >= 18.66);
            const disabled = el.closest('button:disabled, [aria-disabled="true"]');
            if (!disabled && ratio < (large ? 3 : 4.5)) {
                bad.push(`${ratio.toFixed(2)}:1 "${n.textContent.trim().slice(0, 40)}" (${el.tagName.toLowerCase()}.${el.className})`);
            }
        }
        return bad;
    });
}

/** True when the page is wider than its viewport (something overflows sideways). */
export function overflowsX(page) {
    return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
}
