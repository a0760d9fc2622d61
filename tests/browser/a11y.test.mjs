// SPDX-License-Identifier: AGPL-3.0-or-later
//
// a11y.test.mjs -- the page for the person under the sky: axe-core finds no
// violation in day and night mode, on a desktop (1280x800) and a phone (390x844),
// with the body card open too; every text is at least 4.5:1 on its background
// (night mode: and red on black, everywhere on the page); every control is at least
// 44x44 px on a phone; the header does not move while the live status changes
// (layout shifts measured by a PerformanceObserver: connecting, live, reconnecting,
// polling, offline with the "as of" age, a chosen instant with "Back to now", live
// again); and night mode switches itself on at dusk and off at dawn when asked to
// (the Sun's altitude of the live sky). Screenshots of the four views land in
// build/test-artifacts/ (a11y-*.png).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, WAIT_MS, assertCleanShutdown, enrichSnapshot, getJson, openPage, sseResponse,
    startSuite, stopSuite, waitForObserver, waitUntil,
} from './harness.mjs';

const require = createRequire(import.meta.url);

/** axe-core's script (a devDependency: `npm ci` in tests/browser installs it). */
function axePath() {
    try {
        return require.resolve('axe-core/axe.min.js');
    } catch {
        throw new Error('axe-core is not installed: run npm ci in tests/browser');
    }
}
const TIMEOUT = { timeout: 180000 };
const PARIS = { lat: 48.85, lon: 2.35 };
const STREAM = /\/planets\/stream(\?|$)/;
const POLL = /\/planets(\?|$)/;
const VIEWS = {
    desktop: { viewport: { width: 1280, height: 800 } },
    phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
    fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(() => stopSuite(server, browser));

/** The page at Paris, live, everything drawn; night mode from the first paint if asked. */
async function openParis(view, night, extra = {}) {
    const { context, page, problems } = await openPage(browser, server.base, {
        ...VIEWS[view], timezoneId: 'Europe/Paris', ...extra });
    if (night) await context.addInitScript(() => localStorage.setItem('planettracker.night', '1'));
    await page.goto(`${server.base}?lat=${PARIS.lat}&lon=${PARIS.lon}`);
    await waitForObserver(page, PARIS.lat, PARIS.lon);
    await page.waitForSelector('#live[data-mode="live"]', { timeout: WAIT_MS });
    await waitUntil(page, 'the Tonight card', () => document.querySelectorAll('.tl-row').length > 0);
    return { context, page, problems };
}

async function axe(page, where) {
    await page.addScriptTag({ path: axePath() });
    const result = await page.evaluate(() => window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
        resultTypes: ['violations'],
    }));
    const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ` +
        v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} ${n.failureSummary?.split('\n')[1] ?? ''}`).join('\n    '));
    assert.deepEqual(found, [], `${where}: axe found\n${found.join('\n')}`);
}

test('axe-core: no violation, day and night, desktop and phone, card open too', TIMEOUT, async () => {
    for (const view of ['desktop', 'phone']) {
        for (const night of [false, true]) {
            const where = `${view}, ${night ? 'night' : 'day'}`;
            // axe is put in the page as a script of its own: past the page's CSP.
            const { context, page, problems } = await openParis(view, night, { bypassCSP: true });
            await page.screenshot({ path: path.join(ARTIFACTS, `a11y-${view}-${night ? 'night' : 'day'}.png`) });
            await axe(page, where);
            await page.click('#sky-table .table-open[data-body="moon"]');
            await page.waitForSelector('#body-card[open]');
            await axe(page, `${where}, the Moon's card open`);
            assert.deepEqual(problems, [], where);
            await context.close();
        }
    }
});

/**
 * Every text of the page with its colour and the colour under it (backgrounds
 * composed up the tree, opacity included), its contrast ratio; SVG text of the
 * chart against the halo it is drawn on (or the card). In the page.
 */
function contrasts() {
    const parse = (css) => {
        const m = String(css).match(/rgba?\(([^)]+)\)/);
        if (!m) return [0, 0, 0, 0];
        const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
        return [r, g, b, a];
    };
    const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
    const lum = (c) => {
        const [r, g, b] = c.map((v) => {
            const x = v / 255;
            return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
        const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
        return (hi + 0.05) / (lo + 0.05);
    };
    const backgroundOf = (el) => {
        const chain = [];
        for (let e = el; e; e = e.parentElement) chain.unshift(e);
        let bg = [0, 0, 0];
        for (const e of chain) bg = over(parse(getComputedStyle(e).backgroundColor), bg);
        return bg;
    };
    const opacityOf = (el) => {
        let o = 1;
        for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
        return o;
    };
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
        if (el instanceof SVGElement && el.tagName !== 'text') continue;
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!own || !el.getClientRects().length) continue;
        if (el.closest('.visually-hidden, dialog:not([open]), [aria-hidden="true"]:not(svg *)')) continue;
        if (el.closest('button:disabled, select:disabled, input:disabled')) continue; // exempt (WCAG 1.4.3)
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || style.clip === 'rect(0px, 0px, 0px, 0px)') continue;
        if (el.closest('.skip-link')) continue; // shown only while focused, on its own colour
        const bg = backgroundOf(el);
        let fg;
        let under = bg;
        if (el instanceof SVGElement) {
            const fill = parse(style.fill);
            const halo = parse(style.stroke);
            if (halo[3] > 0 && style.strokeWidth !== '0px') under = over(halo, bg);
            fg = over(fill, under);
        } else {
            const c = parse(style.color);
            c[3] *= opacityOf(el);
            fg = over(c, bg);
        }
        out.push({ text: el.textContent.trim().slice(0, 40), color: el instanceof SVGElement ? style.fill : style.color,
                   fg, ratio: ratio(fg, under) });
    }
    return out;
}

test('every text at least 4.5:1; in night mode red on black everywhere', TIMEOUT, async () => {
    for (const view of ['desktop', 'phone']) {
        for (const night of [false, true]) {
            const where = `${view}, ${night ? 'night' : 'day'}`;
            const { context, page, problems } = await openParis(view, night);
            const texts = await page.evaluate(contrasts);
            assert.ok(texts.length > 150, `${where}: ${texts.length} texts checked`);
            const low = texts.filter((t) => t.ratio < 4.5);
            assert.deepEqual(low.map((t) => `"${t.text}" ${t.color} ${t.ratio.toFixed(2)}:1`), [], where);
            if (night) {
                const notRed = texts.filter(({ fg: [r, g, b] }) => !(r >= 80 && g <= 0.35 * r && b <= 0.35 * r));
                assert.deepEqual(notRed.map((t) => `"${t.text}" ${t.color}`), [], `${where}: not red`);
            }
            assert.deepEqual(problems, [], where);
            await context.close();
        }
    }
});

test('on a phone every control is at least 44x44 px', TIMEOUT, async () => {
    const { context, page, problems } = await openParis('phone', false);
    const small = await page.evaluate(() => {
        const out = [];
        const check = (el, box, name) => {
            if (box.width < 43.5 || box.height < 43.5) {
                out.push(`${name}: ${box.width.toFixed(1)}x${box.height.toFixed(1)}`);
            }
        };
        const controls = document.querySelectorAll(
            'button, select, input:not([type="checkbox"]), a[href], [role="button"], label:has(input[type="checkbox"])');
        let n = 0;
        for (const el of controls) {
            if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
            if (el.closest('dialog:not([open])')) continue;
            // Links inside a sentence are exempt (WCAG 2.5.5); the skip link shows when focused.
            if (el.matches('a') && (el.closest('p:not(.whose-sky), li') || el.classList.contains('skip-link'))) continue;
            const name = `${el.tagName.toLowerCase()}#${el.id || el.dataset.body || el.className}`;
            n++;
            if (el.matches('.sky-body')) check(el, el.querySelector('.hit').getBoundingClientRect(), name);
            else check(el, el.getBoundingClientRect(), name);
        }
        out.count = n;
        return { small: out, count: n };
    });
    assert.ok(small.count > 40, `${small.count} controls checked`);
    assert.deepEqual(small.small, []);
    assert.deepEqual(problems, []);
    await context.close();
});

/** An init script: keep every layout shift (window.__shifts), with what moved. */
function recordShifts() {
    window.__shifts = [];
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
            window.__shifts.push({
                value: e.value, recent: e.hadRecentInput, t: e.startTime,
                sources: e.sources.map((s) => {
                    const n = s.node;
                    const el = n?.nodeType === 1 ? n : n?.parentElement;
                    return { what: el ? `${el.tagName.toLowerCase()}#${el.id}.${el.className}` : String(n),
                             header: Boolean(el?.closest('.topbar')) };
                }),
            });
        }
    }).observe({ type: 'layout-shift', buffered: true });
}

test('the header does not move while the live status changes (layout shift)', TIMEOUT, async (t) => {
    for (const view of ['phone', 'desktop']) {
        const { context, page, problems } = await openPage(browser, server.base, {
            ...VIEWS[view], timezoneId: 'Europe/Paris' });
        await context.addInitScript(recordShifts);
        await page.goto(`${server.base}?lat=${PARIS.lat}&lon=${PARIS.lon}`);
        await waitForObserver(page, PARIS.lat, PARIS.lon);
        await page.waitForSelector('#live[data-mode="live"]', { timeout: WAIT_MS });
        await waitUntil(page, 'the Tonight card', () => document.querySelectorAll('.tl-row').length > 0);
        const header = () => page.evaluate(() => [...document.querySelectorAll(
            '.brand, #status-pill, #live, .aux, .display-controls, #night-toggle, #whose-sky, main')]
            .map((e) => {
                const r = e.getBoundingClientRect();
                // The header's slots keep their place and size; the status text (inside
                // its fixed pill) and the page below keep their place.
                return (e.tagName === 'MAIN' || e.id === 'live' ? [r.left, r.top]
                    : [r.left, r.top, r.width, r.height])
                    .map(Math.round).join(',');
            }));
        const before = await header();
        const from = await page.evaluate(() => window.__shifts.length);
        const modes = [];
        const seen = async (what, fn) => {
            await waitUntil(page, what, fn);
            modes.push(await page.textContent('#status-pill'));
            assert.deepEqual(await header(), before, `${view}: the header moved (${what})`);
        };
        // The stream breaks and cannot come back; polling fails too: reconnecting,
        // polling, offline with the kept sky's age.
        const abort = (route) => route.abort('connectionrefused');
        await page.route(STREAM, abort);
        await page.route(POLL, abort);
        await page.evaluate(() => window.__ptEventSources.at(-1).dispatchEvent(new Event('error')));
        await seen('Reconnecting', () => document.getElementById('live').dataset.mode === 'reconnecting');
        // ...and it stays silent (closed under the page): the page gives up on it.
        await page.evaluate(() => window.__ptEventSources.at(-1).close());
        await seen('Offline with its age', () => document.getElementById('live').dataset.mode === 'offline' &&
            !document.getElementById('asof').hidden);
        // A chosen instant (set without a real input, so its shifts count), then now.
        await page.unroute(POLL, abort);
        await page.evaluate(() => {
            const s = document.getElementById('time-slider');
            s.value = '10'; // ten minutes on: the same sky, another status
            s.dispatchEvent(new Event('input', { bubbles: true }));
        });
        await seen('a chosen instant', () => document.getElementById('live').dataset.mode === 'fixed' &&
            document.getElementById('back-to-now').checkVisibility() &&
            Date.parse(document.getElementById('sky-table').dataset.time) ===
                Date.parse(document.getElementById('time-slider').dataset.time));
        await page.unroute(STREAM, abort);
        await page.evaluate(() => document.getElementById('time-now').click());
        await seen('live again', () => document.getElementById('live').dataset.mode === 'live');
        const shifts = (await page.evaluate(() => window.__shifts)).slice(from).filter((s) => !s.recent);
        const total = shifts.reduce((a, s) => a + s.value, 0);
        const inHeader = shifts.filter((s) => s.sources.some((x) => x.header));
        t.diagnostic(`${view}: layout shift ${total.toFixed(4)} in ${shifts.length} shifts`);
        assert.deepEqual(inHeader, [], `${view}: shifts in the header`);
        assert.ok(total < 0.1, `${view}: layout shift ${total.toFixed(4)} through ${modes.join(' | ')}: ` +
                  JSON.stringify(shifts));
        assert.deepEqual(problems.filter((p) => !/Failed to load resource|EventSource|ERR_/.test(p)), []);
        await context.close();
    }
});

test('"at dusk": night mode follows the Sun of the live sky, remembered', TIMEOUT, async () => {
    const base = enrichSnapshot(await getJson(server.base, `planets?lat=${PARIS.lat}&lon=${PARIS.lon}`));
    const withSun = (alt) => {
        const s = structuredClone(base);
        s.bodies.find((b) => b.name === 'sun').alt = alt;
        return s;
    };
    let sun = -3; // civil twilight: not yet
    const { context, page, problems } = await openPage(browser, server.base, { timezoneId: 'Europe/Paris' });
    await page.route(STREAM, (route) => route.fulfill(sseResponse(withSun(sun), 300)));
    await page.goto(`${server.base}?lat=${PARIS.lat}&lon=${PARIS.lon}`);
    await page.waitForFunction(() => window.__lastSnapshot);
    const isNight = () => page.evaluate(() => document.documentElement.classList.contains('night'));
    const box = page.getByRole('checkbox', { name: /switch to night mode at dusk/i });
    assert.equal(await box.isChecked(), false);
    await box.check();
    assert.equal(await page.evaluate(() => localStorage.getItem('planettracker.nightAuto')), '1');
    assert.equal(await isNight(), false, 'the Sun at -3°: day');
    // The Sun 8° below the horizon: night mode on.
    sun = -8;
    await waitUntil(page, 'night mode at dusk', () => document.documentElement.classList.contains('night'));
    assert.equal(await page.getAttribute('#night-toggle', 'aria-pressed'), 'true');
    // The button still wins until the next dawn.
    await page.click('#night-toggle');
    await waitUntil(page, 'two more pushes', (n) => window.__pt.pushes.length >= n + 2,
                    await page.evaluate(() => window.__pt.pushes.length));
    assert.equal(await isNight(), false);
    // Dawn (the Sun back above -6°), then dusk again: it follows.
    sun = -2;
    await waitUntil(page, 'the dawn push', () => window.__lastSnapshot.bodies[0].alt === -2);
    sun = -12;
    await waitUntil(page, 'night mode at the next dusk', () => document.documentElement.classList.contains('night'));
    // Remembered across a reload: ticked, and night mode from the first paint.
    await page.reload();
    await page.waitForFunction(() => window.__lastSnapshot);
    assert.equal(await box.isChecked(), true);
    assert.equal(await isNight(), true);
    sun = 5;
    await waitUntil(page, 'day mode after dawn', () => !document.documentElement.classList.contains('night'));
    await box.uncheck();
    sun = -15;
    await waitUntil(page, 'two more pushes', (n) => window.__pt.pushes.length >= n + 2,
                    await page.evaluate(() => window.__pt.pushes.length));
    assert.equal(await isNight(), false, 'unticked: the Sun no longer decides');
    assert.deepEqual(problems.filter((p) => !/EventSource/.test(p)), []);
    await context.close();
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
