// SPDX-License-Identifier: AGPL-3.0-or-later
//
// offline.test.mjs -- the page without the server. A service worker (/sw.js, scope
// /) keeps the page and its files; the page keeps its last snapshots and, once live
// for a few seconds at a place, a forecast of the next 24 hours (GET /planets at
// hourly steps). Offline (the browser context set offline, or the server stopped)
// a reload shows the page, not the browser's error page, with the sky worked out
// from the forecast, moving, within a few hundredths of a degree of the server's,
// and "as of 21:04, ..." in the header; a sky kept from earlier without a forecast
// shows frozen, dimmed once stale. Also: the web app manifest, and that the service
// worker's list of files is the page's.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, GREENWICH, REPO, WAIT_MS, forecastRequests, getJson, liveIndicator, openPage,
    pageLog, startSuite, stopSuite, waitForObserver, waitUntil,
} from './harness.mjs';

const TIMEOUT = { timeout: 180000 };
const PARIS = { lat: 48.85, lon: 2.35 };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
                deviceScaleFactor: 2 };

let server;
let browser;
let kept = null; // a context whose page the service worker controls, for the last test

before(async () => {
    ({ server, browser } = await startSuite());
    fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
    await kept?.context.close().catch(() => {});
    await stopSuite(server, browser);
});

test('the manifest, and the service worker caches every file of the page', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    const href = await page.getAttribute('link[rel="manifest"]', 'href');
    assert.equal(href, 'manifest.webmanifest');
    const manifest = await getJson(server.base, href);
    assert.equal(manifest.name, 'PlanetTracker');
    assert.equal(manifest.display, 'standalone');
    assert.match(manifest.theme_color, /^#[0-9a-f]{6}$/);
    assert.match(manifest.background_color, /^#[0-9a-f]{6}$/);
    assert.ok(manifest.icons.some((i) => i.src === 'static/favicon.svg' && i.type === 'image/svg+xml'));
    const icon = await fetch(new URL(manifest.icons[0].src, new URL(href, server.base)));
    assert.equal(icon.status, 200);

    // sw.js names every file the page loads from static/ (and only those).
    const sw = await (await fetch(new URL('sw.js', server.base))).text();
    const listed = JSON.parse(`[${/const ASSETS = \[([^\]]*)\]/.exec(sw)[1].replace(/'/g, '"').replace(/,\s*$/, '')}]`);
    const web = path.join(REPO, 'web');
    const files = [...fs.readdirSync(path.join(web, 'js')).map((f) => `js/${f}`),
                   ...fs.readdirSync(path.join(web, 'css')).map((f) => `css/${f}`), 'favicon.svg'].sort();
    assert.deepEqual([...listed].sort(), files);
    assert.deepEqual(problems, []);
    await context.close();
});

/** The shown sky: {time, cached, rows: {name: {az, alt}}, asof, stale}. */
function shown(page) {
    return page.evaluate(() => {
        const t = document.getElementById('sky-table');
        const num = (s) => Number.parseFloat(s.replace('\u2212', '-'));
        return {
            time: t.dataset.time,
            cached: t.dataset.cached ?? null,
            rows: Object.fromEntries([...t.tBodies[0].rows].map((tr) => [tr.dataset.body, {
                az: num(tr.querySelector('[data-col="az"] .value').textContent),
                alt: num(tr.querySelector('[data-col="alt"]').textContent) }])),
            asof: document.getElementById('asof').hidden ? null : document.getElementById('asof').textContent,
            stale: document.querySelector('main').dataset.stale === 'true',
        };
    });
}

test('offline after a visit: the cached page, the sky from the forecast, "as of"', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { ...PHONE, timezoneId: 'Europe/Paris' });
    await page.goto(`${server.base}?lat=${PARIS.lat}&lon=${PARIS.lon}`);
    await waitForObserver(page, PARIS.lat, PARIS.lon);
    await page.waitForSelector('#live[data-mode="live"]', { timeout: WAIT_MS });
    await waitUntil(page, 'the service worker to control the page',
                    () => navigator.serviceWorker.controller !== null);
    // After a few seconds live: the forecast, 26 hourly steps from the hour before now.
    await waitUntil(page, 'the forecast of the next 24 h to be kept', () => {
        const list = JSON.parse(localStorage.getItem('planettracker.sky.forecast') ?? '[]');
        return list[0]?.steps?.length === 26;
    }, undefined, 60000);
    await waitUntil(page, 'the night to be kept', () => localStorage.getItem('planettracker.tonight') !== null);
    const asked = forecastRequests(await pageLog(page)).map((f) => Date.parse(new URL(f.url).searchParams.get('time')));
    assert.equal(asked.length, 26);
    assert.ok(asked.every((t, i) => t % 3600e3 === 0 && (i === 0 || t - asked[i - 1] === 3600e3)));
    assert.ok(asked[0] <= Date.now() && asked.at(-1) >= Date.now() + 23 * 3600e3);
    const cached = await page.evaluate(async () => (await (await caches.open('planettracker-v1')).keys())
        .map((r) => new URL(r.url).pathname));
    assert.ok(cached.includes('/'), cached.join(' '));
    assert.ok(cached.some((p) => /^\/static\/[0-9a-f]{12}\/js\/app\.js$/.test(p)), cached.join(' '));

    // No network at all: a reload shows the page, not an error page.
    await context.setOffline(true);
    const resp = await page.reload();
    assert.equal(resp.status(), 200);
    assert.match(await page.title(), /PlanetTracker/);
    await page.waitForSelector('#live[data-mode="offline"]', { timeout: WAIT_MS });
    await waitUntil(page, 'the sky from the forecast',
                    () => document.getElementById('sky-table').dataset.cached === 'forecast');
    let sky = await shown(page);
    assert.equal(Object.keys(sky.rows).length, 10);
    assert.match(sky.asof, /^as of \d\d:\d\d, (just now|\d+ min ago)$/);
    assert.equal(sky.stale, false);
    assert.equal((await liveIndicator(page)).text, 'Offline');
    assert.equal(await page.textContent('#whose-sky-text'), 'Location from the link (48.85\u00b0 N, 2.35\u00b0 E)');
    // The chart goes on: the time moves on, second by second.
    const first = sky.time;
    await waitUntil(page, 'the offline sky to move on',
                    (t) => document.getElementById('sky-table').dataset.time !== t, first);
    sky = await shown(page);
    assert.ok(Date.parse(sky.time) > Date.parse(first));
    assert.ok(Math.abs(Date.parse(sky.time) - Date.now()) < 60000, `offline sky at ${sky.time}`);
    // ...at the positions the server gives for that instant (asked from here, not offline).
    const real = await getJson(server.base, `planets?lat=${PARIS.lat}&lon=${PARIS.lon}&time=${encodeURIComponent(sky.time)}`);
    for (const b of real.bodies) {
        const s = sky.rows[b.name];
        assert.ok(Math.abs(s.alt - b.alt) < 0.05, `${b.name} alt ${s.alt} vs ${b.alt}`);
        assert.ok(Math.abs(((s.az - b.az + 540) % 360) - 180) < 0.05 / Math.max(0.05, Math.cos(b.alt * Math.PI / 180)),
                  `${b.name} az ${s.az} vs ${b.az}`);
    }
    // The Tonight card has its night, the chart its marks.
    await waitUntil(page, 'the night kept', () => document.querySelectorAll('.tl-row').length > 0 &&
        document.getElementById('tonight-error').hidden);
    assert.ok(await page.locator('#sky-bodies .sky-body').count() > 0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'offline-phone.png') });

    // Back online: live again, the "as of" gone.
    await context.setOffline(false);
    await page.waitForSelector('#live[data-mode="live"]', { timeout: 30000 + WAIT_MS });
    await waitUntil(page, 'the live sky', () => !document.getElementById('sky-table').dataset.cached);
    assert.equal((await shown(page)).asof, null);
    assert.deepEqual(problems.filter((p) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource|EventSource/.test(p)), []);
    kept = { context, page };
});

test('a kept sky without a forecast shows frozen, "as of ... 10 min ago", dimmed', TIMEOUT, async () => {
    const t = new Date(Math.floor((Date.now() - 600e3) / 1000) * 1000).toISOString();
    const snap = await getJson(server.base, `planets?lat=${GREENWICH.lat}&lon=${GREENWICH.lon}&time=${t}`);
    const { context, page, problems } = await openPage(browser, server.base);
    const entry = [{ key: '51.4769,-0.0005,0', saved: Date.parse(t), snapshot: snap }];
    await context.addInitScript((e) => localStorage.setItem('planettracker.sky.last', e), JSON.stringify(entry));
    // The server answers the page, not the API; the page comes without the sky the
    // server inlines in it (as a cached copy of the page would).
    await page.route(/\/(planets|api\/|geo_location)/, (route) => route.abort('connectionrefused'));
    await page.route((url) => url.pathname === '/', async (route) => {
        const resp = await route.fetch();
        const body = (await resp.text()).replace(
            /<script type="application\/json" id="pt-first-snapshot">[^]*?<\/script>/, '');
        await route.fulfill({ response: resp, body });
    });
    await page.goto(server.base);
    await page.waitForSelector('#live[data-mode="offline"]', { timeout: WAIT_MS });
    await waitUntil(page, 'the kept sky', () => document.getElementById('sky-table').dataset.cached === 'frozen');
    const sky = await shown(page);
    assert.equal(sky.time, snap.time);
    assert.equal(sky.asof, `as of ${t.slice(11, 16)}, 10 min ago`);
    assert.equal(sky.stale, true);
    assert.equal(sky.rows.sun.alt, Number(snap.bodies[0].alt.toFixed(2)));
    await page.screenshot({ path: path.join(ARTIFACTS, 'offline-stale.png') });
    assert.deepEqual(problems.filter((p) => !/Failed to load resource|EventSource|ERR_/.test(p)), []);
    await context.close();
});

test('the server stopped: the page still opens, from the service worker', TIMEOUT, async (t) => {
    if (server.external) {
        t.skip('PT_BASE_URL: not our server');
        return;
    }
    const res = await server.stop();
    server.stopped = true;
    assert.doesNotMatch(res.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, res.stderr);
    assert.ok(res.code === 0 || res.signal === 'SIGTERM', `exit ${JSON.stringify(res)}\n${res.stderr}`);
    const { page } = kept;
    const resp = await page.reload();
    assert.equal(resp.status(), 200);
    await page.waitForSelector('#live[data-mode="offline"]', { timeout: WAIT_MS });
    await waitUntil(page, 'the sky from the forecast',
                    () => document.getElementById('sky-table').dataset.cached === 'forecast');
    assert.match((await shown(page)).asof, /^as of \d\d:\d\d/);
});
