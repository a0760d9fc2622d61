// SPDX-License-Identifier: AGPL-3.0-or-later
//
// harness.mjs -- what the browser tests share: start the server binary on a free
// loopback port in a fresh working directory (or use PT_BASE_URL, a server already
// running), launch Debian's chromium through playwright-core, instrument the page
// (its fetches, EventSources and key presses, timed by the page's clock), and small
// helpers to read the page's table and ask the JSON API the same questions.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(REPO, 'build', 'test-artifacts');
export const GREENWICH = { lat: 51.4769, lon: -0.0005 };
export const BODIES = ['sun', 'moon', 'mercury', 'venus', 'mars', 'jupiter', 'saturn',
                       'uranus', 'neptune', 'pluto'];
/** The deadline of every wait for a condition: generous, a loaded machine must not reach it. */
export const WAIT_MS = 20000;
/** The delay of the reference timer armed at each key press (see instrument()). */
export const KEY_REF_MS = 1500;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/**
 * Start PT_BINARY (default build/planettracker) with `serve` on 127.0.0.1 and wait
 * until GET /healthz answers 200. Returns {base, stop()}; stop() ends the server
 * (SIGTERM, then SIGKILL after 20 s) and resolves with {code, signal, stderr}.
 * With PT_BASE_URL set, uses that server instead and stop() does nothing.
 */
export async function startServer() {
    if (process.env.PT_BASE_URL) {
        const base = process.env.PT_BASE_URL.replace(/\/?$/, '/');
        return { base, external: true, stop: async () => ({ code: 0, signal: null, stderr: '' }) };
    }
    const bin = path.resolve(REPO, process.env.PT_BINARY ?? 'build/planettracker');
    if (!fs.existsSync(bin)) throw new Error(`${bin} does not exist: run make (or set PT_BINARY)`);
    const port = await freePort();
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-browser-'));
    const env = { ...process.env };
    for (const k of ['PORT', 'HOST', 'DATABASE_URL', 'REDIS_URL', 'WORKERS', 'DATA_DIR', 'EOP_LEAP_URL']) delete env[k];
    env.EOP_URL = 'none'; // no download from the IERS during tests
    const child = spawn(bin, ['serve', '--port', String(port), '--host', '127.0.0.1'],
                        { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let exitInfo = null;
    exited.then((info) => { exitInfo = info; });

    const base = `http://127.0.0.1:${port}/`;
    const deadline = Date.now() + 30000; // sanitized builds start slowly
    for (;;) {
        if (exitInfo) {
            throw new Error(`server exited early (${JSON.stringify(exitInfo)}):\n${stdout}\n${stderr}`);
        }
        try {
            const r = await fetch(`${base}healthz`);
            if (r.status === 200) break;
        } catch {
            // not listening yet
        }
        if (Date.now() > deadline) {
            child.kill('SIGKILL');
            throw new Error(`server did not answer /healthz within 30 s:\n${stdout}\n${stderr}`);
        }
        await sleep(100); // the polling interval of this wait, not a wait of its own
    }

    return {
        base,
        external: false,
        output: () => ({ stdout, stderr }),
        async stop() {
            if (!exitInfo) {
                child.kill('SIGTERM');
                // A deadline, not a wait: the exit is awaited; SIGKILL only if it hangs.
                const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
                await exited;
                clearTimeout(timer);
            }
            fs.rmSync(cwd, { recursive: true, force: true });
            return { ...exitInfo, stdout, stderr };
        },
    };
}

/**
 * Debian's chromium, headless, without any network of its own; `extraArgs` for more
 * flags (--host-resolver-rules to reach the server by a name that is not localhost).
 */
export function launchBrowser(extraArgs = []) {
    return chromium.launch({
        executablePath: process.env.PT_CHROMIUM ?? '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--no-first-run', ...extraArgs],
    });
}

/**
 * Page instrumentation, installed before the page's own scripts (window.__pt):
 *  - keys: the page-clock time of every key press; keyRefs[i]: when a reference
 *    timer of KEY_REF_MS (1500 ms, written out below: this runs in the page) armed
 *    at key i fired. Timers run in the order they are due, so a request made before
 *    keyRefs[i] came from a timer of less than KEY_REF_MS armed after key i,
 *    however late a loaded machine runs both.
 *  - fetches: every fetch() (URL, method, body); streams: every EventSource opened
 *    (URL; the objects themselves in __ptEventSources). Each with its time and its
 *    cause: "type:key" of the event being handled when it was made ("keydown:Enter"),
 *    "" when made from a timer or a promise.
 *  - pushes: every "positions" event of a stream (its snapshot time and stream URL).
 *  - observers: every change of the location the table shows; modes: every change
 *    of the live indicator's data-mode.
 * Timing asserted on these is measured in the page, so a slow test process cannot
 * make it flaky.
 */
export function instrument() {
    window.__pt = { keys: [], keyRefs: [], fetches: [], streams: [], pushes: [], observers: [],
                    modes: [] };
    Object.defineProperty(window, '__ptEventSources', { value: [], enumerable: false });
    const cause = () => (window.event ? `${window.event.type}:${window.event.key ?? ''}` : '');
    if (window.EventSource) {
        const Real = window.EventSource;
        window.EventSource = class extends Real {
            constructor(url, init) {
                super(url, init);
                const href = String(new URL(url, document.baseURI));
                window.__pt.streams.push({ t: performance.now(), url: href, cause: cause() });
                window.__ptEventSources.push(this);
                this.addEventListener('positions', (ev) => {
                    let time = null;
                    try {
                        time = JSON.parse(ev.data).time;
                    } catch {
                        // a garbled event: logged without its time
                    }
                    window.__pt.pushes.push({ t: performance.now(), url: href, time });
                });
            }
        };
    }
    document.addEventListener('keydown', () => {
        const i = window.__pt.keys.push(performance.now()) - 1;
        setTimeout(() => { window.__pt.keyRefs[i] = performance.now(); }, 1500); // KEY_REF_MS
    }, true);
    const realFetch = window.fetch.bind(window);
    window.fetch = (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        window.__pt.fetches.push({ t: performance.now(), url, method: init?.method ?? 'GET',
                                   body: init?.body ? String(init.body) : '', cause: cause() });
        return realFetch(input, init);
    };
    document.addEventListener('DOMContentLoaded', () => {
        const table = document.getElementById('sky-table');
        new MutationObserver(() => {
            const last = window.__pt.observers.at(-1);
            const lat = table.dataset.observerLat;
            const lon = table.dataset.observerLon;
            if (!last || last.lat !== lat || last.lon !== lon) {
                window.__pt.observers.push({ t: performance.now(), lat, lon });
            }
        }).observe(table, { attributes: true });
        const live = document.getElementById('live');
        if (live) {
            new MutationObserver(() => {
                const mode = live.dataset.mode ?? null;
                if (window.__pt.modes.at(-1)?.mode !== mode) {
                    window.__pt.modes.push({ t: performance.now(), mode });
                }
            }).observe(live, { attributes: true, attributeFilter: ['data-mode'] });
        }
    });
}

/**
 * A new browser context and page on `base`, watched for page errors, console
 * errors and requests leaving the server's origin (all found in `problems`).
 */
export async function openPage(browser, base, options = {}) {
    const context = await browser.newContext({
        viewport: { width: 1280, height: 800 },
        locale: 'en-US',
        timezoneId: 'UTC',
        ...options,
    });
    await context.addInitScript(instrument);
    const page = await context.newPage();
    const problems = [];
    const origin = new URL(base).origin;
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('request', (r) => {
        if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) {
            problems.push(`external request: ${r.url()}`);
        }
    });
    return { context, page, problems };
}

/** `text` shown by the page as a number ("−12.34° SE" -> -12.34). */
export function parseShown(text) {
    return Number.parseFloat(String(text).replace(/\u2212/g, '-'));
}

/**
 * The table and the snapshot time it shows, read in one go (no push can come
 * between): {time, rows}, rows as readTable(). To ask the API about the same instant.
 */
export async function readSnapshot(page) {
    const { time, rows } = await page.$eval('#sky-table', (table) => ({
        time: table.dataset.time,
        rows: [...table.tBodies[0].rows].map((tr) => ({
            name: tr.dataset.body,
            az: tr.querySelector('[data-col="az"] .value').textContent,
            alt: tr.querySelector('[data-col="alt"]').textContent,
            up: tr.classList.contains('is-up'),
        })),
    }));
    return {
        time,
        rows: rows.map((r) => ({ ...r, azText: r.az, altText: r.alt, az: parseShown(r.az),
                                 alt: parseShown(r.alt) })),
    };
}

/** The table as [{name, az, alt, up}], numbers parsed from what is displayed. */
export async function readTable(page) {
    return (await readSnapshot(page)).rows;
}

/**
 * page.waitForFunction(fn, arg) with a deadline (default WAIT_MS) whose failure
 * says what was waited for (`what`).
 */
export async function waitUntil(page, what, fn, arg, timeout = WAIT_MS) {
    try {
        return await page.waitForFunction(fn, arg, { timeout });
    } catch (e) {
        if (e.name !== 'TimeoutError') throw e;
        throw new Error(`gave up after ${timeout / 1000} s waiting for ${what}`, { cause: e });
    }
}

/** Wait until the table shows data computed for (lat, lon). */
export async function waitForObserver(page, lat, lon, timeout = WAIT_MS) {
    await waitUntil(page, `the table to show the sky of ${lat}, ${lon}`, ([la, lo]) => {
        const t = document.getElementById('sky-table');
        return t.tBodies[0].rows.length > 0 &&
            Math.abs(Number(t.dataset.observerLat) - la) < 1e-6 &&
            Math.abs(Number(t.dataset.observerLon) - lo) < 1e-6;
    }, [lat, lon], timeout);
}

/**
 * Tap "Use my location" (the page asks the browser where it is only then) and wait
 * until the table shows the sky of (lat, lon).
 */
export async function useMyLocation(page, lat, lon, timeout = WAIT_MS) {
    await page.getByRole('button', { name: /use my location/i }).click();
    if (lat !== undefined) await waitForObserver(page, lat, lon, timeout);
}

/** An init script: count the page's calls of the browser's geolocation (window.__geoCalls). */
export function countGeolocation() {
    window.__geoCalls = 0;
    const geo = navigator.geolocation;
    if (!geo) return;
    const real = geo.getCurrentPosition.bind(geo);
    geo.getCurrentPosition = (...args) => {
        window.__geoCalls++;
        return real(...args);
    };
}

/** Wait for the next refresh of the table (its snapshot time changes). */
export async function waitForRefresh(page, timeout = WAIT_MS) {
    const before = await page.getAttribute('#sky-table', 'data-time');
    await waitUntil(page, `a refresh of the table (it shows ${before})`,
                    (b) => document.getElementById('sky-table').dataset.time !== b, before, timeout);
}

/** How many of the page's EventSources are not closed (connecting or open). */
export function openStreams(page) {
    return page.evaluate(() => window.__ptEventSources.filter((e) => e.readyState !== 2).length);
}

/**
 * Requests of the page to GET /planets (the polling fallback), from the instrumentation;
 * not those for a given instant (`time=`: the sky away from now, the offline forecast).
 */
export function pollRequests(log) {
    return log.fetches.filter((f) => new URL(f.url).pathname.endsWith('/planets') &&
                              !new URL(f.url).searchParams.has('time'));
}

/** Requests of the page for the offline forecast (GET /planets?time= while live). */
export function forecastRequests(log) {
    return log.fetches.filter((f) => new URL(f.url).pathname.endsWith('/planets') &&
                              new URL(f.url).searchParams.has('time'));
}

/** The live indicator: {mode, state, text}. */
export async function liveIndicator(page) {
    return page.$eval('#live', (el) => ({ mode: el.dataset.mode ?? null, state: el.dataset.state,
                                          text: el.textContent.trim() }));
}

/**
 * Stop the server and check it exited cleanly with no sanitizer report (the last
 * test of each file). Skips with PT_BASE_URL.
 */
export async function assertCleanShutdown(t, server, assert) {
    if (server.external) {
        t.skip('PT_BASE_URL: not our server');
        return;
    }
    const res = await server.stop();
    server.stopped = true;
    assert.doesNotMatch(res.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, res.stderr);
    assert.ok(res.code === 0 || res.signal === 'SIGTERM', `exit ${JSON.stringify(res)}\n${res.stderr}`);
}

/**
 * `snap` (a real GET /planets answer) with the fields other layers are adding filled
 * in, made up but plausible (whatever the server already sends is replaced):
 * magnitude, phase, elongation, constellation (IAU abbreviation and name),
 * rise/transit/set at fixed offsets from the snapshot time; the Moon put high in the
 * east so its phase shows, Uranus circumpolar and Pluto never rising (null events).
 * Self-contained: enrichStreamScript() also runs it in the page.
 */
export function enrichSnapshot(snap) {
    const extra = {
        sun: { magnitude: -26.7, phase: 1, elongation: 0, constellation: 'Sco', constellation_name: 'Scorpius' },
        moon: { magnitude: -11.2, phase: 0.62, elongation: 104.3, constellation: 'Psc', constellation_name: 'Pisces' },
        mercury: { magnitude: 0.4, phase: 0.48, elongation: 19.5, constellation: 'Lib', constellation_name: 'Libra' },
        venus: { magnitude: -4.4, phase: 0.71, elongation: 38.9, constellation: 'Vir', constellation_name: 'Virgo' },
        mars: { magnitude: 1.3, phase: 0.93, elongation: 62.1, constellation: 'Leo', constellation_name: 'Leo' },
        jupiter: { magnitude: -2.4, phase: 0.99, elongation: 65.0, constellation: 'Leo', constellation_name: 'Leo' },
        saturn: { magnitude: 0.9, phase: 1, elongation: 120.4, constellation: 'Psc', constellation_name: 'Pisces' },
        uranus: { magnitude: 5.7, phase: 1, elongation: 160.2, constellation: 'Tau', constellation_name: 'Taurus' },
        neptune: { magnitude: 7.8, phase: 1, elongation: 110.0, constellation: 'Psc', constellation_name: 'Pisces' },
        pluto: { magnitude: 14.4, phase: 1, elongation: 75.0, constellation: 'Cap', constellation_name: 'Capricornus' },
    };
    const out = structuredClone(snap);
    const t0 = Date.parse(out.time);
    const iso = (h) => new Date(t0 + h * 3600e3).toISOString();
    out.bodies.forEach((b, i) => {
        Object.assign(b, extra[b.name]);
        b.rise = iso(1 + i);
        b.transit = iso(7 + i);
        b.set = iso(13 + i);
        b.status = 'rises_sets';
    });
    const body = (name) => out.bodies.find((b) => b.name === name);
    Object.assign(body('moon'), { az: 100, alt: 35, above_horizon: true });
    Object.assign(body('uranus'), { rise: null, transit: iso(3), set: null, status: 'circumpolar',
                                    alt: 20, az: 10, above_horizon: true });
    Object.assign(body('pluto'), { rise: null, transit: null, set: null, status: 'never_rises',
                                   alt: -40, above_horizon: false });
    return out;
}

/**
 * An init script (for context.addInitScript({content})) that passes every event of
 * the page's real, live stream through enrichSnapshot().
 */
export function enrichStreamScript() {
    return `(() => {
        const enrichSnapshot = ${enrichSnapshot.toString()};
        const add = EventSource.prototype.addEventListener;
        EventSource.prototype.addEventListener = function (type, fn, opts) {
            if (type !== 'positions') return add.call(this, type, fn, opts);
            return add.call(this, type, (ev) => fn.call(this, new MessageEvent('positions', {
                data: JSON.stringify(enrichSnapshot(JSON.parse(ev.data))) })), opts);
        };
    })();`;
}

/**
 * A Playwright route.fulfill() answer: an event stream carrying `snap` once, then
 * the `extra` events ([{event, data}], data as JSON: an announcement, the sites...).
 */
export function sseResponse(snap, retryMs = 500, extra = []) {
    const more = extra.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join('');
    return {
        status: 200,
        headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
        body: `retry: ${retryMs}\n\nevent: positions\ndata: ${JSON.stringify(snap)}\n\n${more}`,
    };
}

/** GET a JSON document from the server. */
export async function getJson(base, pathAndQuery) {
    const r = await fetch(new URL(pathAndQuery, base));
    if (r.status !== 200) throw new Error(`GET ${pathAndQuery}: HTTP ${r.status}: ${await r.text()}`);
    return r.json();
}

/** Difference of two angles in degrees, wrapped into [0, 180]. */
export function angleDiff(a, b) {
    const d = Math.abs(a - b) % 360;
    return d > 180 ? 360 - d : d;
}

/** A server and a browser for one test file: `({ server, browser } = await startSuite())`. */
export async function startSuite() {
    const server = await startServer();
    const browser = await launchBrowser();
    return { server, browser };
}

/** Close what startSuite() opened (the server only if a test has not stopped it). */
export async function stopSuite(server, browser) {
    await browser?.close();
    if (server && !server.stopped) await server.stop();
}

/** Requests the page made (page clock), from the instrumentation. */
export function pageLog(page) {
    return page.evaluate(() => window.__pt);
}

export { sleep };
